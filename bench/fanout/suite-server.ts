/**
 * Our chain for the fan-out: bench/services.ts's Suite with the in-memory store (durability is not
 * what is measured here) and the memory probe preloaded into the subscriber (see memory-probe.ts).
 */
import { Suite } from '../services.js';
import { MEMORY_PROBE_ARGS } from './memory.js';
import { openSuitePublisher } from './publish.js';
import type { ServerUnderTest } from './types.js';

/** Headroom over S in the subscriber's connection limits, so a limit is never what is measured. */
const SPARE_CONNECTIONS = 100;

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
export async function startSuite(options: {
  certDir: string;
  ca: string;
  sockets: number;
  /** Fresh and empty: the msgqueue's (unused by its memory store) and, beside it, the subscriber's state. */
  dataDir: string;
}): Promise<ServerUnderTest> {
  const limits = connectionLimits(options.sockets);
  const suite = await Suite.start({
    store: 'memory',
    certDir: options.certDir,
    ca: options.ca,
    dataDir: options.dataDir,
    logLevel: 'info',
    env: {},
    roles: { subscriber: { nodeArgs: MEMORY_PROBE_ARGS, env: limits } },
  });
  const { msgqueue, publisher, subscriber } = suite.children;
  return {
    system: 'suite',
    fanout: subscriber,
    processes: [msgqueue, publisher, subscriber],
    sinkPort: suite.subscribePort,
    settings: {
      store: 'memory',
      queuePort: suite.queuePort,
      publishPort: suite.publishPort,
      subscribePort: suite.subscribePort,
      logLevel: 'info',
      subscriberEnv: limits,
    },
    openPublisher: () => openSuitePublisher(suite.publishPort, options.ca),
    unexpectedLines: () =>
      Object.entries(suite.unexpectedLogLines()).flatMap(([role, lines]) => lines.map((line) => `${role}: ${line}`)),
    stop: async () => void (await suite.stop()),
  };
}
