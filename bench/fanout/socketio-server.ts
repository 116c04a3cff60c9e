/** Starts the Socket.IO peer (socketio-main.ts) as a process, with the memory probe preloaded. */
import { TsChild, unexpectedLines } from '../process.js';
import { listeningPort } from '../services.js';
import { MEMORY_PROBE_ARGS } from './memory.js';
import { openSocketIoPublisher } from './publish.js';
import type { ServerUnderTest } from './types.js';

export async function startSocketIo(options: { certDir: string; ca: string }): Promise<ServerUnderTest> {
  const child = new TsChild(
    'socket.io',
    { entry: 'bench/fanout/socketio-main.ts', nodeArgs: MEMORY_PROBE_ARGS },
    { WS_CERT_DIR: options.certDir },
  );
  try {
    const port = await listeningPort(child);
    return {
      system: 'socket.io',
      fanout: child,
      processes: [child],
      sinkPort: port,
      settings: { port, transports: ['websocket'], perMessageDeflate: false },
      openPublisher: () => openSocketIoPublisher(port, options.ca),
      unexpectedLines: () => unexpectedLines(child, []).map((line) => `${child.name}: ${line}`),
      stop: async () => void (await child.stop()),
    };
  } catch (err) {
    await child.stop('SIGKILL');
    throw err;
  }
}
