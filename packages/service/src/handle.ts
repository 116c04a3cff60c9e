/** What every service's `start()` returns. `close()` is safe to call more than once. */
export interface ServiceHandle {
  readonly port: number;
  /** The gRPC listener's port, when the service has one enabled. */
  readonly grpcPort?: number;
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Wraps a shutdown function so that every call after the first gets the same promise. */
export function serviceHandle(
  port: number,
  shutdown: () => Promise<void>,
  listeners: { grpcPort?: number | undefined } = {},
): ServiceHandle {
  let closing: Promise<void> | undefined;
  const close = () => (closing ??= shutdown());
  const { grpcPort } = listeners;
  return { port, ...(grpcPort !== undefined && { grpcPort }), close, [Symbol.asyncDispose]: close };
}
