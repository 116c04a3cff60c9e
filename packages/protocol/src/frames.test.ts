import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { ERRORS } from './errors.js';
import {
  decodeServerFrame,
  encodeAck,
  encodeDelivery,
  encodeError,
  encodeSubscribed,
  encodeUnsubscribed,
} from './frames.js';
import { parsePublish, readQueued } from './publish.js';

// Fixed seed so every run checks the same inputs; set FC_SEED to explore others.
const FC = { seed: Number(process.env.FC_SEED ?? 8_675_309), numRuns: 300 } as const;

const parseJson = (text: string): unknown => JSON.parse(text);

/**
 * Reads a frame the way a client of the original Go server does: only `Topic` and `Content`,
 * keys matched ignoring case, the last match winning.
 */
function goStyleDecode(text: string): { topic: unknown; content: unknown } {
  const frame = parseJson(text) as Record<string, unknown>;
  let topic: unknown;
  let content: unknown;
  for (const [key, value] of Object.entries(frame)) {
    if (key.toLowerCase() === 'topic') topic = value;
    if (key.toLowerCase() === 'content') content = value;
  }
  return { topic, content };
}

describe('encodeDelivery', () => {
  test('parses to {type, topic, id, content}', () => {
    const frame = encodeDelivery({ topic: 'news', id: 'm1', content: '{"a":[1,2]}' });
    expect(parseJson(frame)).toEqual({ type: 'message', topic: 'news', id: 'm1', content: { a: [1, 2] } });
  });

  test('passes the content text through unchanged', () => {
    for (const content of ['12345678901234567890', '"\\u0041"', '1.50', '{ "b" : [1E3] }']) {
      const frame = encodeDelivery({ topic: 't', id: 'm', content });
      expect(frame.endsWith(`"content":${content}}`)).toBe(true);
      expect(frame).toBe(`{"type":"message","topic":"t","id":"m","content":${content}}`);
    }
  });

  test('carries the publish time before the content', () => {
    const frame = encodeDelivery({ topic: 't', id: 'm', content: '1', time: 1_732_000_000_000 });
    expect(frame).toBe('{"type":"message","topic":"t","id":"m","time":1732000000000,"content":1}');
    expect(readQueued(frame)?.time).toBe(1_732_000_000_000);
  });

  test('escapes topic and id', () => {
    const frame = encodeDelivery({ topic: 'a"b\\c', id: 'x\u2028"', content: '1' });
    expect(parseJson(frame)).toEqual({ type: 'message', topic: 'a"b\\c', id: 'x\u2028"', content: 1 });
  });

  test('a Go-style publish reaches a Go-style subscriber with its values, big numbers intact', () => {
    const published = parsePublish('{"Topic":"news","Content":{"n":12345678901234567890,"s":"\\u0041"}}');
    const frame = encodeDelivery({ topic: published.topic, id: 'm1', content: published.content });
    expect(frame).toContain('"content":{"n":12345678901234567890,"s":"\\u0041"}}');
    expect(goStyleDecode(frame)).toEqual({
      topic: 'news',
      content: { n: parseJson('12345678901234567890'), s: 'A' },
    });
    expect(readQueued(frame)?.topic).toBe('news');
  });

  test('for any topic, id and content, decoders see the publisher values', () => {
    const validTopic = fc
      .string({ unit: 'grapheme', minLength: 1, maxLength: 40 })
      .filter((topic) => /^[^\s\p{Cc}\p{Cs}*>]+$/u.test(topic));
    fc.assert(
      fc.property(
        validTopic,
        fc.string({ unit: 'binary' }),
        fc.jsonValue({ maxDepth: 4, stringUnit: 'binary' }),
        (topic, id, content) => {
          const contentText = JSON.stringify(content);
          const frame = encodeDelivery({ topic, id, content: contentText });
          expect(parseJson(frame)).toEqual({ type: 'message', topic, id, content: parseJson(contentText) });
          expect(goStyleDecode(frame)).toEqual({ topic, content: parseJson(contentText) });
          expect(readQueued(frame)?.topic).toBe(topic);
          expect(decodeServerFrame(frame)).toEqual(parseJson(frame));
        },
      ),
      FC,
    );
  });
});

describe('reply frames', () => {
  test('encodeAck', () => {
    expect(parseJson(encodeAck('m1', 7))).toEqual({ type: 'ack', id: 'm1', seq: 7 });
  });

  test('encodeSubscribed / encodeUnsubscribed without and with ref', () => {
    expect(parseJson(encodeSubscribed('news', undefined))).toEqual({ type: 'subscribed', topic: 'news' });
    expect(parseJson(encodeSubscribed('news', 'c1'))).toEqual({ type: 'subscribed', topic: 'news', id: 'c1' });
    expect(parseJson(encodeUnsubscribed('news', undefined))).toEqual({ type: 'unsubscribed', topic: 'news' });
    expect(parseJson(encodeUnsubscribed('news', 'c1'))).toEqual({ type: 'unsubscribed', topic: 'news', id: 'c1' });
  });

  test('encodeError uses the catalog message unless one is given, without and with ref', () => {
    expect(parseJson(encodeError({ code: 'TOPIC_MISSING' }, undefined))).toEqual({
      type: 'error',
      code: 'TOPIC_MISSING',
      message: ERRORS.TOPIC_MISSING.message,
    });
    expect(parseJson(encodeError({ code: 'ID_INVALID' }, 'm"1'))).toEqual({
      type: 'error',
      code: 'ID_INVALID',
      message: ERRORS.ID_INVALID.message,
      id: 'm"1',
    });
    expect(parseJson(encodeError({ code: 'INTERNAL', message: 'custom "detail"' }, undefined))).toEqual({
      type: 'error',
      code: 'INTERNAL',
      message: 'custom "detail"',
    });
  });
});

describe('decodeServerFrame', () => {
  test('decodes every frame the services send', () => {
    const frames = [
      encodeDelivery({ topic: 't', id: 'm', content: '[1]' }),
      encodeAck('m', 1),
      encodeSubscribed('t', 'c'),
      encodeUnsubscribed('t', undefined),
      encodeError({ code: 'BAD_JSON' }, undefined),
    ];
    for (const frame of frames) {
      expect(decodeServerFrame(frame)).toEqual(parseJson(frame));
    }
  });

  test.each([
    '',
    'not json',
    'null',
    '"message"',
    '42',
    '[]',
    '["message"]',
    '{}',
    '{"type":"hello"}',
    '{"type":"MESSAGE"}',
    '{"type":5}',
    '{"type":null}',
    '{"Type":"message"}',
  ])('rejects %j', (text) => {
    expect(decodeServerFrame(text)).toBeUndefined();
  });
});
