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
  // indexOf finds the next quote far faster than a loop over every character (a message's
  // content is mostly one long string); a quote after an odd run of backslashes is escaped.
  for (let from = i + 1; ;) {
    const quote = text.indexOf('"', from);
    if (quote < 0) return -1;
    let backslashes = 0;
    while (quote - backslashes - 1 > i && text.charCodeAt(quote - backslashes - 1) === BACKSLASH) backslashes++;
    if (backslashes % 2 === 0) return quote + 1;
    from = quote + 1;
  }
}

/** Nesting depth inside the value `skipValue` last skipped: a result without an allocation per member. */
let skippedDepth = 0;

/** Index just past the value that starts at `i` (its nesting depth in `skippedDepth`), or -1. */
function skipValue(text: string, i: number): number {
  skippedDepth = 0;
  const first = text.charCodeAt(i);
  if (first === QUOTE) return skipString(text, i);
  if (first !== OPEN_OBJECT && first !== OPEN_ARRAY) {
    let j = i;
    while (j < text.length) {
      const c = text.charCodeAt(j);
      if (c === COMMA || c === CLOSE_OBJECT || c === CLOSE_ARRAY || isWhitespace(c)) break;
      j++;
    }
    return j > i ? j : -1;
  }
  // Brackets are only counted, not matched by kind: the text was validated by JSON.parse, or
  // (on a hop) produced by our publisher, so this only has to find where the value ends.
  let depth = 0;
  for (let j = i; j < text.length; j++) {
    const c = text.charCodeAt(j);
    if (c === QUOTE) {
      j = skipString(text, j);
      if (j < 0) return -1;
      j--;
    } else if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      depth++;
      if (depth > skippedDepth) skippedDepth = depth;
    } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
      depth--;
      if (depth === 0) return j + 1;
    }
  }
  return -1;
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

/** Where a member's key (quotes included) and value sit; one object, reused for every member. */
interface MemberAt {
  keyStart: number;
  keyEnd: number;
  start: number;
  end: number;
}

/**
 * Walks the top-level members of a JSON object, calling `visit` with where each key and value
 * sit; `visit` returns false to give up. Returns the nesting depth (the object counting as 1),
 * or -1 when the text is not shaped like a JSON object.
 */
function walkObject(text: string, visit: (member: MemberAt) => boolean): number {
  const member: MemberAt = { keyStart: 0, keyEnd: 0, start: 0, end: 0 };
  let i = skipWhitespace(text, 0);
  if (text.charCodeAt(i) !== OPEN_OBJECT) return -1;
  i = skipWhitespace(text, i + 1);
  let depth = 1;
  if (text.charCodeAt(i) === CLOSE_OBJECT) return skipWhitespace(text, i + 1) === text.length ? depth : -1;
  for (;;) {
    if (text.charCodeAt(i) !== QUOTE) return -1;
    const keyStart = i;
    const keyEnd = skipString(text, i);
    if (keyEnd < 0) return -1;
    i = skipWhitespace(text, keyEnd);
    if (text.charCodeAt(i) !== COLON) return -1;
    i = skipWhitespace(text, i + 1);
    const valueEnd = skipValue(text, i);
    member.keyStart = keyStart;
    member.keyEnd = keyEnd;
    member.start = i;
    member.end = valueEnd;
    if (valueEnd < 0 || !visit(member)) return -1;
    if (skippedDepth + 1 > depth) depth = skippedDepth + 1;
    i = skipWhitespace(text, valueEnd);
    const c = text.charCodeAt(i);
    if (c === CLOSE_OBJECT) break;
    if (c !== COMMA) return -1;
    i = skipWhitespace(text, i + 1);
  }
  return skipWhitespace(text, i + 1) === text.length ? depth : -1;
}

/**
 * Finds the top-level members of a JSON object without building it, so a value can be passed on
 * byte for byte (numbers keep their digits, strings their escapes). Returns undefined when the
 * text is not shaped like a JSON object. It does not validate scalars: callers either ran
 * JSON.parse first or trust the producer.
 */
export function scanObject(text: string): ObjectScan | undefined {
  const members: MemberSpan[] = [];
  const depth = walkObject(text, ({ keyStart, keyEnd, start, end }) => {
    const key = decodeKey(text.slice(keyStart, keyEnd));
    if (key !== undefined) members.push({ key, start, end });
    return key !== undefined;
  });
  return depth < 0 ? undefined : { members, depth };
}

/** Whether `text[start, end)` holds a backslash; bounded, unlike indexOf, which would scan on to the end of the text. */
export function hasBackslash(text: string, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (text.charCodeAt(i) === BACKSLASH) return true;
  return false;
}

/** Whether the member's key is `name` (lower-case ASCII) in any case. */
function keyIs(text: string, { keyStart: start, keyEnd: end }: MemberAt, name: string): boolean {
  const length = end - start - 2;
  if (length !== name.length) {
    // Only escapes make a key longer than its value; an escaped key of the same length is shorter.
    if (length < name.length || !hasBackslash(text, start, end)) return false;
    return decodeKey(text.slice(start, end))?.toLowerCase() === name;
  }
  for (let i = 0; i < name.length; i++) {
    let c = text.charCodeAt(start + 1 + i);
    if (c >= 0x41 && c <= 0x5a) c |= 0x20;
    if (c !== name.charCodeAt(i)) return false;
  }
  return true;
}

/** Where the values of the members picked by `pickMembers` sit, and the object's depth. */
export interface PickedMembers {
  readonly depth: number;
  /** `[start, end]` of the value of the last member named `names[i]`, or undefined when absent. */
  readonly spans: readonly (readonly [start: number, end: number] | undefined)[];
}

/**
 * The spans of a few members, found in one pass that builds nothing per member: `scanObject`
 * for the hot paths (every publish and every queued message), same rules (any case, the last
 * duplicate wins). Names are given in lower case. Undefined when the text is not an object.
 */
export function pickMembers(text: string, names: readonly string[]): PickedMembers | undefined {
  const spans: ([number, number] | undefined)[] = names.map(() => undefined);
  const depth = walkObject(text, (member) => {
    for (let n = 0; n < names.length; n++) {
      if (keyIs(text, member, names[n] as string)) spans[n] = [member.start, member.end];
    }
    return true;
  });
  return depth < 0 ? undefined : { depth, spans };
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

/**
 * The texts of a JSON array's elements, each byte for byte as it stands in `text`, or undefined
 * when the text is not shaped like a JSON array. Like scanObject it does not validate scalars.
 */
export function splitArray(text: string): string[] | undefined {
  let i = skipWhitespace(text, 0);
  if (text.charCodeAt(i) !== OPEN_ARRAY) return undefined;
  i = skipWhitespace(text, i + 1);
  const elements: string[] = [];
  if (text.charCodeAt(i) === CLOSE_ARRAY) return skipWhitespace(text, i + 1) === text.length ? elements : undefined;
  for (;;) {
    const end = skipValue(text, i);
    if (end < 0) return undefined;
    elements.push(text.slice(i, end));
    i = skipWhitespace(text, end);
    const c = text.charCodeAt(i);
    if (c === CLOSE_ARRAY) break;
    if (c !== COMMA) return undefined;
    i = skipWhitespace(text, i + 1);
  }
  return skipWhitespace(text, i + 1) === text.length ? elements : undefined;
}
