// Red-team finding (Step 10): one key's backlog to a receiver that never answers must not hold up
// another key's webhooks. The sender claims due deliveries round-robin per key and stops calling a
// host after consecutive failures (circuit breaker), rescheduling its deliveries without counting
// attempts. Real receivers on loopback; no fixed sleeps.
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { beforeAll, describe, expect, it } from 'vitest';
import type { WebhookAttemptResult, WebhookBreakerEvent } from '../../src/webhooks/webhook-sender.js';
import { onTeardown } from '../helpers/leftovers.js';
import { startGateway, type TestGateway } from '../helpers/start-gateway.js';
import { webhookAttemptsOf } from '../helpers/store-audit.js';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook-receiver.js';

const FLOOD = 1_000;
const TIMEOUT_MS = 400;
const BREAKER_FAILURES = 3;

/** A receiver that accepts connections and requests and never answers. */
async function startSilentReceiver() {
  const hanging: ServerResponse[] = [];
  let requests = 0;
  const server: Server = createServer((_req, res) => {
    requests += 1;
    hanging.push(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onTeardown(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  );
  const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    host,
    url: (path: string) => `http://${host}${path}`,
    get requests() {
      return requests;
    },
  };
}

type Waiter<T> = { match: (event: T) => boolean; resolve: (event: T) => void };
function eventLog<T>() {
  const seen: T[] = [];
  const waiters: Waiter<T>[] = [];
  return {
    seen,
    push(event: T) {
      seen.push(event);
      for (const waiter of [...waiters]) {
        if (!waiter.match(event)) continue;
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(event);
      }
    },
    next(match: (event: T) => boolean): Promise<T> {
      const found = seen.find(match);
      return found ? Promise.resolve(found) : new Promise((resolve) => waiters.push({ match, resolve }));
    },
  };
}

const attempts = eventLog<WebhookAttemptResult>();
const breaker = eventLog<WebhookBreakerEvent>();
let t: TestGateway;
let silent: Awaited<ReturnType<typeof startSilentReceiver>>;
let healthy: WebhookReceiver;

beforeAll(async () => {
  silent = await startSilentReceiver();
  healthy = await startWebhookReceiver();
  t = await startGateway({
    env: { WEBHOOK_ALLOWED_HOSTS: `${silent.host},${healthy.host}`, WEBHOOK_TIMEOUT_MS: String(TIMEOUT_MS) },
    overrides: {
      webhooks: {
        breakerFailures: BREAKER_FAILURES,
        breakerCoolDownMs: 60_000,
        onAttempt: (a) => attempts.push(a),
        onBreaker: (e) => breaker.push(e),
      },
    },
  });
});

/** Terminal task rows of `apiKeyId`, written straight to the store (deliveries need a task each). */
async function insertTasks(apiKeyId: string, count: number, now: number): Promise<string[]> {
  const { tasks } = t.gateway.store.dialect.tables;
  const ids = Array.from({ length: count }, () => `vt_${randomBytes(12).toString('base64url')}`);
  const rows = ids.map((id) => ({
    id,
    apiKeyId,
    status: 'SUCCEEDED' as const,
    prompt: 'flood',
    model: 'kling-v1',
    mode: 'std',
    aspectRatio: '16:9',
    durationSeconds: 5,
    generateAudio: false,
    inputFingerprint: id,
    credits: 10,
    callbackToken: id,
    createdAt: now,
    updatedAt: now,
    deadlineAt: now + 3_600_000,
  }));
  await t.gateway.store.dialect.run(async (db) => {
    for (let i = 0; i < rows.length; i += 100) await db.insert(tasks).values(rows.slice(i, i + 100));
  });
  return ids;
}

const EVENTS = ['video_task.succeeded', 'video_task.failed', 'video_task.canceled', 'video_task.timed_out'] as const;

/** Pending deliveries, due at `dueAt`, one per (task, event); returns their ids. */
async function insertDeliveries(apiKeyId: string, taskIds: string[], url: string, dueAt: number, perTask: number): Promise<string[]> {
  const { webhookDeliveries } = t.gateway.store.dialect.tables;
  const rows = taskIds.flatMap((taskId) =>
    EVENTS.slice(0, perTask).map((event) => ({
      id: `wh_${randomBytes(12).toString('base64url')}`,
      taskId,
      apiKeyId,
      url,
      event,
      payload: JSON.stringify({ type: event, data: { id: taskId } }),
      nextAttemptAt: dueAt,
      createdAt: dueAt,
    })),
  );
  await t.gateway.store.dialect.run(async (db) => {
    for (let i = 0; i < rows.length; i += 100) await db.insert(webhookDeliveries).values(rows.slice(i, i + 100));
  });
  return rows.map((r) => r.id);
}

describe('webhook fairness across keys', () => {
  it('delivers a key’s single webhook promptly while another key floods a receiver that never answers, and opens the breaker for that host', async () => {
    const flooder = await t.gateway.apiKeys.create('flooder', 0);
    const other = await t.gateway.apiKeys.create('other', 0);
    const now = Date.now();

    // 1,000 deliveries, all due and older than the other key's one.
    const floodTasks = await insertTasks(flooder.account.id, FLOOD / EVENTS.length, now);
    await insertDeliveries(flooder.account.id, floodTasks, silent.url('/slow'), now - 60_000, EVENTS.length);
    const [otherTask] = await insertTasks(other.account.id, 1, now);
    const [otherDelivery] = await insertDeliveries(other.account.id, [otherTask ?? ''], healthy.url('/prompt'), now, 1);
    const queuedAt = Date.now();
    t.gateway.webhooks.wake();

    // Before the fix this waited behind the whole backlog: 1,000 × 400 ms / 8 in flight ≈ 50 s.
    const delivered = await attempts.next((a) => a.deliveryId === otherDelivery);
    const waitedMs = Date.now() - queuedAt;
    expect(delivered).toMatchObject({ attempt: 1, statusCode: 200, outcome: 'delivered' });
    expect(healthy.requestsTo('/prompt')).toHaveLength(1);
    // At most about one round of the flooder's timeouts, plus scheduling slack.
    expect(waitedMs).toBeLessThan(TIMEOUT_MS * 3 + 2_000);

    // The silent host trips the breaker after BREAKER_FAILURES timeouts in a row …
    const opened = await breaker.next((e) => e.host === silent.host && e.state === 'open');
    expect(opened.consecutiveFailures).toBeGreaterThanOrEqual(BREAKER_FAILURES);
    expect(breaker.seen.some((e) => e.host === healthy.host)).toBe(false);

    // … after which its deliveries are rescheduled past the cool-down without attempts: only the
    // ones already in flight when it opened were tried, and none is given up.
    const { webhookDeliveries } = t.gateway.store.dialect.tables;
    const settle = async () => {
      const rows = await t.gateway.store.dialect.run((db) =>
        db.select().from(webhookDeliveries).where(eq(webhookDeliveries.apiKeyId, flooder.account.id)),
      );
      return rows;
    };
    // Every flood row is looked at once the breaker is open: each is either tried or pushed past the cool-down.
    await expect
      .poll(async () => (await settle()).filter((r) => r.attempts === 0 && (r.nextAttemptAt ?? 0) < now + 30_000).length, {
        timeout: 15_000,
        interval: 100,
      })
      .toBe(0);
    const rows = await settle();
    expect(rows).toHaveLength(FLOOD);
    expect(rows.every((r) => r.status === 'pending')).toBe(true);
    const tried = rows.filter((r) => r.attempts > 0);
    expect(tried.length).toBeLessThanOrEqual(16);
    expect(silent.requests).toBe(tried.length);
    for (const row of tried.slice(0, 3)) {
      expect(await webhookAttemptsOf(t.gateway.store, row.id)).toMatchObject([{ attempt: 1, statusCode: null, error: `no answer within ${TIMEOUT_MS} ms` }]);
    }
  });
});
