import { readFile } from 'node:fs/promises';

/** How often the peak is sampled: a backlog's memory would show within a few samples. */
const SAMPLE_MS = 25;

/** VmRSS of a process in bytes, from /proc/<pid>/status; undefined off Linux or once it exited. */
export async function rssOf(pid: number): Promise<number | undefined> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const kb = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1];
    return kb === undefined ? undefined : Number(kb) * 1024;
  } catch {
    return undefined;
  }
}

/** The highest VmRSS of a process between start and `stop()`, sampled every SAMPLE_MS. */
export class RssPeak {
  readonly #pid: number;
  readonly #timer: NodeJS.Timeout;
  peak = 0;
  samples = 0;

  constructor(pid: number) {
    this.#pid = pid;
    this.#timer = setInterval(() => void this.sample(), SAMPLE_MS);
  }

  async sample(): Promise<void> {
    const rss = await rssOf(this.#pid);
    if (rss === undefined) return;
    this.samples++;
    this.peak = Math.max(this.peak, rss);
  }

  /** Stops sampling after one last sample; the peak seen. */
  async stop(): Promise<number> {
    clearInterval(this.#timer);
    await this.sample();
    return this.peak;
  }
}
