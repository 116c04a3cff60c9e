/**
 * Our chain for the fan-out: msgqueue (in-memory store: durability is not what is measured
 * here), publisher and subscriber, each its own process. Not bench/services.ts's Suite because
 * the subscriber needs the memory probe preloaded (see memory-probe.ts), which Suite cannot pass.
 */
import { EXPECTED_WARNINGS } from '../services.js';
import { TsChild } from '../process.js';
import { track } from './children.js';
import { MEMORY_PROBE_ARGS } from './memory.js';
import { openSuitePublisher } from './publish.js';
import { listeningPort } from '../services.js';
import { unexpectedLines, waitReady, type ServerUnderTest } from './server.js';

/** Headroom over S in the subscriber's connection limits, so a limit is never what is measured. */
const SPARE_CONNECTIONS = 100;

/** Start-up warnings every development start prints. */

/**
 * Every sink socket is the development user from 127.0.0.1, so the subscriber's connection
 * limits (defaults: 10,000 in all, 1,000 per user, 256 per address) and its subscriptions per
 * user (10,000) must make room for S of them. They guard against abuse and cost nothing per message; raising them changes nothing
 * measured here.
 */
function connectionLimits(sockets: number): Record<string, string> {
  const room = String(sockets + SPARE_CONNECTIONS);
  return {
    MAX_CONNECTIONS: room,
    MAX_CONNECTIONS_PER_USER: room,
    MAX_CONNECTIONS_PER_ADDRESS: room,
    SUBSCRIBER_MAX_USER_SUBSCRIPTIONS: room,
  };
}

/**
 * LOG_LEVEL=info so that each service reports its own port (port 0, no races on a shared
 * machine); no service logs per message at info, only per connection.
 */
export async function startSuite(options: { certDir: string; ca: string; sockets: number }): Promise<ServerUnderTest> {
  // The publish rate limit (1,000/s per connection by default) would be what is measured.
  const base = { WS_CERT_DIR: options.certDir, LOG_LEVEL: 'info', PUBLISHER_RATE_LIMIT: '0' };
  const limits = connectionLimits(options.sockets);
  const started: TsChild[] = [];
  const start = (name: string, args: { entry: string; nodeArgs?: string[] }, env: Record<string, string>) => {
    const child = new TsChild(name, args, { ...base, ...env });
    track(child.child);
    started.push(child);
    return child;
  };
  try {
    const msgqueue = start(
      'msgqueue',
      { entry: 'services/msgqueue/src/main.ts' },
      { MSGQUEUE_PORT: '0', MSGQUEUE_STORE: 'memory' },
    );
    const queuePort = await listeningPort(msgqueue);
    const publisher = start(
      'publisher',
      { entry: 'services/publisher/src/main.ts' },
      { PUBLISHER_PORT: '0', PUBLISHER_QUEUE_URL: `wss://127.0.0.1:${queuePort}/pushmsg` },
    );
    const subscriber = start(
      'subscriber',
      { entry: 'services/subscriber/src/main.ts', nodeArgs: MEMORY_PROBE_ARGS },
      { SUBSCRIBER_PORT: '0', SUBSCRIBER_QUEUE_URL: `wss://127.0.0.1:${queuePort}/popmsg`, ...limits },
    );
    const [publishPort, subscribePort] = await Promise.all([listeningPort(publisher), listeningPort(subscriber)]);
    await Promise.all([waitReady(publishPort, options.ca), waitReady(subscribePort, options.ca)]);
    return {
      system: 'suite',
      fanout: subscriber,
      processes: [msgqueue, publisher, subscriber],
      sinkPort: subscribePort,
      settings: { store: 'memory', queuePort, publishPort, subscribePort, logLevel: 'info', subscriberEnv: limits },
      openPublisher: () => openSuitePublisher(publishPort, options.ca),
      unexpectedLines: () => started.flatMap((child) => unexpectedLines(child, EXPECTED_WARNINGS)),
      async stop() {
        await Promise.all([publisher.stop(), subscriber.stop()]);
        await msgqueue.stop();
      },
    };
  } catch (err) {
    await Promise.all(started.map((child) => child.stop('SIGKILL')));
    throw err;
  }
}
