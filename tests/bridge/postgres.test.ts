import { captureLogs, serverAvailable, serverUrl } from '@pubsub/testkit';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { deliveries, outboxSql, pgClient, startRig, subscribe, uniqueName } from './rig.js';

const url = serverUrl('postgres');

describe.runIf(await serverAvailable('postgres'))('PostgreSQL bridge', () => {
  let table: string;
  let topic: string;
  beforeEach(async () => {
    table = uniqueName('outbox');
    topic = `pg.${table}`;
    await using db = await pgClient(url);
    await db.query(outboxSql(table).create);
  });
  afterEach(async () => {
    await using db = await pgClient(url);
    await db.query(outboxSql(table).drop);
  });

  test('outbox rows reach a wss subscriber in key order, and are deleted once stored', async () => {
    await using rig = await startRig({ BRIDGE_PG_URL: url, BRIDGE_PG_OUTBOX_TABLE: table, BRIDGE_PG_BATCH: '7' });
    const client = await rig.subscribeClient();
    await subscribe(client, topic);
    await using db = await pgClient(url);
    // Several statements, so several batches and wake-ups; a text payload and JSON ones.
    await db.query(`INSERT INTO ${table} (topic, payload) VALUES ($1, '"first"')`, [topic]);
    await db.query(
      `INSERT INTO ${table} (topic, payload) SELECT $1, jsonb_build_object('n', n) FROM generate_series(1, 30) n`,
      [topic],
    );
    const got = await deliveries(client, 31);
    expect(got.map((frame) => frame.content)).toEqual([
      'first',
      ...Array.from({ length: 30 }, (_, i) => ({ n: i + 1 })),
    ]);
    // Ids are the rows' keys, so a resend after a crash is recognised.
    expect(got[0]?.id).toMatch(new RegExp(`^${table}:\\d+$`));
    // Deleted after the msgqueue's ack: once the table is empty the lag says so too.
    await expect
      .poll(async () => (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`)).rows[0]?.n)
      .toBe(0);
  });

  test('LISTEN/NOTIFY channels map to topics (configured, or prefix + channel); payload JSON or text', async () => {
    const channel = uniqueName('chan');
    const mapped = uniqueName('chan');
    await using rig = await startRig({
      BRIDGE_PG_URL: url,
      BRIDGE_PG_CHANNELS: `${channel},${mapped}=audit.${mapped}`,
      BRIDGE_PG_TOPIC_PREFIX: 'db.',
    });
    const client = await rig.subscribeClient();
    await subscribe(client, `db.${channel}`);
    await subscribe(client, `audit.${mapped}`);
    // The bridge LISTENs once connected: /ready says so.
    await expect.poll(async () => (await rig.bridgeJson('/ready')).status, { timeout: 10_000 }).toBe('ready');
    await using db = await pgClient(url);
    await db.query(`SELECT pg_notify($1, '{"a":1}'), pg_notify($1, 'plain text'), pg_notify($2, '[1,2]')`, [
      channel,
      mapped,
    ]);
    const got = await deliveries(client, 3);
    expect(got.map((frame) => [frame.topic, frame.content])).toEqual([
      [`db.${channel}`, { a: 1 }],
      [`db.${channel}`, 'plain text'],
      [`audit.${mapped}`, [1, 2]],
    ]);
  });

  test('a row the ingress refuses keeps a dead_reason, is logged with the reason, and does not hold up the rest', async () => {
    const logs = captureLogs('bridge');
    await using rig = await startRig({ BRIDGE_PG_URL: url, BRIDGE_PG_OUTBOX_TABLE: table }, logs.logger);
    const client = await rig.subscribeClient();
    await subscribe(client, topic);
    await using db = await pgClient(url);
    await db.query(`INSERT INTO ${table} (topic, payload) VALUES ($1, '1'), ('bad topic', '2'), ($1, '3')`, [topic]);
    const got = await deliveries(client, 2);
    expect(got.map((frame) => frame.content)).toEqual([1, 3]);
    const logged = await logs.waitFor((line) => line.msg === 'outbox row refused; kept with its dead_reason');
    expect(logged).toMatchObject({ code: 'TOPIC_INVALID', topic: 'bad topic' });
    // The stored rows are deleted just after the msgqueue's ack, which is before their delivery or after it.
    await expect
      .poll(
        async () =>
          (await db.query<{ topic: string; dead_reason: string | null }>(`SELECT topic, dead_reason FROM ${table}`))
            .rows,
      )
      .toEqual([
        { topic: 'bad topic', dead_reason: expect.stringMatching(/^TOPIC_INVALID: topic must be/) as unknown },
      ]);
    const metrics = (await rig.bridgeGet('/metrics')).body;
    expect(metrics).toMatch(
      /pubsub_bridge_dead_letters_total\{source="postgres",code="TOPIC_INVALID",service="bridge"\} 1/,
    );
  });

  test('its session terminated (pg_terminate_backend), it reconnects and reads what came meanwhile', async () => {
    const app = uniqueName('bridge');
    const logs = captureLogs('bridge');
    await using rig = await startRig(
      {
        BRIDGE_PG_URL: `${url}?application_name=${app}`,
        BRIDGE_PG_OUTBOX_TABLE: table,
        UPSTREAM_BACKOFF_MAX_MS: '100',
      },
      logs.logger,
    );
    const client = await rig.subscribeClient();
    await subscribe(client, topic);
    await using db = await pgClient(url);
    await db.query(`INSERT INTO ${table} (topic, payload) VALUES ($1, '1')`, [topic]);
    expect((await deliveries(client, 1)).map((frame) => frame.content)).toEqual([1]);
    const connected = logs.lines.filter((line) => line.msg === 'PostgreSQL connected').length;
    const killed = await db.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1`,
      [app],
    );
    expect(killed.rowCount).toBe(1);
    await logs.waitFor((line) => line.msg === 'PostgreSQL connection lost');
    await db.query(`INSERT INTO ${table} (topic, payload) VALUES ($1, '2'), ($1, '3')`, [topic]);
    expect((await deliveries(client, 2)).map((frame) => frame.content)).toEqual([2, 3]);
    expect(logs.lines.filter((line) => line.msg === 'PostgreSQL connected').length).toBeGreaterThan(connected);
    const ready = await rig.bridgeJson('/ready');
    expect(ready).toMatchObject({ status: 'ready', sources: { postgres: { connected: true, inFlight: 0 } } });
  });

  test('/ready and /metrics report the outbox lag while the msgqueue is away', async () => {
    await using rig = await startRig({
      BRIDGE_PG_URL: url,
      BRIDGE_PG_OUTBOX_TABLE: table,
      BRIDGE_QUEUE_URL: 'wss://localhost:1/pushmsg',
      BRIDGE_PG_BATCH: '2',
      BRIDGE_BUFFER_MESSAGES: '2',
      // Its two rows never get an ack: close without waiting the default 10 s for one.
      SHUTDOWN_TIMEOUT_MS: '1000',
    });
    await using db = await pgClient(url);
    await db.query(`INSERT INTO ${table} (topic, payload) SELECT $1, to_jsonb(n) FROM generate_series(1, 5) n`, [
      topic,
    ]);
    await expect
      .poll(async () => (await rig.bridgeJson('/ready')).sources, { timeout: 10_000 })
      .toMatchObject({ postgres: { connected: true, outbox: { rows: 5 } } });
    const ready = await rig.bridgeJson('/ready');
    expect(ready).toMatchObject({ status: 'not ready', reason: 'msgqueue unreachable' });
    const metrics = (await rig.bridgeGet('/metrics')).body;
    expect(metrics).toMatch(/pubsub_bridge_outbox_rows\{service="bridge"\} 5/);
    expect(metrics).toMatch(/pubsub_bridge_in_flight\{source="postgres",service="bridge"\} 2/);
  });
});
