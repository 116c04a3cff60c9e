import { decodeServerFrame, type ServerFrame } from '@pubsub/protocol';
import { describe, expect, test } from 'vitest';
import { formatClose, formatDelivery, formatError } from '../src/format.js';

function delivery(text: string): [string, Extract<ServerFrame, { type: 'message' }>] {
  const frame = decodeServerFrame(text);
  if (frame?.type !== 'message') throw new Error(`not a delivery: ${text}`);
  return [text, frame];
}

describe('formatDelivery', () => {
  test('prints string content raw', () => {
    expect(formatDelivery(...delivery('{"type":"message","topic":"news","id":"1","content":"a \\"q\\" é"}'))).toBe(
      '<[news] a "q" é',
    );
  });

  test('prints other JSON values as the publisher wrote them, large numbers intact', () => {
    const text = '{"type":"message","topic":"t","id":"1","content":{"n": 12345678901234567890,"a":[1,null]}}';
    expect(formatDelivery(...delivery(text))).toBe('<[t] {"n": 12345678901234567890,"a":[1,null]}');
  });

  test('shows the seq, which a subscription can resume after', () => {
    const text = '{"type":"message","topic":"news","id":"1","content":"hi","seq":42,"epoch":"ab"}';
    expect(formatDelivery(...delivery(text))).toBe('<[news #42] hi');
  });

  test('re-serialises content that spans lines, so one delivery stays one line', () => {
    const text = '{"type":"message","topic":"t","id":"1","content":{\n  "a": 1\n}}';
    expect(formatDelivery(...delivery(text))).toBe('<[t] {"a":1}');
  });
});

describe('formatError and formatClose', () => {
  test('error replies read "error CODE: message"', () => {
    expect(formatError({ type: 'error', code: 'TOPIC_INVALID', message: 'bad topic' })).toBe(
      'error TOPIC_INVALID: bad topic',
    );
  });

  test('a close names the code and gives the reason', () => {
    const info = { code: 4100, reason: 'slow consumer', error: undefined, requested: false };
    expect(formatClose('wss://h/subscribe', info)).toBe(
      'connection to wss://h/subscribe closed by the server: 4100 (slow consumer) slow consumer',
    );
  });

  test('a lost connection says so and gives the socket error', () => {
    const info = { code: 1006, reason: '', error: new Error('read ECONNRESET'), requested: false };
    expect(formatClose('wss://h/publish', info)).toBe(
      'connection to wss://h/publish lost: 1006 (connection lost): read ECONNRESET',
    );
  });
});
