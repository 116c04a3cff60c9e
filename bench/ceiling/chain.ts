import { TsChild } from '../process.js';
import { listeningPort } from '../services.js';
import type { Role, System } from '../systems.js';

/**
 * The bare chain as three processes: B first (A and C dial it, as our publisher and subscriber
 * dial the msgqueue), then A and C. Each prints its port in a `listening` line.
 */
export class CeilingChain implements System {
  readonly children: Record<Role, TsChild>;
  readonly publishPort: number;
  readonly subscribePort: number;

  private constructor(children: Record<Role, TsChild>, ports: { publish: number; subscribe: number }) {
    this.children = children;
    this.publishPort = ports.publish;
    this.subscribePort = ports.subscribe;
  }

  static async start(certDir: string): Promise<CeilingChain> {
    const base = { CEILING_CERT_DIR: certDir, CEILING_PORT: '0' };
    const msgqueue = new TsChild('ceiling B (queue)', { entry: 'bench/ceiling/queue-hop.ts' }, base);
    const started = [msgqueue];
    try {
      const env = { ...base, CEILING_QUEUE_URL: `wss://127.0.0.1:${await listeningPort(msgqueue)}` };
      const publisher = new TsChild('ceiling A (publisher)', { entry: 'bench/ceiling/publisher-hop.ts' }, env);
      const subscriber = new TsChild('ceiling C (subscriber)', { entry: 'bench/ceiling/subscriber-hop.ts' }, env);
      started.push(publisher, subscriber);
      const [publish, subscribe] = await Promise.all([listeningPort(publisher), listeningPort(subscriber)]);
      return new CeilingChain({ msgqueue, publisher, subscriber }, { publish, subscribe });
    } catch (err) {
      await Promise.all(started.map((child) => child.stop('SIGKILL')));
      throw err;
    }
  }

  fsyncCounters(): Promise<undefined> {
    return Promise.resolve(undefined);
  }

  /** The hops log nothing but their port: any stderr line is unexpected. */
  unexpectedLogLines(): Partial<Record<Role, string[]>> {
    const found: Partial<Record<Role, string[]>> = {};
    for (const [role, child] of Object.entries(this.children) as [Role, TsChild][]) {
      if (child.stderr.length > 0) found[role] = child.stderr.slice(0, 20);
    }
    return found;
  }

  async stop(): Promise<Record<Role, number | null>> {
    const [publisher, subscriber] = await Promise.all([
      this.children.publisher.stop(),
      this.children.subscriber.stop(),
    ]);
    return { msgqueue: await this.children.msgqueue.stop(), publisher, subscriber };
  }
}
