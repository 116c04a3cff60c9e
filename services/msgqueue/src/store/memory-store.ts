import Denque from 'denque';
import type { QueueStore, StoredMessage } from './store.js';

/**
 * Keeps messages in process memory: fast, bounded by the msgqueue's limits, and gone when the
 * process stops. Released messages wait in their own queue, sorted by seq, and are served
 * before new ones, so a consumer's failure does not move its messages behind later ones.
 */
export function createMemoryStore(): QueueStore {
  const fresh = new Denque<StoredMessage>();
  const released: StoredMessage[] = [];
  let inFlight = 0;
  let bytes = 0;
  let nextSeq = 1;

  return {
    append(payloads) {
      for (const payload of payloads) {
        fresh.push({ seq: nextSeq++, payload });
        bytes += Buffer.byteLength(payload);
      }
      return Promise.resolve();
    },
    claim(max) {
      const claimed: StoredMessage[] = [];
      while (claimed.length < max) {
        const message = released.length > 0 ? released.shift() : fresh.shift();
        if (message === undefined) break;
        claimed.push(message);
      }
      inFlight += claimed.length;
      return claimed;
    },
    ack(messages) {
      inFlight -= messages.length;
      for (const message of messages) bytes -= Buffer.byteLength(message.payload);
    },
    release(messages) {
      inFlight -= messages.length;
      released.push(...messages);
      released.sort((a, b) => a.seq - b.seq);
    },
    get ready() {
      return fresh.length + released.length;
    },
    get depth() {
      return fresh.length + released.length + inFlight;
    },
    get bytes() {
      return bytes;
    },
    close() {
      return Promise.resolve();
    },
  };
}
