// Graceful shutdown: SIGTERM to the real entry closes WebSockets with 1001, ends SSE streams with a
// SHUTTING_DOWN payload, exits 0 within the grace period and leaves every task as it last was; and
// in-process, a request already in flight still gets its answer.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import { openSqlite } from '../../src/db/connection.js';
import { createStore } from '../../src/db/store.js';
import { createKlingClient } from '../../src/kling/client.js';
import { createKlingSimulator, DEFAULT_SIMULATOR_KEY } from '../../src/kling/simulator/simulator.js';
import type { KlingClient } from '../../src/kling/types.js';
import { onTeardown } from '../helpers/leftovers.js';
import { GENERATE_VIDEO, TASK_UPDATED, type GenerateVideoData } from '../helpers/operations.js';
import { postGraphql } from '../helpers/graphql-http.js';
import { simulatorGatewayEnv, spawnGateway } from '../helpers/spawn-gateway.js';
import { subscribeSse } from '../helpers/sse-client.js';
import { startGateway } from '../helpers/start-gateway.js';
import { generateTask, graphqlErrorsOf, isStatus, lastTaskOf, type TaskUpdatedData } from '../helpers/task-flows.js';
import { createWsClient } from '../helpers/ws-client.js';

const GRACE_MS = 5_000;
const INPUT = { prompt: 'A lighthouse at dusk', model: 'KLING_V1', mode: 'STANDARD', durationSeconds: 5 };

function deferred<T = void>() {
  let resolve: (value: T) => void = () => undefined;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

describe('shutdown on SIGTERM', () => {
  it('closes WebSockets with 1001, ends SSE with SHUTTING_DOWN, exits 0 in time and keeps the task as it was', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kling-gateway-shutdown-'));
    onTeardown(() => rmSync(dir, { recursive: true, force: true }));
    const dbFile = join(dir, 'gateway.db');
    // Ten seconds at Kling: PROCESSING after one, so the task is mid-flight when the signal comes.
    const simulator = createKlingSimulator({ port: 0, taskSeconds: 10 });
    const simulatorUrl = await simulator.start();
    onTeardown(() => simulator.stop());

    const gateway = await spawnGateway(
      simulatorGatewayEnv(simulatorUrl, {
        DATABASE_URL: dbFile,
        POLL_FIRST_DELAY_MS: '100',
        POLL_MAX_INTERVAL_MS: '200',
        SHUTDOWN_GRACE_MS: String(GRACE_MS),
        LOG_LEVEL: 'info',
        DEMO_KEY: 'true',
      }),
    );
    const key = gateway.demoKey;
    if (!key) throw new Error(`no demo key printed:\n${gateway.output()}`);
    const generated = await postGraphql<GenerateVideoData>(gateway.url, GENERATE_VIDEO, { input: INPUT }, { key });
    const task = generated.body.data?.generateVideo.task;
    if (!task) throw new Error(`generateVideo answered ${JSON.stringify(generated.body)}`);

    const ws = createWsClient(gateway.url, { key });
    const viaWs = ws.subscribe<TaskUpdatedData>(TASK_UPDATED, { id: task.id });
    const viaSse = subscribeSse<TaskUpdatedData>(gateway.url, TASK_UPDATED, { id: task.id }, { key });
    await Promise.all([viaWs.until(isStatus('PROCESSING')), viaSse.until(isStatus('PROCESSING'))]);

    const exitCode = new Promise<number | null>((resolve) => gateway.child.once('exit', (code) => resolve(code)));
    const signalledAt = performance.now();
    gateway.child.kill('SIGTERM');

    expect((await ws.closed).code).toBe(1001);
    const sse = await viaSse.done;
    expect(sse.end).toBe('complete');
    expect(graphqlErrorsOf(sse).map((e) => e.extensions?.['code'])).toEqual(['SHUTTING_DOWN']);
    expect(await exitCode).toBe(0);
    expect(performance.now() - signalledAt).toBeLessThan(GRACE_MS);
    expect(gateway.output()).toContain('"msg":"stopped"');

    const lastSeen = lastTaskOf(await viaWs.done);
    expect(lastSeen?.status).toBe('PROCESSING');
    const opened = openSqlite(dbFile);
    onTeardown(() => opened.close());
    const stored = await createStore(opened.dialect).getTask(task.id);
    expect(stored).toMatchObject({ status: 'PROCESSING', credits: task.credits, creditsCharged: 0 });
    expect(stored?.klingTaskId).toBeTruthy();
    expect(stored?.nextCheckAt).not.toBeNull();
  });
});

describe('gateway.stop()', () => {
  it('lets a mutation already in flight finish and answer, and takes no new requests', async () => {
    // A Kling client that holds createTask until the test lets it go, so stop() begins mid-request.
    let upstream: KlingClient | undefined;
    const real = () =>
      (upstream ??= createKlingClient({
        baseUrl: t.simulator.url,
        ...DEFAULT_SIMULATOR_KEY,
        timeouts: { connectMs: 1_000, headersMs: 5_000, bodyMs: 5_000 },
        connections: 4,
        retry: { maxAttempts: 1, baseMs: 10, maxMs: 10 },
      }));
    const entered = deferred();
    const release = deferred();
    const held: KlingClient = {
      async createTask(request, options) {
        entered.resolve();
        await release.promise;
        return real().createTask(request, options);
      },
      getTask: (...args) => real().getTask(...args),
      findTaskByExternalId: (...args) => real().findTaskByExternalId(...args),
      listTasks: (...args) => real().listTasks(...args),
      close: () => real().close(),
    };
    const t = await startGateway({ env: { SHUTDOWN_GRACE_MS: String(GRACE_MS) }, overrides: { kling: held } });
    onTeardown(() => upstream?.close());
    const key = await t.createKey(100);

    const answer = generateTask(t, key, INPUT);
    await entered.promise;
    let stopped = false;
    const stopping = t.gateway.stop().then(() => {
      stopped = true;
    });
    // The listener closes at once: a request on a new connection is refused.
    const late = await fetch(new URL('/healthz', t.url)).then(
      (res) => res.status,
      (error: unknown) => (error as { cause?: { code?: string } }).cause?.code,
    );
    expect(late).toBe('ECONNREFUSED');
    expect(stopped).toBe(false);

    release.resolve();
    const task = await answer;
    expect(task.status).toBe('SUBMITTED');
    await stopping;
  });
});
