import { isAbsolute, relative, resolve } from 'node:path';

export interface BannerFacts {
  readonly root: string;
  /** Where the user's shell is (pnpm runs scripts in the root and says where it was started). */
  readonly cwd: string;
  readonly ports: { readonly msgqueue: number; readonly publisher: number; readonly subscriber: number };
  /** The gRPC listeners' ports, for those that have one. */
  readonly grpcPorts?: { readonly publisher: number | undefined; readonly subscriber: number | undefined };
  readonly caFile: string;
  /** clientdemo's own default CA: only a different one needs `--ca`. */
  readonly defaultCaFile: string;
  readonly devUser: boolean;
  /** The launcher made the AUTH_TOKEN_SECRET the publisher and subscriber share for this run. */
  readonly sharedTokenSecret: boolean;
}

/** clientdemo's default endpoints (clientdemo/src/options.ts): other ports need the options. */
const DEFAULT_PORTS = { publisher: 8081, subscriber: 8082 };
const DEFAULT_GRPC_PORTS = { publisher: 8091, subscriber: 8092 };

const quote = (word: string) => (/^[\w./:=@-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`);

/** What `pnpm start` prints once the suite is up: where it is and commands that work as shown. */
export function banner(facts: BannerFacts): string {
  const { ports } = facts;
  const publishUrl = `wss://localhost:${ports.publisher}/publish`;
  const subscribeUrl = `wss://localhost:${ports.subscriber}/subscribe`;
  const cli = relative(facts.cwd, resolve(facts.root, 'clientdemo/bin/clientdemo'));
  const command = isAbsolute(cli) || cli.startsWith('..') ? cli : `./${cli}`;
  const common = resolve(facts.caFile) === resolve(facts.defaultCaFile) ? [] : ['--ca', facts.caFile];
  const publishOptions = ports.publisher === DEFAULT_PORTS.publisher ? [] : ['--publish-url', publishUrl];
  const subscribeOptions = ports.subscriber === DEFAULT_PORTS.subscriber ? [] : ['--subscribe-url', subscribeUrl];
  // The console publishes through the publisher, on another port: the page is told which.
  const consoleUrl = `https://localhost:${ports.subscriber}/console/${
    ports.publisher === DEFAULT_PORTS.publisher ? '' : `?publisher=https://localhost:${ports.publisher}`
  }`;
  const line = (args: string[]) => [command, ...args].map(quote).join(' ');
  const users = facts.devUser
    ? '    user       hello / test  (development default: set USERS_FILE, or PUBLISHER_USERS and SUBSCRIBER_USERS)\n'
    : '';
  const tokens = facts.sharedTokenSecret
    ? '    tokens     one random AUTH_TOKEN_SECRET for this run: sign-ins end when it stops\n'
    : '';
  const grpc = grpcLines(facts, { line, common });
  const credentials = facts.devUser ? '' : '    (with your users: add --user <name> --password <password>)\n';
  return `
  pub/sub suite running (Ctrl-C stops it)
    publish    ${publishUrl}
    subscribe  ${subscribeUrl}
    console    ${consoleUrl}  (in a browser; trust the CA file first)
    msgqueue   wss://localhost:${ports.msgqueue}  (/pushmsg, /popmsg: services only)
    CA file    ${facts.caFile}
${grpc.listeners}${users}${tokens}
  In another terminal, from ${facts.cwd}:
    ${line(['subscribe', ...subscribeOptions, ...common, 'news'])}
    ${line(['publish', ...publishOptions, ...common, 'news', 'hello there'])}
    ${line([...publishOptions, ...subscribeOptions, ...common])}   # interactive: type help
${grpc.commands}${credentials}
`;
}

/** The gRPC listeners and a clientdemo command for each, when there are any. */
function grpcLines(
  facts: BannerFacts,
  { line, common }: { line: (args: string[]) => string; common: string[] },
): { listeners: string; commands: string } {
  const { publisher, subscriber } = facts.grpcPorts ?? {};
  const listeners = [
    publisher === undefined ? '' : `publisher localhost:${publisher}`,
    subscriber === undefined ? '' : `subscriber localhost:${subscriber}`,
  ].filter(Boolean);
  if (listeners.length === 0) return { listeners: '', commands: '' };
  const option = (name: string, port: number, fallback: number) =>
    port === fallback ? [] : [`--grpc-${name}`, `localhost:${port}`];
  const commands = [
    subscriber === undefined
      ? ''
      : `    ${line(['grpc-subscribe', ...option('subscriber', subscriber, DEFAULT_GRPC_PORTS.subscriber), ...common, 'news'])}\n`,
    publisher === undefined
      ? ''
      : `    ${line(['grpc-publish', ...option('publisher', publisher, DEFAULT_GRPC_PORTS.publisher), ...common, 'news', 'hello there'])}\n`,
  ].join('');
  return { listeners: `    gRPC       ${listeners.join(', ')}  (pubsub.v1: docs/protocol.md, "gRPC")\n`, commands };
}
