/**
 * The publisher and subscriber started alone find the msgqueue where `pnpm start` would put it:
 * with *_QUEUE_URL unset they dial localhost at MSGQUEUE_PORT (8080 by default).
 */
import * as publisher from '@pubsub/publisher';
import * as subscriber from '@pubsub/subscriber';
import { describe, expect, test } from 'vitest';

describe('the hop URL when *_QUEUE_URL is unset', () => {
  test.each([
    [{}, 'wss://localhost:8080/pushmsg', 'wss://localhost:8080/popmsg?group=default'],
    [{ MSGQUEUE_PORT: '28280' }, 'wss://localhost:28280/pushmsg', 'wss://localhost:28280/popmsg?group=default'],
    [
      {
        MSGQUEUE_PORT: '28280',
        PUBLISHER_QUEUE_URL: 'wss://mq:9000/pushmsg',
        SUBSCRIBER_QUEUE_URL: 'wss://mq:9000/popmsg',
      },
      'wss://mq:9000/pushmsg',
      'wss://mq:9000/popmsg?group=default',
    ],
  ])('%o: publisher %s, subscriber %s', (env, pushUrl, popUrl) => {
    expect(publisher.loadConfig(env).queue.urls).toEqual([pushUrl]);
    expect(subscriber.loadConfig(env).queue.urls).toEqual([popUrl]);
  });

  test('a list of msgqueue nodes, in order, each with the group', () => {
    const env = {
      PUBLISHER_QUEUE_URL: 'wss://mq-1:8080/pushmsg,wss://mq-2:8080/pushmsg',
      SUBSCRIBER_QUEUE_URL: 'wss://mq-1:8080/popmsg, wss://mq-2:8080/popmsg',
    };
    expect(publisher.loadConfig(env).queue.urls).toEqual(['wss://mq-1:8080/pushmsg', 'wss://mq-2:8080/pushmsg']);
    expect(subscriber.loadConfig(env).queue.urls).toEqual([
      'wss://mq-1:8080/popmsg?group=default',
      'wss://mq-2:8080/popmsg?group=default',
    ]);
  });

  test('an invalid MSGQUEUE_PORT is a configuration error of the publisher and subscriber too', () => {
    expect(() => publisher.loadConfig({ MSGQUEUE_PORT: 'x' })).toThrow(/MSGQUEUE_PORT/);
    expect(() => subscriber.loadConfig({ MSGQUEUE_PORT: '70000' })).toThrow(/MSGQUEUE_PORT/);
  });
});
