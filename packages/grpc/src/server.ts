/**
 * The suite's gRPC listener: TLS with the service's certificate, every call admitted by the
 * service's own gate (`SecureWsServer.admitCall`: the same users, rights, limits and login
 * throttling as its HTTPS endpoints), refusals ended with the status the error table gives.
 */
import {
  Server,
  ServerCredentials,
  type Metadata,
  type ServiceDefinition,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import type { CallAdmission, SecureWsServer } from '@pubsub/service';

export interface GrpcServerOptions {
  readonly host: string;
  /** 0: any free port. */
  readonly port: number;
  readonly tls: { readonly cert: string; readonly key: string };
  /** Largest request message in bytes. */
  readonly maxReceiveBytes: number;
  /** The server pings an idle connection this often and drops it when the ping goes unanswered as long. */
  readonly keepaliveMs: number;
}

export interface GrpcServer {
  readonly port: number;
  /** Stops taking calls and waits for the open ones to end, cancelling what is left by the deadline. */
  stop(deadlineMs: number): Promise<void>;
}

/** What the gate needs of a call: its `authorization` and where it comes from (`getPeer()` is `address:port`). */
export function admitCall(
  server: Pick<SecureWsServer, 'admitCall'>,
  call: { metadata: Metadata; getPeer(): string },
  key: string,
): Promise<CallAdmission> {
  const [authorization] = call.metadata.get('authorization');
  const peer = /^\[?([^\]]*)\]?:\d+$/.exec(call.getPeer());
  return server.admitCall({
    key,
    authorization: typeof authorization === 'string' ? authorization : undefined,
    remoteAddress: peer?.[1] ?? call.getPeer(),
  });
}

/** A service with its responses passed through as already encoded bytes (framed once for every stream). */
export function preEncoded(service: ServiceDefinition): ServiceDefinition {
  return Object.fromEntries(
    Object.entries(service).map(([name, method]) => [name, { ...method, responseSerialize: (bytes: Buffer) => bytes }]),
  );
}

export async function startGrpcServer(
  options: GrpcServerOptions,
  services: readonly { definition: ServiceDefinition; implementation: UntypedServiceImplementation }[],
): Promise<GrpcServer> {
  const server = new Server({
    'grpc.max_receive_message_length': options.maxReceiveBytes,
    'grpc.keepalive_time_ms': options.keepaliveMs,
    'grpc.keepalive_timeout_ms': options.keepaliveMs,
  });
  for (const { definition, implementation } of services) server.addService(definition, implementation);
  const credentials = ServerCredentials.createSsl(null, [
    { cert_chain: Buffer.from(options.tls.cert), private_key: Buffer.from(options.tls.key) },
  ]);
  const address = options.host.includes(':') ? `[${options.host}]:${options.port}` : `${options.host}:${options.port}`;
  const port = await new Promise<number>((resolvePort, reject) =>
    server.bindAsync(address, credentials, (err, bound) => (err === null ? resolvePort(bound) : reject(err))),
  );
  return {
    port,
    async stop(deadlineMs) {
      const timer = setTimeout(() => server.forceShutdown(), deadlineMs);
      await new Promise<void>((resolveStop) => server.tryShutdown(() => resolveStop()));
      clearTimeout(timer);
    },
  };
}
