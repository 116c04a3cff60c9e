import { request } from 'node:https';
import type { HopTls, QueueHop } from '@pubsub/service';

/** One page of a topic's retained history, as the msgqueue's `/history` gives it. */
export interface HistoryPage {
  readonly epoch: string;
  /** The oldest seq the msgqueue still holds for the topic. */
  readonly first: number;
  readonly last: number;
  readonly more: boolean;
  /** Delivery frames, byte for byte. */
  readonly messages: string[];
}

/** Where the msgqueue is, and the TLS of its hops: its CA, and the client certificate if it wants one. */
export interface HistorySource extends HopTls {
  readonly hop: QueueHop;
}

/** `wss://host:port/popmsg?group=x` → `https://host:port/history`. */
function historyUrl(queueUrl: string, topic: string, after: number): URL {
  const url = new URL(queueUrl);
  url.protocol = 'https:';
  url.pathname = '/history';
  url.search = '';
  url.searchParams.set('topic', topic);
  url.searchParams.set('after', String(after));
  return url;
}

function getPage(source: HistorySource, topic: string, after: number): Promise<HistoryPage> {
  const url = historyUrl(source.hop.url, topic, after);
  return new Promise((resolvePage, reject) => {
    const req = request(
      url,
      {
        ca: source.ca,
        ...(source.cert !== undefined && source.key !== undefined && { cert: source.cert, key: source.key }),
        auth: `${source.hop.user}:${source.hop.password}`,
        timeout: 10_000,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => {
          if (res.statusCode !== 200)
            reject(new Error(`history request failed with ${res.statusCode}: ${body.slice(0, 200)}`));
          else resolvePage(JSON.parse(body) as HistoryPage);
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('history request timed out')));
    req.on('error', reject);
    req.end();
  });
}

/** Every retained message of `topic` after `after`, following `more` from page to page. */
export async function fetchHistory(source: HistorySource, topic: string, after: number): Promise<HistoryPage> {
  const first = await getPage(source, topic, after);
  const messages = [...first.messages];
  let page = first;
  while (page.more && page.messages.length > 0) {
    const last = JSON.parse(page.messages.at(-1) as string) as { seq: number };
    page = await getPage(source, topic, last.seq);
    if (page.epoch !== first.epoch) break;
    messages.push(...page.messages);
  }
  return { ...page, first: first.first, messages };
}
