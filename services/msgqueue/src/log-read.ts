import {
  encodeBatch,
  encodeTopicPosition,
  isPattern,
  LOG_PAGE_HEADERS,
  LOG_PAGE_TYPE,
  matchTokens,
  planBatches,
  tokensOf,
  validatePattern,
  validateTopic,
} from '@pubsub/protocol';
import { refuseRequest, rejectionOf, type ConnectionContext, type HttpHandler } from '@pubsub/service';
import type { Response } from 'express';
import type { MessageLog } from './store/log.js';

/** Bounds of one `/log` page, whatever the caller asks for. */
export const LOG_PAGE_LIMITS = { messages: 10_000, bytes: 4 * 1024 * 1024 } as const;
/** Rows one `/log` request looks at, at most: a sparse reader pages on instead of blocking the loop. */
const MAX_SCANNED = 200_000;

function badRequest(res: Response, context: ConnectionContext, message: string): void {
  refuseRequest(res, context, rejectionOf('BAD_REQUEST', message));
}

/** A whole number in [min, max] from a query value, the default when absent; undefined when invalid. */
function wholeNumber(value: unknown, { min, max, fallback }: { min: number; max: number; fallback: number }) {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !/^\d{1,16}$/.test(value)) return undefined;
  const number = Number(value);
  return number >= min && number <= max ? number : undefined;
}

/** Whether a topic is wanted by any of the subjects (topics or patterns); no subject wants all. */
function subjectFilter(subjects: readonly string[]): (topic: string) => boolean {
  if (subjects.length === 0) return () => true;
  const exact = new Set(subjects);
  const patterns = subjects.filter(isPattern).map(tokensOf);
  return (topic) => exact.has(topic) || (patterns.length > 0 && patterns.some((p) => matchTokens(p, tokensOf(topic))));
}

/**
 * `GET /log?after=<offset>&subject=<s>…&limit=<n>&bytes=<n>[&before=<offset>]`: the committed
 * messages after a log offset (and below `before`) whose topic matches one of the subjects,
 * oldest first, as one positioned batch. It is
 * how the subscriber fills a reader that fell behind the live stream, at the reader's pace.
 */
export function logEndpoint(log: MessageLog): HttpHandler {
  return (req, res, context) => {
    const after = wholeNumber(req.query.after, { min: 0, max: Number.MAX_SAFE_INTEGER, fallback: 0 });
    const limit = wholeNumber(req.query.limit, { min: 1, max: LOG_PAGE_LIMITS.messages, fallback: 1_000 });
    const maxBytes = wholeNumber(req.query.bytes, { min: 1, max: LOG_PAGE_LIMITS.bytes, fallback: 1024 * 1024 });
    const before = wholeNumber(req.query.before, { min: 1, max: Number.MAX_SAFE_INTEGER, fallback: Infinity });
    const raw = req.query.subject;
    const list = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw];
    let subjects: string[];
    try {
      subjects = list.map((subject) => validatePattern(subject));
    } catch {
      badRequest(res, context, 'subject must be a topic or a pattern');
      return;
    }
    if (after === undefined || limit === undefined || maxBytes === undefined || before === undefined) {
      badRequest(
        res,
        context,
        `expected ?after=<offset>&limit=<1-${LOG_PAGE_LIMITS.messages}>&bytes=<1-${LOG_PAGE_LIMITS.bytes}>`,
      );
      return;
    }
    const { offsets, through } = log.scan({
      afterOffset: after,
      wants: subjectFilter(subjects),
      limit,
      maxBytes,
      maxScanned: MAX_SCANNED,
      beforeOffset: before,
    });
    const sizes = offsets.map((offset) => log.frameBytes(offset) as number);
    const bytesOf = (index: number) => sizes[index] as number;
    const [plan] = planBatches(offsets.length, bytesOf, {
      maxMessages: Infinity,
      maxBytes: Infinity,
      positioned: true,
    });
    const body =
      plan === undefined
        ? Buffer.alloc(0)
        : encodeBatch(plan, {
            bytesOf,
            write: (index, target, at) => log.copyFrame(offsets[index] as number, target, at),
            offsetOf: (index) => offsets[index] as number,
          });
    res
      .set({
        [LOG_PAGE_HEADERS.epoch]: log.epoch,
        [LOG_PAGE_HEADERS.first]: String(log.firstOffset),
        [LOG_PAGE_HEADERS.through]: String(through),
      })
      .type(LOG_PAGE_TYPE)
      .send(body);
  };
}

/**
 * `GET /position?topic=<t>&after=<seq>[&group=<g>]`: where in the log the topic's messages after
 * `seq` start, with the topic's retained range, so a resume by seq becomes a position in the log;
 * with a group, also that group's floor (where a fresh consumer's live stream starts).
 */
export function positionEndpoint(log: MessageLog): HttpHandler {
  return (req, res, context) => {
    const after = wholeNumber(req.query.after, { min: 0, max: Number.MAX_SAFE_INTEGER, fallback: 0 });
    let topic: string;
    try {
      topic = validateTopic(req.query.topic);
    } catch {
      badRequest(res, context, 'expected ?topic=<topic>&after=<seq>');
      return;
    }
    if (after === undefined) {
      badRequest(res, context, 'expected ?topic=<topic>&after=<seq>');
      return;
    }
    const group = req.query.group;
    const floor = typeof group === 'string' ? log.groups().get(group) : undefined;
    res.type('application/json').send(
      encodeTopicPosition({
        epoch: log.epoch,
        ...log.topicPosition(topic, after),
        ...(floor !== undefined && { floor }),
      }),
    );
  };
}
