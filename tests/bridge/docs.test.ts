/**
 * The bridge's documentation against the code: every metric it exports is in docs/operations.md,
 * and the outbox DDL on docs/bridge-postgres.md is services/bridge/sql/outbox.sql, which the
 * tests against PostgreSQL create their tables from. Needs neither server: the bridge starts and
 * serves /ready and /metrics while both are unreachable.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { REPO_ROOT } from '@pubsub/testkit';
import { startRig } from './rig.js';

const read = (file: string) => readFileSync(join(REPO_ROOT, file), 'utf8');

test('with both sources unreachable: /ready says which, /metrics has every documented bridge metric', async () => {
  await using rig = await startRig({
    BRIDGE_PG_URL: 'postgres://postgres@127.0.0.1:1/postgres',
    BRIDGE_PG_OUTBOX_TABLE: 'pubsub_outbox',
    BRIDGE_AMQP_URL: 'amqp://guest:guest@127.0.0.1:1',
  });
  await expect
    .poll(async () => rig.bridgeJson('/ready'))
    .toMatchObject({
      status: 'not ready',
      reason: 'not connected to postgres, rabbitmq',
      sources: {
        postgres: { connected: false, error: expect.stringContaining('ECONNREFUSED') as unknown, inFlight: 0 },
        rabbitmq: { connected: false, error: expect.stringContaining('ECONNREFUSED') as unknown, inFlight: 0 },
      },
    });
  const { status, body } = await rig.bridgeGet('/metrics');
  expect(status).toBe(200);
  const families = [...body.matchAll(/^# TYPE (pubsub_bridge_\S+)/gm)].map((match) => match[1] ?? '');
  expect(families.length).toBeGreaterThan(8);
  const doc = read('docs/operations.md');
  expect(families.filter((name) => !doc.includes(`\`${name}`))).toEqual([]);
  expect(body).toMatch(/pubsub_bridge_source_disconnects_total\{source="postgres",service="bridge"\} [1-9]/);
});

test('docs/bridge-postgres.md shows the outbox DDL the tests use', () => {
  expect(read('docs/bridge-postgres.md')).toContain(read('services/bridge/sql/outbox.sql').trim());
});
