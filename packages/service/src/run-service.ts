import { flushStdout, type Logger } from '@pubsub/log';
import closeWithGrace from 'close-with-grace';
import { constants } from 'node:os';
import type { ServiceHandle } from './handle.js';

export interface RunServiceOptions {
  logger: Logger;
  /** The service's own drain deadline; the process is killed a little after it. */
  shutdownTimeoutMs: number;
  start: () => Promise<ServiceHandle>;
}

/** The stop signals handled here; close-with-grace handles the others (SIGHUP, …) itself. */
const STOP_SIGNALS = ['SIGTERM', 'SIGINT'] as const;
/**
 * Signals Node already listens to when the service starts: its diagnostics
 * (`--heapsnapshot-signal`, `--report-on-signal`, SIGUSR2 unless told otherwise). An operator who
 * sends one wants a heap snapshot or a report from the running service, not a stop.
 */
function diagnosticSignals(): closeWithGrace.AllEvents[] {
  // Names close-with-grace does not handle are ignored in its `skip`, so any listened-to signal may go there.
  return Object.keys(constants.signals).filter(
    (signal): signal is closeWithGrace.AllEvents => process.listenerCount(signal) > 0,
  );
}

/**
 * The same signal again within this is the same stop: a signal sent to a whole process group
 * (systemd, `kill -- -<pgid>`) reaches the service and also its `npx`/`pnpm`/`tsx` wrappers, and
 * tsx passes it on, so it can arrive twice.
 */
const DUPLICATE_SIGNAL_MS = 1_000;
/**
 * The longest wait for the last log lines to leave before exiting: inside the 2 s between the
 * drain deadline and the forced exit, so a reader that stopped (a full pipe) cannot hold the exit.
 */
const LOG_FLUSH_MS = 1_000;

/**
 * The body of every `main.ts`: starts the service and closes it gracefully on SIGTERM/SIGINT
 * (exit 0) or on an uncaught error (exit 1). A second signal exits at once with 1, unless it
 * repeats the first within a second.
 */
export async function runService(options: RunServiceOptions): Promise<void> {
  const { logger: log } = options;
  let service: ServiceHandle | undefined;
  // Installed before start() so that a signal during startup still shuts down in order.
  const grace = closeWithGrace(
    {
      delay: options.shutdownTimeoutMs + 2_000,
      logger: { error: (message: unknown) => log.error({ detail: message }, 'forced exit') },
      skip: [...STOP_SIGNALS, ...diagnosticSignals()],
    },
    async ({ signal, err }) => {
      if (err) log.error({ err }, 'fatal error, shutting down');
      else if (signal !== undefined) log.info({ signal }, 'shutting down');
      await service?.close();
      await flushStdout(LOG_FLUSH_MS);
    },
  );
  let first: { signal: NodeJS.Signals; at: number } | undefined;
  for (const signal of STOP_SIGNALS) {
    process.on(signal, () => {
      if (first === undefined) {
        first = { signal, at: Date.now() };
        log.info({ signal }, 'shutting down');
        void grace.close();
      } else if (signal !== first.signal || Date.now() - first.at > DUPLICATE_SIGNAL_MS) {
        log.error({ signal }, 'second signal, exiting');
        process.exit(1);
      }
    });
  }
  try {
    service = await options.start();
  } catch (err) {
    log.fatal({ err }, 'cannot start');
    await flushStdout(LOG_FLUSH_MS);
    process.exit(1);
  }
}
