/** WebSocket close codes the services send. 4000–4999 are this suite's own (docs/protocol.md). */
export const CloseCode = {
  NORMAL: 1000,
  GOING_AWAY: 1001,
  UNSUPPORTED_DATA: 1003,
  INVALID_PAYLOAD: 1007,
  POLICY_VIOLATION: 1008,
  MESSAGE_TOO_BIG: 1009,
  INTERNAL_ERROR: 1011,
  SLOW_CONSUMER: 4100,
  /** A consumer's group was removed (`DELETE /groups/<name>`): it has nothing more to consume. */
  GROUP_REMOVED: 4410,
} as const;

export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];
