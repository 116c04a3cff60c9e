import type { QueueStats } from '@pubsub/protocol';
import { refuseRequest, rejectionOf, type HttpHandler } from '@pubsub/service';
import type { MessageQueue } from './queue.js';

/**
 * The consumer groups for operators (the `admin` right): `GET /groups` lists them with their
 * backlog, consumers and whether they still hold messages back; `DELETE /groups/<name>` removes
 * one until the next start (remove it from MSGQUEUE_GROUPS too, or it is back, at the end of the
 * log, after a restart).
 */
export function groupEndpoints(queue: MessageQueue): Record<string, HttpHandler> {
  return {
    'GET /groups': (_req, res) => {
      res.json({ groups: queue.groupInfo() });
    },
    'DELETE /groups/:name': (req, res, context) => {
      const name = String(req.params.name);
      if (queue.removeGroup(name, context.user)) {
        res.json({ removed: name });
        return;
      }
      refuseRequest(res, context, rejectionOf('NOT_FOUND', `no consumer group "${name.slice(0, 64)}"`));
    },
  };
}

/**
 * `GET /stats` for popper users: the depth and each group's lag, no more. It lets a subscriber
 * show them (its web console) with the hop account it already has, which need not be an admin.
 */
export function statsEndpoint(queue: MessageQueue): HttpHandler {
  return (_req, res) => {
    const stats: QueueStats = {
      depth: queue.backlog,
      groups: queue.groupInfo().map(({ name, backlog, consumers }) => ({ name, backlog, consumers })),
    };
    res.json(stats);
  };
}
