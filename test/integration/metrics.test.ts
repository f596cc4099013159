// GET /metrics as a Prometheus scraper sees it: operation counts, tasks and credits read from the
// database, upstream calls, open subscriptions; and the METRICS and METRICS_TOKEN switches.
import { describe, expect, it } from 'vitest';
import { TASK_UPDATED } from '../helpers/operations.js';
import { subscribeSse } from '../helpers/sse-client.js';
import { startGateway, type TestGateway } from '../helpers/start-gateway.js';
import { generateTask, lastTaskOf, readAccount, statusOf, type TaskUpdatedData } from '../helpers/task-flows.js';
import { createWsClient } from '../helpers/ws-client.js';
import { CHEAP } from '../helpers/task-flows.js';

const FAST = { env: { POLL_FIRST_DELAY_MS: '20', POLL_MAX_INTERVAL_MS: '50' }, simulator: { taskSeconds: 0.3 } };
/** KLING_V1, standard, 5 s: 10 credits in the price table. */
const CHEAP_HERON = { prompt: 'A heron in the rain', ...CHEAP };
const METRICS_TOKEN = 'scrape-token-0123456789';

function metricsUrl(t: TestGateway) {
  return new URL('/metrics', t.url);
}

async function scrape(t: TestGateway): Promise<string> {
  const res = await fetch(metricsUrl(t));
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toContain('text/plain');
  return res.text();
}

/** The value of one series, e.g. sample(text, 'kling_gateway_tasks', { status: 'SUCCEEDED' }); undefined when absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const found = Object.fromEntries([...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m): [string, string] => [m[1] ?? '', m[2] ?? '']));
    if (Object.entries(labels).every(([key, value]) => found[key] === value)) return Number(match[3]);
  }
  return undefined;
}

describe('GET /metrics', () => {
  it('counts the operation, the finished task, the upstream calls and the credits charged', async () => {
    const t = await startGateway(FAST);
    const key = await t.createKey(100);
    const task = await generateTask(t, key, CHEAP_HERON);
    const outcome = await subscribeSse<TaskUpdatedData>(t.url, TASK_UPDATED, { id: task.id }, { key }).done;
    expect(lastTaskOf(outcome)?.status).toBe('SUCCEEDED');

    const text = await scrape(t);
    expect(sample(text, 'kling_gateway_graphql_operations_total', { operation_name: 'GenerateVideo', operation_type: 'mutation', outcome: 'ok' })).toBe(1);
    expect(sample(text, 'kling_gateway_graphql_operation_duration_seconds_count', { operation_name: 'GenerateVideo' })).toBe(1);
    expect(sample(text, 'kling_gateway_graphql_operations_total', { operation_name: 'TaskUpdated', operation_type: 'subscription', outcome: 'ok' })).toBe(1);
    expect(sample(text, 'kling_gateway_tasks', { status: 'SUCCEEDED' })).toBe(1);
    expect(sample(text, 'kling_gateway_tasks', { status: 'PROCESSING' })).toBe(0);
    expect(sample(text, 'kling_gateway_upstream_requests_total', { operation: 'createTask', outcome: 'ok' })).toBe(1);
    expect(sample(text, 'kling_gateway_upstream_requests_total', { operation: 'getTask', outcome: 'ok' })).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'kling_gateway_credits_charged')).toBe(10);
    expect(sample(text, 'kling_gateway_credits_held')).toBe(0);
    expect(sample(text, 'kling_gateway_poller_lag_seconds')).toBe(0);
    expect(sample(text, 'kling_gateway_graphql_subscriptions_open', { transport: 'sse' })).toBe(0);
    // Process metrics come along, unprefixed.
    expect(sample(text, 'process_cpu_seconds_total')).toBeGreaterThan(0);
    expect((await readAccount(t, key))?.creditsUsed).toBe(10);
  });

  it('counts refused operations by their error code, an anonymous caller\'s as `anonymous`', async () => {
    const t = await startGateway();
    const key = await t.createKey(100);
    await t.graphql('query Me { me { name } }');
    await t.graphql('query Broken { noSuchField }');
    await t.graphql('query Denied { videoTask(id: "vt_unknown") { id } }', undefined, 'kgw_not-a-key');
    // Over HTTP the caller is known only after validation, so an invalid operation counts as anonymous.
    await t.graphql('query Broken { noSuchField }', undefined, key);
    const text = await scrape(t);
    expect(sample(text, 'kling_gateway_graphql_operations_total', { operation_name: 'anonymous', outcome: 'UNAUTHENTICATED' })).toBe(2);
    expect(sample(text, 'kling_gateway_graphql_operations_total', { operation_name: 'anonymous', outcome: 'GRAPHQL_VALIDATION_FAILED' })).toBe(2);
    for (const name of ['Me', 'Broken', 'Denied']) expect(sample(text, 'kling_gateway_graphql_operations_total', { operation_name: name })).toBeUndefined();
  });

  it('shows a subscription as open while it streams, per transport', async () => {
    const t = await startGateway({ simulator: { taskSeconds: 60 } });
    const key = await t.createKey(100);
    const task = await generateTask(t, key, CHEAP_HERON);
    const ws = createWsClient(t.url, { key });
    const viaWs = ws.subscribe<TaskUpdatedData>(TASK_UPDATED, { id: task.id });
    const viaSse = subscribeSse<TaskUpdatedData>(t.url, TASK_UPDATED, { id: task.id }, { key });
    await Promise.all([viaWs.until((p) => statusOf(p) !== undefined), viaSse.until((p) => statusOf(p) !== undefined)]);

    let text = await scrape(t);
    expect(sample(text, 'kling_gateway_graphql_subscriptions_open', { transport: 'ws' })).toBe(1);
    expect(sample(text, 'kling_gateway_graphql_subscriptions_open', { transport: 'sse' })).toBe(1);

    viaWs.unsubscribe();
    viaSse.abort();
    // The server notices a client leaving asynchronously; poll the scrape rather than sleep a guess.
    await expect
      .poll(async () => {
        text = await scrape(t);
        return [sample(text, 'kling_gateway_graphql_subscriptions_open', { transport: 'ws' }), sample(text, 'kling_gateway_graphql_subscriptions_open', { transport: 'sse' })];
      })
      .toEqual([0, 0]);
  });

  it('closes a subscription that fails, and counts it by its error code', async () => {
    const t = await startGateway();
    const key = await t.createKey(100);
    const ws = createWsClient(t.url, { key });
    await ws.subscribe<TaskUpdatedData>(TASK_UPDATED, { id: 'vt_unknown' }).done;
    await subscribeSse<TaskUpdatedData>(t.url, TASK_UPDATED, { id: 'vt_unknown' }, { key }).done;

    const text = await scrape(t);
    expect(sample(text, 'kling_gateway_graphql_operations_total', { operation_name: 'TaskUpdated', outcome: 'NOT_FOUND' })).toBe(2);
    expect(sample(text, 'kling_gateway_graphql_subscriptions_open', { transport: 'ws' })).toBe(0);
    expect(sample(text, 'kling_gateway_graphql_subscriptions_open', { transport: 'sse' })).toBe(0);
  });

  it('keeps the series of two gateways in one process apart', async () => {
    const [a, b] = await Promise.all([startGateway(), startGateway()]);
    await a.graphql('query Models { models { model } }', undefined, await a.createKey(100));
    expect(sample(await scrape(a), 'kling_gateway_graphql_operations_total', { operation_name: 'Models' })).toBe(1);
    expect(sample(await scrape(b), 'kling_gateway_graphql_operations_total', { operation_name: 'Models' })).toBeUndefined();
  });

  it('asks for the bearer token when METRICS_TOKEN is set', async () => {
    const t = await startGateway({ env: { METRICS_TOKEN } });
    expect((await fetch(metricsUrl(t))).status).toBe(401);
    expect((await fetch(metricsUrl(t), { headers: { authorization: 'Bearer wrong-token-0123456789' } })).status).toBe(401);
    const res = await fetch(metricsUrl(t), { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('kling_gateway_tasks');
  });

  it('serves no /metrics with METRICS=false', async () => {
    const t = await startGateway({ env: { METRICS: 'false' } });
    expect((await fetch(metricsUrl(t))).status).toBe(404);
  });
});
