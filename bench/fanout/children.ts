import type { ChildProcess } from 'node:child_process';

const live = new Set<ChildProcess>();
let hooked = false;

/**
 * Every child this module starts is registered here: should the driver exit without stopping
 * them (an uncaught error, process.exit in a signal handler), they are killed on the way out
 * instead of holding thousands of sockets and a port.
 */
export function track(child: ChildProcess): void {
  live.add(child);
  child.once('exit', () => live.delete(child));
  if (!hooked) {
    hooked = true;
    process.on('exit', () => {
      for (const running of live) running.kill('SIGKILL');
    });
  }
}
