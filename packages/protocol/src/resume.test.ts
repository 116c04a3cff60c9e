import { thrown } from '@pubsub/testkit';
import { describe, expect, test } from 'vitest';
import { parseCommand } from './command.js';
import { ProtocolError } from './errors.js';
import { encodeSubscribed } from './frames.js';
import { readQueued } from './publish.js';

const codeOf = (text: string): string => thrown(ProtocolError, () => parseCommand(text)).code;

describe('resuming sub', () => {
  test('text form: from a seq, with or without the epoch', () => {
    expect(parseCommand('sub news from 42')).toEqual({
      op: 'sub',
      topic: 'news',
      ref: undefined,
      resume: { seq: 42, epoch: undefined },
    });
    expect(parseCommand('  sub\tnews  from 0 ab12\n')).toMatchObject({ resume: { seq: 0, epoch: 'ab12' } });
  });

  test('JSON form: "from" and "epoch", the id echoed as ref', () => {
    expect(parseCommand('{"Topic":"news","Content":"sub","From":7,"Epoch":"ff","id":"r1"}')).toEqual({
      op: 'sub',
      topic: 'news',
      ref: 'r1',
      resume: { seq: 7, epoch: 'ff' },
    });
    expect(parseCommand('{"topic":"news","content":"sub"}').resume).toBeUndefined();
    // An unsub has nothing to resume: "from" is ignored.
    expect(parseCommand('{"topic":"news","content":"unsub","from":3}').resume).toBeUndefined();
  });

  test.each([
    ['sub news from', 'RESUME_INVALID'],
    ['sub news from -1', 'RESUME_INVALID'],
    ['sub news from 1.5', 'RESUME_INVALID'],
    ['sub news from 99999999999999999999', 'RESUME_INVALID'],
    ['sub news from 1 NOTHEX', 'RESUME_INVALID'],
    ['sub news from 1 ab cd', 'RESUME_INVALID'],
    ['sub news since 1', 'TOPIC_INVALID'],
    ['unsub news from 1', 'TOPIC_INVALID'],
    ['{"topic":"news","content":"sub","from":"x"}', 'RESUME_INVALID'],
    ['{"topic":"news","content":"sub","from":-2}', 'RESUME_INVALID'],
    ['{"topic":"news","content":"sub","from":1,"epoch":7}', 'RESUME_INVALID'],
  ])('%j → %s', (text, code) => {
    expect(codeOf(text)).toBe(code);
  });

  test('the subscribed reply carries the recovery', () => {
    expect(JSON.parse(encodeSubscribed('news', 'r', { from: 4, recovered: false, epoch: 'ab', replayed: 2 }))).toEqual({
      type: 'subscribed',
      topic: 'news',
      from: 4,
      recovered: false,
      epoch: 'ab',
      replayed: 2,
      id: 'r',
    });
  });
});

describe('readQueued', () => {
  test('reads topic, time, seq and epoch, the last duplicate winning', () => {
    expect(
      readQueued('{"type":"message","topic":"news","id":"m","time":17,"content":{"seq":9},"seq":3,"epoch":"ab"}'),
    ).toEqual({ topic: 'news', time: 17, seq: 3, epoch: 'ab' });
    expect(readQueued('{"Topic":"news","Content":"m1"}')).toEqual({
      topic: 'news',
      time: undefined,
      seq: undefined,
      epoch: undefined,
    });
    expect(readQueued('{"topic":"news","seq":"3","epoch":4,"time":1.5}')).toEqual({
      topic: 'news',
      time: undefined,
      seq: undefined,
      epoch: undefined,
    });
    expect(readQueued('not json')).toBeUndefined();
    expect(readQueued('{"topic":""}')).toBeUndefined();
  });
});
