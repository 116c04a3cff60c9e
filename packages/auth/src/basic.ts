import basicAuth from 'basic-auth';
import type { IncomingMessage } from 'node:http';
import type { UserTable } from './users.js';

/** The name of the authenticated user, or undefined when the credentials are missing or wrong. */
export async function authenticate(
  req: Pick<IncomingMessage, 'headers'>,
  users: UserTable,
): Promise<string | undefined> {
  const credentials = basicAuth.parse(req.headers.authorization ?? '');
  if (credentials === undefined) return undefined;
  return (await users.verify(credentials.name, credentials.pass)) ? credentials.name : undefined;
}

export function challengeHeader(realm: string): string {
  return `Basic realm="${realm}", charset="UTF-8"`;
}
