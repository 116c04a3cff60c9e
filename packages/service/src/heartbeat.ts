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
  if (awaitingPong.has(ws)) {
    ws.terminate();
    return false;
  }
  awaitingPong.add(ws);
  ws.ping();
  return true;
}
