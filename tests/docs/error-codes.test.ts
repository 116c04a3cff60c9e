/**
 * Every code of the error table is documented where users look for it: a client or an operator
 * who meets one in a reply, a close frame or `pubsub_rejected_total{code}` can find what it means.
 */
import { ERRORS } from '@pubsub/protocol';
import { REPO_ROOT } from '@pubsub/testkit';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test } from 'vitest';

const DOCS = ['docs/protocol.md', 'docs/operations.md', 'docs/configuration.md'];

test('each error code is named in docs/protocol.md, operations.md or configuration.md', () => {
  const text = DOCS.map((file) => readFileSync(join(REPO_ROOT, file), 'utf8')).join('\n');
  const undocumented = Object.keys(ERRORS).filter((code) => !new RegExp(`\\b${code}\\b`).test(text));
  expect(undocumented).toEqual([]);
});
