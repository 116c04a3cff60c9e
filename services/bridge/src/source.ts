/** What `/ready` and the metrics show of one source. */
export interface SourceStatus {
  readonly connected: boolean;
  /** Set while not connected: the last connection error. */
  readonly error?: string;
  /** Messages handed to the ingress whose durable ack has not come yet. */
  readonly inFlight: number;
  /** The outbox table's backlog (PostgreSQL), as last read. */
  readonly outbox?: { readonly rows: number; readonly oldestSeconds: number };
}

export type SourceName = 'postgres' | 'rabbitmq';

/** A server the bridge takes messages from, through its own lane into the ingress. */
export interface Source {
  readonly name: SourceName;
  start(): void;
  /** Takes nothing new; what was taken is still settled at the source (deleted, acked). */
  pause(): void;
  /** After `pause` and once the forwarder is idle (or failed): closes the connection. */
  close(): Promise<void>;
  status(): SourceStatus;
}
