import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** One entry of a users file (docs/configuration.md), as the services read it. */
export interface UsersFileEntry {
  name: string;
  /** An `scrypt:` hash (`hashPassword` from @pubsub/auth). */
  password: string;
  role: 'client' | 'pusher' | 'popper' | 'admin' | 'monitor';
  publish?: string[];
  subscribe?: string[];
}

/** Writes `{"users": [...]}` to a fresh temporary file and returns its path, for USERS_FILE. */
export function writeUsersFile(users: readonly UsersFileEntry[]): string {
  const path = join(mkdtempSync(join(tmpdir(), 'pubsub-users-')), 'users.json');
  writeFileSync(path, JSON.stringify({ users }, null, 2));
  return path;
}
