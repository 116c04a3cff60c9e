import { type Command, InvalidArgumentError, Option } from 'commander';
import { fileURLToPath } from 'node:url';

/** The repository's development certificate, found from this file so any working directory works. */
export const DEFAULT_CA_FILE = fileURLToPath(new URL('../../certs/server.crt', import.meta.url));

/** Where and as whom to connect; every command takes these. */
export interface ConnectionSettings {
  readonly publishUrl: string;
  readonly subscribeUrl: string;
  readonly user: string;
  readonly password: string;
  readonly caFile: string;
}

/** Accepts only `wss://` URLs: the services speak TLS only and clientdemo always verifies it. */
export function parseWssUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InvalidArgumentError(`not a URL: ${value}`);
  }
  if (url.protocol !== 'wss:') throw new InvalidArgumentError(`expected a wss:// URL, got ${value}`);
  return value;
}

/** Basic Auth cannot carry a colon in the user name. */
export function parseUser(value: string): string {
  if (value === '' || value.includes(':')) throw new InvalidArgumentError('must be non-empty and contain no ":"');
  return value;
}

export function parsePositiveInt(value: string): number {
  const n = /^\d+$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer');
  return n;
}

/** A seq to resume after: a whole number, 0 for "from the start of what is retained". */
export function parseSeq(value: string): number {
  const n = /^\d+$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n)) throw new InvalidArgumentError('must be a whole number (a seq)');
  return n;
}

/** Adds the connection options, each with an environment variable fallback and a default. */
export function addConnectionOptions(program: Command): Command {
  return program
    .addOption(
      new Option('--publish-url <url>', 'publisher endpoint')
        .env('CLIENTDEMO_PUBLISH_URL')
        .default('wss://localhost:8081/publish')
        .argParser(parseWssUrl),
    )
    .addOption(
      new Option('--subscribe-url <url>', 'subscriber endpoint')
        .env('CLIENTDEMO_SUBSCRIBE_URL')
        .default('wss://localhost:8082/subscribe')
        .argParser(parseWssUrl),
    )
    .addOption(
      new Option('--user <name>', 'Basic Auth user').env('CLIENTDEMO_USER').default('hello').argParser(parseUser),
    )
    .addOption(new Option('--password <password>', 'Basic Auth password').env('CLIENTDEMO_PASSWORD').default('test'))
    .addOption(
      new Option('--ca <file>', 'PEM file of the CA that signed the server certificate')
        .env('WS_CA_FILE')
        .default(DEFAULT_CA_FILE, 'certs/server.crt in this repository'),
    );
}

/** Reads the connection options from any command of the program. */
export function connectionSettings(command: Command): ConnectionSettings {
  const opts = command.optsWithGlobals<{
    publishUrl: string;
    subscribeUrl: string;
    user: string;
    password: string;
    ca: string;
  }>();
  return {
    publishUrl: opts.publishUrl,
    subscribeUrl: opts.subscribeUrl,
    user: opts.user,
    password: opts.password,
    caFile: opts.ca,
  };
}

/** A gRPC target, `host:port` (`[::1]:8092` for an IPv6 address); TLS is always on. */
export function parseGrpcTarget(value: string): string {
  if (!/^(\[[0-9a-fA-F:.]+\]|[^\s:/[\]]+):\d{1,5}$/.test(value)) {
    throw new InvalidArgumentError(`expected host:port, e.g. localhost:8092, got ${value}`);
  }
  return value;
}

/** `--grpc-subscriber` or `--grpc-publisher`, with its environment variable and default port. */
export function grpcTargetOption(service: 'subscriber' | 'publisher', port: number): Option {
  return new Option(`--grpc-${service} <host:port>`, `the ${service}'s gRPC service`)
    .env(`CLIENTDEMO_GRPC_${service.toUpperCase()}`)
    .default(`localhost:${port}`)
    .argParser(parseGrpcTarget);
}
