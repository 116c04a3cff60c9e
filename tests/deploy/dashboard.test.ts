/**
 * deploy/grafana/pubsub-dashboard.json: importable as is (Prometheus datasource chosen through a
 * variable), and every metric its queries use is exported by a running service, so a renamed or
 * removed metric fails here rather than as an empty panel. docs/operations.md must name every
 * metric the services export.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { startChain } from '@pubsub/testkit-chain';
import { get, REPO_ROOT } from '@pubsub/testkit';

interface Target {
  expr: string;
  datasource?: { type: string; uid: string };
}

interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: { type: string; uid: string };
  targets?: Target[];
  gridPos?: { x: number; y: number; w: number; h: number };
}

interface Variable {
  name: string;
  type: string;
  query: string | { query: string };
  datasource?: { type: string; uid: string };
}

interface Dashboard {
  title: string;
  uid: string;
  schemaVersion: number;
  panels: Panel[];
  templating: { list: Variable[] };
}

const dashboard = JSON.parse(
  readFileSync(join(REPO_ROOT, 'deploy/grafana/pubsub-dashboard.json'), 'utf8'),
) as Dashboard;
const DATASOURCE = { type: 'prometheus', uid: '${datasource}' };

/** PromQL functions, aggregations and keywords: words in an expression that are not metric names. */
const PROMQL_WORDS = new Set([
  'sum',
  'min',
  'max',
  'avg',
  'count',
  'topk',
  'bottomk',
  'rate',
  'irate',
  'increase',
  'delta',
  'deriv',
  'histogram_quantile',
  'clamp_min',
  'clamp_max',
  'abs',
  'and',
  'or',
  'unless',
  'offset',
  'bool',
]);

/**
 * The metric names in one PromQL expression (or a `label_values(metric, label)` variable query):
 * identifiers left once strings, label matchers, range selectors and grouping clauses are removed,
 * minus functions and keywords.
 */
function metricNames(expr: string): string[] {
  const labelValues = /^label_values\(\s*([a-zA-Z_:][\w:]*)/.exec(expr);
  if (labelValues?.[1] !== undefined) return [labelValues[1]];
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '')
    .replace(/\{[^}]*\}/g, '')
    .replace(/\[[^\]]*\]/g, '')
    .replace(/\b(by|without|on|ignoring)\s*\([^)]*\)/g, '');
  return [...bare.matchAll(/[a-zA-Z_:][\w:]*/g)].map((match) => match[0]).filter((word) => !PROMQL_WORDS.has(word));
}

/** Every query of the dashboard, with where it is. */
function queries(): { where: string; expr: string }[] {
  const fromPanels = dashboard.panels.flatMap((panel) =>
    (panel.targets ?? []).map((target) => ({ where: `panel "${panel.title}"`, expr: target.expr })),
  );
  const fromVariables = dashboard.templating.list
    .filter((variable) => variable.type === 'query')
    .map((variable) => ({
      where: `variable $${variable.name}`,
      expr: typeof variable.query === 'string' ? variable.query : variable.query.query,
    }));
  return [...fromPanels, ...fromVariables];
}

/**
 * The sample names a /metrics text can hold: each family from its `# TYPE` line (a labelled
 * counter with no observation yet has no sample line) with a histogram's and summary's series.
 */
function exportedNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)/.exec(line);
    if (type === null) continue;
    const [, name = '', kind] = type;
    names.add(name);
    if (kind === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(name + suffix);
    if (kind === 'summary') for (const suffix of ['_sum', '_count']) names.add(name + suffix);
  }
  return names;
}

describe('the Grafana dashboard', () => {
  /** Family names (# TYPE) and series names each running service exports. */
  const exported = new Map<string, Set<string>>();
  const families = new Set<string>();

  beforeAll(async () => {
    await using chain = await startChain();
    const services = { msgqueue: chain.msgqueue, publisher: chain.publisher, subscriber: chain.subscriber };
    for (const [name, service] of Object.entries(services)) {
      const { status, body } = await get(service.port, '/metrics', { ca: chain.ca, auth: 'hello:test' });
      expect(status, `${name} /metrics`).toBe(200);
      exported.set(name, exportedNames(body));
      for (const match of body.matchAll(/^# TYPE (\S+)/gm)) families.add(match[1] ?? '');
    }
  });

  test('uses only metrics that a running service exports', () => {
    const all = new Set([...exported.values()].flatMap((names) => [...names]));
    const used = queries().flatMap(({ where, expr }) => metricNames(expr).map((metric) => ({ where, metric })));
    expect(used.length).toBeGreaterThan(20);
    const missing = used.filter(({ metric }) => !all.has(metric)).map(({ where, metric }) => `${where}: ${metric}`);
    expect(missing).toEqual([]);
  });

  test('has a panel for each thing an operator watches', () => {
    const used = new Set(queries().flatMap(({ expr }) => metricNames(expr)));
    for (const metric of [
      'pubsub_connections',
      'pubsub_subscriber_subscriptions',
      'pubsub_subscriber_topics',
      'pubsub_publisher_acked_total',
      'pubsub_subscriber_deliveries_total',
      'pubsub_subscriber_redeliveries_dropped_total',
      'pubsub_msgqueue_redelivered_total',
      'pubsub_msgqueue_backlog',
      'pubsub_subscriber_slow_consumers_total',
      'pubsub_auth_failures_total',
      'pubsub_rejected_total',
      'pubsub_subscriber_delivery_latency_seconds_bucket',
      'pubsub_nodejs_eventloop_lag_p99_seconds',
    ]) {
      expect(used, metric).toContain(metric);
    }
  });

  test('is importable: Prometheus through a datasource variable, unique panel ids, a place for each panel', () => {
    expect(dashboard).toMatchObject({ title: 'wss-pubsub', uid: 'wss-pubsub' });
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    expect(dashboard.templating.list).toContainEqual(
      expect.objectContaining({ name: 'datasource', type: 'datasource', query: 'prometheus' }),
    );
    const ids = dashboard.panels.map((panel) => panel.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const panel of dashboard.panels) {
      expect(panel.gridPos, panel.title).toBeDefined();
      if (panel.type === 'row') continue;
      expect(panel.datasource, panel.title).toEqual(DATASOURCE);
      for (const target of panel.targets ?? []) expect(target.datasource, panel.title).toEqual(DATASOURCE);
    }
    for (const variable of dashboard.templating.list.filter((v) => v.type === 'query')) {
      expect(variable.datasource, variable.name).toEqual(DATASOURCE);
    }
  });

  test('docs/operations.md names every metric the services export', () => {
    const doc = readFileSync(join(REPO_ROOT, 'docs/operations.md'), 'utf8');
    // prom-client's process and Node.js metrics are documented as a group.
    const own = [...families].filter((name) => !/^pubsub_(process|nodejs)_/.test(name));
    expect(own.length).toBeGreaterThan(10);
    expect(own.filter((name) => !doc.includes(`\`${name}`))).toEqual([]);
  });
});
