/**
 * The bridge section: on one durable chain, in one run, how fast messages reach a wss subscriber
 * when they come from a PostgreSQL outbox table or a RabbitMQ queue through the bridge, as a ratio
 * to messages published on wss `/publish` into the same subscriber. A source whose server does not
 * answer is skipped with a note. See bench/README.md ("Bridges").
 */
import { connect, serverAvailable, serverUrl, type TestClient } from '@pubsub/testkit';
import { connect as amqpConnect } from 'amqplib';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { TsChild } from '../process.js';
import type { ModuleReport } from '../report.js';
import { ofWss, runSection, startSectionChain, type SectionOptions } from '../section.js';
import { logged } from '../services.js';
import { formatRate, formatRatio, ratio } from '../stats.js';
import { windowed } from '../window.js';

/** One source's figure: messages into the subscriber per second, from the first sent to the last delivered. */
interface Figure {
  readonly count: number;
  readonly perSec: number;
}

const WINDOW = 1_000;

/** Counts deliveries per topic on one subscriber; `until(topic, n)` resolves when n have come. */
function deliveryCounter(client: TestClient) {
  const counts = new Map<string, number>();
  const waiters: { topic: string; count: number; resolve: () => void }[] = [];
  client.ws.on('message', (data) => {
    const text = (data as Buffer).toString();
    if (!text.startsWith('{"type":"message"')) return;
    const { topic } = JSON.parse(text) as { topic: string };
    const count = (counts.get(topic) ?? 0) + 1;
    counts.set(topic, count);
    for (const waiter of waiters.filter((w) => w.topic === topic && count >= w.count)) {
      waiters.splice(waiters.indexOf(waiter), 1);
      waiter.resolve();
    }
  });
  return (topic: string, count: number, timeoutMs: number) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${topic}: ${counts.get(topic) ?? 0} of ${count} delivered in ${timeoutMs} ms`)),
        timeoutMs,
      );
      waiters.push({
        topic,
        count,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
    });
}

async function subscribe(client: TestClient, topics: readonly string[]): Promise<void> {
  for (const topic of topics) {
    client.send(`sub ${topic}`);
    const reply = await client.next();
    if (reply.type !== 'subscribed') throw new Error(`sub ${topic}: ${JSON.stringify(reply)}`);
  }
}

/** Publishes `count` messages on wss with `WINDOW` unacknowledged at most; resolves once all are acked. */
async function publishWss(client: TestClient, topic: string, options: { count: number; timeoutMs: number }) {
  let answer: (ok: boolean) => void = () => undefined;
  const onReply = (data: unknown) => {
    const text = (data as Buffer).toString();
    if (text.startsWith('{"type":"ack"') || text.startsWith('{"type":"error"'))
      answer(text.startsWith('{"type":"ack"'));
  };
  client.ws.on('message', onReply);
  const result = await windowed({ ...options, window: WINDOW }, (n, answered) => {
    answer = answered;
    client.send(`{"topic":"${topic}","content":${n}}`);
  });
  client.ws.off('message', onReply);
  if (result.refused > 0 || result.timedOut) throw new Error(`wss publish: ${JSON.stringify(result)}`);
}

async function timed(feed: () => Promise<void>, delivered: Promise<void>, count: number): Promise<Figure> {
  const began = performance.now();
  await Promise.all([feed(), delivered]);
  return { count, perSec: count / ((performance.now() - began) / 1000) };
}

export async function runBridgeModule(
  options: SectionOptions,
  progress: (text: string) => void,
): Promise<ModuleReport> {
  const count = options.quick ? 5_000 : 20_000;
  const timeoutMs = 30_000 + count * 3;
  const name = `bench_${randomBytes(4).toString('hex')}`;
  const topics = { wss: 'bench.wss', postgres: `pg.${name}`, rabbitmq: `amqp.${name}` };
  const [postgres, rabbitmq] = await Promise.all([serverAvailable('postgres'), serverAvailable('rabbitmq')]);
  const skipped: string[] = [];
  if (!postgres) skipped.push(`postgres: skipped, nothing answers at ${serverUrl('postgres')} (TEST_POSTGRES_URL)`);
  if (!rabbitmq) skipped.push(`rabbitmq: skipped, nothing answers at ${serverUrl('rabbitmq')} (TEST_RABBITMQ_URL)`);
  return runSection({ name: 'bridge', progress, failureJson: { skipped } }, async (scope) => {
    const amqp = rabbitmq ? await amqpConnect(serverUrl('rabbitmq')) : undefined;
    if (amqp !== undefined) {
      scope.defer(async () => {
        const cleanup = await amqp.createChannel();
        for (const queue of [name, `${name}.dead`]) await cleanup.deleteQueue(queue);
        await cleanup.deleteExchange(`${name}.dead`);
        await amqp.close();
      });
    }
    const db = postgres ? new pg.Client({ connectionString: serverUrl('postgres') }) : undefined;
    if (db !== undefined) {
      scope.defer(async () => {
        await db.query(`DROP TABLE IF EXISTS ${name}; DROP FUNCTION IF EXISTS ${name}_notify()`).catch(() => undefined);
        await db.end();
      });
    }
    const suite = await startSectionChain(options, 'bridge', {});
    scope.defer(() => suite.stop());
    const subscriber = await connect(`wss://127.0.0.1:${suite.subscribePort}/subscribe`, { ca: options.ca });
    scope.defer(() => subscriber.close());
    const publisher = await connect(`wss://127.0.0.1:${suite.publishPort}/publish`, { ca: options.ca });
    scope.defer(() => publisher.close());
    await subscribe(subscriber, Object.values(topics));
    const until = deliveryCounter(subscriber);
    const figures: Partial<Record<keyof typeof topics, Figure>> = {};
    figures.wss = await timed(
      () => publishWss(publisher, topics.wss, { count, timeoutMs }),
      until(topics.wss, count, timeoutMs),
      count,
    );
    if (db !== undefined) {
      await db.connect();
      await db.query(`CREATE TABLE ${name} (id bigserial PRIMARY KEY, topic text NOT NULL, payload jsonb NOT NULL,
          created_at timestamptz NOT NULL DEFAULT now(), dead_reason text)`);
      await db.query(`CREATE FUNCTION ${name}_notify() RETURNS trigger LANGUAGE plpgsql AS $$
          BEGIN PERFORM pg_notify('${name}', ''); RETURN NULL; END $$`);
      await db.query(
        `CREATE TRIGGER ${name}_notify AFTER INSERT ON ${name} FOR EACH STATEMENT EXECUTE FUNCTION ${name}_notify()`,
      );
    }
    const channel = await amqp?.createConfirmChannel();
    await channel?.assertQueue(name, { durable: true });
    if (db !== undefined || channel !== undefined) {
      const bridge = scope.child(
        new TsChild(
          'bridge',
          { entry: 'services/bridge/src/main.ts' },
          {
            WS_CERT_DIR: options.certDir,
            LOG_LEVEL: 'info',
            BRIDGE_PORT: '0',
            BRIDGE_QUEUE_URL: `wss://127.0.0.1:${suite.queuePort}/pushmsg`,
            ...(db !== undefined && { BRIDGE_PG_URL: serverUrl('postgres'), BRIDGE_PG_OUTBOX_TABLE: name }),
            ...(channel !== undefined && {
              BRIDGE_AMQP_URL: serverUrl('rabbitmq'),
              BRIDGE_AMQP_QUEUE: name,
              BRIDGE_AMQP_TOPICS: `${name}=${topics.rabbitmq}`,
            }),
          },
        ),
      );
      // Its /ready turns 200 once the msgqueue hop and every source are connected: each logs so at info.
      const sources = [db !== undefined && 'PostgreSQL connected', channel !== undefined && 'RabbitMQ connected'];
      const ready = ['upstream connected', ...sources].filter((msg) => typeof msg === 'string');
      await Promise.all(ready.map((msg) => logged(bridge, msg)));
    }
    if (db !== undefined) {
      // What an application does: rows written by many statements (100 each), as they come.
      const insert = async () => {
        for (let n = 0; n < count; n += 100) {
          await db.query(
            `INSERT INTO ${name} (topic, payload) SELECT $1, to_jsonb(n) FROM generate_series($2::int, $3::int) n`,
            [topics.postgres, n + 1, Math.min(count, n + 100)],
          );
        }
      };
      figures.postgres = await timed(insert, until(topics.postgres, count, timeoutMs), count);
    }
    if (channel !== undefined) {
      const send = async () => {
        for (let n = 1; n <= count; n++) {
          channel.sendToQueue(name, Buffer.from(String(n)), { messageId: `${name}-${n}`, persistent: true });
          if (n % 500 === 0) await channel.waitForConfirms();
        }
        await channel.waitForConfirms();
      };
      figures.rabbitmq = await timed(send, until(topics.rabbitmq, count, timeoutMs), count);
    }
    const base = figures.wss.perSec;
    const row = (label: string, figure: Figure | undefined, note: string | undefined) => ({
      label,
      value: figure === undefined ? (note ?? 'skipped') : ofWss(figure.perSec, base, ' msg/s'),
    });
    const rows = [
      {
        label: `wss /publish → wss subscriber, window 1,000 (baseline), ${count} msgs`,
        value: `${formatRate(base)} msg/s`,
      },
      row(
        `PostgreSQL outbox (100 rows/INSERT) → bridge → wss subscriber, ${count} msgs`,
        figures.postgres,
        skipped.find((s) => s.startsWith('postgres')),
      ),
      row(
        `RabbitMQ queue (confirmed publishes) → bridge → wss subscriber, ${count} msgs`,
        figures.rabbitmq,
        skipped.find((s) => s.startsWith('rabbitmq')),
      ),
    ];
    const ratios = {
      postgresOverWss: figures.postgres && ratio(figures.postgres.perSec, base),
      rabbitmqOverWss: figures.rabbitmq && ratio(figures.rabbitmq.perSec, base),
    };
    progress(
      `[bridge] wss ${formatRate(base)}/s; postgres ${ratios.postgresOverWss === undefined ? 'skipped' : formatRatio(ratios.postgresOverWss)}, rabbitmq ${ratios.rabbitmqOverWss === undefined ? 'skipped' : formatRatio(ratios.rabbitmqOverWss)} of wss`,
    );
    return {
      rows,
      json: { count, figures, ratios, skipped, unexpectedLogLines: suite.unexpectedLogLines() },
      errors: [],
    };
  });
}
