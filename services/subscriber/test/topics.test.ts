import { patternMatches } from '@pubsub/protocol';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import type { WebSocket } from 'ws';
import { TopicRegistry } from '../src/topics.js';

// Fixed seed so every run checks the same inputs; set FC_SEED to explore others.
const FC = { seed: Number(process.env.FC_SEED ?? 424_242), numRuns: 300 } as const;

const socket = (name: string) => ({ name }) as unknown as WebSocket;
const SOCKETS = ['s0', 's1', 's2'].map(socket);
const SUBJECTS = ['a', 'a.b', 'a.c', 'a.*', 'a.>', '*.b', '>', 'b'];
const TOPICS = ['a', 'a.b', 'a.c', 'a.b.c', 'b', 'x.b'];

describe('TopicRegistry', () => {
  test('without patterns, subscribers(topic) is the exact set itself', () => {
    const topics = new TopicRegistry();
    const [s0, s1] = SOCKETS as [WebSocket, WebSocket];
    expect(topics.subscribe(s0, 'a')).toBe(true);
    expect(topics.subscribe(s0, 'a')).toBe(false);
    topics.subscribe(s1, 'a');
    const set = topics.subscribers('a');
    expect([...(set ?? [])]).toEqual([s0, s1]);
    expect(topics.subscribers('a')).toBe(set);
    expect(topics.subscribers('b')).toBeUndefined();
  });

  test('a socket matching through several subscriptions is in the set once', () => {
    const topics = new TopicRegistry();
    const [s0, s1] = SOCKETS as [WebSocket, WebSocket];
    topics.subscribe(s0, 'a.b');
    topics.subscribe(s0, 'a.*');
    topics.subscribe(s0, 'a.>');
    topics.subscribe(s1, '*.b');
    expect([...(topics.subscribers('a.b') ?? [])]).toEqual([s0, s1]);
    expect(topics.countFor(s0)).toBe(3);
    expect(topics.topicCount).toBe(4);
    expect(topics.subscriptionCount).toBe(4);
    topics.remove(s0);
    expect([...(topics.subscribers('a.b') ?? [])]).toEqual([s1]);
    expect(topics.countFor(s0)).toBe(0);
    expect(topics.topicCount).toBe(1);
  });

  test('after any sequence of sub, unsub and socket removals, subscribers() agrees with a plain model', () => {
    const op = fc.record({
      kind: fc.constantFrom('sub', 'unsub', 'remove', 'look'),
      socket: fc.nat({ max: SOCKETS.length - 1 }),
      subject: fc.constantFrom(...SUBJECTS),
      topic: fc.constantFrom(...TOPICS),
    });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
        const topics = new TopicRegistry();
        const model = new Map<WebSocket, Set<string>>(SOCKETS.map((ws) => [ws, new Set()]));
        for (const { kind, socket: index, subject, topic } of ops) {
          const ws = SOCKETS[index] as WebSocket;
          const subjects = model.get(ws) as Set<string>;
          if (kind === 'sub') expect(topics.subscribe(ws, subject)).toBe(!subjects.has(subject));
          if (kind === 'sub') subjects.add(subject);
          if (kind === 'unsub') expect(topics.unsubscribe(ws, subject)).toBe(subjects.delete(subject));
          if (kind === 'remove') {
            topics.remove(ws);
            subjects.clear();
          }
          // Lookups in between fill the cache that later changes must invalidate.
          if (kind === 'look') topics.subscribers(topic);
          for (const t of TOPICS) {
            const expected = SOCKETS.filter((s) => [...(model.get(s) ?? [])].some((p) => patternMatches(p, t)));
            expect(new Set(topics.subscribers(t) ?? []), t).toEqual(new Set(expected));
          }
          for (const s of SOCKETS) expect(topics.countFor(s)).toBe(model.get(s)?.size);
        }
      }),
      FC,
    );
  });
});
