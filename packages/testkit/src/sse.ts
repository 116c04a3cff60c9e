import { DEV_AUTH } from './client.js';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { request } from 'node:https';

export interface SseEvent {
  id?: string;
  event: string;
  data: string;
}

/** An event stream read as EventSource would: events in order, comments counted, `retry` kept. */
export class EventStream {
  readonly events: SseEvent[] = [];
  comments = 0;
  retry: number | undefined;
  readonly #waiters: (() => void)[] = [];
  #buffer = '';
  #ended = false;

  constructor(
    readonly res: IncomingMessage,
    readonly close: () => void,
  ) {
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => this.#feed(chunk));
    res.on('end', () => {
      this.#ended = true;
      this.#wake();
    });
  }

  #feed(chunk: string): void {
    this.#buffer += chunk;
    let end: number;
    while ((end = this.#buffer.indexOf('\n\n')) >= 0) {
      const block = this.#buffer.slice(0, end);
      this.#buffer = this.#buffer.slice(end + 2);
      const event: SseEvent = { event: 'message', data: '' };
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) this.comments++;
        else if (line.startsWith('retry: ')) this.retry = Number(line.slice(7));
        else if (line.startsWith('id: ')) event.id = line.slice(4);
        else if (line.startsWith('event: ')) event.event = line.slice(7);
        else if (line.startsWith('data: ')) data.push(line.slice(6));
      }
      event.data = data.join('\n');
      if (data.length > 0) this.events.push(event);
    }
    this.#wake();
  }

  #wake(): void {
    this.#waiters.splice(0).forEach((wake) => wake());
  }

  /** Resolves once `done()` holds (checked after every chunk); rejects if the stream ends first. */
  async until(done: () => boolean): Promise<void> {
    while (!done()) {
      if (this.#ended) throw new Error(`stream ended; got ${JSON.stringify(this.events)}`);
      await new Promise<void>((wake) => this.#waiters.push(wake));
    }
  }

  messages(): { topic: string; seq: number; id: string; content: unknown; eventId: string | undefined }[] {
    return this.events
      .filter((event) => event.event === 'message')
      .map((event) => ({
        ...(JSON.parse(event.data) as { topic: string; seq: number; id: string; content: unknown }),
        eventId: event.id,
      }));
  }
}

/** `GET /events<query>` on the subscriber at `port`; a refusal's body is read by `body()`. */
export function openEvents(
  where: { port: number; ca: string },
  query: string,
  { auth = DEV_AUTH, headers = {} }: { auth?: string | null; headers?: Record<string, string> } = {},
): Promise<{ status: number; headers: IncomingHttpHeaders; stream: EventStream; body: () => Promise<string> }> {
  const { port, ca } = where;
  const url = `https://localhost:${port}/events${query}`;
  return new Promise((resolveOpen, reject) => {
    const req = request(url, { ca, agent: false, headers, ...(auth !== null && { auth }) }, (res) => {
      const stream = new EventStream(res, () => req.destroy());
      const body = async () => {
        await stream.until(() => false).catch(() => undefined);
        return '';
      };
      if (res.statusCode !== 200) {
        let text = '';
        res.setEncoding('utf8');
        res.removeAllListeners('data');
        res.on('data', (chunk: string) => (text += chunk));
        const ended = new Promise<string>((done) => res.on('end', () => done(text)));
        resolveOpen({ status: res.statusCode ?? 0, headers: res.headers, stream, body: () => ended });
        return;
      }
      resolveOpen({ status: 200, headers: res.headers, stream, body });
    });
    req.on('error', reject);
    req.end();
  });
}
