/** Largest text frame a client may send to `/publish` or `/subscribe`, in bytes (64 KiB). */
export const DEFAULT_MAX_PAYLOAD_BYTES = 64 * 1024;

/** Longest topic, in UTF-8 bytes. */
export const MAX_TOPIC_BYTES = 256;

/** Longest message id, in UTF-8 bytes. */
export const MAX_ID_BYTES = 128;

/** Deepest nesting of objects and arrays accepted in a publish frame (the frame itself is depth 1). */
export const MAX_JSON_DEPTH = 64;

/**
 * Bytes a hop envelope may add to the client's frame: keys, the topic and the id are re-encoded
 * around the content. Every hop accepts `maxPayloadBytes + HOP_ENVELOPE_OVERHEAD_BYTES`, so a
 * message the publisher accepted always fits downstream. JSON escaping can grow a topic or an id
 * at most 6× (`\u0000`), hence the factor.
 */
export const HOP_ENVELOPE_OVERHEAD_BYTES = 64 + 6 * (MAX_TOPIC_BYTES + MAX_ID_BYTES);
