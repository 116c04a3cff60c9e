/**
 * Publishing with a window: at most `window` publishes unanswered, topped up as answers come, so
 * the server always has messages to work on and the client never floods it. The fan-out's
 * publishers and the wss baselines of the bridge and HTTP sections share it; each sends its own
 * frames and reports each answer.
 */
import { monotonicMs } from './stats.js';

export interface WindowResult {
  readonly sent: number;
  readonly acked: number;
  /** Publishes answered with an error. */
  readonly refused: number;
  /** monotonicMs() of the first send and of the last answer. */
  readonly firstSendAt: number;
  readonly lastAnswerAt: number;
  /** Some publish was still unanswered after `timeoutMs`: nothing more is sent then. */
  readonly timedOut: boolean;
}

/** Sends `count` publishes; `send(n, answered)` must lead to one `answered(ok)` per publish. */
export function windowed(
  options: { readonly count: number; readonly window: number; readonly timeoutMs: number },
  send: (n: number, answered: (ok: boolean) => void) => void,
): Promise<WindowResult> {
  return new Promise((resolve) => {
    let sent = 0;
    let acked = 0;
    let refused = 0;
    let lastAnswerAt = Number.NaN;
    let over = false;
    const firstSendAt = monotonicMs();
    const finish = (timedOut: boolean) => {
      over = true;
      clearTimeout(timer);
      resolve({ sent, acked, refused, firstSendAt, lastAnswerAt, timedOut });
    };
    const timer = setTimeout(() => finish(true), options.timeoutMs);
    const answered = (ok: boolean) => {
      if (over) return;
      if (ok) acked++;
      else refused++;
      lastAnswerAt = monotonicMs();
      if (acked + refused === options.count) finish(false);
      else topUp();
    };
    const topUp = () => {
      while (sent < options.count && sent - acked - refused < options.window) send(sent++, answered);
    };
    topUp();
  });
}
