import { optionalWssUrls, port, z } from '@pubsub/config';
import { resolveUsers, type Users, type UsersList } from './access.js';
import type { QueueHop } from './boot.js';
import { usersList } from './common-config.js';
import { DEV_USER } from './dev-user.js';
import type { FileUser } from './users-file.js';

type ServiceEnv<P extends string> = Record<`${P}_HOST`, z.ZodDefault<z.ZodString>> &
  Record<`${P}_PORT`, ReturnType<typeof port>> &
  Record<`${P}_USERS`, ReturnType<typeof usersList>>;

type QueueHopEnv<P extends string> = Record<`${P}_QUEUE_URL`, ReturnType<typeof optionalWssUrls>> &
  Record<'MSGQUEUE_PORT', ReturnType<typeof port>> &
  Record<`${P}_QUEUE_USER` | `${P}_QUEUE_PASSWORD`, z.ZodDefault<z.ZodString>>;

/** What `loadEnv` makes of a shape's variables. */
type Values<E extends z.ZodRawShape> = Readonly<z.output<z.ZodObject<E>>>;

/** `<PREFIX>_HOST`, `<PREFIX>_PORT` and `<PREFIX>_USERS`: where a service listens, and its own users. */
export function serviceEnv<P extends string>(prefix: P, defaults: { port: number }): ServiceEnv<P> {
  return {
    [`${prefix}_HOST`]: z.string().default('127.0.0.1'),
    [`${prefix}_PORT`]: port(defaults.port),
    [`${prefix}_USERS`]: usersList(),
  } as ServiceEnv<P>;
}

/**
 * What `serviceEnv(prefix)` configures. `<PREFIX>_USERS` has `role` (client unless said), and
 * `lists` come after it; with `USERS_FILE` they make the service's users.
 */
export function serviceConfig<P extends string>(
  prefix: P,
  e: Values<ServiceEnv<P>> & { readonly USERS_FILE: readonly FileUser[] | undefined },
  options: { production: boolean; role?: UsersList['role']; lists?: readonly UsersList[] },
): { host: string; port: number; users: Users } {
  const read = e as unknown as Readonly<Record<string, unknown>>;
  const variable = `${prefix}_USERS`;
  const own = { variable, role: options.role ?? 'client', entries: read[variable] as UsersList['entries'] };
  return {
    host: read[`${prefix}_HOST`] as string,
    port: read[`${prefix}_PORT`] as number,
    users: resolveUsers({
      lists: [own, ...(options.lists ?? [])],
      file: e.USERS_FILE,
      production: options.production,
    }),
  };
}

/**
 * `<PREFIX>_QUEUE_URL`, `MSGQUEUE_PORT`, `<PREFIX>_QUEUE_USER` and `<PREFIX>_QUEUE_PASSWORD`:
 * a service's hop to the msgqueue. Unset, the URL is the msgqueue on this machine at
 * MSGQUEUE_PORT, as `pnpm start` would dial it; a list is the msgqueue nodes of a cluster,
 * failed over in turn.
 */
export function queueHopEnv<P extends string>(prefix: P): QueueHopEnv<P> {
  return {
    [`${prefix}_QUEUE_URL`]: optionalWssUrls(),
    MSGQUEUE_PORT: port(8080),
    [`${prefix}_QUEUE_USER`]: z.string().default(DEV_USER.user),
    [`${prefix}_QUEUE_PASSWORD`]: z.string().default(DEV_USER.password),
  } as QueueHopEnv<P>;
}

/** The hop `queueHopEnv(prefix)` configures, to the endpoint at `path` when no URL is set. */
export function queueHop<P extends string>(prefix: P, e: Values<QueueHopEnv<P>>, path: string): QueueHop {
  const read = e as unknown as Readonly<Record<string, unknown>>;
  const urls = read[`${prefix}_QUEUE_URL`] as readonly string[] | undefined;
  return {
    urls: urls ?? [`wss://localhost:${read.MSGQUEUE_PORT as number}${path}`],
    user: read[`${prefix}_QUEUE_USER`] as string,
    password: read[`${prefix}_QUEUE_PASSWORD`] as string,
  };
}
