import { parseUserEntries, UserTable } from '@pubsub/auth';
import { ConfigError } from '@pubsub/config';
import { TopicRights } from '@pubsub/protocol';
import { DEV_USERS } from './dev-user.js';
import { rejectionOf, type Rejection } from './reject.js';
import type { FileUser, Role } from './users-file.js';

/**
 * What an endpoint asks of its user: `publish`/`subscribe` (client endpoints, with some topic
 * right), `push` (`/pushmsg`), `pop` (`/popmsg`, `GET /history`), `admin` (the msgqueue's
 * `/groups`) or `metrics` (`GET /metrics`).
 */
export type Right = 'publish' | 'subscribe' | 'push' | 'pop' | 'admin' | 'metrics';

/** Rights only the services' own accounts and operators have: never granted to a browser page. */
export const SERVICE_RIGHTS: ReadonlySet<Right> = new Set(['push', 'pop', 'admin']);

const ROLE_RIGHTS: Record<Role, readonly Right[]> = {
  client: [],
  pusher: ['push', 'metrics'],
  popper: ['pop', 'metrics'],
  admin: ['admin', 'metrics'],
  monitor: ['metrics'],
  hop: ['push', 'pop', 'admin', 'metrics'],
};

/** What an authenticated user may do on a service. */
export interface Account {
  readonly name: string;
  readonly role: Role;
  /** Topics a client may publish to; none for the other roles. */
  readonly publish: TopicRights;
  /** Topics and patterns a client may subscribe to. */
  readonly subscribe: TopicRights;
  /** The endpoints' rights this user has. */
  readonly rights: ReadonlySet<Right>;
}

/** The users one service accepts, with what each may do. */
export interface Users {
  readonly table: UserTable;
  readonly accounts: ReadonlyMap<string, Account>;
  /** True when no users were configured and the development user stands in. */
  readonly isDevDefault: boolean;
}

/** One `*_USERS` variable of a service: its users all have `role`, every topic and `/metrics`. */
export interface UsersList {
  /** The variable, for messages, e.g. `PUBLISHER_USERS`. */
  readonly variable: string;
  readonly role: 'client' | 'hop' | 'pusher' | 'popper';
  /** Already checked; undefined when the variable is unset. */
  readonly entries: readonly (readonly [name: string, secret: string])[] | undefined;
}

export interface UsersSources {
  /** The service's own lists; the development user (when it stands in) gets the first one's role. */
  readonly lists: readonly UsersList[];
  /** Users of `USERS_FILE`, undefined when unset. */
  readonly file: readonly FileUser[] | undefined;
  /** `NODE_ENV=production`: the development user is never enabled, so users must be configured. */
  readonly production: boolean;
}

function account(fields: Omit<Account, 'rights'>, extra: readonly Right[]): Account {
  const { role, publish, subscribe } = fields;
  const rights = new Set<Right>([...ROLE_RIGHTS[role], ...extra]);
  // A client without any publish (or subscribe) right has nothing to do on that endpoint: refusing
  // it at the handshake beats accepting it and then refusing every message.
  if (role === 'client' && publish.patterns.length > 0) rights.add('publish');
  if (role === 'client' && subscribe.patterns.length > 0) rights.add('subscribe');
  return { ...fields, rights };
}

function fileAccount(user: FileUser): Account {
  const { name, role } = user;
  return account(
    { name, role, publish: new TopicRights(user.publish), subscribe: new TopicRights(user.subscribe) },
    [],
  );
}

/**
 * Combines the service's `*_USERS` lists and `USERS_FILE`: users of all are accepted. A listed
 * user has its list's role, every topic right and may read `/metrics`, as before the users file
 * existed. A name in two places is a ConfigError. With nothing set, the development user stands
 * in, except in production, where that is a ConfigError.
 */
export function resolveUsers(sources: UsersSources): Users {
  const configured = sources.file !== undefined || sources.lists.some((list) => list.entries !== undefined);
  const variables = sources.lists.map((list) => list.variable);
  if (!configured && sources.production) {
    throw new ConfigError([
      `${[...variables, 'USERS_FILE'].join(', ')}: NODE_ENV is production and no users are configured; set USERS_FILE or ${variables.join(' / ')} (the development user hello/test is never enabled in production)`,
    ]);
  }
  const isDevDefault = !configured;
  const accounts = new Map<string, Account>();
  const entries: (readonly [string, string])[] = [];
  const clashes: string[] = [];
  const seenIn = new Map<string, string>();
  sources.lists.forEach((list, index) => {
    const listed = list.entries ?? (isDevDefault && index === 0 ? parseUserEntries(DEV_USERS) : []);
    for (const [name, secret] of listed) {
      const earlier = seenIn.get(name);
      if (earlier !== undefined) {
        clashes.push(`${list.variable}: user "${name}" is in ${earlier} too`);
        continue;
      }
      seenIn.set(name, list.variable);
      const rights = { name, role: list.role, publish: TopicRights.ALL, subscribe: TopicRights.ALL };
      accounts.set(name, account(rights, ['metrics']));
      entries.push([name, secret]);
    }
  });
  for (const user of sources.file ?? []) {
    const earlier = seenIn.get(user.name);
    if (earlier !== undefined) {
      clashes.push(`${earlier}: user "${user.name}" is in USERS_FILE too`);
      continue;
    }
    accounts.set(user.name, fileAccount(user));
    entries.push([user.name, user.secret]);
  }
  if (clashes.length > 0) throw new ConfigError(clashes);
  return { table: new UserTable(entries), accounts, isDevDefault };
}

const WHO: Record<Right, string> = {
  publish: 'client users with a publish right',
  subscribe: 'client users with a subscribe right',
  push: 'pusher users (the publisher service)',
  pop: 'popper users (the subscriber service)',
  admin: 'admin users',
  metrics: 'monitor, pusher, popper and admin users',
};

/** Why `account` may not use an endpoint that needs `right` (or any one of a list), if it may not. */
export function endpointRefusal(
  account: Account,
  need: { path: string; right: Right | readonly Right[] },
): Rejection | undefined {
  const rights = typeof need.right === 'string' ? [need.right] : need.right;
  if (rights.some((right) => account.rights.has(right))) return undefined;
  const who = rights.map((right) => WHO[right]).join(' or ');
  return rejectionOf(
    'FORBIDDEN',
    `${need.path} is for ${who}; "${account.name}" is a ${account.role} user without that right`,
  );
}
