import { loadConfigOrExit } from '@pubsub/config';
import { createLogger } from '@pubsub/log';
import { runService } from '@pubsub/service';
import { loadConfig, start } from './server.js';

const config = loadConfigOrExit(() => loadConfig(process.env));
const logger = createLogger({ service: 'bridge', level: config.logLevel });
await runService({ logger, shutdownTimeoutMs: config.shutdownTimeoutMs, start: () => start(config, { logger }) });
