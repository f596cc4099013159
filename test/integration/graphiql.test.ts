// GraphiQL on GET /graphql: its HTTP answer (inlined code, CSP), and in headless Chromium (Debian's
// package, driven by playwright-core) with every non-loopback request refused: it renders, shows
// where the key goes, and the key from its Headers tab reaches queries and subscriptions alike.
import { createHash } from 'node:crypto';
import { chromium, type Browser, type BrowserContext, type Locator, type Page, type Request, type Response } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createKlingClock, simulatorClockOptions } from '../helpers/kling-clock.js';
import { CHROMIUM, CHROMIUM_ARGS, chromiumAvailable } from '../helpers/chromium.js';
import { startGateway, type TestGateway } from '../helpers/start-gateway.js';
import { CHEAP, FAST_POLLING, generateTask } from '../helpers/task-flows.js';

const hasChromium = chromiumAvailable('the GraphiQL browser test');

const HTML = { accept: 'text/html' };

describe('the GraphiQL page over HTTP', () => {
  let t: TestGateway;

  beforeAll(async () => {
    t = await startGateway();
  });

  it('inlines its code and admits only those scripts, by hash, with no other origin', async () => {
    const response = await fetch(t.url, { headers: HTML });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(response.headers.get('referrer-policy')).toBe('no-referrer');
    const csp = response.headers.get('content-security-policy') ?? '';
    const directives = new Map(csp.split(/;\s*/).map((d) => [d.split(' ')[0], d.split(' ').slice(1)] as const));
    expect(directives.get('default-src')).toEqual(["'none'"]);
    expect(directives.get('connect-src')).toEqual(["'self'"]);
    expect(directives.get('frame-ancestors')).toEqual(["'none'"]);
    expect(directives.get('worker-src')).toEqual(['blob:']);
    expect(csp).not.toMatch(/https?:|\*|unsafe-eval/);

    const html = await response.text();
    expect(html).not.toMatch(/unpkg|jsdelivr|<script[^>]* src=|<link[^>]* rel="stylesheet"/);
    const scripts = [...html.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((m) => m[1] ?? '');
    expect(scripts.length).toBeGreaterThan(0);
    const hashes = scripts.map((s) => `'sha256-${createHash('sha256').update(s).digest('base64')}'`);
    expect(directives.get('script-src')).toEqual(hashes);
  });

  it('leaves other answers on /graphql without the page headers', async () => {
    const response = await fetch(t.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"query":"{ __typename }"}',
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-security-policy')).toBeNull();
  });
});

/** The response pane with this text in it, once GraphiQL shows it. */
function responseWith(page: Page, text: RegExp) {
  return page.locator('.graphiql-response', { hasText: text }).waitFor({ timeout: 20_000 });
}

/** An editor's text as Monaco shows it (spaces as no-break spaces). */
async function editorText(editor: Locator): Promise<string> {
  return ((await editor.locator('.view-lines').textContent()) ?? '').replaceAll('\u00a0', ' ');
}

/**
 * Replaces an editor's text as a user would: select all, delete, type. insertText skips the editor's
 * auto-closing of quotes and braces; each step waits for the editor to show its result.
 */
async function replaceText(page: Page, editor: Locator, text: string) {
  await editor.click();
  await expect.poll(async () => {
    await page.keyboard.press('ControlOrMeta+KeyA');
    await page.keyboard.press('Delete');
    return editorText(editor);
  }).toBe('');
  await page.keyboard.insertText(text);
  await expect.poll(() => editorText(editor)).toBe(text);
}

describe.skipIf(!hasChromium)('GraphiQL in Chromium, offline but for the gateway', () => {
  let t: TestGateway;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const klingClock = createKlingClock();
  /** Requests for anything but loopback: refused, and the page must make none. */
  const offsite: string[] = [];
  /** Uncaught errors, console errors and CSP violations (also those of the blob workers). */
  const problems: string[] = [];
  /** Every request and WebSocket the page opened, to see how the subscription travelled. */
  const requests: Request[] = [];
  const sockets: string[] = [];
  let pageResponse: Response | null;

  // One visit for all the tests below, in order (the page is 9 MB of inlined script, slow to load on
  // a busy machine): a fresh context, so a first visit, with no tabs or headers saved before.
  beforeAll(async () => {
    t = await startGateway({ env: FAST_POLLING, simulator: { taskSeconds: 1, ...simulatorClockOptions(klingClock) } });
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
    context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    await context.route(
      (url) => !['127.0.0.1', '[::1]', 'localhost'].includes(url.hostname),
      async (route) => {
        offsite.push(route.request().url());
        await route.abort('blockedbyclient');
      },
    );
    await context.addInitScript(() => {
      document.addEventListener('securitypolicyviolation', (event) => {
        console.error(`CSP violation: ${event.violatedDirective} ${event.blockedURI}`);
      });
    });
    page = await context.newPage();
    page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`console: ${message.text()}`);
    });
    page.on('request', (request) => requests.push(request));
    page.on('websocket', (socket) => sockets.push(socket.url()));
    pageResponse = await page.goto(t.url.href, { timeout: 120_000 });
  }, 240_000);

  afterAll(async () => {
    await browser.close();
  });

  afterEach(() => {
    klingClock.resume();
    const seen = { offsite: offsite.splice(0), problems: problems.splice(0) };
    expect(seen).toEqual({ offsite: [], problems: [] });
  });

  it('renders from the gateway alone, under its CSP, and says where the key goes', { timeout: 90_000 }, async () => {
    const queryEditor = page.locator('.graphiql-query-editor .view-lines');
    await queryEditor.waitFor({ timeout: 60_000 });
    await queryEditor.filter({ hasText: 'Put your key in the Headers tab' }).waitFor();
    // The header bar says it on every visit, also when saved tabs replace the default query.
    expect(await page.getByText('put your key in Headers').isVisible()).toBe(true);
    // The Headers editor is open, ready for the key.
    expect(await page.getByRole('region', { name: 'Headers' }).getByRole('code').isVisible()).toBe(true);
    // The page ran under its policy (afterEach: without a violation).
    expect(pageResponse?.headers()['content-security-policy']).toContain("default-src 'none'");
  });

  it('sends the key from the Headers tab with a query', async () => {
    const key = await t.createKey(1_000, 'graphiql-user');
    await replaceText(page, page.getByRole('region', { name: 'Headers' }).getByRole('code'), `{"Authorization": "Bearer ${key}"}`);
    const query = 'query Me { me { name creditBalance } }';
    await replaceText(page, page.locator('.graphiql-query-editor .monaco-editor'), query);
    // As below: Execute runs GraphiQL's state, which takes the editors' text a moment after they show it.
    await page.waitForFunction((text) => localStorage.getItem('graphiql:query') === text, query);
    await page.getByRole('button', { name: /Execute query/ }).click();
    await responseWith(page, /"name":\s*"graphiql-user"/);
    await responseWith(page, /"creditBalance":\s*1000/);
  });

  it('sends the key from the Headers tab with a taskUpdated subscription, which streams to the end', { timeout: 60_000 }, async () => {
    const key = await t.createKey(1_000, 'graphiql-watcher');
    // Kling's time stands still until the first event is on screen, so it cannot be the last.
    klingClock.pause();
    const task = await generateTask(t, key, { prompt: 'A kite over a windy beach', ...CHEAP });
    await replaceText(page, page.getByRole('region', { name: 'Headers' }).getByRole('code'), `{"Authorization": "Bearer ${key}"}`);
    const subscription = `subscription Watch { taskUpdated(id: "${task.id}") { id status } }`;
    await replaceText(page, page.locator('.graphiql-query-editor .monaco-editor'), subscription);
    // GraphiQL takes an editor's text into its state a moment after Monaco shows it (debounced) and
    // stores the query then: from that moment Execute runs what was typed, headers (typed first) included.
    await page.waitForFunction((text) => localStorage.getItem('graphiql:query') === text, subscription);
    await page.getByRole('button', { name: /Execute query/ }).click();
    await responseWith(page, /"status":\s*"(QUEUED|SUBMITTED)"/);
    klingClock.advance(2_000);
    await responseWith(page, /"status":\s*"SUCCEEDED"/);

    // Over SSE on yoga's HTTP transport (a GET here), with the header from the tab; no WebSocket.
    const stream = requests.find((r) => `${decodeURIComponent(r.url())} ${r.postData() ?? ''}`.includes('taskUpdated'));
    expect(stream?.url().startsWith(t.url.href)).toBe(true);
    expect(stream?.headers()['accept']).toContain('text/event-stream');
    expect(stream?.headers()['authorization']).toBe(`Bearer ${key}`);
    expect(sockets).toEqual([]);
  });

  it("runs the editor's workers (blob: scripts under the CSP), which check the query against the schema", async () => {
    const squiggles = page.locator('.graphiql-query-editor .squiggly-error');
    await replaceText(page, page.locator('.graphiql-query-editor .monaco-editor'), '{ models { model } }');
    await squiggles.first().waitFor({ state: 'detached' });
    await replaceText(page, page.locator('.graphiql-query-editor .monaco-editor'), '{ noSuchField }');
    await squiggles.first().waitFor();
  });
});
