import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { parseArgs } from '../../bench/args.js';
import { GO_ORIGINAL_DIR, goOriginalSection } from '../../bench/peers/go-original.js';

const dirs: string[] = [];
afterEach(() => {
  vi.unstubAllEnvs();
  dirs.splice(0).forEach((dir) => rmSync(dir, { recursive: true, force: true }));
});

const section = { quick: false, work: '/nonexistent', certDir: '/nonexistent', ca: '', caFile: '' };

/** Runs the section as run.ts does; it must not start anything when it is skipped. */
async function run(argv: string[]) {
  const progress = vi.fn<(text: string) => void>();
  const report = await goOriginalSection(parseArgs(argv), section, progress);
  return { report, progress: progress.mock.calls.map(([text]) => text) };
}

describe('bench go-original section when it cannot run', () => {
  it('is skipped with the variable to set when BENCH_GO_ORIGINAL_DIR is unset, and its two summary rows say so', async () => {
    vi.stubEnv(GO_ORIGINAL_DIR, '');
    const { report, progress } = await run(['--only', 'go']);
    expect(report.errors).toEqual([]);
    expect(report.rows.map((row) => row.label)).toEqual(['the original Go implementation']);
    expect(report.rows[0]?.value).toMatch(/^skipped: BENCH_GO_ORIGINAL_DIR is not set/);
    expect(report.targets.map((target) => target.name)).toEqual([
      expect.stringContaining('1→1 msgs/s'),
      expect.stringContaining('service CPU per message per hop'),
    ]);
    for (const target of report.targets) {
      expect(target.measured).toContain('not measured: BENCH_GO_ORIGINAL_DIR is not set');
      expect([target.pass, target.ratio]).toEqual([false, undefined]);
    }
    expect(progress).toContainEqual(expect.stringMatching(/^\[go\] skipped: /));
  });

  it('names the binaries a BENCH_GO_ORIGINAL_DIR without them lacks', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'go-original-'));
    dirs.push(dir);
    vi.stubEnv(GO_ORIGINAL_DIR, dir);
    const { report } = await run(['--only', 'go']);
    expect(report.errors).toEqual([]);
    expect(report.targets[0]?.measured).toContain(`${dir} has no executable msgqueue, publisher, subscriber`);
  });

  it('says why not when --only leaves it out or --quick does not name it', async () => {
    vi.stubEnv(GO_ORIGINAL_DIR, '/tmp');
    const { report: left } = await run(['--only', 'peers']);
    expect(left.targets[0]?.measured).toBe('not measured: not selected by --only');
    expect(left.rows).toEqual([]);
    const { report: quick } = await run(['--quick']);
    expect(quick.targets[1]?.measured).toBe('not measured: --quick runs it only with --only go');
  });
});
