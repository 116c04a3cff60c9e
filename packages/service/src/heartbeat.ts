import type { WebSocket } from 'ws';

const awaitingPong = new WeakSet<WebSocket>();

/** Marks the socket alive whenever a pong arrives. Call once per socket. */
export function trackPongs(ws: WebSocket): void {
  ws.on('pong', () => awaitingPong.delete(ws));
}

/**
 * One heartbeat round for a socket: terminates it if the previous ping went unanswered,
 * otherwise sends a new ping. A peer is thus dropped within two intervals of going silent.
 */
export function heartbeat(ws: WebSocket): boolean {
  // A socket paused for backpressure is not being read, so its pongs cannot arrive: silence
  // from it says nothing about the peer. Judge it again once it is resumed.
  if (ws.isPaused) {
    awaitingPong.delete(ws);
    return true;
  }
  if (awaitingPong.has(ws)) {
    ws.terminate();
    return false;
  }
  awaitingPong.add(ws);
  ws.ping();
  return true;
}
