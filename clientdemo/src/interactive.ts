import type { ServerFrame } from '@pubsub/protocol';
import { randomUUID } from 'node:crypto';
import { clearLine, createInterface, cursorTo, type Interface } from 'node:readline';
import { endpoints } from './connection.js';
import {
  formatDelivery,
  formatError,
  formatPublished,
  formatSubscribed,
  type Printer,
  stdioPrinter,
} from './format.js';
import { HELP, type InteractiveCommand, parseLine } from './interactive-commands.js';
import type { ConnectionSettings } from './options.js';
import { Redialer } from './redial.js';
import { ReliablePublisher } from './reliable-publisher.js';
import type { CommandReply } from './subscribe-client.js';
import { Subscriptions } from './subscriptions.js';

/**
 * On a terminal, output goes above the prompt: the line being typed is cleared, the output
 * printed, and the prompt with what was typed drawn again, so acks and deliveries never land in
 * the middle of it.
 */
function promptPrinter(rl: Interface, isReading: () => boolean): Printer {
  const write = (stream: NodeJS.WriteStream, line: string) => {
    if (!isReading()) {
      stream.write(`${line}\n`);
      return;
    }
    clearLine(process.stdout, 0);
    cursorTo(process.stdout, 0);
    stream.write(`${line}\n`);
    rl.prompt(true);
  };
  return { out: (line) => write(process.stdout, line), err: (line) => write(process.stderr, line) };
}

function printReply(printer: Printer, reply: CommandReply): void {
  if (reply.type === 'subscribed') printer.out(formatSubscribed(reply));
  else if (reply.type === 'unsubscribed') printer.out(`unsubscribed from ${reply.topic}`);
  else printer.err(formatError(reply));
}

/**
 * The original clientdemo's console, which also survives restarts: each stdin line is a command
 * (`help` lists them). Both connections are redialed whenever they drop; unacknowledged publishes
 * are sent again with their ids and each subscription resumes after the last seq it delivered.
 * Exit code 0 on `exit`, end of input or a signal (after the replies to everything already sent);
 * 1 when an endpoint is not connected at the end (messages may be left unacknowledged).
 */
export async function runInteractive(context: { settings: ConnectionSettings }): Promise<number> {
  const { publish, subscribe } = await endpoints(context.settings);

  const tty = process.stdin.isTTY === true;
  // What the dialers say before the prompt exists goes straight out; above the prompt after.
  let output: Printer = stdioPrinter;
  const printer: Printer = { out: (line) => output.out(line), err: (line) => output.err(line) };
  const printStray = (frame: ServerFrame | undefined, text: string) => {
    if (frame?.type === 'error') printer.err(formatError(frame));
    else printer.err(`unexpected frame: ${text}`);
  };

  const publisher = new ReliablePublisher(printStray);
  const subscriptions = new Subscriptions({
    onDelivery: (text, delivery) => printer.out(formatDelivery(text, delivery)),
    onReply: (reply) => printReply(printer, reply),
    onResubscribeLost: (topic) => printer.err(`lost the connection before ${topic} was subscribed again; trying again`),
    onStray: printStray,
  });
  if (tty) {
    printer.out(`clientdemo: publishing to ${publish.url}, subscribing at ${subscribe.url}`);
    printer.out('Type "help" for the commands, "exit" or Ctrl-D to quit.');
  }
  const dialers = [
    new Redialer(publish, { printer, onOpen: (connection) => publisher.attach(connection) }),
    new Redialer(subscribe, { printer, onOpen: (connection) => subscriptions.attach(connection) }),
  ];
  // Lines are read only once each endpoint is connected or reported down, so the first commands
  // go out on the connections rather than waiting for the next.
  await Promise.all(dialers.map((dialer) => dialer.firstAttempt()));

  const rl = createInterface({
    input: process.stdin,
    terminal: tty,
    ...(tty ? { output: process.stdout, prompt: '> ' } : {}),
  });
  let reading = true;
  if (tty) output = promptPrinter(rl, () => reading);

  let finish!: (code: number) => void;
  const done = new Promise<number>((resolveDone) => (finish = resolveDone));

  /** `exit` or end of input: stop reading, then wait for the replies still due. */
  const quit = () => {
    if (!reading) return;
    reading = false;
    rl.close();
    if (publisher.pending > 0 && !publisher.connected) {
      printer.err(`${publisher.pending} message(s) not acknowledged: the publisher is not connected`);
      finish(1);
      return;
    }
    void Promise.all([publisher.drained(), subscriptions.drained()]).then(() => {
      const down = dialers.filter((dialer) => dialer.connection === undefined);
      for (const dialer of down) printer.err(`not connected to ${dialer.endpoint.url} at the end`);
      finish(down.length === 0 ? 0 : 1);
    });
  };

  const run = (command: InteractiveCommand) => {
    switch (command.kind) {
      case 'empty':
        return;
      case 'exit':
        quit();
        return;
      case 'help':
        printer.out(HELP);
        return;
      case 'invalid':
        printer.err(command.message);
        return;
      case 'sub':
        if (!subscriptions.connected) printer.err(`not connected to ${subscribe.url}: subscribing once it is back`);
        void subscriptions.sub(command.topic, command.resume);
        return;
      case 'unsub':
        if (!subscriptions.has(command.topic)) {
          printer.err(`not subscribed to ${command.topic}`);
          return;
        }
        void subscriptions.unsub(command.topic).then((reply) => {
          if (reply === undefined)
            printer.out(`unsubscribed from ${command.topic} (not connected: not subscribed again)`);
        });
        return;
      case 'pub':
        if (!publisher.connected) printer.err(`not connected to ${publish.url}: sending once it is back`);
        void publisher.publish({ topic: command.topic, content: command.content, id: randomUUID() }).then((reply) => {
          if (reply.type === 'ack') printer.out(formatPublished(command.topic, command.message, reply));
          else printer.err(formatError(reply));
        });
        return;
    }
  };

  rl.on('line', (line) => {
    // Lines already buffered are still emitted after close().
    if (!reading) return;
    run(parseLine(line));
    if (reading && tty) rl.prompt();
  });
  rl.on('close', quit);
  const interrupt = () => finish(0);
  rl.on('SIGINT', interrupt);
  process.once('SIGINT', interrupt);
  process.once('SIGTERM', interrupt);
  if (tty) rl.prompt();

  try {
    return await done;
  } finally {
    reading = false;
    rl.close();
    // A paused stdin pipe still holds the event loop open; nothing more is read from it.
    process.stdin.destroy();
    process.off('SIGINT', interrupt);
    process.off('SIGTERM', interrupt);
    await Promise.all(dialers.map((dialer) => dialer.close()));
  }
}
