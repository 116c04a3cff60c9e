import type { ServerFrame } from '@pubsub/protocol';
import { randomUUID } from 'node:crypto';
import { clearLine, createInterface, cursorTo, type Interface } from 'node:readline';
import { Connection, ConnectError, type Endpoint, endpoints } from './connection.js';
import { formatClose, formatDelivery, formatError, formatPublished, type Printer, stdioPrinter } from './format.js';
import type { ConnectionSettings } from './options.js';
import { PublishClient } from './publish-client.js';
import { type CommandReply, SubscribeClient } from './subscribe-client.js';

export const INVALID_SYNTAX = 'Invalid syntax, correct one: <topic> <message> | sub <topic> | unsub <topic> | exit';

/** Opens both connections; if either fails, closes the other and reports every failure. */
async function openBoth(publish: Endpoint, subscribe: Endpoint): Promise<[Connection, Connection]> {
  const [pub, sub] = await Promise.allSettled([Connection.open(publish), Connection.open(subscribe)]);
  if (pub.status === 'fulfilled' && sub.status === 'fulfilled') return [pub.value, sub.value];
  const failures: string[] = [];
  for (const result of [pub, sub]) {
    if (result.status === 'fulfilled') await result.value.close();
    else failures.push((result.reason as Error).message);
  }
  throw new ConnectError(failures.join('\n'));
}

/** On a terminal, output goes above the prompt and the line being typed is redrawn after it. */
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

function printReply(printer: Printer, reply: CommandReply | undefined): void {
  if (reply?.type === 'subscribed') printer.out(`subscribed to ${reply.topic}`);
  else if (reply?.type === 'unsubscribed') printer.out(`unsubscribed from ${reply.topic}`);
  else if (reply?.type === 'error') printer.err(formatError(reply));
}

/**
 * The original clientdemo's console: each stdin line is `<topic> <message>`, `sub <topic>`,
 * `unsub <topic>` or `exit`. Exit code 0 on `exit`, end of input or a signal (after the replies
 * to everything already sent), 1 when a server closes a connection.
 */
export async function runInteractive(context: { settings: ConnectionSettings }): Promise<number> {
  const { publish, subscribe } = await endpoints(context.settings);
  const [pubConnection, subConnection] = await openBoth(publish, subscribe);

  const tty = process.stdin.isTTY === true;
  const rl = createInterface({
    input: process.stdin,
    terminal: tty,
    ...(tty ? { output: process.stdout, prompt: '> ' } : {}),
  });
  let reading = true;
  const printer = tty ? promptPrinter(rl, () => reading) : stdioPrinter;

  let finish!: (code: number) => void;
  const done = new Promise<number>((resolveDone) => (finish = resolveDone));
  const printStray = (frame: ServerFrame | undefined, text: string) => {
    if (frame?.type === 'error') printer.err(formatError(frame));
    else printer.err(`unexpected frame: ${text}`);
  };
  const publisher = new PublishClient(pubConnection, printStray);
  const subscriber = new SubscribeClient(subConnection, {
    onDelivery: (text, delivery) => printer.out(formatDelivery(text, delivery)),
    onStray: printStray,
  });
  for (const connection of [pubConnection, subConnection]) {
    void connection.closed.then((info) => {
      if (info.requested) return;
      printer.err(formatClose(connection.url, info));
      finish(1);
    });
  }

  /** `exit` or end of input: stop reading, then wait for the replies still due. */
  const quit = () => {
    if (!reading) return;
    reading = false;
    rl.close();
    void Promise.all([publisher.drained(), subscriber.drained()]).then(() => finish(0));
  };

  const handleLine = (line: string) => {
    if (line.trim() === 'exit') {
      quit();
      return;
    }
    const space = line.indexOf(' ');
    if (space < 0) {
      printer.err(INVALID_SYNTAX);
      return;
    }
    const first = line.slice(0, space);
    const rest = line.slice(space + 1);
    if (first === 'sub' || first === 'unsub') {
      void subscriber.command(first, rest).then((reply) => printReply(printer, reply));
      return;
    }
    void publisher.publish({ topic: first, content: JSON.stringify(rest), id: randomUUID() }).then((reply) => {
      if (reply?.type === 'ack') printer.out(formatPublished(first, rest));
      else if (reply?.type === 'error') printer.err(formatError(reply));
    });
  };

  rl.on('line', (line) => {
    // Lines already buffered are still emitted after close().
    if (!reading) return;
    handleLine(line);
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
    await Promise.all([pubConnection.close(), subConnection.close()]);
  }
}
