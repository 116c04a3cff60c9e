/** Where one top-level member's value sits in the source text: `text.slice(start, end)`. */
export interface MemberSpan {
  readonly key: string;
  readonly start: number;
  readonly end: number;
}

export interface ObjectScan {
  readonly members: readonly MemberSpan[];
  /** Deepest nesting of objects and arrays, the top-level object counting as 1. */
  readonly depth: number;
}

const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const COMMA = 0x2c;

function isWhitespace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

function skipWhitespace(text: string, i: number): number {
  while (i < text.length && isWhitespace(text.charCodeAt(i))) i++;
  return i;
}

/** Index just past the string literal that opens at `i`, or -1 when it never closes. */
function skipString(text: string, i: number): number {
  for (let j = i + 1; j < text.length; j++) {
    const c = text.charCodeAt(j);
    if (c === BACKSLASH) j++;
    else if (c === QUOTE) return j + 1;
  }
  return -1;
}

/** Index just past the value that starts at `i` and the nesting depth inside it, or -1. */
function skipValue(text: string, i: number): { end: number; depth: number } {
  const first = text.charCodeAt(i);
  if (first === QUOTE) return { end: skipString(text, i), depth: 0 };
  if (first !== OPEN_OBJECT && first !== OPEN_ARRAY) {
    let j = i;
    while (j < text.length) {
      const c = text.charCodeAt(j);
      if (c === COMMA || c === CLOSE_OBJECT || c === CLOSE_ARRAY || isWhitespace(c)) break;
      j++;
    }
    return { end: j > i ? j : -1, depth: 0 };
  }
  // Brackets are only counted, not matched by kind: the text was validated by JSON.parse, or
  // (on a hop) produced by our publisher, so this only has to find where the value ends.
  let depth = 0;
  let maxDepth = 0;
  for (let j = i; j < text.length; j++) {
    const c = text.charCodeAt(j);
    if (c === QUOTE) {
      j = skipString(text, j);
      if (j < 0) return { end: -1, depth: maxDepth };
      j--;
    } else if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      depth++;
      if (depth > maxDepth) maxDepth = depth;
    } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
      depth--;
      if (depth === 0) return { end: j + 1, depth: maxDepth };
    }
  }
  return { end: -1, depth: maxDepth };
}

function decodeKey(raw: string): string | undefined {
  if (!raw.includes('\\')) return raw.slice(1, -1);
  try {
    const key: unknown = JSON.parse(raw);
    return typeof key === 'string' ? key : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Finds the top-level members of a JSON object without building it, so a value can be passed on
 * byte for byte (numbers keep their digits, strings their escapes). Returns undefined when the
 * text is not shaped like a JSON object. It does not validate scalars: callers either ran
 * JSON.parse first or trust the producer.
 */
export function scanObject(text: string): ObjectScan | undefined {
  let i = skipWhitespace(text, 0);
  if (text.charCodeAt(i) !== OPEN_OBJECT) return undefined;
  i = skipWhitespace(text, i + 1);
  const members: MemberSpan[] = [];
  let depth = 1;
  if (text.charCodeAt(i) === CLOSE_OBJECT) {
    return skipWhitespace(text, i + 1) === text.length ? { members, depth } : undefined;
  }
  for (;;) {
    if (text.charCodeAt(i) !== QUOTE) return undefined;
    const keyEnd = skipString(text, i);
    if (keyEnd < 0) return undefined;
    const key = decodeKey(text.slice(i, keyEnd));
    if (key === undefined) return undefined;
    i = skipWhitespace(text, keyEnd);
    if (text.charCodeAt(i) !== COLON) return undefined;
    i = skipWhitespace(text, i + 1);
    const value = skipValue(text, i);
    if (value.end < 0) return undefined;
    members.push({ key, start: i, end: value.end });
    if (value.depth + 1 > depth) depth = value.depth + 1;
    i = skipWhitespace(text, value.end);
    const c = text.charCodeAt(i);
    if (c === CLOSE_OBJECT) break;
    if (c !== COMMA) return undefined;
    i = skipWhitespace(text, i + 1);
  }
  return skipWhitespace(text, i + 1) === text.length ? { members, depth } : undefined;
}

/**
 * The last member whose key equals `name` ignoring case, as Go's encoding/json matches struct
 * fields (and, like it, the last duplicate wins).
 */
export function findMember(scan: ObjectScan, name: string): MemberSpan | undefined {
  let found: MemberSpan | undefined;
  for (const member of scan.members) {
    if (member.key.length === name.length && member.key.toLowerCase() === name) found = member;
  }
  return found;
}
