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
