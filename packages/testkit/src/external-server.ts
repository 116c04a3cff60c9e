import { connect } from 'node:net';

/** The servers some tests need a real instance of (a store, a bridge source, a bench peer). */
export type ExternalServer = 'redis' | 'postgres' | 'rabbitmq' | 'nats';

const DEFAULT_URLS: Record<ExternalServer, string> = {
  redis: 'redis://127.0.0.1:6379',
  postgres: 'postgres://postgres@127.0.0.1:5432/postgres',
  rabbitmq: 'amqp://guest:guest@127.0.0.1:5672',
  nats: 'nats://127.0.0.1:4222',
};

const DEFAULT_PORTS: Record<ExternalServer, number> = { redis: 6379, postgres: 5432, rabbitmq: 5672, nats: 4222 };

/** `TEST_REDIS_URL`, `TEST_POSTGRES_URL`, `TEST_RABBITMQ_URL`, `TEST_NATS_URL`. */
function envName(kind: ExternalServer): string {
  return `TEST_${kind.toUpperCase()}_URL`;
}

/** Where the tests find a server of this kind: its `TEST_<KIND>_URL`, or the default local one. */
export function serverUrl(kind: ExternalServer): string {
  return process.env[envName(kind)] ?? DEFAULT_URLS[kind];
}

/** The servers that must answer (`PUBSUB_TEST_SERVERS=redis,postgres`): `.ci/run` sets it for those it made sure of. */
function required(): Set<string> {
  return new Set(
    (process.env.PUBSUB_TEST_SERVERS ?? '')
      .split(',')
      .map((name) => name.trim())
      .filter(Boolean),
  );
}

const answers = new Map<ExternalServer, Promise<boolean>>();

/**
 * Whether a server of this kind answers on its URL's port. On a developer's machine without one
 * the tests that need it are skipped (`describe.runIf`); where it is required, silence is an
 * error, so CI cannot pass by skipping them.
 */
export async function serverAvailable(kind: ExternalServer): Promise<boolean> {
  let answer = answers.get(kind);
  if (answer === undefined) {
    answer = probe(serverUrl(kind), DEFAULT_PORTS[kind]);
    answers.set(kind, answer);
  }
  const available = await answer;
  if (!available && required().has(kind)) {
    throw new Error(`${kind} is required (PUBSUB_TEST_SERVERS) but nothing answers at ${serverUrl(kind)}`);
  }
  return available;
}

function probe(url: string, defaultPort: number): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect({ host: hostname.replace(/^\[|\]$/g, ''), port: Number(port || defaultPort) });
    socket.setTimeout(1_000);
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.once('connect', () => done(true));
    socket.once('timeout', () => done(false));
    socket.once('error', () => done(false));
  });
}
