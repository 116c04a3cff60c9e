/**
 * `pnpm start`: runs msgqueue, publisher and subscriber as three processes on this machine, the
 * way an operator would, and prints how to reach them. A service that dies is restarted (with
 * backoff) while the others keep running and redial it; Ctrl-C or SIGTERM stops all three in
 * order, exit code 0. `--check-config` checks the three configurations and starts nothing.
 */
import { createLogger, flushStdout, stdoutDestination } from '@pubsub/log';
import { DEFAULT_CERT_DIR } from '@pubsub/tls';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { banner } from './launcher/banner.js';
import { checkConfig } from './launcher/check-config.js';
import { Supervisor, type ServiceName } from './launcher/supervisor.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const SERVICES: readonly ServiceName[] = ['msgqueue', 'publisher', 'subscriber'];

if (process.argv.includes('--check-config')) process.exit(await checkConfig(root, SERVICES));

// The services' logs pass through here: a closed or stalled stdout must not stop the launcher.
const output = stdoutDestination();
const log = createLogger({ service: 'launcher' });
const env = process.env;
const supervisors = new Map<ServiceName, Supervisor>();
let stopping = false;

function supervise(name: ServiceName, serviceEnv: NodeJS.ProcessEnv): Promise<number> {
  const supervisor = new Supervisor({ name, root, env: serviceEnv, log, output: (line) => output.write(`${line}\n`) });
  supervisors.set(name, supervisor);
  return supervisor.start();
}

async function stop(exitCode: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    log.info('stopping services');
    // The clients' side first, the queue last, so nothing is left in flight at the queue.
    for (const group of [['publisher', 'subscriber'], ['msgqueue']] as const) {
      const running = group.flatMap((name) => supervisors.get(name) ?? []);
      const codes = await Promise.all(running.map((supervisor) => supervisor.stop()));
      if (codes.some((code) => code !== null && code !== 0)) exitCode = 1;
    }
    await flushStdout(1_000);
    process.exit(exitCode);
  }
  // A stop is under way: its own exit follows.
  return new Promise<never>(() => undefined);
}

process.on('SIGINT', () => void stop(0));
process.on('SIGTERM', () => void stop(0));
// Should the launcher die some other way, its detached services must not outlive it.
process.on('exit', () => supervisors.forEach((supervisor) => supervisor.kill()));

/**
 * The console (on the subscriber) publishes with a sign-in token from the subscriber: the
 * publisher must accept the subscriber's tokens, so both get one secret, made here when none is
 * set (each service would make its own). A production start keeps requiring a configured one.
 */
const tokenSecret =
  env.AUTH_TOKEN_SECRET === undefined && env.NODE_ENV !== 'production'
    ? { AUTH_TOKEN_SECRET: randomBytes(32).toString('base64url') }
    : {};
/** The console's origins (the subscriber's, by either name of this machine), for the publisher's CORS. */
const consoleOrigins = (port: number) => [`https://localhost:${port}`, `https://127.0.0.1:${port}`];

/** The gRPC listeners are on by default here (the services alone have them off): `off` turns one off. */
const DEFAULT_GRPC_PORTS = { publisher: 8091, subscriber: 8092 };

let ports: { msgqueue: number; publisher: number; subscriber: number };
try {
  const msgqueue = await supervise('msgqueue', {});
  // As the services do alone (docs/configuration.md), but with the port the msgqueue really got;
  // the subscriber first, so the publisher can allow the console on the port it really got.
  const subscriber = await supervise('subscriber', {
    ...tokenSecret,
    SUBSCRIBER_GRPC_PORT: env.SUBSCRIBER_GRPC_PORT ?? String(DEFAULT_GRPC_PORTS.subscriber),
    SUBSCRIBER_QUEUE_URL: env.SUBSCRIBER_QUEUE_URL ?? `wss://localhost:${msgqueue}/popmsg`,
  });
  const publisher = await supervise('publisher', {
    ...tokenSecret,
    PUBLISHER_GRPC_PORT: env.PUBLISHER_GRPC_PORT ?? String(DEFAULT_GRPC_PORTS.publisher),
    ALLOWED_ORIGINS: [env.ALLOWED_ORIGINS ?? '', ...consoleOrigins(subscriber)].filter(Boolean).join(','),
    PUBLISHER_QUEUE_URL: env.PUBLISHER_QUEUE_URL ?? `wss://localhost:${msgqueue}/pushmsg`,
  });
  ports = { msgqueue, publisher, subscriber };
} catch (err) {
  log.fatal({ err }, 'cannot start the suite');
  await stop(1);
  throw err;
}
// The services' own default (docs/configuration.md): the served certificate trusts itself.
const caFile = env.WS_CA_FILE ?? env.TLS_CERT_FILE ?? join(env.WS_CERT_DIR ?? DEFAULT_CERT_DIR, 'server.crt');
const grpcPorts = {
  publisher: supervisors.get('publisher')?.grpcPort,
  subscriber: supervisors.get('subscriber')?.grpcPort,
};
const pids = Object.fromEntries([...supervisors].map(([name, supervisor]) => [name, supervisor.pid]));
log.info(
  {
    publishUrl: `wss://localhost:${ports.publisher}/publish`,
    subscribeUrl: `wss://localhost:${ports.subscriber}/subscribe`,
    consoleUrl: `https://localhost:${ports.subscriber}/console/`,
    msgqueueUrl: `wss://localhost:${ports.msgqueue}`,
    ...(grpcPorts.publisher !== undefined && { grpcPublisher: `localhost:${grpcPorts.publisher}` }),
    ...(grpcPorts.subscriber !== undefined && { grpcSubscriber: `localhost:${grpcPorts.subscriber}` }),
    pids,
    caFile,
  },
  'suite ready',
);
output.write(
  banner({
    root,
    cwd: env.INIT_CWD ?? process.cwd(),
    ports,
    grpcPorts,
    caFile,
    defaultCaFile: join(root, 'certs', 'server.crt'),
    devUser: [env.PUBLISHER_USERS, env.SUBSCRIBER_USERS, env.USERS_FILE].every((users) => users === undefined),
    sharedTokenSecret: tokenSecret.AUTH_TOKEN_SECRET !== undefined,
  }),
);
