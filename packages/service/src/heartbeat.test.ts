import { EventEmitter } from 'node:events';
import type { WebSocket } from 'ws';
import { describe, expect, test } from 'vitest';
import { heartbeat, judgeElsewhere, trackPongs } from './heartbeat.js';

/** A stand-in socket that counts pings and terminations. */
function fakeSocket() {
  const socket = Object.assign(new EventEmitter(), {
    isPaused: false,
    bufferedAmount: 0,
    pings: 0,
    terminated: false,
    ping() {
      socket.pings++;
    },
    terminate() {
      socket.terminated = true;
    },
  });
  trackPongs(socket as unknown as WebSocket);
  return socket;
}

describe('heartbeat', () => {
  test('pings, and terminates a peer that missed the pong by the next round', () => {
    const socket = fakeSocket();
    const ws = socket as unknown as WebSocket;
    expect(heartbeat(ws)).toBe(true);
    socket.emit('pong');
    expect(heartbeat(ws)).toBe(true);
    expect(socket.pings).toBe(2);
    expect(heartbeat(ws)).toBe(false);
    expect(socket.terminated).toBe(true);
  });

  test('leaves a socket paused for backpressure alone: its pongs cannot be read', () => {
    const socket = fakeSocket();
    const ws = socket as unknown as WebSocket;
    heartbeat(ws);
    socket.isPaused = true;
    for (let round = 0; round < 5; round++) expect(heartbeat(ws)).toBe(true);
    expect(socket.terminated).toBe(false);
    socket.isPaused = false;
    expect(heartbeat(ws)).toBe(true);
    expect(socket.terminated).toBe(false);
  });

  test('a peer taking its backlog is alive though its pong waits behind it; one taking nothing is not', () => {
    const socket = fakeSocket();
    const ws = socket as unknown as WebSocket;
    socket.bufferedAmount = 900;
    expect(heartbeat(ws)).toBe(true);
    socket.bufferedAmount = 400;
    expect(heartbeat(ws)).toBe(true);
    expect(heartbeat(ws)).toBe(false);
    expect(socket.terminated).toBe(true);
  });

  test('leaves a socket to the service while the service judges it', () => {
    const socket = fakeSocket();
    const ws = socket as unknown as WebSocket;
    let behind = true;
    judgeElsewhere(ws, () => behind);
    for (let round = 0; round < 5; round++) expect(heartbeat(ws)).toBe(true);
    behind = false;
    expect(heartbeat(ws)).toBe(true);
    expect(heartbeat(ws)).toBe(false);
  });
});
