import { GRPC_METHODS } from '@pubsub/protocol';
import { describe, expect, test } from 'vitest';
import { encodeSubscribeEvent, PUBLISH_METHOD, SUBSCRIBE_METHOD } from './proto.js';

describe('pubsub.proto', () => {
  test('its methods are at the paths the services give rights to', () => {
    expect(SUBSCRIBE_METHOD.path).toBe(GRPC_METHODS.subscribe);
    expect(PUBLISH_METHOD.path).toBe(GRPC_METHODS.publish);
  });

  test('an event encodes once and decodes as the client reads it', () => {
    const message = { topic: 'news', id: 'm1', seq: 41, epoch: 'ab12', content: '{"n": 1}', time: 1_700_000_000_000 };
    const bytes = encodeSubscribeEvent({ event: 'message', message });
    expect(SUBSCRIBE_METHOD.responseDeserialize(bytes)).toEqual({ event: 'message', message });
  });
});
