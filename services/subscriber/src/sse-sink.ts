import type { ServerResponse } from 'node:http';
import type { Framing, LogMessage, Sink, SinkCloseCode } from './sink.js';
import { encodeError } from '@pubsub/protocol';

/**
 * An event's `data`: one line per line of the frame (a publisher's pretty-printed JSON keeps its
 * layout; EventSource joins the lines with `\n`).
 */
function dataLines(text: string): string {
  return `data: ${text.replace(/\r\n|\r|\n/g, '\ndata: ')}\n`;
}

/** The id a reconnecting EventSource sends back as `Last-Event-ID`: where the stream stood in the log. */
export function eventId(epoch: string, offset: number): string {
  return `${epoch}-${offset}`;
}

/** Reads a `Last-Event-ID` (or `from`) back; undefined when it is not one of ours. */
export function parseEventId(value: string): { epoch: string; offset: number } | undefined {
  const match = /^([0-9a-f]{1,64})-(\d{1,16})$/.exec(value);
  if (match === null) return undefined;
  const offset = Number(match[2]);
  return Number.isSafeInteger(offset) ? { epoch: match[1] as string, offset } : undefined;
}

/** A delivery as a Server-Sent Event: its log position as the id, the wss frame as the data. */
export const sseFraming: Framing = {
  frame: (message: LogMessage) =>
    Buffer.from(`id: ${eventId(message.epoch ?? '', message.offset)}\n${dataLines(message.frame.toString())}\n`),
};

/** A `GET /events` response as a sink. Replies are events named after their type (`subscribed`, `error`). */
export class SseSink implements Sink {
  readonly framing = sseFraming;
  readonly #res: ServerResponse;

  constructor(res: ServerResponse) {
    this.#res = res;
  }

  get open(): boolean {
    return !this.#res.destroyed && !this.#res.writableEnded;
  }

  get bufferedBytes(): number {
    return this.#res.writableLength;
  }

  write(framed: Buffer): void {
    if (this.open) this.#res.write(framed);
  }

  reply(text: string): void {
    const type = /^\{"type":"([a-z]+)"/.exec(text)?.[1] ?? 'message';
    this.write(Buffer.from(`event: ${type}\n${dataLines(text)}\n`));
  }

  /** A comment line: keeps proxies and the browser from timing out an idle stream. */
  keepAlive(): void {
    this.write(Buffer.from(': keep-alive\n\n'));
  }

  onDrain(callback: () => void): void {
    if (!this.open || this.#res.writableLength === 0) {
      callback();
      return;
    }
    const done = () => {
      this.#res.off('drain', done);
      this.#res.off('close', done);
      callback();
    };
    this.#res.on('drain', done);
    this.#res.on('close', done);
  }

  close(code: SinkCloseCode): void {
    this.reply(encodeError({ code }, undefined));
    this.#res.end();
    // A stalled reader is not reading its close either.
    if (code === 'CONSUMER_STALLED' || code === 'SLOW_CONSUMER') this.#res.destroy();
  }
}
