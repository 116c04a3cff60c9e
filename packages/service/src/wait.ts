import type { EventEmitter } from 'node:events';

/** Resolves true when `event` fires, or false once `deadlineMs` has passed without it. */
export function eventWithin(emitter: EventEmitter, event: string, deadlineMs: number): Promise<boolean> {
  return new Promise((resolveWait) => {
    const onEvent = () => finish(true);
    const timer = setTimeout(() => finish(false), deadlineMs);
    emitter.once(event, onEvent);
    function finish(fired: boolean) {
      clearTimeout(timer);
      emitter.off(event, onEvent);
      resolveWait(fired);
    }
  });
}

/**
 * A shutdown deadline: `left()` is the time remaining, never below 0, and `leftBefore(reserveMs)`
 * the time remaining minus a part kept for the last step (closing the clients, say).
 */
export function drainDeadline(totalMs: number): { left(): number; leftBefore(reserveMs: number): number } {
  const at = Date.now() + totalMs;
  const left = () => Math.max(0, at - Date.now());
  return { left, leftBefore: (reserveMs) => Math.max(0, left() - reserveMs) };
}

/** Resolves true once `promise` settles, or false when `deadlineMs` passes first; never rejects. */
export function settledWithin(promise: Promise<unknown>, deadlineMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((resolveLate) => {
    timer = setTimeout(() => resolveLate(false), deadlineMs);
  });
  const settled = promise.then(
    () => true,
    () => true,
  );
  return Promise.race([settled, late]).finally(() => clearTimeout(timer));
}
