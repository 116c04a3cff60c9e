import { PubsubGrpcClient, type ServiceError, type SubscribeEvent, type SubscribeRequest } from '@pubsub/grpc';

const WAIT_MS = 5_000;

/** A Subscribe stream read event by event, as TestClient reads a socket. */
export class GrpcSubscription {
  readonly #events: SubscribeEvent[] = [];
  readonly #waiting: ((event: SubscribeEvent | undefined) => void)[] = [];
  readonly ended: Promise<ServiceError | undefined>;
  readonly #call: ReturnType<PubsubGrpcClient['subscribe']>;

  constructor(client: PubsubGrpcClient, request: SubscribeRequest) {
    const call = client.subscribe(request);
    this.#call = call;
    call.on('data', (event: SubscribeEvent) => {
      const waiter = this.#waiting.shift();
      if (waiter === undefined) this.#events.push(event);
      else waiter(event);
    });
    this.ended = new Promise((resolveEnd) => {
      call.on('error', (err: ServiceError) => resolveEnd(err));
      call.on('end', () => resolveEnd(undefined));
    });
    void this.ended.then(() => this.#waiting.splice(0).forEach((waiter) => waiter(undefined)));
  }

  /** The next event; rejects when the stream ends first or nothing comes within a few seconds. */
  async next(): Promise<SubscribeEvent> {
    const queued = this.#events.shift();
    if (queued !== undefined) return queued;
    let timer: NodeJS.Timeout | undefined;
    const event = await new Promise<SubscribeEvent | undefined>((resolveEvent, reject) => {
      this.#waiting.push(resolveEvent);
      timer = setTimeout(() => reject(new Error('no gRPC event within 5 s')), WAIT_MS);
    }).finally(() => clearTimeout(timer));
    if (event === undefined) throw new Error(`the stream ended: ${(await this.ended)?.message ?? 'OK'}`);
    return event;
  }

  /** The status the stream ended with (undefined for OK). */
  status(): Promise<ServiceError | undefined> {
    return this.ended;
  }

  /** Stops reading: what the server sends waits in HTTP/2 flow control. */
  pause(): void {
    this.#call.pause();
  }

  resume(): void {
    this.#call.resume();
  }

  cancel(): void {
    this.#call.cancel();
  }
}

/** A client of a gRPC port of the chain: the development user by default, none with null. */
export function grpcClient(
  port: number,
  ca: string,
  auth: { user: string; password: string } | null = { user: 'hello', password: 'test' },
): PubsubGrpcClient {
  return new PubsubGrpcClient(`localhost:${port}`, { ca, ...(auth !== null && { auth }) });
}
