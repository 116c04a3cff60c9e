import type { Logger } from '@pubsub/log';
import closeWithGrace from 'close-with-grace';
import type { ServiceHandle } from './handle.js';

export interface RunServiceOptions {
  logger: Logger;
  /** The service's own drain deadline; the process is killed a little after it. */
  shutdownTimeoutMs: number;
  start: () => Promise<ServiceHandle>;
}

/**
 * The body of every `main.ts`: starts the service and closes it gracefully on SIGTERM/SIGINT
 * (exit 0) or on an uncaught error (exit 1). A second signal exits at once.
 */
export async function runService(options: RunServiceOptions): Promise<void> {
  const { logger: log } = options;
  let service: ServiceHandle | undefined;
  // Installed before start() so that a signal during startup still shuts down in order.
  closeWithGrace(
    {
      delay: options.shutdownTimeoutMs + 2_000,
      logger: { error: (message: unknown) => log.error({ detail: message }, 'forced exit') },
    },
    async ({ signal, err }) => {
      if (err) log.error({ err }, 'fatal error, shutting down');
      else log.info({ signal }, 'shutting down');
      await service?.close();
    },
  );
  try {
    service = await options.start();
  } catch (err) {
    log.fatal({ err: (err as Error).message }, 'cannot start');
    process.exit(1);
  }
}
