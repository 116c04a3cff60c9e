import { closeSync, constants, mkdtempSync, openSync, readFileSync, realpathSync, rmSync, writeSync } from 'node:fs';
import { arch, cpus, loadavg, platform, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { latencySummary } from './histogram.js';
import type { LatencySummary } from './types.js';

export interface FsyncProbe {
  /** Where the probe file was (a fresh directory next to the msgqueue data directories). */
  readonly dir: string;
  readonly filesystem: string | undefined;
  readonly bytesPerWrite: number;
  /** Sequential synchronous (O_DSYNC) appends per second, one at a time. */
  readonly commitsPerSec: number;
  readonly latencyMs: LatencySummary;
}

/**
 * How many synchronous appends per second the disk under `parent` completes back to back, written
 * as the durable log writes its group commits (O_DSYNC): the ceiling on group commits.
 */
export function probeFsync(parent: string, durationMs: number, bytesPerWrite = 4096): FsyncProbe {
  const dir = mkdtempSync(join(parent, 'fsync-probe-'));
  const fd = openSync(
    join(dir, 'probe'),
    constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_DSYNC,
  );
  const buffer = Buffer.alloc(bytesPerWrite, 0x61);
  const samples: number[] = [];
  const start = performance.now();
  let now = start;
  try {
    while (now - start < durationMs) {
      writeSync(fd, buffer);
      const after = performance.now();
      samples.push(after - now);
      now = after;
    }
  } finally {
    closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
  }
  return {
    dir: parent,
    filesystem: filesystemOf(parent),
    bytesPerWrite,
    commitsPerSec: (samples.length * 1000) / (now - start),
    latencyMs: latencySummary(samples),
  };
}

/** The file system type and device holding `path`, from /proc/mounts (Linux only). */
export function filesystemOf(path: string): string | undefined {
  try {
    const real = realpathSync(path);
    let best: { mount: string; text: string } | undefined;
    for (const line of readFileSync('/proc/mounts', 'utf8').split('\n')) {
      const [device, mount, type] = line.split(' ');
      if (device === undefined || mount === undefined || type === undefined) continue;
      const inside = real === mount || real.startsWith(mount.endsWith('/') ? mount : `${mount}/`);
      if (inside && (best === undefined || mount.length >= best.mount.length)) {
        best = { mount, text: `${type} (${device} on ${mount})` };
      }
    }
    return best?.text;
  } catch {
    return undefined;
  }
}

export interface MachineInfo {
  readonly cpuModel: string;
  readonly cpuCount: number;
  readonly totalMemoryBytes: number;
  readonly node: string;
  readonly platform: string;
  readonly arch: string;
  readonly loadAverageAtStart: number[];
}

export function machineInfo(): MachineInfo {
  const list = cpus();
  return {
    cpuModel: list[0]?.model ?? 'unknown',
    cpuCount: list.length,
    totalMemoryBytes: totalmem(),
    node: process.version,
    platform: `${platform()} ${release()}`,
    arch: arch(),
    loadAverageAtStart: loadavg(),
  };
}
