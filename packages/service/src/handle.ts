/** What every service's `start()` returns. `close()` is safe to call more than once. */
export interface ServiceHandle {
  readonly port: number;
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Wraps a shutdown function so that every call after the first gets the same promise. */
export function serviceHandle(port: number, shutdown: () => Promise<void>): ServiceHandle {
  let closing: Promise<void> | undefined;
  const close = () => (closing ??= shutdown());
  return { port, close, [Symbol.asyncDispose]: close };
}
