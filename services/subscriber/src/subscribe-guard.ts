import { ProtocolError, type Command } from '@pubsub/protocol';
import type { ConnectionContext } from '@pubsub/service';
import type { Reader } from './reader.js';
import type { TopicRegistry } from './topics.js';
import type { UserReaders } from './user-readers.js';

/**
 * Checks a `sub` before it takes effect, throwing the ProtocolError its reply carries (with the
 * command's id); the connection stays open. A topic needs the user's subscribe rights, a pattern
 * rights over every topic it can match. A new subscription beyond the reader's limit, or beyond
 * the user's over all its readers, is refused; repeating one it has is not. `unsub` is never
 * refused. What the user holds is `userReaders`' count, which the caller keeps.
 */
export function subscribeGuard(
  reader: Reader,
  context: ConnectionContext,
  deps: {
    topics: TopicRegistry<Reader>;
    maxSubscriptions: number;
    maxUserSubscriptions: number;
    userReaders: UserReaders;
  },
): (command: Command) => void {
  return (command) => {
    if (command.op !== 'sub') return;
    let refusal: ProtocolError | undefined;
    if (!context.account.subscribe.covers(command.topic)) {
      refusal = new ProtocolError('TOPIC_FORBIDDEN', `user "${context.user}" may not subscribe to ${command.topic}`);
    } else if (!deps.topics.has(reader, command.topic) && deps.topics.countFor(reader) >= deps.maxSubscriptions) {
      refusal = new ProtocolError(
        'TOO_MANY_SUBSCRIPTIONS',
        `at most ${deps.maxSubscriptions} subscriptions per connection (SUBSCRIBER_MAX_SUBSCRIPTIONS); unsub one first`,
      );
    } else if (
      !deps.topics.has(reader, command.topic) &&
      deps.userReaders.subscriptions(context.user) >= deps.maxUserSubscriptions
    ) {
      refusal = new ProtocolError(
        'TOO_MANY_SUBSCRIPTIONS',
        `at most ${deps.maxUserSubscriptions} subscriptions per user over all its connections (SUBSCRIBER_MAX_USER_SUBSCRIPTIONS); unsub one first`,
      );
    }
    if (refusal === undefined) return;
    refusal.ref = command.ref;
    throw refusal;
  };
}
