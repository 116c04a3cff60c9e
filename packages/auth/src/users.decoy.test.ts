import { randomBytes, scryptSync } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { describe, expect, test } from 'vitest';
import { hashPassword } from './password.js';
import { parseUsers, type UserTable } from './users.js';

/** An scrypt secret made with parameters of our choosing (hashPassword always uses the defaults). */
function scryptSecret(password: string, N: number): string {
  const salt = randomBytes(16);
  const hash = scryptSync(password, salt, 32, { N, r: 8, p: 1, maxmem: 256 * N * 8 });
  return `scrypt:${N}:8:1:${salt.toString('base64')}:${hash.toString('base64')}`;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

/**
 * Median time of a wrong password for an unknown name over that for a known one. Interleaved, so
 * a change in the machine's load (other tests, other engineers) hits both alike.
 */
async function unknownOverKnown(users: UserTable, known: string, rounds: number): Promise<number> {
  const times = { known: [] as number[], unknown: [] as number[] };
  const time = async (name: string, password: string) => {
    const start = performance.now();
    expect(await users.verify(name, password)).toBe(false);
    return performance.now() - start;
  };
  for (let round = 0; round < rounds; round++) {
    times.unknown.push(await time(`nobody-${round}`, `guess-${round}`));
    times.known.push(await time(known, `guess-${round}`));
  }
  return median(times.unknown) / median(times.known);
}

describe('an unknown user name costs what a known one costs (no enumeration by timing)', () => {
  test('with the default scrypt cost: median times within 1.5x of each other', async () => {
    const users = parseUsers(`alice:${await hashPassword('right')},bob:plain-dev-password`);
    const ratio = await unknownOverKnown(users, 'alice', 15);
    expect(ratio).toBeGreaterThan(1 / 1.5);
    expect(ratio).toBeLessThan(1.5);
  });

  test('the decoy takes the parameters of the configured users, a cheaper N included', async () => {
    // N=1024 costs a sixteenth of the default: a decoy with the default cost would be 16x slower.
    const users = parseUsers(`carol:${scryptSecret('right', 1024)},dave:${scryptSecret('other', 1024)}`);
    const ratio = await unknownOverKnown(users, 'carol', 25);
    // At about 1 ms a hash, a busy machine's noise reaches 1.5x; the fault this guards against is 16x.
    expect(ratio).toBeGreaterThan(1 / 3);
    expect(ratio).toBeLessThan(3);
  });
});
