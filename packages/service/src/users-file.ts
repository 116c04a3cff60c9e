import { parseSecret } from '@pubsub/auth';
import { ProtocolError, validatePattern } from '@pubsub/protocol';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

/**
 * What a user may do: `client` publishes and subscribes within its topic rights; `pusher` is the
 * publisher service's account on the msgqueue (`/pushmsg`), `popper` the subscriber service's
 * (`/popmsg`, `GET /history`); `admin` manages the msgqueue's consumer groups; `monitor` only reads
 * `/metrics`. `hop` (push and pop together) is what `MSGQUEUE_USERS` users are: a users file
 * cannot grant it, so one leaked service account never gives both directions.
 */
export type Role = 'client' | 'pusher' | 'popper' | 'admin' | 'monitor' | 'hop';
/** The roles a users file may give. */
export const ROLES: readonly Role[] = ['client', 'pusher', 'popper', 'admin', 'monitor'];

/** One user of a users file, checked. */
export interface FileUser {
  readonly name: string;
  /** An `scrypt:` hash (the file holds no plain passwords). */
  readonly secret: string;
  readonly role: Role;
  /** Topic patterns a client may publish to; empty for the other roles. */
  readonly publish: readonly string[];
  /** Topic patterns a client may subscribe to. */
  readonly subscribe: readonly string[];
}

/** A users file that cannot be used, with every problem found. */
export class UsersFileError extends Error {
  override name = 'UsersFileError';

  constructor(readonly problems: readonly string[]) {
    super(problems.join('; '));
  }
}

const USER_KEYS = new Set(['name', 'password', 'role', 'publish', 'subscribe']);
const TOPIC_RIGHTS = ['publish', 'subscribe'] as const;
// Basic Auth splits at the first colon, so a name with one could never log in.
const NAME_PATTERN = /^[^:\p{Cc}]{1,128}$/u;

/** Where a JSON.parse error happened, as line:column, without quoting the text (it holds hashes). */
function jsonProblem(text: string, err: Error): string {
  const position = /at position (\d+)/.exec(err.message)?.[1];
  if (position === undefined) return 'not valid JSON';
  const before = text.slice(0, Number(position)).split('\n');
  return `not valid JSON (line ${before.length}, column ${(before.at(-1)?.length ?? 0) + 1})`;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The problems with one user's topic rights (`publish` or `subscribe`), each naming the pattern. */
function patternProblems(key: string, value: unknown): string[] {
  if (!Array.isArray(value)) return [`"${key}" must be a list of topic patterns`];
  return value.flatMap((pattern: unknown, index) => {
    try {
      validatePattern(pattern);
      return [];
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err;
      // Patterns are not secret: quoting them makes the problem easy to find.
      const shown = typeof pattern === 'string' ? JSON.stringify(pattern.slice(0, 64)) : typeof pattern;
      return [`${key}[${index}] ${shown} is not a topic pattern (${err.code}: ${err.message})`];
    }
  });
}

function isScryptHash(password: unknown): boolean {
  if (typeof password !== 'string' || !password.startsWith('scrypt:')) return false;
  try {
    return parseSecret(password).kind === 'scrypt';
  } catch {
    return false;
  }
}

/** Checks one entry; returns the user, or the problems found (never quoting the password). */
function checkUser(entry: unknown): FileUser | string[] {
  if (!isObject(entry)) return ['expected an object with "name", "password" and "role"'];
  const problems: string[] = [];
  for (const key of Object.keys(entry)) {
    if (!USER_KEYS.has(key)) problems.push(`unknown key ${JSON.stringify(key.slice(0, 64))}`);
  }
  const { name, password, role } = entry;
  if (typeof name !== 'string' || !NAME_PATTERN.test(name) || name.trim() !== name) {
    problems.push('"name" must be 1-128 characters without ":", control characters or surrounding spaces');
  }
  if (!isScryptHash(password)) {
    problems.push('"password" must be an scrypt hash, scrypt:N:r:p:<salt>:<hash> (made by `pnpm hash-password`)');
  }
  if (role === 'hop') {
    problems.push('"role" "hop" was split: give the publisher service "pusher" and the subscriber service "popper"');
  } else if (typeof role !== 'string' || !(ROLES as readonly string[]).includes(role)) {
    problems.push(`"role" must be one of ${ROLES.map((r) => `"${r}"`).join(', ')}`);
  }
  for (const key of TOPIC_RIGHTS) {
    if (entry[key] === undefined) continue;
    if (role !== 'client') problems.push(`"${key}" is for client users only`);
    else problems.push(...patternProblems(key, entry[key]));
  }
  if (problems.length > 0) return problems;
  return {
    name: name as string,
    secret: password as string,
    role: role as Role,
    publish: (entry.publish as string[] | undefined) ?? [],
    subscribe: (entry.subscribe as string[] | undefined) ?? [],
  };
}

/**
 * Parses a users file: `{"users": [{"name", "password", "role", "publish"?, "subscribe"?}, …]}`.
 * Throws a UsersFileError listing every problem, each naming the user by position (and by name
 * when it has a usable one), never quoting a password.
 */
export function parseUsersFile(text: string): FileUser[] {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (err) {
    throw new UsersFileError([jsonProblem(text, err as Error)]);
  }
  if (!isObject(document) || !Array.isArray(document.users)) {
    throw new UsersFileError(['expected an object {"users": [ … ]}']);
  }
  const problems = Object.keys(document)
    .filter((key) => key !== 'users')
    .map((key) => `unknown key ${JSON.stringify(key.slice(0, 64))} (only "users" is read)`);
  if (document.users.length === 0) problems.push('"users" lists nobody');
  const users: FileUser[] = [];
  const firstSeen = new Map<string, number>();
  document.users.forEach((entry: unknown, index) => {
    const position = index + 1;
    const name = isObject(entry) && typeof entry.name === 'string' ? entry.name : undefined;
    const label = name !== undefined && NAME_PATTERN.test(name) ? `user ${position} ("${name}")` : `user ${position}`;
    const checked = checkUser(entry);
    if (Array.isArray(checked)) {
      problems.push(...checked.map((problem) => `${label}: ${problem}`));
      return;
    }
    const first = firstSeen.get(checked.name);
    if (first !== undefined) {
      problems.push(`${label}: the name is taken by user ${first}`);
      return;
    }
    firstSeen.set(checked.name, position);
    users.push(checked);
  });
  if (problems.length > 0) throw new UsersFileError(problems);
  return users;
}

/** Reads and parses the users file at `path` (relative to the working directory). */
export function readUsersFile(path: string): FileUser[] {
  let text: string;
  try {
    text = readFileSync(resolve(path), 'utf8');
  } catch (err) {
    throw new UsersFileError([`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`]);
  }
  return parseUsersFile(text);
}
