import type { Socket } from 'node:net';

/**
 * Open TCP connections per remote address, authenticated or not (`MAX_CONNECTIONS_PER_ADDRESS`):
 * counted from the accept, so sockets that never finish TLS or never log in count too.
 */
export class AddressLimit {
  readonly #open = new Map<string, number>();

  constructor(readonly max: number) {}

  /** Counts `socket` until it closes and returns true, or returns false when its address is full. */
  admit(socket: Socket): boolean {
    const address = socket.remoteAddress ?? 'unknown';
    const open = this.#open.get(address) ?? 0;
    if (open >= this.max) return false;
    this.#open.set(address, open + 1);
    socket.once('close', () => {
      const left = (this.#open.get(address) ?? 1) - 1;
      if (left === 0) this.#open.delete(address);
      else this.#open.set(address, left);
    });
    return true;
  }
}
