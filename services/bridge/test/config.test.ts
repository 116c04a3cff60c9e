import { ConfigError } from '@pubsub/config';
import { describe, expect, test } from 'vitest';
import { loadConfig } from '../src/config.js';
import { thrown } from '@pubsub/testkit';

const PG = 'postgres://postgres@127.0.0.1:5432/postgres';

function problems(env: Record<string, string>): readonly string[] {
  return thrown(ConfigError, () => loadConfig(env)).issues;
}

describe('bridge configuration', () => {
  test('nothing to bridge is an error that names both variables', () => {
    expect(problems({})).toEqual(['BRIDGE_PG_URL, BRIDGE_AMQP_URL: nothing to bridge; set one or both']);
  });

  test('PostgreSQL needs something to read, a safe table name, and its own variables need its URL', () => {
    expect(problems({ BRIDGE_PG_URL: PG })).toEqual([
      'BRIDGE_PG_URL: set BRIDGE_PG_OUTBOX_TABLE (no loss) or BRIDGE_PG_CHANNELS (LISTEN/NOTIFY), or both',
    ]);
    expect(problems({ BRIDGE_PG_URL: PG, BRIDGE_PG_OUTBOX_TABLE: 'x; DROP TABLE y' })[0]).toMatch(
      /^BRIDGE_PG_OUTBOX_TABLE: expected a table name/,
    );
    expect(problems({ BRIDGE_PG_CHANNELS: 'orders', BRIDGE_AMQP_URL: 'amqp://h' })).toEqual([
      'BRIDGE_PG_URL: needed for BRIDGE_PG_CHANNELS and BRIDGE_PG_OUTBOX_TABLE',
    ]);
    expect(problems({ BRIDGE_PG_URL: 'mysql://h/db', BRIDGE_PG_CHANNELS: 'a' })[0]).toMatch(
      /^BRIDGE_PG_URL: expected a postgres:/,
    );
  });

  test('channels: name or name=topic, the default rule for the rest; the outbox channel is its own', () => {
    const config = loadConfig({
      BRIDGE_PG_URL: PG,
      BRIDGE_PG_CHANNELS: 'orders, audit=audit.events',
      BRIDGE_PG_TOPIC_PREFIX: 'db.',
      BRIDGE_PG_OUTBOX_TABLE: 'app.outbox',
    });
    expect(config.postgres?.channels.names).toEqual(['orders', 'audit']);
    expect(config.postgres?.channels.topicOf('orders')).toBe('db.orders');
    expect(config.postgres?.channels.topicOf('audit')).toBe('audit.events');
    expect(config.postgres?.outbox).toMatchObject({ table: 'app.outbox', channel: 'outbox', batch: 500 });
    expect(problems({ BRIDGE_PG_URL: PG, BRIDGE_PG_CHANNELS: 'a=b=c,a,,=x' })).toEqual([
      'BRIDGE_PG_CHANNELS: "a=b=c" is not name or name=topic',
      'BRIDGE_PG_CHANNELS: "=x" is not name or name=topic',
    ]);
    expect(problems({ BRIDGE_PG_URL: PG, BRIDGE_PG_CHANNELS: 'outbox', BRIDGE_PG_OUTBOX_TABLE: 'outbox' })).toEqual([
      'BRIDGE_PG_CHANNELS: "outbox" is the outbox\'s wake-up channel (BRIDGE_PG_OUTBOX_CHANNEL)',
    ]);
  });

  test('RabbitMQ: queue, exchange and bindings, routing keys to topics, a dead-letter exchange of its own', () => {
    const config = loadConfig({
      BRIDGE_AMQP_URL: 'amqp://guest:guest@127.0.0.1:5672',
      BRIDGE_AMQP_EXCHANGE: 'events',
      BRIDGE_AMQP_BINDINGS: 'orders.*, audit.#',
      BRIDGE_AMQP_TOPICS: 'orders.created=shop.orders',
      BRIDGE_AMQP_TOPIC_PREFIX: 'rmq.',
    });
    expect(config.rabbitmq).toMatchObject({
      queue: 'pubsub-bridge',
      exchange: { name: 'events', type: 'topic', bindings: ['orders.*', 'audit.#'] },
      deadLetterExchange: 'pubsub-bridge.dead',
      prefetch: 256,
    });
    expect(config.rabbitmq?.topics.topicOf('orders.created')).toBe('shop.orders');
    expect(config.rabbitmq?.topics.topicOf('audit.login')).toBe('rmq.audit.login');
    expect(
      problems({ BRIDGE_AMQP_URL: 'amqp://h', BRIDGE_AMQP_EXCHANGE: 'x', BRIDGE_AMQP_DEAD_LETTER_EXCHANGE: 'x' }),
    ).toEqual(['BRIDGE_AMQP_DEAD_LETTER_EXCHANGE: must not be BRIDGE_AMQP_EXCHANGE, or dead letters come back']);
    expect(problems({ BRIDGE_AMQP_URL: 'amqp://h', BRIDGE_AMQP_PREFETCH: '20', BRIDGE_BUFFER_MESSAGES: '10' })).toEqual(
      ['BRIDGE_AMQP_PREFETCH: 20 is more than BRIDGE_BUFFER_MESSAGES (10)'],
    );
  });

  test('publishes as the first bridge user, or BRIDGE_PUBLISH_AS, which must exist and may publish', () => {
    const amqp = { BRIDGE_AMQP_URL: 'amqp://h' };
    expect(loadConfig(amqp).publishAs.user).toBe('hello');
    expect(loadConfig({ ...amqp, BRIDGE_USERS: 'feeder:secret,ops:x' }).publishAs.user).toBe('feeder');
    expect(problems({ ...amqp, BRIDGE_PUBLISH_AS: 'nobody' })).toEqual([
      'BRIDGE_PUBLISH_AS: "nobody" is not a user of BRIDGE_USERS or USERS_FILE',
    ]);
  });
});
