import { ConfigError, z } from '@pubsub/config';
import { silentLogger } from '@pubsub/log';
import { testCertificate } from '@pubsub/testkit';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { loadConfig, start } from '../src/server.js';
import { readStateFile, StateFile, StateFileError } from '../src/state-file.js';

const Positions = z.object({ version: z.literal(1), positions: z.record(z.string(), z.number().int().min(0)) });
type Positions = z.infer<typeof Positions>;

const fileIn = () => join(mkdtempSync(join(tmpdir(), 'pubsub-state-file-')), 'state.json');

describe('readStateFile', () => {
  test('a missing file is no state yet', async () => {
    expect(await readStateFile(fileIn(), Positions)).toBeUndefined();
  });

  test('a file that is not JSON is refused, naming it', async () => {
    const path = fileIn();
    writeFileSync(path, '{"version":1,"positions":{"a":');
    const read = readStateFile(path, Positions);
    await expect(read).rejects.toBeInstanceOf(StateFileError);
    await expect(read).rejects.toThrow(`${path} is not valid JSON`);
  });

  test('JSON of the wrong shape is refused, naming the field', async () => {
    const path = fileIn();
    writeFileSync(path, JSON.stringify({ version: 1, positions: { news: -3 } }));
    await expect(readStateFile(path, Positions)).rejects.toThrow(
      new RegExp(`${path} is not a valid state file at positions\\.news: `),
    );
  });

  test('a path that is a directory is a clear error, not ENOENT', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pubsub-state-file-'));
    await expect(readStateFile(dir, Positions)).rejects.toThrow(`cannot read ${dir}`);
  });
});

describe('StateFile', () => {
  test('what it saves reads back, in a file only its user may read', async () => {
    const path = fileIn();
    const state: Positions = { version: 1, positions: { news: 41 } };
    await new StateFile(path, () => state).save();
    expect(await readStateFile(path, Positions)).toEqual(state);
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  test('a burst of saves costs one write in flight and one after it, which carries the last state', async () => {
    const path = fileIn();
    const state: Positions = { version: 1, positions: {} };
    let snapshots = 0;
    const file = new StateFile(path, () => {
      snapshots++;
      return state;
    });
    const saves: Promise<void>[] = [];
    for (let i = 1; i <= 100; i++) {
      state.positions.news = i;
      saves.push(file.save());
    }
    await Promise.all(saves);
    expect(snapshots).toBe(2);
    expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual({ version: 1, positions: { news: 100 } });
    // Idle again: the next save is a write of its own.
    state.positions.news = 101;
    await file.save();
    expect(snapshots).toBe(3);
    expect((await readStateFile(path, Positions))?.positions.news).toBe(101);
  });

  test('a failed write rejects its saves; the next save writes again', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pubsub-state-file-'));
    const file = new StateFile(join(dir, 'missing-folder', 'state.json'), () => ({ version: 1, positions: {} }));
    await expect(file.save()).rejects.toThrow(/ENOENT/);
    await file.flush();
    await expect(file.save()).rejects.toThrow(/ENOENT/);
    const ok = new StateFile(join(dir, 'state.json'), () => ({ version: 1, positions: { a: 1 } }));
    await ok.save();
    await ok.flush();
    expect((await readStateFile(join(dir, 'state.json'), Positions))?.positions).toEqual({ a: 1 });
  });

  test('flush waits for the writes in flight and queued', async () => {
    const path = fileIn();
    const state: Positions = { version: 1, positions: { a: 1 } };
    const file = new StateFile(path, () => state);
    void file.save();
    state.positions.a = 2;
    void file.save();
    await file.flush();
    expect((await readStateFile(path, Positions))?.positions.a).toBe(2);
  });
});

describe('SUBSCRIBER_DATA_DIR', () => {
  test('defaults to data/subscriber at the repository root; an empty value is refused', () => {
    expect(loadConfig({}).dataDir).toBe(join(import.meta.dirname, '..', '..', '..', 'data', 'subscriber'));
    expect(() => loadConfig({ SUBSCRIBER_DATA_DIR: ' ' })).toThrow(ConfigError);
    expect(() => loadConfig({ SUBSCRIBER_DATA_DIR: ' ' })).toThrow(/SUBSCRIBER_DATA_DIR/);
  });

  test('is created at start, readable by the service user only', async () => {
    const { certDir } = await testCertificate();
    const dataDir = join(mkdtempSync(join(tmpdir(), 'pubsub-subscriber-data-')), 'nested', 'state');
    const config = loadConfig({ WS_CERT_DIR: certDir, SUBSCRIBER_PORT: '0', SUBSCRIBER_DATA_DIR: dataDir });
    await using service = await start(config, { logger: silentLogger() });
    expect(service.port).toBeGreaterThan(0);
    expect(statSync(dataDir).isDirectory()).toBe(true);
    expect(statSync(dataDir).mode & 0o777).toBe(0o700);
  });
});
