import { loadServerCertificate } from '@pubsub/tls';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { startChain } from '@pubsub/testkit-chain';
import { chainEnv, killAll, spawnCli } from './cli-process.js';

let scratch: string;

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'clientdemo-test-'));
});
afterAll(() => rm(scratch, { recursive: true, force: true }));
afterEach(killAll);

describe('connection failures', () => {
  test('a wrong password exits 1 and names the 401', async () => {
    await using chain = await startChain();
    const cli = spawnCli(['publish', 'news', 'hi'], { ...chainEnv(chain), CLIENTDEMO_PASSWORD: 'wrong' });

    expect((await cli.exited).code).toBe(1);
    expect(cli.stderr).toEqual([
      `cannot connect to ${chain.publishUrl}: authentication failed (401): check --user/--password`,
    ]);
  });

  test('a CA that did not sign the server certificate exits 1 with a certificate error', async () => {
    await using chain = await startChain();
    const otherDir = join(scratch, 'other-ca');
    await loadServerCertificate({ certDir: otherDir, generate: true });
    const otherCa = join(otherDir, 'server.crt');

    const cli = spawnCli(['--ca', otherCa, 'subscribe', 'news'], chainEnv(chain));

    expect((await cli.exited).code).toBe(1);
    const [message] = cli.stderr;
    expect(message).toContain(`cannot connect to ${chain.subscribeUrl}: TLS certificate verification failed`);
    expect(message).toContain(otherCa);
  });

  test('a CA file that cannot be read exits 1', async () => {
    await using chain = await startChain();
    const missing = join(scratch, 'missing.crt');

    const cli = spawnCli(['publish', 'news', 'hi'], { ...chainEnv(chain), WS_CA_FILE: missing });

    expect((await cli.exited).code).toBe(1);
    expect(cli.stderr).toEqual([expect.stringContaining(`cannot read the CA file ${missing}`)]);
  });

  test('a CA file that is not PEM exits 1', async () => {
    await using chain = await startChain();
    const garbage = join(scratch, 'garbage.crt');
    await writeFile(garbage, 'not a certificate\n');

    const cli = spawnCli(['publish', 'news', 'hi'], { ...chainEnv(chain), WS_CA_FILE: garbage });

    expect((await cli.exited).code).toBe(1);
    expect(cli.stderr).toEqual([`the CA file ${garbage} holds no PEM certificate`]);
  });

  test('interactive mode starts with an endpoint down, says which, and exits 1 at the end while it is down', async () => {
    await using chain = await startChain();
    await chain.subscriber.close();

    const cli = spawnCli([], chainEnv(chain));
    await cli.line('stderr', 'cannot connect to');
    cli.child.stdin.end();

    expect((await cli.exited).code).toBe(1);
    expect(cli.stderr).toEqual([
      expect.stringMatching(
        /^cannot connect to wss:\/\/localhost:\d+\/subscribe: .*ECONNREFUSED.*; retrying in the background$/,
      ),
      expect.stringMatching(/^not connected to wss:\/\/localhost:\d+\/subscribe at the end$/),
    ]);
  });

  test('interactive mode reports every endpoint that refuses the credentials, once', async () => {
    await using chain = await startChain();
    const cli = spawnCli([], { ...chainEnv(chain), CLIENTDEMO_USER: 'nobody' });
    await cli.line('stderr', chain.publishUrl);
    await cli.line('stderr', chain.subscribeUrl);
    cli.child.stdin.end();

    expect((await cli.exited).code).toBe(1);
    const refusals = cli.stderr.filter((line) => line.startsWith('cannot connect'));
    // Both sorted: which line comes first depends on the ports the test got.
    expect(refusals.sort()).toEqual(
      [
        `cannot connect to ${chain.publishUrl}: authentication failed (401): check --user/--password; not retrying`,
        `cannot connect to ${chain.subscribeUrl}: authentication failed (401): check --user/--password; not retrying`,
      ].sort(),
    );
  });
});
