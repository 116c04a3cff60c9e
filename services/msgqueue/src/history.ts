import { refuseRequest, rejectionOf, type HttpHandler } from '@pubsub/service';
import { validateTopic } from '@pubsub/protocol';
import type { MessageLog } from './store/log.js';

/** Most messages one history response carries; `more` tells the caller to ask again. */
export const HISTORY_PAGE = 10_000;

/**
 * `GET /history?topic=<t>&after=<seq>`: the retained messages of a topic after a seq, for the
 * subscriber service to replay to a resuming client. Each message is the frame subscribers
 * receive, as a JSON string, so it comes back byte for byte.
 * The answer also gives the epoch and the first and last seq the topic has, so the caller can
 * tell whether the client's position is still covered.
 */
export function historyEndpoint(log: MessageLog): HttpHandler {
  return (req, res, context) => {
    const topic = req.query.topic;
    const after = req.query.after ?? '0';
    let valid: string;
    try {
      valid = validateTopic(topic);
      if (typeof after !== 'string' || !/^\d+$/.test(after)) throw new Error('after');
    } catch {
      refuseRequest(res, context, rejectionOf('BAD_REQUEST', 'expected ?topic=<topic>&after=<seq>'));
      return;
    }
    // One more than a page, to tell whether there is more.
    const messages = log.topicHistory(valid, { afterSeq: Number(after), limit: HISTORY_PAGE + 1 });
    const page = messages.slice(0, HISTORY_PAGE);
    const { first, last } = log.topicRange(valid);
    res
      .type('application/json')
      .send(
        `{"epoch":${JSON.stringify(log.epoch)},"first":${first},"last":${last},"more":${messages.length > page.length},"messages":${JSON.stringify(page.map((entry) => entry.frame))}}`,
      );
  };
}
