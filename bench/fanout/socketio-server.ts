/** Starts the Socket.IO peer (socketio-main.ts) as a process, with the memory probe preloaded. */
import { TsChild } from '../process.js';
import { track } from './children.js';
import { MEMORY_PROBE_ARGS } from './memory.js';
import { openSocketIoPublisher } from './publish.js';
import { listeningPort } from '../services.js';
import { unexpectedLines, type ServerUnderTest } from './server.js';

export async function startSocketIo(options: { certDir: string; ca: string }): Promise<ServerUnderTest> {
  const child = new TsChild(
    'socket.io',
    { entry: 'bench/fanout/socketio-main.ts', nodeArgs: MEMORY_PROBE_ARGS },
    { WS_CERT_DIR: options.certDir },
  );
  track(child.child);
  try {
    const port = await listeningPort(child);
    return {
      system: 'socket.io',
      fanout: child,
      processes: [child],
      sinkPort: port,
      settings: { port, transports: ['websocket'], perMessageDeflate: false },
      openPublisher: () => openSocketIoPublisher(port, options.ca),
      unexpectedLines: () => unexpectedLines(child, []),
      stop: async () => void (await child.stop()),
    };
  } catch (err) {
    await child.stop('SIGKILL');
    throw err;
  }
}
