import { ProtocolError, validatePattern, validateTopic } from '@pubsub/protocol';
import {
  readJsonText,
  refuseRequest,
  rejectionOf,
  sendRejection,
  type HttpHandler,
  type Rejection,
} from '@pubsub/service';
import { randomBytes } from 'node:crypto';
import type express from 'express';
import { topicStats, type StatsDeps } from './stats.js';
import { TargetRefused, type TargetGuard } from './target-guard.js';
import type { Webhooks } from './webhooks.js';

const MAX_BODY_BYTES = 8 * 1024;
const MAX_URL_CHARS = 2_048;
const SECRET = /^[\x21-\x7e]{16,256}$/;

export interface WebhookApiDeps {
  readonly webhooks: Webhooks;
  readonly guard: TargetGuard;
  readonly stats: Pick<StatsDeps, 'topics' | 'rates'>;
}

/** The body of `POST /api/subscriptions`, checked; or why not. */
async function readWanted(
  req: express.Request,
  res: express.Response,
  guard: TargetGuard,
): Promise<{ subject: string; url: string; secret: string } | Rejection> {
  const body = await readJsonText(req, res, MAX_BODY_BYTES);
  if ('rejection' in body) return body.rejection;
  let json: unknown;
  try {
    json = JSON.parse(body.text);
  } catch {
    return rejectionOf('BAD_JSON', 'the body is not valid JSON');
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return rejectionOf('WEBHOOK_INVALID');
  const { topic, pattern, url, secret, ...rest } = json as Record<string, unknown>;
  const unknown = Object.keys(rest);
  if (unknown.length > 0) return rejectionOf('WEBHOOK_INVALID', `unknown field "${unknown[0]}"`);
  if ((topic === undefined) === (pattern === undefined))
    return rejectionOf('WEBHOOK_INVALID', 'give either "topic" or "pattern", not both');
  let subject: string;
  try {
    subject = topic !== undefined ? validateTopic(topic) : validatePattern(pattern);
  } catch (err) {
    if (err instanceof ProtocolError) return rejectionOf(err.code);
    throw err;
  }
  if (secret !== undefined && (typeof secret !== 'string' || !SECRET.test(secret)))
    return rejectionOf('WEBHOOK_INVALID', '"secret" must be 16-256 printable ASCII characters without spaces');
  if (typeof url !== 'string' || url.length > MAX_URL_CHARS || !URL.canParse(url))
    return rejectionOf('WEBHOOK_URL_INVALID');
  const target = new URL(url);
  if ((target.protocol !== 'http:' && target.protocol !== 'https:') || target.username !== '' || target.password !== '')
    return rejectionOf('WEBHOOK_URL_INVALID');
  try {
    await guard.check(target.hostname);
  } catch (err) {
    if (err instanceof TargetRefused) return rejectionOf('WEBHOOK_TARGET_FORBIDDEN', err.message);
    return rejectionOf('WEBHOOK_URL_INVALID', `${target.hostname} does not resolve: ${(err as Error).message}`);
  }
  return { subject, url: target.toString(), secret: secret ?? randomBytes(32).toString('base64url') };
}

const noStore = (res: express.Response) => res.set('Cache-Control', 'no-store');

/**
 * The subscriptions API (docs/protocol.md#webhooks): a user manages its own webhook
 * subscriptions, for the topics and patterns its `subscribe` rights cover, as on `/subscribe`.
 */
export function webhookEndpoints(deps: WebhookApiDeps): Record<string, HttpHandler> {
  const failed = (res: express.Response, context: Parameters<HttpHandler>[2]) => (err: unknown) => {
    context.log.error({ err }, 'webhook request failed');
    if (!res.headersSent) sendRejection(res, rejectionOf('INTERNAL'));
  };
  return {
    'POST /api/subscriptions': (req, res, context) => {
      readWanted(req, res, deps.guard)
        .then(async (wanted) => {
          if ('status' in wanted) return refuseRequest(res, context, wanted);
          const created = await deps.webhooks.create(context, wanted);
          if (!created.ok) return refuseRequest(res, context, rejectionOf(created.code, created.message));
          noStore(res)
            .status(201)
            .location(`/api/subscriptions/${created.view.id}`)
            .json({ ...created.view, secret: created.secret });
        })
        .catch(failed(res, context));
    },
    '/api/subscriptions': (_req, res, context) => {
      noStore(res).json({ subscriptions: deps.webhooks.list(context.user) });
    },
    '/api/subscriptions/:id': (req, res, context) => {
      const view = deps.webhooks.get(context.user, String(req.params.id));
      if (view === undefined) refuseRequest(res, context, rejectionOf('WEBHOOK_NOT_FOUND'));
      else noStore(res).json(view);
    },
    'DELETE /api/subscriptions/:id': (req, res, context) => {
      deps.webhooks
        .delete(context.user, String(req.params.id))
        .then((deleted) => {
          if (deleted) res.status(204).end();
          else refuseRequest(res, context, rejectionOf('WEBHOOK_NOT_FOUND'));
        })
        .catch(failed(res, context));
    },
    '/api/topics': (_req, res, context) => {
      const webhooks = deps.webhooks.subjects();
      const topics = topicStats(context.account, deps.stats).map((row) => ({
        ...row,
        webhooks: webhooks.get(row.topic) ?? 0,
      }));
      // Subjects only webhooks hold have no sockets and may have no traffic yet: listed all the same.
      for (const [subject, count] of webhooks)
        if (!topics.some((row) => row.topic === subject) && context.account.subscribe.covers(subject))
          topics.push({ topic: subject, subscribers: 0, messagesPerSecond: 0, webhooks: count });
      noStore(res).json({ topics });
    },
  };
}
