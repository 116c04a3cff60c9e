import type { Logger } from '@pubsub/log';
import type express from 'express';
import type { Account } from './access.js';
import type { ServiceMetrics } from './metrics.js';

/** What an endpoint learns about its client, WebSocket or HTTP: who it is, what it may do, where its log lines go. */
export interface ConnectionContext {
  readonly connId: number;
  readonly user: string;
  /** What the user may do: its role and topic rights. */
  readonly account: Account;
  readonly remoteAddress: string | undefined;
  /** The request's URL, for query parameters. */
  readonly url: URL;
  readonly log: Logger;
  readonly metrics: ServiceMetrics;
}

/**
 * A plain HTTPS endpoint, reached through the same gate as the WebSocket ones (origin, connection
 * limits, Basic Auth, rights); a long-lived response (an event stream) counts as a connection
 * until it closes.
 */
export type HttpHandler = (req: express.Request, res: express.Response, context: ConnectionContext) => void;
