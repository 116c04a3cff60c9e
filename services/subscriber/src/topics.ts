import type { WebSocket } from 'ws';

/**
 * topic → sockets, and socket → topics so that a closing socket leaves no trace. Topics with
 * no sockets left are deleted, so the table's size follows the live subscriptions.
 */
export class TopicRegistry {
  readonly #sockets = new Map<string, Set<WebSocket>>();
  readonly #topics = new Map<WebSocket, Set<string>>();

  /** Returns false when the socket was already subscribed. */
  subscribe(ws: WebSocket, topic: string): boolean {
    let sockets = this.#sockets.get(topic);
    if (sockets === undefined) this.#sockets.set(topic, (sockets = new Set()));
    if (sockets.has(ws)) return false;
    sockets.add(ws);
    let topics = this.#topics.get(ws);
    if (topics === undefined) this.#topics.set(ws, (topics = new Set()));
    topics.add(topic);
    return true;
  }

  /** Returns false when the socket was not subscribed. */
  unsubscribe(ws: WebSocket, topic: string): boolean {
    const sockets = this.#sockets.get(topic);
    if (sockets === undefined || !sockets.delete(ws)) return false;
    if (sockets.size === 0) this.#sockets.delete(topic);
    const topics = this.#topics.get(ws);
    topics?.delete(topic);
    if (topics?.size === 0) this.#topics.delete(ws);
    return true;
  }

  removeSocket(ws: WebSocket): void {
    for (const topic of this.#topics.get(ws) ?? []) {
      const sockets = this.#sockets.get(topic);
      sockets?.delete(ws);
      if (sockets?.size === 0) this.#sockets.delete(topic);
    }
    this.#topics.delete(ws);
  }

  subscribers(topic: string): ReadonlySet<WebSocket> | undefined {
    return this.#sockets.get(topic);
  }

  get topicCount(): number {
    return this.#sockets.size;
  }

  get subscriptionCount(): number {
    let count = 0;
    for (const sockets of this.#sockets.values()) count += sockets.size;
    return count;
  }
}
