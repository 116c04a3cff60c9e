/**
 * A sink process, forked by sinks.ts with an IPC channel: holds raw client sockets to one or both
 * systems and counts what arrives on them (see raw-client.ts). It answers commands from the
 * driver and exits when the driver goes away, so it can never outlive a run.
 */
import { createSecureContext, type TLSSocket } from 'node:tls';
import { openRawClient } from './raw-client.js';
import { Tally } from './tally.js';
import { monotonicMs } from '../stats.js';
import type { CountResult, OpenResult, SinkCommand, SinkReply, SinkRequest, SinkTarget, System } from './types.js';

const MAX_ERRORS = 5;
/** Room for what TLS hands over in one go: it decrypts record by record, 16 KiB of plaintext at most. */
const READ_BUFFER_BYTES = 64 * 1024;
const readBuffer = Buffer.allocUnsafe(READ_BUFFER_BYTES);

const tallies = new Map<System, Tally>();
const sockets: TLSSocket[] = [];

function tallyOf(system: System): Tally {
  let tally = tallies.get(system);
  if (tally === undefined) tallies.set(system, (tally = new Tally()));
  return tally;
}

/** Opens `count` sockets with at most `inFlight` handshakes at a time. */
async function open(target: SinkTarget, count: number, inFlight: number): Promise<OpenResult> {
  const context = { secureContext: createSecureContext({ ca: target.ca }), tally: tallyOf(target.system), readBuffer };
  const errors = new Set<string>();
  let started = 0;
  let opened = 0;
  let failed = 0;
  const startedAt = monotonicMs();
  let finishedAt = startedAt;
  const worker = async () => {
    while (started < count) {
      started++;
      try {
        sockets.push(await openRawClient(target, context));
        opened++;
        finishedAt = monotonicMs();
      } catch (err) {
        failed++;
        if (errors.size < MAX_ERRORS) errors.add((err as Error).message);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, count) }, worker));
  return { opened, failed, errors: [...errors], startedAt, finishedAt };
}

async function run(command: SinkCommand): Promise<OpenResult | CountResult | undefined> {
  switch (command.op) {
    case 'open':
      return open(command.target, command.count, command.inFlight);
    case 'expect':
      tallyOf(command.system).reset(command.messages);
      return undefined;
    case 'count':
      return tallyOf(command.system).result();
    case 'close':
      for (const socket of sockets) socket.destroy();
      sockets.length = 0;
      return undefined;
  }
}

function reply(message: SinkReply): void {
  process.send?.(message);
}

process.on('message', (request: SinkRequest) => {
  run(request).then(
    (result) => reply(result === undefined ? { id: request.id, ok: true } : { id: request.id, ok: true, result }),
    (err: unknown) => reply({ id: request.id, ok: false, error: (err as Error).message }),
  );
});
// Without the driver there is nobody to report to: 10k sockets must not linger.
process.on('disconnect', () => process.exit(0));
// Reply 0: listening for commands (a message sent before the listener exists would be lost).
reply({ id: 0, ok: true });
