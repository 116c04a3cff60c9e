/**
 * Milliseconds on CLOCK_MONOTONIC (`process.hrtime`), which every process on the machine shares:
 * the publisher's first send and a sink's last receive can be subtracted across processes.
 */
export function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** `promise`, or a rejection naming `what` after `ms`: every wait on another process is bounded. */
export async function withTimeout<T>(promise: Promise<T>, options: { ms: number; what: string }): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${options.what}: no answer within ${options.ms} ms`)), options.ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
