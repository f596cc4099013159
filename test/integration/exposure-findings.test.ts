// What the Step 10 red team found anonymous input could make the gateway expose or spend, each
// replayed over HTTP against a real gateway: /metrics grown without bound by operation names,
// production's error scrubbing made quadratic by a crafted variable, and /readyz showing the raw
// errors of failing dependencies.
import { performance } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import { postGraphql } from '../helpers/graphql-http.js';
import { createLogCapture } from '../helpers/log-capture.js';
import { startGateway, type TestGateway } from '../helpers/start-gateway.js';

const METRICS_TOKEN = 'scrape-token-0123456789';
const OPERATIONS = 'kling_gateway_graphql_operations_total';

/** POSTs GraphQL parameters as given, so operationName can be anything a client sends. */
async function post(t: TestGateway, params: Record<string, unknown>, key?: string): Promise<number> {
  const res = await fetch(t.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: JSON.stringify(params),
  });
  await res.arrayBuffer();
  return res.status;
}

/** The label values of one metric's series, e.g. every operation_name of the operation counter. */
function labelValues(text: string, metric: string, label: string): string[] {
  const values: string[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${metric}{`)) continue;
    const match = new RegExp(`[{,]${label}="((?:[^"\\\\]|\\\\.)*)"`).exec(line);
    if (match) values.push(match[1] ?? '');
  }
  return values;
}

describe('/metrics and operation names chosen by clients', () => {
  it('stays small after 200 anonymous and 200 authenticated requests with huge or odd operation names', async () => {
    const t = await startGateway({ env: { RATE_LIMIT_POINTS: '10000' } });
    const key = await t.createKey(100);
    // A valid GraphQL name of 10,000 characters, and names that are no GraphQL name at all.
    const huge = (i: number) => `Op${i}_${'x'.repeat(10_000)}`;
    const odd = (i: number) => [`op ${i}`, `"quoted ${i}"`, `new\nline ${i}`, `émoji ${i} 🎬`, `${'y'.repeat(40)}-${i}`][i % 5] ?? '';
    const request = (i: number, caller?: string) =>
      i % 2 === 0
        ? post(t, { query: `query ${huge(i)} { models { model } }` }, caller)
        : post(t, { query: 'query Models { models { model } }', operationName: odd(i) }, caller);
    for (const caller of [undefined, key]) {
      for (let batch = 0; batch < 200; batch += 25) {
        const statuses = await Promise.all(Array.from({ length: 25 }, (_, n) => request(batch + n, caller)));
        expect(statuses.every((status) => status === 200 || status === 400)).toBe(true);
      }
    }
    // Well-behaved names of authenticated callers still count by name; anonymous ones do not.
    expect(await post(t, { query: 'query Models { models { model } }' }, key)).toBe(200);
    expect(await post(t, { query: 'query Models { models { model } }' })).toBe(200);

    const started = performance.now();
    const res = await fetch(new URL('/metrics', t.url));
    const text = await res.text();
    const scrapeMs = performance.now() - started;
    expect(res.status).toBe(200);
    const names = labelValues(text, OPERATIONS, 'operation_name');
    const series = text.split('\n').filter((line) => /^kling_gateway_graphql_operation/.test(line)).length;
    console.info(`exposition ${text.length} bytes, ${names.length} operation series, ${series} operation lines, scrape ${scrapeMs.toFixed(0)} ms`);
    expect(text.length).toBeLessThan(64 * 1024);
    expect(names.length).toBeLessThanOrEqual(10);
    expect(series).toBeLessThanOrEqual(100);
    for (const name of names) expect(name).toMatch(/^[A-Za-z0-9_]{1,64}$/);
    expect(new Set(names)).toEqual(new Set(['anonymous', 'other', 'Models']));
    expect(labelValues(text, OPERATIONS, 'operation_name').filter((name) => name === 'Models')).toHaveLength(1);
  }, 60_000);

  it('is not served by a production gateway without METRICS_TOKEN, which says so in its log', async () => {
    const logs = createLogCapture('warn');
    const bare = await startGateway({ env: { NODE_ENV: 'production', LOG_LEVEL: 'warn' }, overrides: { logger: logs.logger } });
    await postGraphql(bare.url, 'query Models { models { model } }');
    for (const method of ['GET', 'HEAD']) expect((await fetch(new URL('/metrics', bare.url), { method })).status).toBe(404);
    expect(logs.entries.some((entry) => entry['level'] === 40 && String(entry['msg']).includes('METRICS_TOKEN'))).toBe(true);

    const guarded = await startGateway({ env: { NODE_ENV: 'production', METRICS_TOKEN } });
    expect((await fetch(new URL('/metrics', guarded.url))).status).toBe(401);
    const scrape = await fetch(new URL('/metrics', guarded.url), { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    expect(scrape.status).toBe(200);
    expect(await scrape.text()).toContain('kling_gateway_tasks');
  });
});

describe('production error messages echoing a crafted variable', () => {
  const MUTATION = 'mutation ($input: GenerateVideoInput!) { generateVideo(input: $input) { __typename } }';
  /** A misspelt field (a hint to hide) beside a bad enum value; graphql-js echoes the value in each message. */
  const variables = (model: string) => ({ input: { promt: 'x', model } });
  /** About 60 KB of the hint's opening words and no "?": what made the old regex quadratic. */
  const CRAFTED = 'Did you mean '.repeat(4_600);
  const PLAIN = 'x'.repeat(CRAFTED.length);

  it('are answered about as fast as a harmless variable of the same size, cut short and without hints', async () => {
    const t = await startGateway({ env: { NODE_ENV: 'production' } });
    const key = await t.createKey(100);
    const timed = async (model: string) => {
      const started = performance.now();
      const res = await postGraphql(t.url, MUTATION, variables(model), { key });
      return { ms: performance.now() - started, res };
    };
    const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;
    // Warm-up, then interleaved rounds so both kinds see the same machine.
    await timed('KLING_V9');
    await timed(PLAIN);
    const times = { small: [] as number[], plain: [] as number[], crafted: [] as number[] };
    for (let round = 0; round < 5; round++) {
      times.small.push((await timed('KLING_V9')).ms);
      times.plain.push((await timed(PLAIN)).ms);
      times.crafted.push((await timed(CRAFTED)).ms);
    }
    const [small, plain, crafted] = [median(times.small), median(times.plain), median(times.crafted)];
    console.info(`median ms: small ${small.toFixed(1)}, plain 60 KB ${plain.toFixed(1)}, crafted 60 KB ${crafted.toFixed(1)}`);
    expect(crafted).toBeLessThanOrEqual(5 * Math.max(plain, small));

    const { res } = await timed(CRAFTED);
    const messages = (res.body.errors ?? []).map((error) => error.message);
    expect(messages.length).toBeGreaterThanOrEqual(2);
    // The misspelt field's message: graphql's full one (the variable and its value first); the crafted
    // value's own "Did you mean " opens the hidden stretch, so its hint goes with it.
    expect(messages).toContainEqual(expect.stringMatching(/^Variable "\$input" got invalid value \{ promt: "x", .*\[Suggestion hidden\]$/));
    // The client's own "Did you mean " text is echoed (cut short), but no hint naming a field or value.
    expect(messages.join('\n')).not.toMatch(/Did you mean (the enum value )?"/);
    expect(messages.join('\n')).not.toMatch(/KLING_V\d/);
    // Each echoed value is cut to a few hundred characters.
    for (const message of messages) expect(message.length).toBeLessThan(1_500);
    expect(JSON.stringify(res.body).length).toBeLessThan(8 * 1024);
  }, 60_000);
});

describe('/readyz with a failing dependency', () => {
  it('answers names and ok/fail only, and logs the failure in full at warn', async () => {
    const logs = createLogCapture('warn');
    // Its own in-memory database, whatever the suite's storage: this test breaks it on purpose.
    const t = await startGateway({ env: { DATABASE_URL: ':memory:', LOG_LEVEL: 'warn' }, overrides: { logger: logs.logger } });
    const healthy = await fetch(new URL('/readyz', t.url));
    expect(healthy.status).toBe(200);
    expect(await healthy.json()).toEqual({ status: 'ok', checks: { database: 'ok', upstream: 'ok' } });

    await t.gateway.database.close();
    const res = await fetch(new URL('/readyz', t.url));
    const body = await res.text();
    expect(res.status).toBe(503);
    expect(JSON.parse(body)).toEqual({ status: 'unavailable', checks: { database: 'fail', upstream: 'ok' } });
    expect(body).not.toMatch(/not open|sqlite|connection/i);
    const logged = logs.entries.find((entry) => entry['level'] === 40 && entry['check'] === 'database');
    expect(logged?.['err']).toMatchObject({ message: 'The database connection is not open' });
  });
});
