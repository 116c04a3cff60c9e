/** What the HTTP driver (bench/http/index.ts) and its load child (bench/http/client.ts) exchange. */
import type { Endpoints } from '../burst/types.js';

export interface HttpConfig extends Endpoints {
  /** `https://127.0.0.1:<publisher port>` (POST /api/messages). */
  readonly publishBase: string;
  /** `127.0.0.1:<subscriber's gRPC port>` (Subscriber.Subscribe). */
  readonly grpcTarget: string;
  /** `https://127.0.0.1:<subscriber port>` (GET /events). */
  readonly subscribeBase: string;
  /** Unique per chain (ids are deduplicated for minutes): no `-` in it. */
  readonly label: string;
  readonly topic: string;
  /** Messages counted in each phase. */
  readonly count: number;
  /** Messages of the single-message POST phase (fewer in quick mode: it is the slow one). */
  readonly singleCount: number;
  /** Most unacknowledged publishes on the wss socket. */
  readonly window: number;
  /** Requests in flight on the keep-alive agent (its maxSockets too). */
  readonly inFlight: number;
  /** Messages per request in the batch phase. */
  readonly batch: number;
  /** Bound on each phase; what is missing then is reported. */
  readonly timeoutMs: number;
}

/** One way of publishing N messages: acks (or 200s) per second, first send → last answer. */
export interface PublishFigures {
  readonly sent: number;
  readonly acked: number;
  readonly refused: number;
  readonly requests: number;
  readonly spanMs: number;
  readonly perSec: number;
  readonly timedOut: boolean;
}

/** One reader of the wss-published stream: distinct deliveries ÷ (first send → last delivery). */
export interface DeliveryFigures {
  readonly received: number;
  readonly lost: number;
  readonly duplicated: number;
  readonly reordered: number;
  readonly spanMs: number;
  readonly perSec: number;
  readonly timedOut: boolean;
}

export interface HttpResult {
  readonly count: number;
  readonly wss: PublishFigures;
  readonly httpSingle: PublishFigures;
  readonly httpBatch: PublishFigures;
  readonly wssDelivery: DeliveryFigures;
  readonly sseDelivery: DeliveryFigures;
  readonly grpcDelivery: DeliveryFigures;
}
