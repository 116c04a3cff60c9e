/** What the fan-out scenario needs from a system under test, whichever it is. */
import { once } from 'node:events';
import { get } from 'node:https';
import { setTimeout as delay } from 'node:timers/promises';
import { warningsOf, type TsChild } from '../process.js';
import type { Publisher } from './publish.js';
import { MEMORY_PREFIX, type System } from './types.js';

export interface ServerUnderTest {
  readonly system: System;
  /** The process that does the fan-out: its memory and open-files limit are what count. */
  readonly fanout: TsChild;
  /** Every server process of the system (ours: msgqueue, publisher, subscriber): CPU per delivery counts them all. */
  readonly processes: readonly TsChild[];
  /** Where the sinks connect. */
  readonly sinkPort: number;
  /** Facts worth keeping with the results (settings, ports). */
  readonly settings: Record<string, unknown>;
  openPublisher(): Promise<Publisher>;
  /** Log lines at warn or above and stderr lines that no normal run prints. */
  unexpectedLines(): string[];
  stop(): Promise<void>;
}

const READY_TIMEOUT_MS = 30_000;

/** Waits until GET /ready on the port answers 200 (the service reached its upstream hop). */
export async function waitReady(port: number, ca: string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    const req = get({ host: '127.0.0.1', port, path: '/ready', ca, timeout: 1_000 });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    try {
      const [res] = (await once(req, 'response')) as [{ statusCode?: number; resume(): void }];
      res.resume();
      if (res.statusCode === 200) return;
    } catch {
      // Not listening yet or refused: try again until the deadline.
    } finally {
      req.destroy();
    }
    await delay(100);
  }
  throw new Error(`port ${port} not ready within ${READY_TIMEOUT_MS} ms`);
}

/** Warn-or-worse log lines not matching `expected`, and stderr lines other than memory reports. */
export function unexpectedLines(child: TsChild, expected: readonly RegExp[]): string[] {
  const logged = warningsOf(child, expected);
  const stderr = child.stderr.filter((line) => !line.startsWith(MEMORY_PREFIX));
  return [...logged, ...stderr].map((line) => `${child.name}: ${line}`);
}
