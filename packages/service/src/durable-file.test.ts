import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { writeFileDurably } from './durable-file.js';

test('overlapping saves of one file all succeed, one of them is the file, and no temporary file is left', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pubsub-durable-file-'));
  const path = join(dir, 'state.json');
  const contents = Array.from({ length: 8 }, (_, i) => `{"save":${i}}`);
  await Promise.all(contents.map((text) => writeFileDurably(path, text)));
  expect(contents).toContain(readFileSync(path, 'utf8'));
  expect(readdirSync(dir)).toEqual(['state.json']);
});
