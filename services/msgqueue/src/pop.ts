import { CloseCode, decodeHopAck, ERRORS, GROUP_NAME_PATTERN } from '@pubsub/protocol';
import { refuseSocket, rejectionOf, textOf, type ConnectionContext, type Rejection } from '@pubsub/service';
import type { RawData, WebSocket } from 'ws';
import { hopSink } from './hop-sink.js';
import type { ConsumerStart, MessageQueue } from './queue.js';

const BATCH_PATTERN = /^[1-9][0-9]{0,5}$/;
const OFFSET_PATTERN = /^[1-9][0-9]{0,15}$/;
const EPOCH_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;
export const DEFAULT_GROUP = 'default';

/**
 * Refuses `/popmsg` before the upgrade for a group that is neither declared nor a node group
 * that may be made (403 GROUP_UNKNOWN), or a node group while the groups are at their limit
 * (503 GROUPS_FULL).
 */
export function popRefusal(queue: MessageQueue): (url: URL) => Rejection | undefined {
  return (url) => {
    const group = url.searchParams.get('group') ?? DEFAULT_GROUP;
    // A malformed name is answered after the upgrade, with its own close reason.
    if (!GROUP_NAME_PATTERN.test(group)) return undefined;
    const admission = queue.admission(group);
    if (admission === 'open') return undefined;
    if (admission === 'full') return rejectionOf('GROUPS_FULL');
    return rejectionOf('GROUP_UNKNOWN', `${ERRORS.GROUP_UNKNOWN.message} ("${group}" is not)`);
  };
}

/** `from=<offset>&epoch=<epoch>`: where a node group made for this consumer starts (see addConsumer). */
function consumerStart(params: URLSearchParams): ConsumerStart | undefined {
  const offset = params.get('from');
  const epoch = params.get('epoch');
  if (offset === null || epoch === null || !OFFSET_PATTERN.test(offset) || !EPOCH_PATTERN.test(epoch)) return undefined;
  return { offset: Number(offset), epoch };
}

/**
 * A `/popmsg?group=<name>&batch=<n>` consumer: receives up to `prefetch` unacknowledged
 * messages, one per text frame, or with `batch` above 1 up to that many per binary batch frame
 * (see packBatches), and acknowledges messages with cumulative `{"ack":n}`. With `offsets=1`
 * every frame is a positioned batch: each message with its log offset, for readers that catch
 * up from the log (`GET /log`). Whatever it has not
 * acknowledged when it goes away, or within the lease, is delivered again to its group.
 */
export function handlePop(
  ws: WebSocket,
  context: ConnectionContext,
  { queue, maxFrameBytes }: { queue: MessageQueue; maxFrameBytes: number },
): void {
  const group = context.url.searchParams.get('group') ?? DEFAULT_GROUP;
  if (!GROUP_NAME_PATTERN.test(group)) {
    ws.close(CloseCode.POLICY_VIOLATION, 'group must be 1-64 characters of A-Z a-z 0-9 . _ -');
    return;
  }
  const batch = context.url.searchParams.get('batch') ?? '1';
  if (!BATCH_PATTERN.test(batch)) {
    ws.close(CloseCode.POLICY_VIOLATION, 'batch must be a whole number from 1 to 999999');
    return;
  }
  const positioned = context.url.searchParams.get('offsets') === '1';
  const sink = hopSink(ws, { maxMessages: Number(batch), maxBytes: maxFrameBytes, positioned });
  const consumer = queue.addConsumer(sink, { group, start: consumerStart(context.url.searchParams) });
  if (consumer === undefined) {
    // Removed (or the groups filled up) between the upgrade's check and now.
    ws.close(CloseCode.GROUP_REMOVED, `group "${group}" does not exist`);
    return;
  }
  ws.on('message', (data: RawData, isBinary: boolean) => {
    if (isBinary) {
      refuseSocket(ws, context, 'BINARY_UNSUPPORTED');
      return;
    }
    const ack = decodeHopAck(textOf(data));
    if (ack === undefined || !queue.ack(consumer, ack.count)) {
      context.log.warn({ frame: textOf(data).slice(0, 64) }, 'invalid ack from consumer');
      ws.close(CloseCode.POLICY_VIOLATION, 'expected {"ack":n} with n between the last ack and the messages received');
    }
  });
  ws.on('close', () => queue.removeConsumer(consumer));
}
