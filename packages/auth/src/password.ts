import { createHash, randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/** Cost parameters for new hashes: about 16 MiB and tens of ms per check. */
const DEFAULT_SCRYPT = { N: 16_384, r: 8, p: 1 } as const;
const KEY_LENGTH = 32;
const SALT_BYTES = 16;

export type StoredSecret =
  | { readonly kind: 'plain'; readonly digest: Buffer }
  | {
      readonly kind: 'scrypt';
      readonly params: { N: number; r: number; p: number };
      readonly salt: Buffer;
      readonly hash: Buffer;
    };

function scryptAsync(
  password: string,
  salt: Buffer,
  params: ScryptOptions & { N: number; r: number },
): Promise<Buffer> {
  // Node refuses parameters above its 32 MiB default unless maxmem is raised to fit them.
  const maxmem = 256 * params.N * params.r;
  return new Promise((resolvePromise, reject) => {
    scrypt(password, salt, KEY_LENGTH, { ...params, maxmem }, (err, key) => {
      if (err) reject(err);
      else resolvePromise(key);
    });
  });
}

export function sha256(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/** `scrypt:N:r:p:<salt base64>:<hash base64>`, the form a users list accepts. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const hash = await scryptAsync(password, salt, DEFAULT_SCRYPT);
  const { N, r, p } = DEFAULT_SCRYPT;
  return `scrypt:${N}:${r}:${p}:${salt.toString('base64')}:${hash.toString('base64')}`;
}

/** Parses a stored secret: `scrypt:…` as produced by hashPassword, anything else as plain text. */
export function parseSecret(secret: string): StoredSecret {
  if (!secret.startsWith('scrypt:')) return { kind: 'plain', digest: sha256(secret) };
  const parts = secret.split(':');
  const [, n, r, p, salt, hash] = parts;
  const params = { N: Number(n), r: Number(r), p: Number(p) };
  const valid =
    parts.length === 6 &&
    Number.isInteger(params.N) &&
    params.N > 1 &&
    (params.N & (params.N - 1)) === 0 &&
    Number.isInteger(params.r) &&
    params.r > 0 &&
    Number.isInteger(params.p) &&
    params.p > 0 &&
    salt !== undefined &&
    salt.length > 0 &&
    hash !== undefined &&
    Buffer.from(hash, 'base64').length === KEY_LENGTH;
  if (!valid) {
    throw new TypeError('expected scrypt:N:r:p:<salt base64>:<hash base64> (see `pnpm hash-password`)');
  }
  return {
    kind: 'scrypt',
    params,
    salt: Buffer.from(salt, 'base64'),
    hash: Buffer.from(hash, 'base64'),
  };
}

/** Compares in constant time: both sides are fixed-length digests. */
export async function secretMatches(stored: StoredSecret, password: string): Promise<boolean> {
  if (stored.kind === 'plain') return timingSafeEqual(sha256(password), stored.digest);
  const hash = await scryptAsync(password, stored.salt, stored.params);
  return timingSafeEqual(hash, stored.hash);
}
