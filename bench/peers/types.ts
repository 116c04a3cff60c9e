/** What the peers section's driver (index.ts) and its client processes (client.ts) exchange. */

/** The systems compared: our chain and the brokers a user would pick instead. */
export type PeerId = 'suite' | 'jetstream' | 'redis';
export const PEER_IDS: readonly PeerId[] = ['suite', 'jetstream', 'redis'];

/** Where a client connects, per system. Every connection is TLS with the bench's certificate and authenticated. */
export type PeerEndpoint =
  | { readonly system: 'suite'; readonly publishUrl: string; readonly subscribeUrl: string; readonly topic: string }
  | { readonly system: 'jetstream'; readonly port: number; readonly stream: string; readonly subject: string }
  | { readonly system: 'redis'; readonly port: number; readonly key: string };

export interface PeerClientConfig {
  readonly role: 'publish' | 'subscribe';
  readonly endpoint: PeerEndpoint;
  /** PEM file the clients trust. */
  readonly caFile: string;
  readonly user: string;
  readonly password: string;
  /** Measured messages carry ids `<label>-<publisher>-<n>`, the warm-up `<label>w-<publisher>-<n>`. */
  readonly label: string;
  /** Publisher connections; the messages are split evenly between them. */
  readonly publishers: number;
  /** Most unacknowledged publishes per connection. */
  readonly window: number;
  /** Measured messages in all. */
  readonly count: number;
  /** Warm-up messages in all (not measured, not counted by the subscriber). */
  readonly warmup: number;
  /** Bound on the measurement; what is missing then is reported, not waited for. */
  readonly timeoutMs: number;
}

export interface PublishResult {
  readonly acked: number;
  /** monotonicMs() of the first measured send and of the last ack. */
  readonly firstSendAt: number;
  readonly lastAckAt: number;
  readonly ackedPerSec: number;
  readonly timedOut: boolean;
}

export interface SubscribeResult {
  /** Distinct measured messages delivered. */
  readonly delivered: number;
  readonly duplicated: number;
  /** Deliveries whose number is not above the previous one of the same publisher. */
  readonly reordered: number;
  readonly firstDeliveryAt: number;
  readonly lastDeliveryAt: number;
  readonly timedOut: boolean;
}

/**
 * The go-original section's client (go-client.ts): one publishing and one subscribing socket in one
 * process; `window` is the most messages sent and not yet delivered (the original never acks, so
 * deliveries pace both systems).
 */
export interface GoClientConfig extends Pick<
  PeerClientConfig,
  'caFile' | 'user' | 'password' | 'warmup' | 'count' | 'window' | 'timeoutMs'
> {
  readonly publishUrl: string;
  readonly subscribeUrl: string;
  readonly topic: string;
}

/** Its measured messages' deliveries, and monotonicMs() of the first measured send. */
export interface GoClientResult extends SubscribeResult {
  readonly firstSendAt: number;
}
