// The demo page on `GET /`: its HTTP answers, and the whole flow in headless Chromium (Debian's
// package, driven by playwright-core): key, model-driven controls, a validation message, a video.
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Script } from 'node:vm';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/env.js';
import { DEMO_SCRIPT } from '../../src/web/demo-script.js';
import { CHROMIUM, CHROMIUM_ARGS, chromiumAvailable } from '../helpers/chromium.js';
import { startGateway, type TestGateway } from '../helpers/start-gateway.js';

const SCREENSHOT = 'test-output/demo-page.png';
const hasChromium = chromiumAvailable("the demo page's browser test");

describe('the demo page over HTTP', () => {
  let t: TestGateway;
  let origin: string;

  beforeAll(async () => {
    t = await startGateway();
    origin = new URL('/', t.url).href;
  });

  it('serves the page with a charset and a strict Content-Security-Policy', async () => {
    const response = await fetch(origin);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const csp = response.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("connect-src 'self'");
    expect(csp).toMatch(/media-src [^;]*http:/);
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).not.toContain('unsafe-eval');
    const html = await response.text();
    expect(html).toContain('<script type="module" src="/demo/demo.js"></script>');
    expect(html).toMatch(/<label[^>]*for="prompt"/);
  });

  it.each([
    ['/demo/demo.js', 'text/javascript; charset=utf-8'],
    ['/demo/demo.css', 'text/css; charset=utf-8'],
  ])('serves %s as %s, and answers 304 to its ETag', async (path, contentType) => {
    const response = await fetch(new URL(path, origin));
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe(contentType);
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    const etag = response.headers.get('etag') ?? '';
    expect(etag).not.toBe('');
    const again = await fetch(new URL(path, origin), { headers: { 'if-none-match': etag } });
    expect(again.status).toBe(304);
  });

  it('ships a script that parses, so a syntax slip fails here even without a browser', () => {
    expect(() => new Script(DEMO_SCRIPT, { filename: 'demo.js' })).not.toThrow();
  });

  it('is on by default outside production only, and DEMO_PAGE decides either way', () => {
    expect(loadConfig({}).demoPage).toBe(true);
    expect(loadConfig({ NODE_ENV: 'production' }).demoPage).toBe(false);
    expect(loadConfig({ NODE_ENV: 'production', DEMO_PAGE: 'true' }).demoPage).toBe(true);
    expect(loadConfig({ DEMO_PAGE: 'false' }).demoPage).toBe(false);
  });

  it('serves nothing on / when DEMO_PAGE=false', async () => {
    const off = await startGateway({ env: { DEMO_PAGE: 'false' } });
    const page = await fetch(new URL('/', off.url));
    expect(page.status).toBe(404);
    await page.body?.cancel();
    const script = await fetch(new URL('/demo/demo.js', off.url));
    expect(script.status).toBe(404);
    await script.body?.cancel();
  });
});

describe.skipIf(!hasChromium)('the demo page in Chromium', () => {
  let t: TestGateway;
  let context: BrowserContext;
  let userDataDir: string;
  let page: Page;
  /** Uncaught errors and console errors (CSP violations among them): the page must produce none. */
  const problems: string[] = [];

  beforeAll(async () => {
    t = await startGateway({ env: { POLL_FIRST_DELAY_MS: '20', POLL_MAX_INTERVAL_MS: '50' }, simulator: { taskSeconds: 0.5 } });
    userDataDir = await mkdtemp(join(tmpdir(), 'demo-page-chromium-'));
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 1280, height: 900 },
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`console: ${message.text()}`);
    });
  }, 60_000);

  afterAll(async () => {
    await context.close();
    await rm(userDataDir, { recursive: true, force: true });
  });

  it('takes a key, offers only what the model accepts, shows a field error, then plays the video', { timeout: 60_000 }, async () => {
    const key = await t.createKey(1_000, 'browser');
    await page.goto(new URL('/', t.url).href);

    await page.getByLabel('Paste your API key').fill(key);
    await page.getByRole('button', { name: 'Use key' }).click();
    await page.locator('#account-name', { hasText: 'browser' }).waitFor();
    expect(await page.locator('#credit-balance').textContent()).toBe('1,000');
    expect(await page.evaluate(() => sessionStorage.getItem('kling-gateway.demo.apiKey'))).toBe(key);

    await page.getByLabel('Model').selectOption('KLING_V1');
    const durations = await page.locator('#duration option').evaluateAll((options) => options.map((o) => (o as HTMLOptionElement).value));
    expect(durations).toEqual(['5', '10']);
    expect(durations).not.toContain('7');
    // KLING_V1 takes camera control and no audio; KLING_V3 takes durations 3..15 and audio.
    expect(await page.locator('#camera-field').isVisible()).toBe(true);
    expect(await page.locator('#audio-field').isVisible()).toBe(false);
    await page.getByLabel('Model').selectOption('KLING_V3');
    expect(await page.locator('#duration option').count()).toBe(13);
    expect(await page.locator('#audio-field').isVisible()).toBe(true);
    expect(await page.locator('#camera-field').isVisible()).toBe(false);
    await page.getByLabel('Model').selectOption('KLING_V1');

    await page.getByLabel('Prompt', { exact: true }).fill('   ');
    await page.getByRole('button', { name: 'Generate video' }).click();
    await page.locator('#error-prompt', { hasText: 'The prompt must not be empty.' }).waitFor();
    expect(await page.getByLabel('Prompt', { exact: true }).getAttribute('aria-invalid')).toBe('true');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('prompt');

    await page.getByLabel('Prompt', { exact: true }).fill('A paper boat drifting down a rain-soaked street at dusk');
    await page.getByLabel('Negative prompt').fill('blurry, text');
    // KLING_V1, standard, 5 s costs 10 credits (api.md).
    await page.locator('#estimate', { hasText: 'Costs 10 credits' }).waitFor();
    expect(await page.locator('#error-prompt').isVisible()).toBe(false);
    await page.getByRole('button', { name: 'Generate video' }).click();

    await page.waitForFunction(() => Boolean(document.querySelector('video')?.getAttribute('src')), undefined, { timeout: 30_000 });
    const src = (await page.locator('video').getAttribute('src')) ?? '';
    expect(src).toMatch(/^http:\/\/127\.0\.0\.1:\d+\//);
    expect(await page.locator('#task-status').textContent()).toBe('Ready');
    // The settled charge reaches the account panel once the task is over.
    await page.locator('#credit-used', { hasText: /^10$/ }).waitFor();
    expect(await page.locator('#credit-balance').textContent()).toBe('990');
    // The clip loads despite the CSP: the browser has its metadata, and no error.
    await page.waitForFunction(() => {
      const video = document.querySelector('video');
      return video !== null && (video.readyState >= 1 || video.error !== null);
    });
    expect(await page.evaluate(() => document.querySelector('video')?.error?.message ?? null)).toBeNull();
    // And it really plays, on its own (autoplay, muted, loop): the clock gets past the first half
    // second, then keeps moving, and more than one frame is decoded. A one-frame placeholder shows
    // a still and its clock stops at the end; a codec this Chromium lacks never starts.
    await page.waitForFunction(() => {
      const video = document.querySelector('video');
      return video === null || video.error !== null || video.currentTime > 0.5;
    });
    const first = await page.evaluate(() => document.querySelector('video')?.currentTime ?? 0);
    expect(first).toBeGreaterThan(0.5);
    await page.waitForFunction((seen) => {
      const video = document.querySelector('video');
      return video === null || video.error !== null || video.currentTime !== seen;
    }, first);
    const played = await page.evaluate(() => {
      const video = document.querySelector('video');
      return {
        error: video?.error?.message ?? null,
        paused: video?.paused ?? true,
        duration: video?.duration ?? 0,
        frames: video?.getVideoPlaybackQuality().totalVideoFrames ?? 0,
      };
    });
    expect(played).toMatchObject({ error: null, paused: false });
    expect(played.duration).toBeGreaterThanOrEqual(2);
    expect(played.frames).toBeGreaterThan(5);

    await mkdir('test-output', { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    expect(problems).toEqual([]);
  });
});
