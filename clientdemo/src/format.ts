import { CloseCode, findMember, scanObject, type ServerFrame } from '@pubsub/protocol';
import type { CloseInfo } from './connection.js';

type Delivery = Extract<ServerFrame, { type: 'message' }>;
type ErrorFrame = Extract<ServerFrame, { type: 'error' }>;

/** Where a command writes: normal output and diagnostics. One line per call. */
export interface Printer {
  out(line: string): void;
  err(line: string): void;
}

export const stdioPrinter: Printer = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

const CLOSE_CODE_NAMES = new Map<number, string>([
  ...Object.entries(CloseCode).map(([name, code]): [number, string] => [code, name.toLowerCase().replace(/_/g, ' ')]),
  [1005, 'no status'],
  [1006, 'connection lost'],
]);

/**
 * The content as a person wants to read it: a string as is, any other JSON value as the
 * publisher wrote it (so large numbers keep their digits), re-serialised only if it spans lines.
 */
export function contentText(frameText: string, delivery: Delivery): string {
  if (typeof delivery.content === 'string') return delivery.content;
  const scan = scanObject(frameText);
  const member = scan === undefined ? undefined : findMember(scan, 'content');
  const raw = member === undefined ? undefined : frameText.slice(member.start, member.end);
  return raw !== undefined && !/[\r\n]/.test(raw) ? raw : String(JSON.stringify(delivery.content));
}

/** `topic #seq`: the seq is what a subscription resumes after (`--from`, `sub … from`). */
function label(topic: string, seq: number | undefined): string {
  return seq === undefined ? topic : `${topic} #${seq}`;
}

/** `<[topic #seq] content`: the original clientdemo's delivery line, with the seq. */
export function formatDelivery(frameText: string, delivery: Delivery): string {
  return `<[${label(delivery.topic, delivery.seq)}] ${contentText(frameText, delivery)}`;
}

/** A note for an ack of an id the msgqueue had already: nothing was stored or delivered again. */
export const DUPLICATE_NOTE = ' (duplicate: this id was stored already; not delivered again)';

/** `>[topic #seq] message`: a published message the publisher has acknowledged, with its seq. */
export function formatPublished(topic: string, message: string, ack: { seq?: number; duplicate?: boolean }): string {
  return `>[${label(topic, ack.seq)}] ${message}${ack.duplicate === true ? DUPLICATE_NOTE : ''}`;
}

type Subscribed = Extract<ServerFrame, { type: 'subscribed' }>;

/** `subscribed to news`, or for a resume what was replayed and whether anything was missed. */
export function formatSubscribed(reply: Subscribed): string {
  if (reply.from === undefined) return `subscribed to ${reply.topic}`;
  const outcome = reply.recovered ? 'nothing missed' : 'some messages were no longer available';
  return `resumed ${reply.topic} after seq ${reply.from}: ${reply.replayed ?? 0} replayed, ${outcome}`;
}

export function formatError(frame: ErrorFrame): string {
  return `error ${frame.code}: ${frame.message}`;
}

/** Why a connection this client did not close ended, e.g. `… closed by the server: 1001 (going away) server shutting down`. */
export function formatClose(url: string, info: CloseInfo): string {
  const name = CLOSE_CODE_NAMES.get(info.code);
  const code = name === undefined ? String(info.code) : `${info.code} (${name})`;
  const reason = info.reason === '' ? '' : ` ${info.reason}`;
  const error = info.error === undefined ? '' : `: ${info.error.message}`;
  const how = info.code === 1006 ? 'lost' : 'closed by the server';
  return `connection to ${url} ${how}: ${code}${reason}${error}`;
}
