import { ProtocolError } from './errors.js';
import { parseObjectFrame, readMember, validateId } from './publish.js';
import { isPattern, validatePattern } from './pattern.js';

export type CommandOp = 'sub' | 'unsub';

/** Where a resuming `sub` picks up: after `seq`, in the history the client saw as `epoch`. */
export interface ResumePoint {
  readonly seq: number;
  readonly epoch: string | undefined;
}

/** A subscription command; `ref` is the optional id of a JSON command, echoed in its reply. */
export interface Command {
  readonly op: CommandOp;
  /** A topic, or a pattern with `*` / `>` tokens (see pattern.ts). */
  readonly topic: string;
  readonly ref: string | undefined;
  /** Only on `sub`: replay the retained messages after this point before going live. */
  readonly resume: ResumePoint | undefined;
}

const EPOCH_PATTERN = /^[0-9a-f]{1,64}$/;

function toResume(topic: string, seq: unknown, epoch: unknown): ResumePoint {
  // History is kept per topic, and a pattern has none of its own to resume from.
  if (isPattern(topic)) {
    throw new ProtocolError('RESUME_INVALID', 'resuming ("from") needs an exact topic, not a pattern with * or >');
  }
  const number = typeof seq === 'string' && /^\d+$/.test(seq) ? Number(seq) : seq;
  if (typeof number !== 'number' || !Number.isSafeInteger(number) || number < 0) {
    throw new ProtocolError('RESUME_INVALID');
  }
  if (epoch !== undefined && (typeof epoch !== 'string' || !EPOCH_PATTERN.test(epoch))) {
    throw new ProtocolError('RESUME_INVALID');
  }
  return { seq: number, epoch };
}

function toOp(word: unknown): CommandOp {
  if (word === 'sub' || word === 'unsub') return word;
  throw new ProtocolError('UNKNOWN_COMMAND');
}

function parseJsonCommand(text: string): Command {
  const scan = parseObjectFrame(text);
  const ref = validateId(readMember(text, scan, 'id'));
  try {
    const op = toOp(readMember(text, scan, 'content'));
    const topic = validatePattern(readMember(text, scan, 'topic'));
    const from = readMember(text, scan, 'from');
    const resume =
      op === 'sub' && from !== undefined ? toResume(topic, from, readMember(text, scan, 'epoch')) : undefined;
    return { op, topic, ref, resume };
  } catch (err) {
    // Keep the ref so the client can match the error to its command.
    if (err instanceof ProtocolError) err.ref = ref;
    throw err;
  }
}

function parseTextCommand(text: string): Command {
  const words = text.trim().split(/\s+/u);
  const op = toOp(words[0]);
  if (words.length < 2) throw new ProtocolError('TOPIC_MISSING');
  const topic = validatePattern(words[1]);
  if (words.length === 2) return { op, topic, ref: undefined, resume: undefined };
  // `sub <topic> from <seq> [<epoch>]`
  if (op !== 'sub' || words[2] !== 'from') throw new ProtocolError('TOPIC_INVALID');
  if (words.length < 4 || words.length > 5) throw new ProtocolError('RESUME_INVALID');
  return { op, topic, ref: undefined, resume: toResume(topic, words[3], words[4]) };
}

/**
 * Parses a `/subscribe` frame: the text form `sub <topic>` / `unsub <topic>` (surrounding
 * whitespace ignored), or the original JSON form `{"Topic": "news", "Content": "sub"}`. The topic
 * may be a pattern (`orders.*`, `orders.>`). A `sub` of an exact topic may resume:
 * `sub <topic> from <seq> [<epoch>]`, or `"from"` / `"epoch"` in the JSON form.
 * Throws ProtocolError; a JSON command's error carries its `ref`.
 */
export function parseCommand(text: string): Command {
  return text.trimStart().startsWith('{') ? parseJsonCommand(text) : parseTextCommand(text);
}
