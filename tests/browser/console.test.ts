/**
 * The web console in a real Chromium: signed in with Basic Auth, its tables filled from
 * /api/stats, its live pane fed by an EventSource while messages are published with Node and
 * from the page's own form (a sign-in token from the subscriber, sent to the publisher as a
 * cookie across origins: one AUTH_TOKEN_SECRET, and the console's origin in ALLOWED_ORIGINS).
 * `CONSOLE_SCREENSHOT=docs/console.png` refreshes the screenshot in the docs.
 */
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { DEV_AUTH, post } from '@pubsub/testkit';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startChain, type Chain } from '@pubsub/testkit-chain';

const CHROMIUM = '/usr/bin/chromium';
const available = existsSync(CHROMIUM);
const title = available
  ? 'the web console in Chromium'
  : `the web console in Chromium: SKIPPED, ${CHROMIUM} is absent (apt-get install -y chromium; .ci/run installs it)`;

describe.skipIf(!available)(title, () => {
  let chain: Chain;
  let browser: Browser;

  beforeAll(async () => {
    [chain, browser] = await Promise.all([
      startChain({
        env: {
          AUTH_TOKEN_SECRET: 'a-console-test-secret-of-32-characters-at-least',
          SUBSCRIBER_WEBHOOK_ALLOW_PRIVATE: '127.0.0.0/8',
        },
        publisherEnv: ({ subscriber }) => ({ ALLOWED_ORIGINS: `https://localhost:${subscriber}` }),
      }),
      chromium.launch({
        executablePath: CHROMIUM,
        headless: true,
        // Root in a container has no sandbox; the rest keeps Chromium from calling home.
        args: [
          '--no-sandbox',
          '--disable-dev-shm-usage',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
        ],
      }),
    ]);
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await chain?.close();
  });

  test('shows the user, topics and groups; messages published with Node and from the page arrive in the live pane', async () => {
    const context = await browser.newContext({
      // The test CA is not in Chromium's store; the Node clients below do verify it.
      ignoreHTTPSErrors: true,
      httpCredentials: { username: 'hello', password: 'test' },
      viewport: { width: 1100, height: 640 },
    });
    const page = await context.newPage();
    const signIns: string[] = [];
    page.on('request', (request) => {
      if (new URL(request.url()).pathname === '/api/token') signIns.push(request.method());
    });
    const publisher = `https://localhost:${chain.publisher.port}`;
    await page.goto(`https://localhost:${chain.subscriber.port}/console/?publisher=${encodeURIComponent(publisher)}`);
    await page.locator('#whoami', { hasText: 'signed in as hello' }).waitFor();
    expect(await page.inputValue('#publish [name=publisher]')).toBe(publisher);
    await page.locator('#groups tr[data-group="default"]').waitFor();

    await page.fill('#subscribe [name=topics]', 'news orders.*');
    await page.click('#subscribe button');
    await page.locator('#live-status[data-state="subscribed"]', { hasText: 'orders.*' }).waitFor();

    const pub = await chain.publishClient();
    pub.send({ topic: 'news', content: { text: 'from node' }, id: 'n1' });
    pub.send({ topic: 'orders.new', content: 'order 1', id: 'o1' });
    pub.send({ topic: 'news', content: 'second', id: 'n2' });
    for (let i = 0; i < 3; i++) expect(await pub.next()).toMatchObject({ type: 'ack' });
    await pub.close();

    const news = page.locator('#messages li[data-topic="news"][data-seq="1"]');
    await news.waitFor();
    expect(await news.textContent()).toBe('news#1{"text":"from node"}');
    await page.locator('#messages li[data-topic="orders.new"]', { hasText: 'order 1' }).waitFor();
    await page.locator('#messages li[data-topic="news"][data-seq="2"]', { hasText: 'second' }).waitFor();
    // The newest first.
    expect(await page.locator('#messages li').first().getAttribute('data-seq')).toBe('2');

    // The next refresh counts the page's own event stream and the traffic.
    const newsRow = page.locator('#topics tr[data-topic="news"]');
    await page.locator('#topics tr[data-topic="news"] td:nth-child(2)', { hasText: /^1$/ }).waitFor();
    await page.locator('#topics tr[data-topic="orders.*"]').waitFor();
    await page.locator('#summary', { hasText: 'readers 1 live' }).waitFor();
    expect(Number(await newsRow.locator('td').nth(2).textContent())).toBeGreaterThan(0);

    // The form: a token from POST /api/token here, then POST /api/messages on the publisher.
    // A refusal shows the publisher's code and message.
    await page.fill('#publish [name=topic]', 'no spaces here');
    await page.fill('#publish [name=content]', '"typed in the page"');
    await page.click('#publish button');
    await page.locator('#publish-status[data-state="error"]', { hasText: 'not published: TOPIC_INVALID: ' }).waitFor();
    await page.fill('#publish [name=topic]', 'news');
    await page.click('#publish button');
    const status = page.locator('#publish-status[data-state="published"]');
    await status.waitFor();
    expect(await status.getAttribute('data-seq')).toBe('3');
    expect(await status.textContent()).toMatch(/^published [\w-]+ \(news #3\)$/);
    await page.locator('#messages li[data-topic="news"][data-seq="3"]', { hasText: 'typed in the page' }).waitFor();
    // The token is renewed only near its expiry: a second message reuses the cookie.
    await page.fill('#publish [name=content]', '{"n":2}');
    await page.click('#publish button');
    await page.locator('#messages li[data-topic="news"][data-seq="4"]', { hasText: '{"n":2}' }).waitFor();
    expect(await page.textContent('#publish-status')).toMatch(/\(news #4\)$/);
    expect(signIns).toEqual(['POST']);
    await page.screenshot({ path: process.env.CONSOLE_SCREENSHOT ?? join(tmpdir(), 'pubsub-console.png') });
    await context.close();
  }, 60_000);

  test("lists the user's streams and webhook subscriptions", async () => {
    const create = async (path: string, body: unknown) => {
      const answer = await post(chain.subscriber.port, path, {
        ca: chain.ca,
        auth: DEV_AUTH,
        body: JSON.stringify(body),
      });
      expect(answer.status, answer.body).toBe(201);
      return JSON.parse(answer.body) as { id: string };
    };
    const stream = await create('/api/streams', { topics: ['news'] });
    // Nothing listens there: the row is enough, whatever its state.
    const webhook = await create('/api/subscriptions', { topic: 'news', url: 'http://127.0.0.1:9/hook' });
    const context = await browser.newContext({
      ignoreHTTPSErrors: true,
      httpCredentials: { username: 'hello', password: 'test' },
    });
    const page = await context.newPage();
    await page.goto(`https://localhost:${chain.subscriber.port}/console/`);
    await page.locator(`#streams tr[data-stream="${stream.id}"]`, { hasText: 'news' }).waitFor();
    await page.locator(`#webhooks tr[data-webhook="${webhook.id}"]`, { hasText: 'http://127.0.0.1:9/hook' }).waitFor();
    await context.close();
  }, 60_000);
});
