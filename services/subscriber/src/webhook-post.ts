import { request as httpRequest, Agent as HttpAgent, type IncomingMessage } from 'node:http';
import { request as httpsRequest, Agent as HttpsAgent } from 'node:https';
import { isIP } from 'node:net';
import { TargetRefused, unbracket, type TargetGuard } from './target-guard.js';

/** How one POST to a receiver ended. */
export type PostResult =
  | { readonly ok: true; readonly status: number }
  | {
      readonly ok: false;
      /** The receiver's status; undefined when no answer came (refused, unreachable, timed out). */
      readonly status: number | undefined;
      readonly reason: string;
      /** What the receiver asked for in `Retry-After`, in ms. */
      readonly retryAfterMs: number | undefined;
    };

/** One POST: the body goes to `target` as is, with `headers`; `signal` ends it early (deleted, shutdown). */
export interface WebhookRequest {
  readonly target: URL;
  readonly body: Buffer;
  readonly headers: Readonly<Record<string, string>>;
  readonly signal: AbortSignal;
}

/** The start of a failed answer's body kept for `lastError`: enough to read, not to store a page. */
const ERROR_BODY_BYTES = 200;

/** `Retry-After` as seconds or an HTTP date, in ms from `now`; undefined when absent or unreadable. */
export function retryAfterMs(value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  if (/^\d{1,10}$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/**
 * POSTs webhook bodies with Node's HTTP client: its `lookup` hook lets the guard check the address
 * each connection is really made to (fetch has no such hook). Connections are kept alive and
 * reused per receiver; redirects are not followed (a 3xx is a failure), so a receiver cannot send
 * the request on to an address the guard would refuse.
 */
export class WebhookPoster {
  readonly #guard: TargetGuard;
  readonly #timeoutMs: number;
  readonly #http: HttpAgent;
  readonly #https: HttpsAgent;

  constructor(guard: TargetGuard, timeoutMs: number) {
    this.#guard = guard;
    this.#timeoutMs = timeoutMs;
    this.#http = new HttpAgent({ keepAlive: true, lookup: guard.lookup });
    this.#https = new HttpsAgent({ keepAlive: true, lookup: guard.lookup });
  }

  /** One POST; never throws. */
  async post(request: WebhookRequest): Promise<PostResult> {
    const { target, signal } = request;
    const host = unbracket(target.hostname);
    // A literal address is never looked up, so the lookup hook cannot check it.
    const literal = isIP(host) !== 0 ? this.#guard.refusal(host) : undefined;
    if (literal !== undefined) return { ok: false, status: undefined, reason: literal, retryAfterMs: undefined };
    const timeout = AbortSignal.timeout(this.#timeoutMs);
    const both = AbortSignal.any([signal, timeout]);
    try {
      const res = await this.#send(request, both);
      const status = res.statusCode ?? 0;
      if (status >= 200 && status < 300) {
        res.resume();
        await new Promise((resolveEnd) => res.on('end', resolveEnd).on('error', resolveEnd).on('close', resolveEnd));
        return { ok: true, status };
      }
      const text = await firstBytes(res);
      return {
        ok: false,
        status,
        reason: `answered ${status}${text === '' ? '' : `: ${text}`}`,
        retryAfterMs: retryAfterMs(res.headers['retry-after']),
      };
    } catch (err) {
      const reason = timeout.aborted
        ? `no answer within ${this.#timeoutMs} ms (SUBSCRIBER_WEBHOOK_TIMEOUT_MS)`
        : err instanceof TargetRefused
          ? err.message
          : `request failed: ${(err as Error).message}`;
      return { ok: false, status: undefined, reason, retryAfterMs: undefined };
    }
  }

  close(): void {
    this.#http.destroy();
    this.#https.destroy();
  }

  #send({ target, body, headers }: WebhookRequest, signal: AbortSignal): Promise<IncomingMessage> {
    const request = target.protocol === 'https:' ? httpsRequest : httpRequest;
    const agent = target.protocol === 'https:' ? this.#https : this.#http;
    return new Promise((resolveResponse, reject) => {
      const req = request(
        target,
        {
          method: 'POST',
          agent,
          signal,
          headers: { ...headers, 'Content-Length': String(body.length) },
        },
        resolveResponse,
      );
      req.on('error', reject);
      req.end(body);
    });
  }
}

async function firstBytes(res: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of res as AsyncIterable<Buffer>) {
      chunks.push(chunk);
      size += chunk.length;
      if (size >= ERROR_BODY_BYTES) break;
    }
  } catch {
    // What came before the error is enough for the reason.
  }
  res.destroy();
  return Buffer.concat(chunks)
    .subarray(0, ERROR_BODY_BYTES)
    .toString()
    .replace(/[\p{Cc}]+/gu, ' ')
    .trim();
}
