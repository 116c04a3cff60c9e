import { createLogger, type Logger } from '@pubsub/log';
import { HOP_ENVELOPE_OVERHEAD_BYTES } from '@pubsub/protocol';
import {
  closeAs,
  drainDeadline,
  loadServiceTls,
  ServiceMetrics,
  settledWithin,
  serviceHandle,
  startSecureWsServer,
  warnOnDevUsers,
  type ServiceHandle,
} from '@pubsub/service';
import { readCaFile } from '@pubsub/tls';
import { once } from 'node:events';
import type { MsgqueueConfig } from './config.js';
import { historyEndpoint } from './history.js';
import { groupEndpoints, statsEndpoint } from './groups.js';
import { logEndpoint, positionEndpoint } from './log-read.js';
import { handlePop, popRefusal } from './pop.js';
import { handlePush, type Pusher } from './push.js';
import { MessageQueue } from './queue.js';
import { openFileLog } from './store/file-log.js';
import type { MessageLog } from './store/log.js';
import { createMemoryLog } from './store/memory-log.js';
import { openRedisLog } from './store/redis-log.js';

export type { MsgqueueConfig } from './config.js';
export { ENV_VARIABLES, loadConfig } from './config.js';

export interface MsgqueueDeps {
  logger?: Logger;
  /** A log to use instead of the one the config names (tests watch or fail its writes). */
  log?: MessageLog;
}

function openLog(config: MsgqueueConfig, logger: Logger): Promise<MessageLog> {
  switch (config.store) {
    case 'memory':
      return Promise.resolve(createMemoryLog({ ...config, logger }));
    case 'redis':
      return openRedisLog({
        ...config,
        url: config.redisUrl,
        keyPrefix: config.redisPrefix,
        nodeGroupExpireMs: config.nodeGroups?.expireMs,
        logger,
      });
    case 'file':
      return openFileLog({ ...config, dir: config.dataDir, logger });
  }
}

/** Starts the msgqueue: `/pushmsg` appends to the queue, `/popmsg` consumers drain it. */
export async function start(config: MsgqueueConfig, deps: MsgqueueDeps = {}): Promise<ServiceHandle> {
  const log = deps.logger ?? createLogger({ service: 'msgqueue', level: config.logLevel });
  const tls = await loadServiceTls(config, log);
  // Mutual TLS: only hop clients with a certificate from this CA complete the handshake.
  const clientCa = config.clientCaFile === undefined ? undefined : await readCaFile(config.clientCaFile);
  if (clientCa !== undefined) log.info({ clientCaFile: config.clientCaFile }, 'clients must present a certificate');
  warnOnDevUsers(config.users, 'MSGQUEUE_USERS', log);
  const store = deps.log ?? (await openLog(config, log));
  if (config.store === 'memory' && deps.log === undefined) {
    log.warn('in-memory store: queued messages are lost when this process stops');
  }

  const queue = new MessageQueue(store, {
    limits: config,
    declaredGroups: config.groups,
    ...(config.nodeGroups !== undefined && { nodeGroups: config.nodeGroups }),
    logger: log,
  });
  log.info({ groups: config.groups, nodeGroups: config.nodeGroups !== undefined }, 'consumer groups');
  const metrics = new ServiceMetrics('msgqueue');
  const stored = metrics.counter({ name: 'pubsub_msgqueue_stored_total', help: 'Messages appended to the log' });
  const duplicates = metrics.counter({
    name: 'pubsub_msgqueue_duplicates_total',
    help: 'Pushed messages whose id was already stored (acknowledged, not stored again)',
  });
  const redelivered = metrics.counter({
    name: 'pubsub_msgqueue_redelivered_total',
    help: 'Messages delivered again because a consumer left or its lease expired',
  });
  queue.on('stored', (added, duplicated) => {
    stored.inc(added);
    duplicates.inc(duplicated);
  });
  queue.on('requeued', (count) => redelivered.inc(count));
  metrics.gauge({
    name: 'pubsub_msgqueue_backlog',
    help: 'Messages not yet acknowledged by every consumer group (consumer lag)',
    read: () => queue.backlog,
  });
  metrics.gauge({
    name: 'pubsub_msgqueue_consumers',
    help: 'Connected /popmsg consumers',
    read: () => queue.consumerCount,
  });
  metrics.gauge({
    name: 'pubsub_msgqueue_group_backlog',
    help: 'Messages a consumer group has not acknowledged',
    labelNames: ['group'],
    read: () => queue.groupInfo().map((group) => [{ group: group.name }, group.backlog] as const),
  });
  metrics.gauge({
    name: 'pubsub_msgqueue_group_consumers',
    help: 'Connected consumers of a consumer group',
    labelNames: ['group'],
    read: () => queue.groupInfo().map((group) => [{ group: group.name }, group.consumers] as const),
  });
  metrics.gauge({
    name: 'pubsub_msgqueue_group_holding',
    help: '1 while a consumer group holds messages back, 0 once idle for MSGQUEUE_GROUP_IDLE_MS',
    labelNames: ['group'],
    read: () => queue.groupInfo().map((group) => [{ group: group.name }, group.holding ? 1 : 0] as const),
  });
  metrics.gauge({
    name: 'pubsub_msgqueue_store_failed',
    help: '1 once a write to the durable log failed (the log says why); pushes are refused until a restart',
    read: () => (store.failure === undefined ? 0 : 1),
  });
  const pushers = new Set<Pusher>();
  queue.on('full', () => pushers.forEach((pusher) => pusher.ws.pause()));
  queue.on('drain', () => pushers.forEach((pusher) => pusher.ws.resume()));
  // Paused sockets cannot read the peer's close frame, so shutdown resumes them first.
  const resumeAll = () => pushers.forEach((pusher) => pusher.ws.resume());

  // Hops carry the client's frame plus an envelope, so they accept a little more.
  const hopPayloadBytes = config.maxPayloadBytes + HOP_ENVELOPE_OVERHEAD_BYTES;
  const server = await startSecureWsServer({
    name: 'msgqueue',
    host: config.host,
    port: config.port,
    tls: clientCa === undefined ? tls : { ...tls, clientCa },
    users: config.users,
    access: {
      '/pushmsg': 'push',
      '/popmsg': 'pop',
      '/history': 'pop',
      '/log': 'pop',
      '/position': 'pop',
      '/stats': 'pop',
      'GET /groups': 'admin',
      'DELETE /groups/:name': 'admin',
    },
    upgradeChecks: { '/popmsg': popRefusal(queue) },
    limits: config.limits,
    maxPayloadBytes: hopPayloadBytes,
    heartbeatIntervalMs: config.heartbeatIntervalMs,
    logger: log,
    endpoints: {
      '/pushmsg': (ws, context) => {
        const pusher = handlePush(ws, context, queue);
        pushers.add(pusher);
        ws.on('close', () => pushers.delete(pusher));
      },
      '/popmsg': (ws, context) => handlePop(ws, context, { queue, maxFrameBytes: hopPayloadBytes }),
    },
    httpEndpoints: {
      '/history': historyEndpoint(store),
      '/log': logEndpoint(store),
      '/position': positionEndpoint(store),
      '/stats': statsEndpoint(queue),
      ...groupEndpoints(queue),
    },
    metrics,
    // Unauthenticated: the reason stays terse (the error, with its paths, is in the log).
    readiness: () => (store.failure === undefined ? { ready: true } : { ready: false, reason: 'store failed' }),
  });
  log.info({ port: server.port, host: config.host }, 'listening');

  const shutdown = async () => {
    log.info('draining');
    // One deadline for every step; the last part of it is kept for closing the clients with 1001.
    const deadline = drainDeadline(config.shutdownTimeoutMs);
    const closeReserve = Math.min(1_000, config.shutdownTimeoutMs / 4);
    server.stopAccepting();
    // Take no new pushes, but store and acknowledge every frame already received.
    await settledWithin(Promise.all([...pushers].map((pusher) => pusher.stop())), deadline.leftBefore(closeReserve));
    resumeAll();
    // A pusher that never answers its close is terminated with the other clients below.
    await settledWithin(
      Promise.all(
        [...pushers].map(async (pusher) => {
          const closed = once(pusher.ws, 'close').catch(() => undefined);
          closeAs(pusher.ws, 'SHUTTING_DOWN');
          await closed;
        }),
      ),
      deadline.leftBefore(closeReserve),
    );
    // Let connected consumers finish what they hold, so a restart redelivers as little as possible.
    await queue.handedOver(deadline.leftBefore(closeReserve));
    if (config.store === 'memory' && queue.backlog > 0) {
      log.error({ backlog: queue.backlog }, 'in-memory store shutting down with undelivered messages');
    }
    await server.closeClients('SHUTTING_DOWN', deadline.left());
    await server.close();
    queue.close();
    await store.close();
    log.info('closed');
  };
  return serviceHandle(server.port, shutdown);
}
