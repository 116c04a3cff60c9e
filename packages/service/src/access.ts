import { parseUserEntries, UserTable } from '@pubsub/auth';
import { ConfigError } from '@pubsub/config';
import { TopicRights } from '@pubsub/protocol';
import { DEV_USERS } from './common-config.js';
import type { Rejection } from './reject.js';
import type { FileUser, Role } from './users-file.js';

/** What an authenticated user may do on a service. */
export interface Account {
  readonly name: string;
  readonly role: Role;
  /** Topics a client may publish to; none for the other roles. */
  readonly publish: TopicRights;
  /** Topics and patterns a client may subscribe to. */
  readonly subscribe: TopicRights;
  /** Whether the user may read `GET /metrics`. */
  readonly metrics: boolean;
}

/** The users one service accepts, with what each may do. */
export interface Users {
  readonly table: UserTable;
  readonly accounts: ReadonlyMap<string, Account>;
  /** True when no users were configured and the development user stands in. */
  readonly isDevDefault: boolean;
}

export interface UsersSources {
  /** The service's own list, e.g. `PUBLISHER_USERS`, already checked; undefined when unset. */
  readonly list: readonly (readonly [name: string, secret: string])[] | undefined;
  /** Users of `USERS_FILE`, undefined when unset. */
  readonly file: readonly FileUser[] | undefined;
  /** The variable the list comes from, for messages. */
  readonly variable: string;
  /** The role the list's users have here: `hop` on the msgqueue, `client` elsewhere. */
  readonly role: 'client' | 'hop';
}

function fileAccount(user: FileUser): Account {
  return {
    name: user.name,
    role: user.role,
    publish: new TopicRights(user.publish),
    subscribe: new TopicRights(user.subscribe),
    metrics: user.role !== 'client',
  };
}

/**
 * Combines the service's `*_USERS` list and `USERS_FILE`: users of both are accepted. A listed
 * user has the role the service implies, every topic right and may read `/metrics`, as before
 * the users file existed. A name in both is a ConfigError. With neither set, the development
 * user stands in.
 */
export function resolveUsers(sources: UsersSources): Users {
  const isDevDefault = sources.list === undefined && sources.file === undefined;
  const list = sources.list ?? (isDevDefault ? parseUserEntries(DEV_USERS) : []);
  const accounts = new Map<string, Account>();
  for (const [name] of list) {
    accounts.set(name, {
      name,
      role: sources.role,
      publish: TopicRights.ALL,
      subscribe: TopicRights.ALL,
      metrics: true,
    });
  }
  const clashes: string[] = [];
  for (const user of sources.file ?? []) {
    if (accounts.has(user.name)) clashes.push(`${sources.variable}: user "${user.name}" is in USERS_FILE too`);
    else accounts.set(user.name, fileAccount(user));
  }
  if (clashes.length > 0) throw new ConfigError(clashes);
  const table = new UserTable([...list, ...(sources.file ?? []).map((user) => [user.name, user.secret] as const)]);
  return { table, accounts, isDevDefault };
}

/**
 * Why `account` may not use an endpoint, if it may not: WebSocket endpoints and `/history` are
 * for one role (hop users on the msgqueue, client users elsewhere); `/metrics` is for monitor and
 * hop users and for the users of the `*_USERS` variables.
 */
export function endpointRefusal(
  account: Account,
  need: { path: string; role: Role | 'metrics' },
): Rejection | undefined {
  const allowed = need.role === 'metrics' ? account.metrics : account.role === need.role;
  if (allowed) return undefined;
  const who = need.role === 'metrics' ? 'monitor and hop users' : `${need.role} users`;
  return {
    status: 403,
    code: 'FORBIDDEN',
    message: `${need.path} is for ${who}; "${account.name}" is a ${account.role} user`,
  };
}
