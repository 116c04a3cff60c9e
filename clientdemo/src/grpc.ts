import { GrpcStatus, PubsubGrpcClient, type ServiceError, type SubscribeEvent } from '@pubsub/grpc';
import { loadCa } from './connection.js';
import { DUPLICATE_NOTE, type Printer } from './format.js';
import type { ConnectionSettings } from './options.js';

/** `host:port` of a gRPC service and the credentials and CA of the connection options. */
export interface GrpcSettings {
  readonly target: string;
  readonly connection: ConnectionSettings;
}

async function clientFor(settings: GrpcSettings): Promise<PubsubGrpcClient> {
  const ca = await loadCa(settings.connection.caFile);
  const { user, password } = settings.connection;
  return new PubsubGrpcClient(settings.target, { ca, auth: { user, password } });
}

/** `error UNAUTHENTICATED: missing or invalid credentials (HTTP Basic Auth)`. */
function formatStatus(err: ServiceError, target: string): string {
  const name = GrpcStatus[err.code] ?? String(err.code);
  if (err.code === GrpcStatus.UNAVAILABLE && /ECONNREFUSED|No connection established/.test(err.details)) {
    return `error UNAVAILABLE: cannot reach ${target}: is the service running with its gRPC port on?`;
  }
  return `error ${name}: ${err.details}`;
}

/** The content as a person reads it: a JSON string as its text, anything else as the publisher wrote it. */
function contentText(json: string): string {
  if (!json.startsWith('"')) return json;
  try {
    return String(JSON.parse(json));
  } catch {
    return json;
  }
}

function formatEvent(event: SubscribeEvent): { out?: string; err?: string } {
  switch (event.event) {
    case 'message': {
      const { topic, seq, content } = event.message;
      return { out: `<[${topic} #${seq}] ${contentText(content)}` };
    }
    case 'subscribed': {
      const { topic, resumed, from, recovered, replayed, gap } = event.subscribed;
      if (gap) return { err: `gap in ${topic}: messages it was owed are no longer retained` };
      if (!resumed) return { err: `subscribed to ${topic}` };
      const outcome = recovered ? 'nothing missed' : 'some messages were no longer available';
      return { err: `resumed ${topic} after seq ${from}: ${replayed} replayed, ${outcome}` };
    }
    case 'waiting':
      return { err: `waiting for ${event.waiting.topic}: ${event.waiting.reason}` };
  }
}

export interface GrpcSubscribeRequest {
  readonly topics: readonly string[];
  readonly count: number | undefined;
  readonly json: boolean;
  readonly resume: { readonly from: number; readonly epoch?: string } | undefined;
}

/**
 * `clientdemo grpc-subscribe`: one `Subscriber.Subscribe` stream, printed as `subscribe` prints
 * deliveries. Exit code 0 after `--count` deliveries, 1 when the stream ends otherwise.
 */
export async function runGrpcSubscribe(
  request: GrpcSubscribeRequest,
  context: { settings: GrpcSettings; printer: Printer },
): Promise<number> {
  const { printer, settings } = context;
  const client = await clientFor(settings);
  const { resume } = request;
  const call = client.subscribe(
    resume === undefined
      ? { topics: [...request.topics] }
      : { from: request.topics.map((topic) => ({ topic, seq: resume.from, epoch: resume.epoch ?? '' })) },
  );
  let delivered = 0;
  const code = await new Promise<number>((resolveEnd) => {
    let ended = false;
    const resolveCode = (exitCode: number) => {
      if (!ended) resolveEnd(exitCode);
      ended = true;
    };
    call.on('data', (event: SubscribeEvent) => {
      if (event.event === 'message' && request.json) printer.out(JSON.stringify(event.message));
      else {
        const line = formatEvent(event);
        if (line.out !== undefined) printer.out(line.out);
        if (line.err !== undefined) printer.err(line.err);
      }
      if (event.event === 'message' && ++delivered === request.count) {
        call.cancel();
        resolveCode(0);
      }
    });
    call.on('error', (err: ServiceError) => {
      if (ended) return;
      printer.err(formatStatus(err, settings.target));
      resolveCode(1);
    });
    call.on('end', () => {
      if (!ended) printer.err(`the stream from ${settings.target} ended`);
      resolveCode(1);
    });
  });
  client.close();
  return code;
}

/** `clientdemo grpc-publish`: one `Publisher.Publish`; exit code 0 once stored, 1 with the status otherwise. */
export async function runGrpcPublish(
  request: { readonly topic: string; readonly content: string; readonly id?: string },
  context: { settings: GrpcSettings; printer: Printer },
): Promise<number> {
  const { printer, settings } = context;
  const client = await clientFor(settings);
  try {
    const reply = await client.publish(request);
    printer.out(`published ${reply.id} (${request.topic} #${reply.seq})${reply.duplicate ? DUPLICATE_NOTE : ''}`);
    return 0;
  } catch (err) {
    printer.err(formatStatus(err as ServiceError, settings.target));
    return 1;
  } finally {
    client.close();
  }
}
