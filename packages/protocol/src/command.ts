import { ProtocolError } from './errors.js';
import { parseObjectFrame, readMember, validateId } from './publish.js';
import { validateTopic } from './topic.js';

export type CommandOp = 'sub' | 'unsub';

/** A subscription command; `ref` is the optional id of a JSON command, echoed in its reply. */
export interface Command {
  readonly op: CommandOp;
  readonly topic: string;
  readonly ref: string | undefined;
}

function toOp(word: unknown): CommandOp {
  if (word === 'sub' || word === 'unsub') return word;
  throw new ProtocolError('UNKNOWN_COMMAND');
}

function parseJsonCommand(text: string): Command {
  const scan = parseObjectFrame(text);
  const ref = validateId(readMember(text, scan, 'id'));
  try {
    return {
      op: toOp(readMember(text, scan, 'content')),
      topic: validateTopic(readMember(text, scan, 'topic')),
      ref,
    };
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
  if (words.length > 2) throw new ProtocolError('TOPIC_INVALID');
  return { op, topic: validateTopic(words[1]), ref: undefined };
}

/**
 * Parses a `/subscribe` frame: the text form `sub <topic>` / `unsub <topic>` (surrounding
 * whitespace ignored), or the original JSON form `{"Topic": "news", "Content": "sub"}`.
 * Throws ProtocolError; a JSON command's error carries its `ref`.
 */
export function parseCommand(text: string): Command {
  return text.trimStart().startsWith('{') ? parseJsonCommand(text) : parseTextCommand(text);
}
