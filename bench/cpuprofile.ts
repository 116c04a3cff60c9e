import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { ROOT } from './process.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface ProfileSummary {
  readonly file: string;
  readonly wallMs: number;
  /** Sampled time not idle, in ms. */
  readonly busyMs: number;
  readonly idleMs: number;
  readonly gcMs: number;
  /** Self time by area (service code, ws, tls/net internals, pino, …), ms, largest first. */
  readonly byArea: { area: string; ms: number }[];
  /** Self time by function, ms, largest first. */
  readonly topFunctions: { fn: string; ms: number }[];
}

/** Where a function lives, coarsely: which package or part of Node. */
function areaOf(url: string, functionName: string): string {
  if (url === '') return functionName.startsWith('(') ? functionName : '(native)';
  const path = url.startsWith('file://') ? decodeURIComponent(url.slice('file://'.length)) : url;
  const pkg = /node_modules\/(?:\.pnpm\/[^/]+\/node_modules\/)?((?:@[^/]+\/)?[^/]+)/.exec(path);
  if (pkg?.[1] !== undefined) return pkg[1];
  if (path.startsWith('node:')) {
    const inner = path.slice('node:'.length).replace(/^internal\//, '');
    return `node:${inner.split('/')[0] ?? inner}`;
  }
  const local = relative(ROOT, path);
  const parts = local.split('/');
  return parts.length >= 2 && !local.startsWith('..') ? `${parts[0]}/${parts[1]}` : path;
}

export function summarizeProfile(profile: CpuProfile, file: string, top = 15): ProfileSummary {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfByFn = new Map<string, number>();
  const selfByArea = new Map<string, number>();
  let idle = 0;
  let gc = 0;
  let total = 0;
  profile.samples.forEach((id, index) => {
    const ms = (profile.timeDeltas[index] ?? 0) / 1000;
    const node = byId.get(id);
    if (node === undefined) return;
    total += ms;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === '(idle)') {
      idle += ms;
      return;
    }
    if (functionName === '(garbage collector)') gc += ms;
    const where = url === '' ? '' : ` ${relative(ROOT, url.replace(/^file:\/\//, ''))}:${lineNumber + 1}`;
    const fn = `${functionName || '(anonymous)'}${where}`;
    selfByFn.set(fn, (selfByFn.get(fn) ?? 0) + ms);
    const area = areaOf(url, functionName);
    selfByArea.set(area, (selfByArea.get(area) ?? 0) + ms);
  });
  const sorted = <K extends string>(map: Map<string, number>, key: K) =>
    [...map.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, ms]) => ({ [key]: name, ms }) as { [P in K]: string } & { ms: number });
  return {
    file,
    wallMs: (profile.endTime - profile.startTime) / 1000,
    busyMs: total - idle,
    idleMs: idle,
    gcMs: gc,
    byArea: sorted(selfByArea, 'area'),
    topFunctions: sorted(selfByFn, 'fn'),
  };
}

/** Summaries of every .cpuprofile in `dir`. */
export async function summarizeProfiles(dir: string): Promise<ProfileSummary[]> {
  const names = (await readdir(dir)).filter((name) => name.endsWith('.cpuprofile'));
  return Promise.all(
    names.map(async (name) => {
      const path = join(dir, name);
      return summarizeProfile(JSON.parse(await readFile(path, 'utf8')) as CpuProfile, path);
    }),
  );
}
