import { Command, CommanderError, Option } from 'commander';
import { readFileSync } from 'node:fs';
import { ConnectError } from './connection.js';
import { type Printer, stdioPrinter } from './format.js';
import { runInteractive } from './interactive.js';
import {
  addConnectionOptions,
  connectionSettings,
  grpcTargetOption,
  parsePositiveInt,
  parseSeq,
  parseWssUrl,
} from './options.js';
import { runPublish } from './publish.js';
import { runStreamCreate, runStreamDelete, runStreamFollow, runStreamList } from './stream.js';
import { runSubscribe } from './subscribe.js';

/** Exit code for a command line that could not be understood. */
export const USAGE_EXIT = 2;

const VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string })
  .version;

const EXAMPLES = `
Examples:
  clientdemo                                  interactive session (try: help, sub news, news hello, exit)
  clientdemo subscribe news sport --count 1   print one delivery, then exit
  clientdemo subscribe --from 41 news         replay what came after news #41, then go on
  clientdemo publish news hello there         publish the string "hello there"
  clientdemo publish --json news '{"n": 1}'   publish a JSON value
  date | clientdemo publish news -            publish what stdin holds
  clientdemo stream create news 'orders.*'    create a stream; prints its URL (the URL is the credential)
  clientdemo stream follow <url> --from 3     follow it with no credentials: what came after ordinal 3, then live
  clientdemo grpc-subscribe news              the same over gRPC (the subscriber's SUBSCRIBER_GRPC_PORT)
  clientdemo grpc-publish news hello          the same over gRPC (the publisher's PUBLISHER_GRPC_PORT)

Exit codes: 0 success, 1 error reply, connection failure or timeout, 2 usage error.`;

/** Runs a command; a connection that cannot be set up is reported, not thrown. */
async function guard(printer: Printer, job: () => Promise<number>): Promise<number> {
  try {
    return await job();
  } catch (err) {
    if (!(err instanceof ConnectError)) throw err;
    printer.err(err.message);
    return 1;
  }
}

/** `publish <topic> -`: the message is all of stdin, less one trailing newline. */
async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

function parseJsonContent(text: string, command: Command): string {
  try {
    JSON.parse(text);
  } catch (err) {
    command.error(`error: --json: the message is not valid JSON (${(err as Error).message})`, {
      code: 'clientdemo.invalidJson',
    });
  }
  return text.trim();
}

function buildProgram(printer: Printer, setExitCode: (code: number) => void): Command {
  const program = new Command('clientdemo')
    .description(
      'Publish and subscribe through the pub/sub services over verified TLS.\n' +
        'With no command, starts an interactive session reading commands from stdin.',
    )
    .version(VERSION)
    .exitOverride()
    .showHelpAfterError('(run clientdemo --help for usage)')
    .configureHelp({ showGlobalOptions: true })
    .addHelpText('after', EXAMPLES);
  addConnectionOptions(program);
  const interactive = async (command: Command) => {
    setExitCode(await guard(printer, () => runInteractive({ settings: connectionSettings(command) })));
  };

  const interactiveCommand = program
    .command('interactive')
    .description('the default: read commands from stdin ("help" lists them); reconnects and resumes');
  interactiveCommand.action(() => interactive(interactiveCommand));

  const publish = program
    .command('publish')
    .description('publish one message and wait until the publisher acknowledges it')
    .argument('<topic>', 'topic to publish to')
    .argument('<message...>', 'the message; words are joined with spaces ("-": read it from stdin)')
    .option('--json', 'send the message as JSON content instead of a string')
    .option('--id <id>', 'message id (default: a random UUID); a resend with the same id is stored once')
    .addOption(
      new Option('--timeout <seconds>', 'give up (exit 1) after this long without an answer').argParser(
        parsePositiveInt,
      ),
    );
  publish.action(async (topic: string, words: string[]) => {
    const opts = publish.opts<{ json?: true; id?: string; timeout?: number }>();
    const message = words.length === 1 && words[0] === '-' ? await readStdin() : words.join(' ');
    const content = opts.json ? parseJsonContent(message, publish) : JSON.stringify(message);
    const request = {
      topic,
      content,
      ...(opts.id === undefined ? {} : { id: opts.id }),
      ...(opts.timeout === undefined ? {} : { timeoutSeconds: opts.timeout }),
    };
    setExitCode(await guard(printer, () => runPublish(request, { settings: connectionSettings(publish), printer })));
  });

  const subscribe = program
    .command('subscribe')
    .description('subscribe to topics and print each delivery as "<[topic] content"')
    .argument('<topic...>', 'topics to subscribe to')
    .addOption(new Option('--count <n>', 'exit after n deliveries').argParser(parsePositiveInt))
    .option('--json', 'print each delivery frame as received, one per line')
    .option('--reconnect', 'when the connection drops, reconnect and resume each topic after the last message received')
    .addOption(
      new Option('--from <seq>', 'first replay what came after this seq (exclusive), then go on').argParser(parseSeq),
    )
    .option('--epoch <epoch>', "with --from: the history that seq is from (a delivery's epoch)");
  subscribe.action(async (topics: string[]) => {
    const opts = subscribe.opts<{ count?: number; json?: true; reconnect?: true; from?: number; epoch?: string }>();
    if (opts.epoch !== undefined && opts.from === undefined) {
      subscribe.error('error: --epoch needs --from', { code: 'clientdemo.epochWithoutFrom' });
    }
    const resume =
      opts.from === undefined
        ? undefined
        : { from: opts.from, ...(opts.epoch === undefined ? {} : { epoch: opts.epoch }) };
    const request = {
      topics,
      count: opts.count,
      json: opts.json === true,
      reconnect: opts.reconnect === true,
      resume,
    };
    setExitCode(
      await guard(printer, () => runSubscribe(request, { settings: connectionSettings(subscribe), printer })),
    );
  });

  addStreamCommands(program, printer, setExitCode);

  const grpcSubscribe = program
    .command('grpc-subscribe')
    .description('subscribe over gRPC (Subscriber.Subscribe) and print each delivery as "<[topic #seq] content"')
    .argument('<topic...>', 'topics or patterns to subscribe to')
    .addOption(grpcTargetOption('subscriber', 8092))
    .addOption(new Option('--count <n>', 'exit after n deliveries').argParser(parsePositiveInt))
    .option('--json', 'print each delivery as the JSON of its Message')
    .addOption(
      new Option('--from <seq>', 'first replay what came after this seq (exclusive), then go on').argParser(parseSeq),
    )
    .option('--epoch <epoch>', "with --from: the history that seq is from (a delivery's epoch)");
  grpcSubscribe.action(async (topics: string[]) => {
    const opts = grpcSubscribe.opts<{
      grpcSubscriber: string;
      count?: number;
      json?: true;
      from?: number;
      epoch?: string;
    }>();
    if (opts.epoch !== undefined && opts.from === undefined) {
      grpcSubscribe.error('error: --epoch needs --from', { code: 'clientdemo.epochWithoutFrom' });
    }
    const resume =
      opts.from === undefined
        ? undefined
        : { from: opts.from, ...(opts.epoch === undefined ? {} : { epoch: opts.epoch }) };
    const request = { topics, count: opts.count, json: opts.json === true, resume };
    const settings = { target: opts.grpcSubscriber, connection: connectionSettings(grpcSubscribe) };
    // grpc-js is loaded for the gRPC commands only: it would slow every other start.
    const { runGrpcSubscribe } = await import('./grpc.js');
    setExitCode(await guard(printer, () => runGrpcSubscribe(request, { settings, printer })));
  });

  const grpcPublish = program
    .command('grpc-publish')
    .description('publish one message over gRPC (Publisher.Publish); answered once it is stored')
    .argument('<topic>', 'topic to publish to')
    .argument('<message...>', 'the message; words are joined with spaces ("-": read it from stdin)')
    .addOption(grpcTargetOption('publisher', 8091))
    .option('--json', 'send the message as JSON content instead of a string')
    .option('--id <id>', 'message id (default: one the publisher makes); a resend with the same id is stored once');
  grpcPublish.action(async (topic: string, words: string[]) => {
    const opts = grpcPublish.opts<{ grpcPublisher: string; json?: true; id?: string }>();
    const message = words.length === 1 && words[0] === '-' ? await readStdin() : words.join(' ');
    const content = opts.json ? parseJsonContent(message, grpcPublish) : JSON.stringify(message);
    const request = { topic, content, ...(opts.id === undefined ? {} : { id: opts.id }) };
    const settings = { target: opts.grpcPublisher, connection: connectionSettings(grpcPublish) };
    const { runGrpcPublish } = await import('./grpc.js');
    setExitCode(await guard(printer, () => runGrpcPublish(request, { settings, printer })));
  });

  // Without a command: the interactive session. Any operand left here names no command.
  program.allowExcessArguments().action(async () => {
    const [unknown] = program.args;
    if (unknown !== undefined) {
      program.error(`error: unknown command '${unknown}'`, { code: 'commander.unknownCommand' });
    }
    await interactive(program);
  });
  return program;
}

/** `stream create|list|delete|follow`: streams with capability URLs (docs/protocol.md). */
function addStreamCommands(program: Command, printer: Printer, setExitCode: (code: number) => void): void {
  const stream = program
    .command('stream')
    .description('create, list, delete and follow streams: URLs that are their own credential');
  const create = stream
    .command('create')
    .description('create a stream on topics or patterns and print its URL')
    .argument('<topic...>', 'topics and patterns of the stream');
  create.action(async (topics: string[]) => {
    const context = { settings: connectionSettings(create), printer };
    setExitCode(await guard(printer, () => runStreamCreate(topics, context)));
  });
  const list = stream.command('list').description("list this user's streams");
  list.action(async () => {
    setExitCode(await guard(printer, () => runStreamList({ settings: connectionSettings(list), printer })));
  });
  const remove = stream
    .command('delete')
    .description('delete a stream (its connections close, its URL answers 410)')
    .argument('<url>', "the stream's URL or id");
  remove.action(async (url: string) => {
    setExitCode(await guard(printer, () => runStreamDelete(url, { settings: connectionSettings(remove), printer })));
  });
  const follow = stream
    .command('follow')
    .description('print the deliveries of a stream URL as "#<ordinal> <[topic #seq] content", with no credentials')
    .argument('<url>', 'the wss:// URL `stream create` printed', parseWssUrl)
    .addOption(
      new Option('--from <ordinal>', 'first replay what came after this ordinal (exclusive), then go on').argParser(
        parseSeq,
      ),
    )
    .addOption(new Option('--count <n>', 'exit after n deliveries').argParser(parsePositiveInt))
    .option('--json', 'print each delivery frame as received, one per line')
    .option('--reconnect', 'when the connection drops, reconnect after the last ordinal received');
  follow.action(async (url: string) => {
    const opts = follow.opts<{ from?: number; count?: number; json?: true; reconnect?: true }>();
    const request = {
      url,
      from: opts.from,
      count: opts.count,
      json: opts.json === true,
      reconnect: opts.reconnect === true,
    };
    setExitCode(
      await guard(printer, () => runStreamFollow(request, { settings: connectionSettings(follow), printer })),
    );
  });
}

/** Parses `argv` (as process.argv) and runs the command; resolves with the exit code. */
export async function run(argv: readonly string[], printer: Printer = stdioPrinter): Promise<number> {
  let exitCode = 0;
  const program = buildProgram(printer, (code) => (exitCode = code));
  try {
    await program.parseAsync(argv);
  } catch (err) {
    // Commander has already printed its message; help and version end with exit code 0.
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : USAGE_EXIT;
    throw err;
  }
  return exitCode;
}
