import { describe, expect, test } from 'vitest';
import { banner } from '../../scripts/launcher/banner.js';

const facts = {
  root: '/repo',
  cwd: '/repo',
  caFile: '/repo/certs/server.crt',
  defaultCaFile: '/repo/certs/server.crt',
  devUser: true,
  sharedTokenSecret: true,
};

describe('the pnpm start banner', () => {
  test('names the web console; on other ports it tells the page where the publisher is', () => {
    expect(banner({ ...facts, ports: { msgqueue: 8080, publisher: 8081, subscriber: 8082 } })).toContain(
      'console    https://localhost:8082/console/  ',
    );
    expect(banner({ ...facts, ports: { msgqueue: 1, publisher: 28281, subscriber: 28282 } })).toContain(
      'console    https://localhost:28282/console/?publisher=https://localhost:28281  ',
    );
  });

  test('says when the launcher made the token secret the publisher and subscriber share', () => {
    const ports = { msgqueue: 8080, publisher: 8081, subscriber: 8082 };
    expect(banner({ ...facts, ports })).toContain('tokens     one random AUTH_TOKEN_SECRET for this run');
    expect(banner({ ...facts, ports, sharedTokenSecret: false })).not.toContain('AUTH_TOKEN_SECRET');
  });
});
