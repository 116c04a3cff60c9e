import type { Logger } from '@pubsub/log';
import { createHash, randomBytes } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { NODE_GROUP_PREFIX } from '@pubsub/protocol';
import { Redis } from 'ioredis';
import type { AppendResult, MessageLog } from './log.js';
import { createLog, StoreUnavailableError, type LogBackend } from './log-core.js';
import { LogState } from './log-state.js';

export interface RedisLogOptions {
  /** `redis://[user:password@]host:port[/db]`, or `rediss://` for TLS. */
  url: string;
  /** Put before every key, so several msgqueue clusters (or test runs) share one server. */
  keyPrefix: string;
  dedupeWindowMs: number;
  retentionMs: number;
  retentionBytes: number;
  logger: Logger;
  /** How long a node group no node holds lives on (MSGQUEUE_GROUP_EXPIRE_MS); undefined: node groups off. */
  nodeGroupExpireMs?: number | undefined;
  /** The clock for message times (retention by age). */
  now?: () => number;
}

/** A script Redis runs atomically: sent once, then called by its SHA-1. */
interface Script {
  readonly lua: string;
  readonly sha: string;
}

const script = (lua: string): Script => ({ lua, sha: createHash('sha1').update(lua).digest('hex') });

// Numbers and stores one group commit, atomically, whichever node sends it: the offset comes
// from one counter and each topic's seq from one hash, so offsets and seqs mean the same on every
// node. An id seen within the dedupe window answers with its seq, negated, and adds nothing.
// A Redis that lost the log (no persistence and a restart, or a flush) no longer has this
// node's epoch: nothing is stored then, since its offsets and seqs would be given a second time.
// KEYS: the stream, the offset counter, the seq hash, the epoch, then one dedupe key per input
// with an id. ARGV: epoch, time, dedupe window (ms), then per input: topic, has an id ('1'/'0'),
// frame. Returns the first offset this commit gives, then a seq per input.
const APPEND = script(`
if redis.call('GET', KEYS[4]) ~= ARGV[1] then return redis.error_reply('EPOCH this log is gone from Redis') end
local time, window = ARGV[2], ARGV[3]
local first = tonumber(redis.call('GET', KEYS[2]) or '0') + 1
local offset = first - 1
local out = { first }
local key = 5
for i = 4, #ARGV, 3 do
  local topic, frame = ARGV[i], ARGV[i + 2]
  local idKey, earlier
  if ARGV[i + 1] == '1' then
    idKey = KEYS[key]
    key = key + 1
    earlier = redis.call('GET', idKey)
  end
  if earlier then
    out[#out + 1] = -tonumber(earlier)
  else
    local seq = redis.call('HINCRBY', KEYS[3], topic, 1)
    offset = offset + 1
    redis.call('XADD', KEYS[1], string.format('%d-0', offset), 't', topic, 's', seq, 'm', time, 'f', frame)
    if idKey then redis.call('SET', idKey, string.format('%d', seq), 'PX', window) end
    out[#out + 1] = seq
  end
end
if offset >= first then redis.call('SET', KEYS[2], string.format('%d', offset)) end
return out
`);

// Which node holds which group is not a node's own business on a shared log: a group one node
// expired or released may be another's live one. So every node stamps the groups it holds
// (`<prefix>held`, group → Redis' clock, once a second), and a floor counts for retention only
// while its stamp is fresh; a group no node holds any more is forgotten by the cluster, not by
// whichever node last saw a consumer of it.
const CLOCK = `local t = redis.call('TIME') local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

// Group positions only move forward: a node with an older view cannot move one back.
// KEYS: the groups hash, the held hash. ARGV: how many groups this node holds, their names, how
// many groups to forget, their names, then group, floor pairs.
const SAVE_GROUPS = script(`${CLOCK}
local i = 2
for _ = 1, tonumber(ARGV[1]) do redis.call('HSET', KEYS[2], ARGV[i], now) i = i + 1 end
local removed = tonumber(ARGV[i])
i = i + 1
for _ = 1, removed do redis.call('HDEL', KEYS[1], ARGV[i]) redis.call('HDEL', KEYS[2], ARGV[i]) i = i + 1 end
for k = i, #ARGV, 2 do
  local floor = tonumber(ARGV[k + 1])
  local saved = tonumber(redis.call('HGET', KEYS[1], ARGV[k]) or '0')
  if floor > saved then redis.call('HSET', KEYS[1], ARGV[k], ARGV[k + 1]) end
end
return 0
`);

// Retention: never below the lowest floor of a group some node holds. A node group no node has
// held for its expiry time is removed (a subscriber node gone for good).
// KEYS: the stream, the groups hash, the held hash. ARGV: the first offset this node would keep,
// how old a stamp may be and still hold, how long a node group lives unheld (-1: never expires),
// the node groups' name prefix.
const TRIM = script(`${CLOCK}
local cut, fresh, expire, prefix = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
local floors = redis.call('HGETALL', KEYS[2])
for i = 1, #floors, 2 do
  local group, floor = floors[i], tonumber(floors[i + 1])
  local age = now - tonumber(redis.call('HGET', KEYS[3], group) or '0')
  if age <= fresh then
    cut = math.min(cut, floor)
  elseif expire >= 0 and age > expire and string.sub(group, 1, #prefix) == prefix then
    redis.call('HDEL', KEYS[2], group)
    redis.call('HDEL', KEYS[3], group)
  end
end
redis.call('XTRIM', KEYS[1], 'MINID', string.format('%d-0', cut))
return cut
`);

const REPLAY_PAGE = 1_000;
const FOLLOW_PAGE = 1_000;
const TRIM_EVERY_MS = 1_000;
// A node stamps the groups it holds every second (the core's group save): three missed stamps
// and the cluster takes it that no node holds the group.
const HELD_FRESH_MS = 10_000;

type StreamEntry = [id: string, fields: string[]];

/** The keys of one log under a prefix. */
function keysOf(prefix: string) {
  return {
    stream: `${prefix}log`,
    next: `${prefix}next`,
    seqs: `${prefix}seqs`,
    epoch: `${prefix}epoch`,
    groups: `${prefix}groups`,
    held: `${prefix}held`,
    id: (id: string) => `${prefix}id:${id}`,
  };
}

async function run(
  redis: Redis,
  { lua, sha }: Script,
  { keys, args }: { keys: string[]; args: (string | number)[] },
): Promise<unknown> {
  try {
    return await redis.evalsha(sha, keys.length, ...keys, ...args);
  } catch (err) {
    if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
    return redis.eval(lua, keys.length, ...keys, ...args);
  }
}

/**
 * Says at start what an acknowledgement is worth: Redis acknowledges a write once it is in
 * memory, and only `appendonly yes` with `appendfsync always` puts it on disk first.
 */
async function reportDurability(redis: Redis, log: Logger): Promise<void> {
  let appendonly: string | undefined;
  let appendfsync: string | undefined;
  try {
    [, appendonly] = (await redis.config('GET', 'appendonly')) as string[];
    [, appendfsync] = (await redis.config('GET', 'appendfsync')) as string[];
  } catch (err) {
    // Managed services often rename or forbid CONFIG.
    log.warn({ err }, 'cannot read Redis persistence settings (CONFIG GET); acks are only as durable as they are');
    return;
  }
  if (appendonly === 'yes' && appendfsync === 'always') {
    log.info({ appendonly, appendfsync }, 'Redis fsyncs every write before it answers: acks are fsync-backed');
    return;
  }
  log.warn(
    { appendonly, appendfsync },
    appendonly === 'yes'
      ? 'acks are not fsync-backed: Redis fsyncs its append-only file about once a second (appendfsync everysec or no), so a crash of the Redis host can lose the last acknowledged messages; set appendfsync always for the no-loss promise'
      : 'acks are not fsync-backed: Redis has no append-only file (appendonly no), so a Redis restart can lose acknowledged messages; set appendonly yes and appendfsync always for the no-loss promise',
  );
}

function entryOf([id, fields]: StreamEntry): {
  offset: number;
  topic: string;
  seq: number;
  time: number;
  frame: string;
} {
  const value = (name: string) => {
    for (let i = 0; i < fields.length; i += 2) if (fields[i] === name) return fields[i + 1] as string;
    throw new Error(`stream entry ${id} has no field ${name}`);
  };
  return {
    offset: Number.parseInt(id, 10),
    topic: value('t'),
    seq: Number(value('s')),
    time: Number(value('m')),
    frame: value('f'),
  };
}

/**
 * A log in a Redis stream that several msgqueue nodes share (see docs/redis-store.md). Each node
 * keeps the retained messages in memory too, as the other stores do, so dispatch and reads never
 * wait on a round trip: it replays the stream at start and then follows it with a blocking XREAD,
 * which brings it every other node's appends as they are made.
 */
export async function openRedisLog(options: RedisLogOptions): Promise<MessageLog> {
  const { logger: log } = options;
  const keys = keysOf(options.keyPrefix);
  const now = options.now ?? Date.now;
  const redis = new Redis(options.url, { lazyConnect: true, maxRetriesPerRequest: 2, enableAutoPipelining: true });
  let reportedDown = false;
  redis.on('error', (err: Error) => {
    if (reportedDown) return;
    reportedDown = true;
    log.warn({ err }, 'lost the connection to Redis; reconnecting');
  });
  redis.on('ready', () => {
    if (reportedDown) log.info('connected to Redis again');
    reportedDown = false;
  });
  try {
    await redis.connect();
  } catch (err) {
    redis.disconnect();
    throw new Error(`cannot connect to Redis at ${redactedUrl(options.url)}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  await reportDurability(redis, log);

  await redis.set(keys.epoch, randomBytes(6).toString('hex'), 'NX');
  const epoch = (await redis.get(keys.epoch)) as string;
  const state = new LogState({
    epoch,
    dedupeWindowMs: options.dedupeWindowMs,
    // Ids are remembered in Redis, where every node sees them; none are kept here.
    dedupeMaxIds: 1,
    now,
  });

  const ingest = (entries: readonly StreamEntry[]) => {
    for (const raw of entries) {
      const { frame, ...head } = entryOf(raw);
      if (head.offset < state.nextOffset) continue;
      if (head.offset > state.nextOffset && state.nextOffset > 1) {
        log.warn(
          { from: state.nextOffset, to: head.offset },
          'messages were removed from Redis before this node read them',
        );
      }
      state.insert(head, frame);
    }
  };
  /** Reads the stream from what the state has through `end` (exclusive). */
  const pull = async (end: number) => {
    while (state.nextOffset < end) {
      const page = (await redis.xrange(
        keys.stream,
        `${state.nextOffset}-0`,
        '+',
        'COUNT',
        REPLAY_PAGE,
      )) as StreamEntry[];
      if (page.length === 0) return;
      ingest(page);
    }
  };

  const [next, seqs, groups] = await Promise.all([
    redis.get(keys.next),
    redis.hgetall(keys.seqs),
    redis.hgetall(keys.groups),
  ]);
  const end = Number(next ?? '0') + 1;
  await pull(end);
  state.resumeAt(end, new Map(Object.entries(seqs).map(([topic, seq]) => [topic, Number(seq)])));
  for (const [group, floor] of Object.entries(groups))
    state.setGroupFloor(group, Math.max(Number(floor), state.firstOffset));
  if (end > 1)
    log.info(
      { messages: state.nextOffset - state.firstOffset, nextOffset: state.nextOffset },
      'replayed the log from Redis',
    );

  let closed = false;
  // The follower blocks in XREAD, so it has a connection of its own.
  const follower = redis.duplicate({ maxRetriesPerRequest: null, enableAutoPipelining: false });
  follower.on('error', () => undefined);
  let trimTimer: NodeJS.Timeout | undefined;
  let lastTrim = 0;
  let wantedCut = 0;

  const trimNow = async () => {
    trimTimer = undefined;
    lastTrim = Date.now();
    await run(redis, TRIM, {
      keys: [keys.stream, keys.groups, keys.held],
      args: [wantedCut, HELD_FRESH_MS, options.nodeGroupExpireMs ?? -1, NODE_GROUP_PREFIX],
    });
  };

  const backend: LogBackend = {
    async commit(inputs) {
      const idKeys: string[] = [];
      const time = now();
      const args: (string | number)[] = [epoch, time, options.dedupeWindowMs];
      for (const input of inputs) {
        if (input.id !== undefined) idKeys.push(keys.id(input.id));
        args.push(input.topic, input.id === undefined ? '0' : '1', input.frame);
      }
      let reply: number[];
      try {
        reply = (await run(redis, APPEND, {
          keys: [keys.stream, keys.next, keys.seqs, keys.epoch, ...idKeys],
          args,
        })) as number[];
      } catch (err) {
        if (err instanceof Error && err.message.startsWith('EPOCH')) {
          // Fails the log: a restart starts a new epoch, which subscribers then see.
          throw new Error(
            `Redis no longer holds this log (epoch ${epoch} is gone: it lost its data or was flushed); restart the msgqueue to start a new history`,
            { cause: err },
          );
        }
        throw new StoreUnavailableError(`Redis did not take the append: ${(err as Error).message}`, { cause: err });
      }
      const first = reply[0] as number;
      const results: AppendResult[] = [];
      const added: number[] = [];
      for (let i = 0; i < inputs.length; i++) {
        const seq = reply[i + 1] as number;
        results.push(seq < 0 ? { seq: -seq, duplicate: true } : { seq, duplicate: false });
        if (seq > 0) added.push(i);
      }
      const after = first + added.length;
      if (state.nextOffset === first) {
        // Nothing from another node came between: no need to read back what was just written.
        added.forEach((index, k) => {
          const input = inputs[index] as (typeof inputs)[number];
          const seq = reply[index + 1] as number;
          state.insert({ offset: first + k, topic: input.topic, seq, time }, input.frame);
        });
      } else if (state.nextOffset < after) {
        try {
          await pull(after);
        } catch (err) {
          throw new StoreUnavailableError(`cannot read the log back from Redis: ${(err as Error).message}`, {
            cause: err,
          });
        }
      }
      return results;
    },
    follow(advanced) {
      void (async () => {
        while (!closed) {
          try {
            const reply = await follower.xread(
              'COUNT',
              FOLLOW_PAGE,
              'BLOCK',
              0,
              'STREAMS',
              keys.stream,
              `${state.nextOffset - 1}-0`,
            );
            for (const [, entries] of reply ?? []) ingest(entries);
            advanced();
          } catch (err) {
            if (closed) return;
            log.warn({ err }, 'cannot follow the log in Redis; retrying');
            await delay(500);
          }
        }
      })();
    },
    sharesGroups: true,
    async saveGroups({ floors, removed, held }) {
      const args: (string | number)[] = [held.length, ...held, removed.size, ...removed];
      for (const [group, floor] of floors) args.push(group, floor);
      await run(redis, SAVE_GROUPS, { keys: [keys.groups, keys.held], args });
    },
    trim(firstKept) {
      wantedCut = Math.max(wantedCut, firstKept);
      // One XTRIM a second at most, however often retention moves.
      if (trimTimer !== undefined) return Promise.resolve();
      const wait = lastTrim + TRIM_EVERY_MS - Date.now();
      if (wait <= 0) return trimNow();
      trimTimer = setTimeout(
        () => void trimNow().catch((err: unknown) => log.error({ err }, 'retention failed')),
        wait,
      );
      trimTimer.unref();
      return Promise.resolve();
    },
    get unavailable() {
      return redis.status === 'ready' ? undefined : new Error(`Redis connection ${redis.status}`);
    },
    async close() {
      closed = true;
      if (trimTimer !== undefined) clearTimeout(trimTimer);
      follower.disconnect();
      await redis.quit();
    },
  };
  return createLog(state, backend, options);
}

/** The URL without its password, for messages. */
function redactedUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(an unparsable URL)';
  }
}
