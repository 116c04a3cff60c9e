import { describe, expect, test } from 'vitest';
import { startChain, subscribe } from '../support/chain.js';

describe('chain in one process', () => {
  test('delivers a published message to a subscriber, content intact', async () => {
    await using chain = await startChain();
    const sub = await chain.subscribeClient();
    await subscribe(sub, 'news');
    const pub = await chain.publishClient();
    pub.send('{"topic":"news","content":{"n":12345678901234567890,"s":"é<&>"},"id":"m1"}');
    expect(await pub.next()).toEqual({ type: 'ack', id: 'm1' });
    expect(await sub.nextText()).toBe(
      '{"type":"message","topic":"news","id":"m1","content":{"n":12345678901234567890,"s":"é<&>"}}',
    );
  });
});
