import type { Resume } from './subscribe-client.js';

/** One line of the interactive session, understood. */
export type InteractiveCommand =
  | { readonly kind: 'empty' }
  | { readonly kind: 'exit' }
  | { readonly kind: 'help' }
  | { readonly kind: 'sub'; readonly topic: string; readonly resume?: Resume }
  | { readonly kind: 'unsub'; readonly topic: string }
  /** `content` is JSON text; `message` is what the acknowledgement line shows. */
  | { readonly kind: 'pub'; readonly topic: string; readonly content: string; readonly message: string }
  | { readonly kind: 'invalid'; readonly message: string };

export const HELP = `Commands:
  sub <topic>                       subscribe; patterns too: orders.* (one token), orders.> (the rest)
  sub <topic> from <seq> [<epoch>]  resume after <seq> (the #seq of a "<[topic #seq]" line)
  unsub <topic>                     end a subscription
  <topic> <message>                 publish the rest of the line as a string
  pub <topic> <message>             the same, for a topic named like a command (pub sub hello)
  pub <topic> --json <value>        publish a JSON value, e.g. pub news --json {"a":1}
  help                              this list
  exit                              quit once what was sent is answered (also Ctrl-D; Ctrl-C at once)
Output: "<[topic #seq] content" is a delivery, ">[topic #seq] message" one of your messages acked.`;

export const INVALID_SYNTAX =
  'Invalid syntax, correct one: <topic> <message> | pub <topic> [--json] <message> | sub <topic> [from <seq> [<epoch>]] | unsub <topic> | help | exit';

const invalid = (message: string): InteractiveCommand => ({ kind: 'invalid', message });

function parseSub(words: readonly string[]): InteractiveCommand {
  const [topic, keyword, seq, epoch, ...extra] = words;
  if (topic === undefined) return invalid('sub needs a topic: sub <topic> [from <seq> [<epoch>]]');
  if (keyword === undefined) return { kind: 'sub', topic };
  if (keyword !== 'from' || seq === undefined || extra.length > 0) {
    return invalid('expected: sub <topic> from <seq> [<epoch>]');
  }
  if (!/^\d+$/.test(seq) || !Number.isSafeInteger(Number(seq))) {
    return invalid(`from needs a seq, a whole number: got ${seq}`);
  }
  return { kind: 'sub', topic, resume: epoch === undefined ? { from: Number(seq) } : { from: Number(seq), epoch } };
}

function parsePub(rest: string): InteractiveCommand {
  const match = /^(\S+)(?: (--json) ?)?(?: (.*))?$/s.exec(rest);
  const [, topic, json, message] = match ?? [];
  if (topic === undefined || message === undefined || message === '') {
    return invalid('expected: pub <topic> [--json] <message>');
  }
  if (json === undefined) return { kind: 'pub', topic, content: JSON.stringify(message), message };
  try {
    JSON.parse(message);
  } catch (err) {
    return invalid(`--json: the message is not valid JSON (${(err as Error).message})`);
  }
  return { kind: 'pub', topic, content: message.trim(), message: message.trim() };
}

/**
 * Reads one line: `sub`, `unsub`, `pub`, `help` and `exit` are commands, anything else is
 * `<topic> <message>` as in the original clientdemo (the message is every character after the
 * first space, spaces kept).
 */
export function parseLine(line: string): InteractiveCommand {
  const trimmed = line.trim();
  if (trimmed === '') return { kind: 'empty' };
  if (trimmed === 'exit' || trimmed === 'quit') return { kind: 'exit' };
  if (trimmed === 'help' || trimmed === '?') return { kind: 'help' };
  const space = line.indexOf(' ');
  const first = space < 0 ? trimmed : line.slice(0, space);
  const rest = space < 0 ? '' : line.slice(space + 1);
  const words = rest.split(/\s+/).filter((word) => word !== '');
  if (first === 'sub') return parseSub(words);
  if (first === 'unsub') {
    return words.length === 1 ? { kind: 'unsub', topic: words[0] as string } : invalid('expected: unsub <topic>');
  }
  if (first === 'pub') return parsePub(rest);
  if (space < 0) return invalid(INVALID_SYNTAX);
  return { kind: 'pub', topic: first, content: JSON.stringify(rest), message: rest };
}
