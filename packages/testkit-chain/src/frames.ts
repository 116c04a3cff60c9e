import type { HistoryRecorder } from '@pubsub/testkit';

/** Any frame a test's client gets: a publish reply, a delivery, or a `subscribed` reply. */
export interface Frame {
  type: string;
  topic?: string;
  id?: string;
  content?: string;
  seq?: number;
  epoch?: string;
  code?: string;
  from?: number;
  recovered?: boolean;
  replayed?: number;
}

/** Records a `message` frame in the history as a delivery to `subscriber`, with its seq. */
export function recordDelivery(history: HistoryRecorder, subscriber: string, frame: Frame): void {
  const { topic = '', id = '', content = '', seq } = frame;
  history.delivered({ subscriber, topic, id, body: content, ...(seq === undefined ? {} : { seq }) });
}

/** The command that resumes `topic` right after seq `from`, in `epoch` once the client knows it. */
export function resumeCommand(topic: string, from: number, epoch: string | undefined): string {
  return `sub ${topic} from ${from}${epoch === undefined ? '' : ` ${epoch}`}`;
}
