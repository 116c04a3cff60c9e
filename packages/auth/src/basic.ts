import basicAuth from 'basic-auth';
import type { IncomingMessage } from 'node:http';
import type { UserTable } from './users.js';

/** Name and password from a Basic Authorization header. */
export interface Credentials {
  readonly name: string;
  readonly pass: string;
}

/** The Basic credentials of a request, or undefined when there are none or they are malformed. */
export function credentialsOf(req: Pick<IncomingMessage, 'headers'>): Credentials | undefined {
  return basicAuth.parse(req.headers.authorization ?? '');
}

/** The name of the authenticated user, or undefined when the credentials are missing or wrong. */
export async function authenticate(
  req: Pick<IncomingMessage, 'headers'>,
  users: UserTable,
): Promise<string | undefined> {
  const credentials = credentialsOf(req);
  if (credentials === undefined) return undefined;
  return (await users.verify(credentials.name, credentials.pass)) ? credentials.name : undefined;
}

export function challengeHeader(realm: string): string {
  return `Basic realm="${realm}", charset="UTF-8"`;
}
