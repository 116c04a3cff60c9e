/**
 * Graceful stop of each service as a real process: on SIGTERM or SIGINT it turns /ready to 503,
 * refuses new connections, finishes or hands back what it holds, closes its clients with 1001 and
 * exits 0 within SHUTDOWN_TIMEOUT_MS, even when a client never answers its close.
 */
import {
  connect,
  handshakeRejection,
  type TestClient,
  within,
  get,
  ready,
  tempDir,
  type TsProcess,
} from '@pubsub/testkit';
import { readdir, rm } from 'node:fs/promises';
import { describe, expect, test } from 'vitest';
import {
  childEnv,
  childServices,
  queueUrlEnv,
  startNode,
  type Env,
  type ServiceName,
  type ServiceNode,
} from '@pubsub/testkit-chain';

const run = childServices();
/** Each test starts one or two service processes, which takes seconds on a loaded machine. */
const PROCESS_TEST_MS = 60_000;

/** The endpoint a client of each service connects to, and the one that holds the drain open. */
const PATHS = {
  msgqueue: { client: '/popmsg', holder: '/pushmsg' },
  publisher: { client: '/publish', holder: '/publish' },
  subscriber: { client: '/subscribe', holder: '/subscribe' },
} as const;

interface Started {
  proc: TsProcess;
  port: number;
  /** The msgqueue's port: the one the service dials, or its own. */
  queuePort: number;
  ca: string;
  url: (path: string) => string;
}

/**
 * Starts `service` as a process; the publisher and subscriber get a msgqueue process to dial and
 * are returned once connected to it, so their /ready is 200.
 */
async function startService(service: ServiceName, extra: Env = {}): Promise<Started> {
  const { ca, env } = await childEnv();
  const base = { ...env, ...extra };
  const queue = await startNode(run, 'msgqueue', { ...base, MSGQUEUE_STORE: 'memory' });
  let node: ServiceNode = queue;
  if (service !== 'msgqueue') {
    node = await startNode(run, service, { ...base, ...queueUrlEnv(service, [queue.port]) });
    await node.proc.waitForLog('upstream connected');
  }
  const { proc, port } = node;
  return { proc, port, queuePort: queue.port, ca, url: (path) => `wss://localhost:${port}${path}` };
}

/** A client that stops reading: it never sees the server's close frame, so it never answers it. */
async function stuckClient(url: string, ca: string): Promise<TestClient> {
  const client = await connect(url, { ca });
  client.ws.pause();
  return client;
}

const exitedWithin = (proc: TsProcess, ms: number) =>
  within(proc.exited, ms, () => `still running ${ms} ms after the signal:\n${proc.lines.slice(-5).join('\n')}`);

describe('graceful stop of a service process', () => {
  test.each([
    ['msgqueue', 'SIGTERM'],
    ['publisher', 'SIGTERM'],
    ['subscriber', 'SIGTERM'],
    ['subscriber', 'SIGINT'],
  ] as const)(
    '%s on %s: /ready 503, new connections 503, clients closed with 1001, exit 0',
    async (service, signal) => {
      const { proc, port, ca, url } = await startService(service);
      expect((await ready(port, ca)).status).toBe(200);
      const client = await connect(url(PATHS[service].client), { ca });
      // Holds the drain open until the test has looked at the service while it drains.
      const holder = await stuckClient(url(PATHS[service].holder), ca);
      const clientClosed = client.closed();
      const holderClosed = holder.closed();

      const signalled = Date.now();
      proc.child.kill(signal);
      await proc.waitForLog('draining');
      expect(await ready(port, ca)).toEqual({
        status: 503,
        body: { status: 'not ready', service, reason: 'shutting down' },
      });
      expect((await get(port, '/health', { ca })).status).toBe(200);
      const refused = await handshakeRejection(url(PATHS[service].client), { ca });
      expect(refused.status).toBe(503);
      expect(JSON.parse(refused.body)).toMatchObject({ code: 'SHUTTING_DOWN' });

      holder.ws.resume();
      expect((await clientClosed).code).toBe(1001);
      expect((await holderClosed).code).toBe(1001);
      expect(await exitedWithin(proc, 15_000)).toBe(0);
      // Released long before the default deadline (10 s), so nothing was cut short.
      expect(Date.now() - signalled).toBeLessThan(10_000);
      expect(proc.lines.some((line) => line.includes('"msg":"closed"'))).toBe(true);
      expect(proc.lines.join('\n')).not.toContain('forced exit');
    },
    PROCESS_TEST_MS,
  );

  test.each([
    ['msgqueue', 'SIGINT'],
    ['publisher', 'SIGTERM'],
    ['subscriber', 'SIGTERM'],
  ] as const)(
    '%s on %s: a client that never answers the close does not hold the exit past SHUTDOWN_TIMEOUT_MS',
    async (service, signal) => {
      const timeoutMs = 1_000;
      const { proc, ca, url } = await startService(service, { SHUTDOWN_TIMEOUT_MS: String(timeoutMs) });
      const client = await connect(url(PATHS[service].client), { ca });
      const holder = await stuckClient(url(PATHS[service].holder), ca);
      const clientClosed = client.closed();

      const signalled = Date.now();
      proc.child.kill(signal);
      // Past the deadline the process would be killed with exit code 1 ('forced exit').
      expect(await exitedWithin(proc, timeoutMs + 10_000)).toBe(0);
      const elapsed = Date.now() - signalled;
      process.stderr.write(
        `${service} with a stuck client: exit 0 ${elapsed} ms after ${signal} (deadline ${timeoutMs} ms)\n`,
      );
      // The well-behaved client still got its 1001 before the stuck one was cut off.
      expect((await clientClosed).code).toBe(1001);
      expect(proc.lines.some((line) => line.includes('"msg":"closed"'))).toBe(true);
      expect(proc.lines.join('\n')).not.toContain('forced exit');
      holder.ws.terminate();
    },
    PROCESS_TEST_MS,
  );

  test(
    "a signal Node listens to for diagnostics (--report-on-signal's SIGUSR2) writes its report and does not stop the service",
    async () => {
      const reports = tempDir('report');
      try {
        const { proc, port, ca } = await startService('msgqueue', {
          NODE_OPTIONS: `--report-on-signal --report-directory=${reports}`,
        });
        const written = proc.nextLine((line) => line.includes('Node.js report completed'), 'stderr');
        proc.child.kill('SIGUSR2');
        await written;
        expect((await ready(port, ca)).status).toBe(200);
        expect(await readdir(reports)).toHaveLength(1);
        expect(proc.lines.some((line) => line.includes('shutting down'))).toBe(false);
        proc.child.kill('SIGTERM');
        expect(await exitedWithin(proc, 15_000)).toBe(0);
      } finally {
        await rm(reports, { recursive: true, force: true });
      }
    },
    PROCESS_TEST_MS,
  );
});

describe('signals', () => {
  test(
    'the same signal again within a second (a process group gets it twice) is one graceful stop',
    async () => {
      const { proc, ca, url } = await startService('msgqueue');
      const client = await connect(url('/popmsg'), { ca });
      const holder = await stuckClient(url('/pushmsg'), ca);
      const clientClosed = client.closed();
      proc.child.kill('SIGTERM');
      // The repeat comes once the first is being handled (two pending signals would merge into one).
      await proc.waitForLog('draining');
      proc.child.kill('SIGTERM');
      holder.ws.resume();
      expect(await exitedWithin(proc, 15_000)).toBe(0);
      expect((await clientClosed).code).toBe(1001);
      expect(proc.lines.some((line) => line.includes('"msg":"closed"'))).toBe(true);
    },
    PROCESS_TEST_MS,
  );

  test(
    'another signal during the stop exits at once with code 1',
    async () => {
      const { proc, ca, url } = await startService('publisher');
      // Holds the drain open, so the second signal surely comes during the stop.
      const holder = await stuckClient(url('/publish'), ca);
      proc.child.kill('SIGTERM');
      await proc.waitForLog('draining');
      proc.child.kill('SIGINT');
      expect(await exitedWithin(proc, 15_000)).toBe(1);
      expect(await proc.waitForLog('second signal, exiting')).toMatchObject({ signal: 'SIGINT' });
      expect(proc.lines.some((line) => line.includes('"msg":"closed"'))).toBe(false);
      holder.ws.terminate();
    },
    PROCESS_TEST_MS,
  );
});

describe('work in flight when the publisher stops', () => {
  test(
    'every message it read is acknowledged and stored, or refused and not stored',
    async () => {
      const { proc: publisher, port, queuePort, ca } = await startService('publisher');

      // The client keeps WINDOW messages unanswered and goes on sending after the signal, until the
      // publisher closes its socket.
      const window = 100;
      const stopAfterAcks = 200;
      const acked = new Set<string>();
      const refused = new Map<string, string>();
      let sent = 0;
      let inFlightAtSignal = 0;
      const client = await connect(`wss://localhost:${port}/publish`, { ca });
      const pump = () => {
        while (client.ws.readyState === client.ws.OPEN && sent - acked.size - refused.size < window) {
          client.send({ topic: 'inflight', content: sent, id: `m${sent}` });
          sent++;
        }
      };
      client.ws.on('message', (data) => {
        const reply = JSON.parse((data as Buffer).toString()) as { type: string; id: string; code?: string };
        if (reply.type === 'ack') acked.add(reply.id);
        else refused.set(reply.id, reply.code ?? '');
        // Stopped from inside the ack stream, with a window of messages on their way.
        if (acked.size === stopAfterAcks && inFlightAtSignal === 0) {
          inFlightAtSignal = sent - acked.size - refused.size;
          publisher.child.kill('SIGTERM');
        }
        pump();
      });
      const closed = client.closed();
      pump();

      expect((await closed).code).toBe(1001);
      expect(await exitedWithin(publisher, 15_000)).toBe(0);
      const { status, body } = await get(queuePort, '/history?topic=inflight&after=0', { ca, auth: 'hello:test' });
      expect(status).toBe(200);
      const stored = new Set(
        (JSON.parse(body) as { messages: string[] }).messages.map((frame) => (JSON.parse(frame) as { id: string }).id),
      );
      const unanswered = sent - acked.size - refused.size;
      process.stderr.write(
        `publisher stop with ${inFlightAtSignal} in flight: sent ${sent}, acked ${acked.size}, refused ${refused.size}, ` +
          `unanswered ${unanswered}, stored ${stored.size}\n`,
      );
      expect(inFlightAtSignal).toBeGreaterThan(0);
      expect([...refused.values()].filter((code) => code !== 'SHUTTING_DOWN')).toEqual([]);
      // Acknowledged means stored; refused or unanswered means not stored, so a resend is safe.
      expect([...stored].sort()).toEqual([...acked].sort());
    },
    PROCESS_TEST_MS,
  );
});
