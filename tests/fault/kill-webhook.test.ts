import { connect, within } from '@pubsub/testkit';
import { describe, expect, test } from 'vitest';
import {
  childServices,
  startFaultChain,
  type FaultChain,
  startReceiver,
  subscriptionsApi,
} from '@pubsub/testkit-chain';

const run = childServices();

const BEFORE = 60;
const WHILE_DOWN = 20;
/** The receiver takes this many requests, then fails every one until it is told to recover. */
const ACCEPTED_FIRST = 25;

async function publish(chain: FaultChain, ids: readonly string[]): Promise<void> {
  const pub = await connect(chain.publishUrl, { ca: chain.ca });
  for (const id of ids) pub.send({ topic: 'orders', id, content: id });
  for (let n = 0; n < ids.length; n++) expect(await pub.next()).toMatchObject({ type: 'ack' });
  await pub.close();
}

const ids = (from: number, count: number) => Array.from({ length: count }, (_, n) => `order-${from + n}`);

describe('kill -9 of the subscriber while a webhook retries', () => {
  test('after the restart every message is delivered, in order, from the saved position; at most repeats', async () => {
    const chain = await startFaultChain(run, {
      subscriber: {
        SUBSCRIBER_WEBHOOK_ALLOW_PRIVATE: '127.0.0.0/8',
        SUBSCRIBER_WEBHOOK_ATTEMPTS: '100000',
        SUBSCRIBER_WEBHOOK_BACKOFF_BASE_MS: '5',
        SUBSCRIBER_WEBHOOK_BACKOFF_MAX_MS: '20',
      },
    });
    let recovered = false;
    await using receiver = await startReceiver((_got, n) => ({ status: recovered || n < ACCEPTED_FIRST ? 200 : 503 }));
    const api = subscriptionsApi(chain.subscriber.port, chain.ca);
    const created = await api.create({ topic: 'orders', url: receiver.url });
    expect(created.status).toBe(201);

    await publish(chain, ids(0, BEFORE));
    // Retrying the message after the accepted ones, a few times over.
    await within(receiver.until(ACCEPTED_FIRST + 5), 20_000, () => `received ${receiver.received.length}`);
    const victim = chain.subscriber.proc;
    await victim.kill('SIGKILL');
    expect(victim.child.signalCode).toBe('SIGKILL');
    await publish(chain, ids(BEFORE, WHILE_DOWN));
    recovered = true;

    expect(await chain.subscriber.restart()).toBe(chain.subscriber.port);
    const all = ids(0, BEFORE + WHILE_DOWN);
    const last = all.at(-1);
    await within(
      receiver.waitFor((got) => got.status === 200 && got.json.id === last),
      30_000,
      () =>
        `delivered ${new Set(receiver.received.filter((got) => got.status === 200).map((got) => got.json.id)).size}`,
    );
    const delivered = receiver.received.filter((got) => got.status === 200).map((got) => got.json.id);
    // Nothing lost: every id, and the first delivery of each in publish order.
    const firsts = [...new Set(delivered)];
    expect(firsts).toEqual(all);
    // A repeat is only of what was delivered before the crash and not yet saved; each carries its id.
    const repeats = delivered.length - firsts.length;
    expect(repeats).toBeLessThanOrEqual(ACCEPTED_FIRST);
    // Order: the restarted service starts again at its saved position and goes on in seq order.
    const numbers = delivered.map((id) => Number(id.slice('order-'.length)));
    const restartedAt = numbers.findIndex((n, i) => i > 0 && n <= (numbers[i - 1] as number));
    const afterRestart = restartedAt < 0 ? numbers : numbers.slice(restartedAt);
    expect(afterRestart).toEqual([...afterRestart].sort((a, b) => a - b));
    expect(numbers.slice(0, restartedAt < 0 ? undefined : restartedAt)).toEqual(
      [...numbers.slice(0, restartedAt < 0 ? undefined : restartedAt)].sort((a, b) => a - b),
    );
    const view = await subscriptionsApi(chain.subscriber.port, chain.ca).until(
      created.json.id as string,
      (each) => each.queued === 0 && each.state === 'live',
    );
    expect(view).toMatchObject({ deadLettered: 0, lastError: null });
  }, 90_000);
});
