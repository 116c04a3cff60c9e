/** A check's verdict as text, for a failing test's message. */
import type {
  CheckReport,
  DuplicateEntry,
  FailedDeliveryEntry,
  LostEntry,
  RecoveredEntry,
  ReorderEntry,
  UnexpectedEntry,
  UnsolicitedEntry,
} from './check.js';

/** Bodies longer than this are cut in formatted reports. */
const BODY_PREVIEW_CHARS = 60;

function preview(body: string): string {
  return JSON.stringify(body.length > BODY_PREVIEW_CHARS ? `${body.slice(0, BODY_PREVIEW_CHARS)}…` : body);
}

function describeLost(entry: LostEntry): string {
  const around = [
    entry.previousDelivered === undefined ? undefined : `got ${entry.previousDelivered} before`,
    entry.nextDelivered === undefined ? undefined : `got ${entry.nextDelivered} after`,
  ].filter((part) => part !== undefined);
  const context = around.length === 0 ? 'nothing from this publisher on this topic arrived' : around.join(', ');
  return `${entry.where}: ${entry.subscriber} missed ${entry.id} from ${entry.publisher} on ${entry.topic} (invoked @${entry.invoked}, acked @${entry.acked}; ${context})`;
}

function describeUnexpected(entry: UnexpectedEntry): string {
  const head = `${entry.reason}: ${entry.subscriber} got ${entry.id} on ${entry.topic} @${entry.position}`;
  const { published } = entry;
  if (published === undefined) return `${head}, never published`;
  if (entry.reason === 'topic-mismatch')
    return `${head}, published by ${published.publisher} on ${published.topic} @${published.invoked}`;
  return `${head}: body ${preview(entry.body)} differs from ${preview(published.body)} published by ${published.publisher} @${published.invoked}`;
}

function describeDuplicate(entry: DuplicateEntry): string {
  const at = entry.positions.map((position) => `@${position}`).join(', ');
  return `${entry.subscriber} got ${entry.id} on ${entry.topic} ${entry.positions.length} times: ${at}`;
}

function describeReorder(entry: ReorderEntry): string {
  const head = `${entry.rule}: ${entry.subscriber} got ${entry.id} on ${entry.topic} @${entry.position} after ${entry.after.id} @${entry.after.position}`;
  switch (entry.rule) {
    case 'publisher-order':
      return `${head}, but ${entry.publisher} invoked it first (@${entry.invoked} < @${entry.after.invoked})`;
    case 'seq':
      return `${head}, seq ${entry.seq} not above ${entry.after.seq}`;
  }
}

function describeFailedDelivery(entry: FailedDeliveryEntry): string {
  return `${entry.subscriber} got ${entry.id} from ${entry.publisher} on ${entry.topic} @${entry.position}, but its publish failed @${entry.failed}`;
}

function describeUnsolicited(entry: UnsolicitedEntry): string {
  const why = entry.unsubscribed === undefined ? 'never subscribed' : `unsubscribed @${entry.unsubscribed}`;
  return `${entry.reason}: ${entry.subscriber} got ${entry.id} on ${entry.topic} @${entry.position} (${why})`;
}

function describeRecovered(entry: RecoveredEntry): string {
  return `${entry.id} from ${entry.publisher} on ${entry.topic} (outcome unknown) reached ${entry.subscribers.join(', ')} from @${entry.firstDelivered}`;
}

/** Lists the first `limit` entries under a title with their count; nothing when there are none. */
function sectionLister(limit: number) {
  return <T>(title: string, entries: readonly T[], describe: (entry: T) => string): string[] => {
    if (entries.length === 0) return [];
    const lines = [`${title} ${entries.length}`, ...entries.slice(0, limit).map((entry) => `  - ${describe(entry)}`)];
    if (entries.length > limit) lines.push(`  … and ${entries.length - limit} more`);
    return lines;
  };
}

/** How many entries of each kind `formatReport` lists by default. */
const DEFAULT_FORMAT_LIMIT = 5;

/** A short human summary: the counts, then the first few entries of each non-empty kind. */
export function formatReport(report: CheckReport, options: { limit?: number } = {}): string {
  const section = sectionLister(options.limit ?? DEFAULT_FORMAT_LIMIT);
  const { counts } = report;
  const lostTitle = `lost (prefix ${report.lostPrefix.length}, middle ${report.lostMiddle.length}, postfix ${report.lostPostfix.length})`;
  return [
    `delivery check ${report.ok ? 'ok' : 'FAILED'}: attempted ${counts.attempted}, acked ${counts.acked}, failed ${counts.failed}, ` +
      `unknown ${counts.unknown}; expected ${counts.expected} deliveries; delivered ${counts.delivered} distinct ids ` +
      `in ${counts.deliveries} deliveries; recovered ${counts.recovered}`,
    ...section(lostTitle, report.lost, describeLost),
    ...section('unexpected', report.unexpected, describeUnexpected),
    ...section(report.allowDuplicates ? 'duplicated (allowed)' : 'duplicated', report.duplicated, describeDuplicate),
    ...section('reordered', report.reordered, describeReorder),
    ...section('deliveredAfterFail', report.deliveredAfterFail, describeFailedDelivery),
    ...section('unsolicited', report.unsolicited, describeUnsolicited),
    ...section('recovered (allowed)', report.recovered, describeRecovered),
  ].join('\n');
}
