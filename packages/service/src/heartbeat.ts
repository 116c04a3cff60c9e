import type { WebSocket } from 'ws';

const awaitingPong = new WeakSet<WebSocket>();
/** Unsent bytes at the previous round, for sockets that had some. */
const unsentBefore = new WeakMap<WebSocket, number>();
/** Sockets whose liveness a service judges itself while the predicate holds. */
const judgedElsewhere = new WeakMap<WebSocket, () => boolean>();

/** Marks the socket alive whenever a pong arrives. Call once per socket. */
export function trackPongs(ws: WebSocket): void {
  ws.on('pong', () => awaitingPong.delete(ws));
}

/**
 * Leaves `ws` to the service while `judged()` holds: the subscriber closes a reader that fell
 * behind by its own stall timeout (4100), which a missed pong must not pre-empt — the ping
 * waits behind the data the reader has not read yet.
 */
export function judgeElsewhere(ws: WebSocket, judged: () => boolean): void {
  judgedElsewhere.set(ws, judged);
}

/**
 * One heartbeat round for a socket: terminates it if the previous ping went unanswered,
 * otherwise sends a new ping. A peer is thus dropped within two intervals of going silent.
 * A peer that is taking the bytes sent to it is alive, answered pong or not: its pong may sit
 * behind a long backlog.
 */
export function heartbeat(ws: WebSocket): boolean {
  // A socket paused for backpressure is not being read, so its pongs cannot arrive: silence
  // from it says nothing about the peer. Judge it again once it is resumed.
  if (ws.isPaused || judgedElsewhere.get(ws)?.() === true) {
    awaitingPong.delete(ws);
    return true;
  }
  const unsent = ws.bufferedAmount;
  const before = unsentBefore.get(ws);
  if (unsent > 0) unsentBefore.set(ws, unsent);
  else unsentBefore.delete(ws);
  if (before !== undefined && unsent < before) awaitingPong.delete(ws);
  if (awaitingPong.has(ws)) {
    ws.terminate();
    return false;
  }
  awaitingPong.add(ws);
  ws.ping();
  return true;
}
