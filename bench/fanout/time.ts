/**
 * Milliseconds on CLOCK_MONOTONIC (`process.hrtime`), which every process on the machine shares:
 * the publisher's first send and a sink's last receive can be subtracted across processes.
 */
export function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}
