import { z } from '@pubsub/config';

/**
 * Which topic a source's name (a PostgreSQL channel, an AMQP routing key) is published to: the
 * configured topic for that exact name, otherwise the prefix followed by the name.
 */
export class TopicMap {
  readonly #exact: ReadonlyMap<string, string>;
  readonly #prefix: string;

  constructor(exact: ReadonlyMap<string, string>, prefix: string) {
    this.#exact = exact;
    this.#prefix = prefix;
  }

  /** The names with a topic of their own (the channels to LISTEN to). */
  get names(): readonly string[] {
    return [...this.#exact.keys()];
  }

  topicOf(name: string): string {
    return this.#exact.get(name) ?? `${this.#prefix}${name}`;
  }
}

/**
 * `name` or `name=topic` entries, comma-separated, e.g. `orders,audit=audit.events`; a name
 * without `=` keeps the default rule (prefix + name). Undefined when unset.
 */
export const nameTopicList = () =>
  z
    .string()
    .optional()
    .transform((spec, ctx) => {
      if (spec === undefined) return undefined;
      const entries = new Map<string, string | undefined>();
      for (const entry of spec.split(',').map((part) => part.trim())) {
        if (entry === '') continue;
        const [name = '', topic, extra] = entry.split('=').map((part) => part.trim());
        if (name === '' || topic === '' || extra !== undefined) {
          ctx.addIssue({ code: 'custom', message: `"${entry}" is not name or name=topic` });
          continue;
        }
        if (entries.has(name)) ctx.addIssue({ code: 'custom', message: `"${name}" is listed twice` });
        entries.set(name, topic);
      }
      return entries;
    });

/** The map of `nameTopicList` entries with the default rule's prefix. */
export function topicMap(entries: ReadonlyMap<string, string | undefined>, prefix: string): TopicMap {
  return new TopicMap(new Map([...entries].map(([name, topic]) => [name, topic ?? `${prefix}${name}`])), prefix);
}
