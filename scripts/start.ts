/**
 * `pnpm start`: runs msgqueue, publisher and subscriber as three processes on this machine,
 * the way an operator would, and prints how to reach them. Ctrl-C stops all three in order.
 */
import { createLogger } from '@pubsub/log';
import { DEFAULT_CERT_DIR } from '@pubsub/tls';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const log = createLogger({ service: 'launcher' });
const children = new Map<string, ChildProcess>();
let stopping = false;

/** Starts one service and resolves with the port from its `listening` log line. */
function launch(service: string, env: NodeJS.ProcessEnv): Promise<number> {
  // Stopping already (Ctrl-C during startup): start nothing more; the process is about to exit.
  if (stopping) return new Promise<number>(() => undefined);
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'services', service, 'src', 'main.ts')], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
    // Own process group: Ctrl-C reaches only this launcher, which then stops the services in order.
    detached: true,
  });
  children.set(service, child);
  child.once('exit', (code, signal) => {
    children.delete(service);
    if (stopping) return;
    log.error({ child: service, code, signal }, 'service exited; stopping the others');
    void stop(1);
  });
  return new Promise((resolvePort, reject) => {
    child.once('exit', () => {
      if (!stopping) reject(new Error(`${service} exited before listening`));
    });
    createInterface({ input: child.stdout }).on('line', (line) => {
      process.stdout.write(`${line}\n`);
      try {
        const entry = JSON.parse(line) as { msg?: string; port?: number };
        if (entry.msg === 'listening' && typeof entry.port === 'number') resolvePort(entry.port);
      } catch {
        // Not a log line: it was passed through above.
      }
    });
  });
}

async function stop(exitCode: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  log.info('stopping services');
  // The clients' side first, the queue last, so nothing is left in flight at the queue.
  for (const group of [['publisher', 'subscriber'], ['msgqueue']]) {
    await Promise.all(
      group.map(async (service) => {
        const child = children.get(service);
        if (child === undefined) return;
        const exited = once(child, 'exit');
        child.kill('SIGTERM');
        const [code] = (await exited) as [number | null];
        if (code !== 0) exitCode = 1;
      }),
    );
  }
  process.exit(exitCode);
}

process.on('SIGINT', () => void stop(0));
process.on('SIGTERM', () => void stop(0));
// Should the launcher die some other way, its detached services must not outlive it.
process.on('exit', () => children.forEach((child) => child.kill('SIGTERM')));

const env = process.env;
let ports: [number, number, number];
try {
  const queuePort = await launch('msgqueue', {});
  const [publisherPort, subscriberPort] = await Promise.all([
    launch('publisher', { PUBLISHER_QUEUE_URL: env.PUBLISHER_QUEUE_URL ?? `wss://localhost:${queuePort}/pushmsg` }),
    launch('subscriber', { SUBSCRIBER_QUEUE_URL: env.SUBSCRIBER_QUEUE_URL ?? `wss://localhost:${queuePort}/popmsg` }),
  ]);
  ports = [queuePort, publisherPort, subscriberPort];
} catch (err) {
  log.fatal({ err: (err as Error).message }, 'cannot start the suite');
  await stop(1);
  throw err;
}
const [queuePort, publisherPort, subscriberPort] = ports;
const urls = {
  publishUrl: `wss://localhost:${publisherPort}/publish`,
  subscribeUrl: `wss://localhost:${subscriberPort}/subscribe`,
  msgqueueUrl: `wss://localhost:${queuePort}`,
};
// The services' own default (docs/configuration.md): the served certificate trusts itself.
const caFile = env.WS_CA_FILE ?? env.TLS_CERT_FILE ?? join(env.WS_CERT_DIR ?? DEFAULT_CERT_DIR, 'server.crt');
log.info({ ...urls, caFile }, 'suite ready');
const devUser = [env.PUBLISHER_USERS, env.SUBSCRIBER_USERS, env.USERS_FILE].every((users) => users === undefined);
process.stdout.write(`
  pub/sub suite running (Ctrl-C stops it)
    publish    ${urls.publishUrl}
    subscribe  ${urls.subscribeUrl}
    msgqueue   ${urls.msgqueueUrl}  (/pushmsg, /popmsg: services only)
    CA file    ${caFile}
${devUser ? '    user       hello / test  (development default: set USERS_FILE, or PUBLISHER_USERS and SUBSCRIBER_USERS)\n' : ''}
  In another terminal:
    npx -y pnpm@10 clientdemo subscribe news
    npx -y pnpm@10 clientdemo publish news "hello there"
    npx -y pnpm@10 clientdemo               # interactive: sub news / news hello / exit

`);
