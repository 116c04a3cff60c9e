import { randomBytes, timingSafeEqual } from 'node:crypto';
import { parseSecret, secretMatches, sha256, type StoredSecret } from './password.js';

interface UserEntry {
  readonly nameDigest: Buffer;
  readonly secret: StoredSecret;
}

/** Verified name/password pairs, keyed by a digest, so hashed users do not pay scrypt per connection. */
const CACHE_LIMIT = 1024;

/**
 * The users one endpoint accepts. Built from `name:secret[,name:secret…]` where a secret is a
 * plain password or a `scrypt:` hash.
 */
export class UserTable {
  readonly #users = new Map<string, UserEntry>();
  readonly #verified = new Set<string>();
  /** Checks under way, so concurrent identical attempts (a reconnect storm) share one scrypt. */
  readonly #checking = new Map<string, Promise<boolean>>();
  /** Unknown names are checked against this entry so they take the same path, and time, as known ones. */
  readonly #decoy: UserEntry;

  constructor(entries: Iterable<readonly [name: string, secret: string]>) {
    for (const [name, secret] of entries) {
      this.#users.set(name, { nameDigest: sha256(name), secret: parseSecret(secret) });
    }
    this.#decoy = { nameDigest: sha256('\0decoy'), secret: decoySecret([...this.#users.values()]) };
  }

  get names(): string[] {
    return [...this.#users.keys()];
  }

  has(name: string): boolean {
    return this.#users.has(name);
  }

  /**
   * True when this exact pair was verified before (a cheap digest lookup, no scrypt): a login
   * that needs no check, which auth-failure throttling lets through.
   */
  remembers(name: string, password: string): boolean {
    return this.#verified.has(cacheKeyOf(name, password));
  }

  /** True when `name` and `password` match a user; compares digests in constant time. */
  verify(name: string, password: string): Promise<boolean> {
    const cacheKey = cacheKeyOf(name, password);
    if (this.#verified.has(cacheKey)) return Promise.resolve(true);
    const pending = this.#checking.get(cacheKey);
    if (pending !== undefined) return pending;
    const check = this.#check(name, password, cacheKey).finally(() => this.#checking.delete(cacheKey));
    this.#checking.set(cacheKey, check);
    return check;
  }

  async #check(name: string, password: string, cacheKey: string): Promise<boolean> {
    const known = this.#users.get(name);
    const entry = known ?? this.#decoy;
    const nameOk = timingSafeEqual(sha256(name), entry.nameDigest);
    const passwordOk = await secretMatches(entry.secret, password);
    // The decoy only spends the same work: it never admits anyone, whatever name is sent.
    if (known === undefined || !(nameOk && passwordOk)) return false;
    if (this.#verified.size >= CACHE_LIMIT) this.#verified.clear();
    this.#verified.add(cacheKey);
    return true;
  }
}

/**
 * A secret nobody knows that costs what checking a real user costs: an scrypt hash with the
 * parameters most of the hashed users have (the costliest on a tie), or a plain digest when no
 * user is hashed. A cheaper decoy would tell an unknown name from a known one by the answer's time.
 */
function decoySecret(users: readonly UserEntry[]): StoredSecret {
  const counts = new Map<string, { params: { N: number; r: number; p: number }; count: number }>();
  for (const { secret } of users) {
    if (secret.kind !== 'scrypt') continue;
    const key = `${secret.params.N}:${secret.params.r}:${secret.params.p}`;
    const seen = counts.get(key) ?? { params: secret.params, count: 0 };
    seen.count++;
    counts.set(key, seen);
  }
  const cost = ({ N, r, p }: { N: number; r: number; p: number }) => N * r * p;
  let chosen: { params: { N: number; r: number; p: number }; count: number } | undefined;
  for (const candidate of counts.values()) {
    if (
      chosen === undefined ||
      candidate.count > chosen.count ||
      (candidate.count === chosen.count && cost(candidate.params) > cost(chosen.params))
    ) {
      chosen = candidate;
    }
  }
  // Plain passwords (development lists) are fast whatever the decoy costs: with any hashed user,
  // unknown names look like hashed ones.
  if (chosen === undefined) return parseSecret(randomBytes(32).toString('base64'));
  return { kind: 'scrypt', params: chosen.params, salt: randomBytes(16), hash: randomBytes(32) };
}

function cacheKeyOf(name: string, password: string): string {
  // JSON keeps the boundary between name and password: "a\0b"+"c" and "a"+"b\0c" differ.
  return sha256(JSON.stringify([name, password])).toString('base64');
}

/**
 * Parses a users list. Throws a TypeError naming the faulty entry by position, never by content,
 * since the content holds a password.
 */
export function parseUsers(spec: string): UserTable {
  return new UserTable(parseUserEntries(spec));
}

/** The `[name, secret]` pairs of a users list, checked as parseUsers does. */
export function parseUserEntries(spec: string): (readonly [name: string, secret: string])[] {
  const entries: (readonly [string, string])[] = [];
  const seen = new Set<string>();
  spec.split(',').forEach((raw, index) => {
    const entry = raw.trim();
    const colon = entry.indexOf(':');
    const name = colon > 0 ? entry.slice(0, colon) : '';
    const secret = colon > 0 ? entry.slice(colon + 1) : '';
    if (name === '' || secret === '') {
      throw new TypeError(`entry ${index + 1}: expected name:password or name:scrypt:…`);
    }
    if (seen.has(name)) throw new TypeError(`entry ${index + 1}: user "${name}" is listed twice`);
    try {
      parseSecret(secret);
    } catch (err) {
      throw new TypeError(`entry ${index + 1} (user "${name}"): ${(err as Error).message}`, { cause: err });
    }
    seen.add(name);
    entries.push([name, secret]);
  });
  return entries;
}
