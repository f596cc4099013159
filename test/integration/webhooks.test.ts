import { beforeAll, describe, expect, it } from 'vitest';
import type { TaskRow } from '../../src/db/schema.js';
import { taskTopic } from '../../src/tasks/pubsub.js';
import { isTerminal } from '../../src/tasks/status.js';
import { verifyWebhook } from '../../src/webhooks/signature.js';
import type { WebhookAttemptResult } from '../../src/webhooks/webhook-sender.js';
import { CANCEL_VIDEO_TASK, GENERATE_VIDEO, type GenerateVideoData } from '../helpers/operations.js';
import { startGateway, type TestGateway } from '../helpers/start-gateway.js';
import { webhookAttemptsOf, webhookDeliveriesForTask } from '../helpers/store-audit.js';
import { REDIRECT_TARGET_PATH, startWebhookReceiver, type ReceivedRequest, type WebhookReceiver } from '../helpers/webhook-receiver.js';

const MAX_ATTEMPTS = 4;

let t: TestGateway;
let receiver: WebhookReceiver;
const events = new EventTarget();
const attempts: WebhookAttemptResult[] = [];
const attemptWaiters: { match: (a: WebhookAttemptResult) => boolean; resolve: (a: WebhookAttemptResult) => void }[] = [];

const onAttempt = (attempt: WebhookAttemptResult) => {
  attempts.push(attempt);
  for (const waiter of [...attemptWaiters]) {
    if (waiter.match(attempt)) {
      attemptWaiters.splice(attemptWaiters.indexOf(waiter), 1);
      waiter.resolve(attempt);
    }
  }
};

/** Resolves once the sender has recorded an attempt that matches (including one recorded already). */
const attemptRecorded = (match: (a: WebhookAttemptResult) => boolean): Promise<WebhookAttemptResult> => {
  const seen = attempts.find(match);
  if (seen) return Promise.resolve(seen);
  return new Promise((resolve) => attemptWaiters.push({ match, resolve }));
};

/** Resolves with the task once it is terminal, woken by the same notices subscribers get. */
const terminal = (taskId: string): Promise<TaskRow> =>
  new Promise((resolve) => {
    const topic = taskTopic(taskId);
    // A notice names the task and its version only; the row is read, as the gateway's own listeners do.
    const onEvent = () => {
      void t.gateway.store.getTask(taskId).then((row) => {
        if (!row || !isTerminal(row.status)) return;
        events.removeEventListener(topic, onEvent);
        resolve(row);
      });
    };
    events.addEventListener(topic, onEvent);
    // It may have finished before we started listening.
    void t.gateway.store.getTask(taskId).then((row) => {
      if (row && isTerminal(row.status)) {
        events.removeEventListener(topic, onEvent);
        resolve(row);
      }
    });
  });

beforeAll(async () => {
  receiver = await startWebhookReceiver();
  t = await startGateway({
    env: { POLL_FIRST_DELAY_MS: '20', POLL_MAX_INTERVAL_MS: '50', WEBHOOK_ALLOWED_HOSTS: receiver.host },
    simulator: { taskSeconds: 0.3 },
    overrides: {
      eventTarget: events,
      webhooks: { retryBaseMs: 20, retryMaxMs: 50, maxAttempts: MAX_ATTEMPTS, onAttempt },
    },
  });
});

const newKey = async (name = 'hooks') => {
  const { key, account } = await t.gateway.apiKeys.create(name, 1_000);
  const row = await t.gateway.store.getApiKey(account.id);
  if (!row) throw new Error('key not stored');
  return { key, id: account.id, secret: row.webhookSecret };
};

const generate = async (key: string, input: Record<string, unknown>): Promise<string> => {
  const res = await t.graphql<GenerateVideoData>(GENERATE_VIDEO, { input: { model: 'KLING_V1', ...input } }, key);
  const result = res.body.data?.generateVideo;
  if (result?.__typename !== 'GenerateVideoSuccess' || !result.task) throw new Error(`generateVideo: ${JSON.stringify(res.body)}`);
  return result.task.id;
};

const verify = (request: ReceivedRequest, secret: string) =>
  verifyWebhook({ secret, headers: request.headers, body: request.body, nowMs: Date.now() });

const onlyDelivery = async (taskId: string) => {
  const deliveries = await webhookDeliveriesForTask(t.gateway.store, taskId);
  expect(deliveries).toHaveLength(1);
  return deliveries[0] as NonNullable<(typeof deliveries)[0]>;
};

interface Payload {
  type: string;
  timestamp: string;
  data: Record<string, unknown> & { id: string; videos: Record<string, unknown>[] };
}

describe('outgoing webhooks', () => {
  it('delivers one signed video_task.succeeded webhook when a task succeeds', async () => {
    const owner = await newKey();
    const taskId = await generate(owner.key, { prompt: 'A lighthouse at night', webhookUrl: receiver.url('/succeeded') });

    const [request] = await receiver.waitFor('/succeeded');
    if (!request) throw new Error('no request');
    expect(request.headers['content-type']).toBe('application/json');
    expect(verify(request, owner.secret)).toMatchObject({ ok: true });
    const payload = JSON.parse(request.body) as Payload;
    expect(payload).toEqual({
      type: 'video_task.succeeded',
      timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) as string,
      data: {
        id: taskId,
        status: 'SUCCEEDED',
        credits: 10,
        creditsCharged: 10,
        failure: null,
        videos: [{ id: expect.any(String) as string, url: expect.stringMatching(/^http/) as string, durationSeconds: expect.any(Number) as number }],
        createdAt: expect.any(String) as string,
        completedAt: expect.any(String) as string,
      },
    });

    const attempt = await attemptRecorded((a) => a.taskId === taskId);
    expect(attempt).toMatchObject({ attempt: 1, statusCode: 200, outcome: 'delivered' });
    const delivery = await onlyDelivery(taskId);
    expect(delivery).toMatchObject({ event: 'video_task.succeeded', status: 'delivered', attempts: 1, lastStatusCode: 200 });
    expect(delivery.deliveredAt).not.toBeNull();
    expect(request.headers['webhook-id']).toBe(delivery.id);
    expect(request.body).toBe(delivery.payload);
    expect(await webhookAttemptsOf(t.gateway.store, delivery.id)).toMatchObject([{ attempt: 1, statusCode: 200, error: null }]);
  });

  it('delivers video_task.failed with the failure when Kling fails the task', async () => {
    const owner = await newKey();
    const taskId = await generate(owner.key, { prompt: 'A storm [[fail]]', webhookUrl: receiver.url('/failed') });

    const [request] = await receiver.waitFor('/failed');
    if (!request) throw new Error('no request');
    expect(verify(request, owner.secret).ok).toBe(true);
    expect(JSON.parse(request.body)).toMatchObject({
      type: 'video_task.failed',
      data: { id: taskId, status: 'FAILED', creditsCharged: 0, failure: { code: 'CONTENT_POLICY', retryable: false }, videos: [] },
    });
  });

  it('delivers video_task.canceled when the key cancels the task', async () => {
    const owner = await newKey();
    const taskId = await generate(owner.key, { prompt: 'A slow sunrise', webhookUrl: receiver.url('/canceled') });
    await t.graphql(CANCEL_VIDEO_TASK, { id: taskId }, owner.key);

    const [request] = await receiver.waitFor('/canceled');
    expect(JSON.parse(request?.body ?? '{}')).toMatchObject({ type: 'video_task.canceled', data: { id: taskId, status: 'CANCELED' } });
  });

  it('retries a receiver that answers 500 twice and records all three attempts', async () => {
    const owner = await newKey();
    receiver.respond('/flaky', [500, 500]);
    const taskId = await generate(owner.key, { prompt: 'A paper boat', webhookUrl: receiver.url('/flaky') });

    await attemptRecorded((a) => a.taskId === taskId && a.outcome === 'delivered');
    const requests = receiver.requestsTo('/flaky');
    expect(requests).toHaveLength(3);
    // One message: the same id and body on every retry, so the receiver can drop repeats.
    expect(new Set(requests.map((r) => r.headers['webhook-id'])).size).toBe(1);
    expect(new Set(requests.map((r) => r.body)).size).toBe(1);
    for (const request of requests) expect(verify(request, owner.secret).ok).toBe(true);

    const delivery = await onlyDelivery(taskId);
    expect(delivery).toMatchObject({ status: 'delivered', attempts: 3, lastStatusCode: 200, lastError: null, nextAttemptAt: null });
    expect(await webhookAttemptsOf(t.gateway.store, delivery.id)).toMatchObject([
      { attempt: 1, statusCode: 500, error: 'HTTP 500' },
      { attempt: 2, statusCode: 500, error: 'HTTP 500' },
      { attempt: 3, statusCode: 200, error: null },
    ]);
  });

  it('does not follow a redirect and counts it as a failed attempt', async () => {
    const owner = await newKey();
    receiver.respond('/moved', [302]);
    const taskId = await generate(owner.key, { prompt: 'A winding road', webhookUrl: receiver.url('/moved') });

    await attemptRecorded((a) => a.taskId === taskId && a.outcome === 'delivered');
    expect(receiver.requestsTo(`${REDIRECT_TARGET_PATH}/moved`)).toEqual([]);
    expect(receiver.requestsTo('/moved')).toHaveLength(2);
    const delivery = await onlyDelivery(taskId);
    expect(delivery).toMatchObject({ status: 'delivered', attempts: 2 });
    const [first] = await webhookAttemptsOf(t.gateway.store, delivery.id);
    expect(first).toMatchObject({ attempt: 1, statusCode: 302, error: expect.stringContaining('not followed') as string });
  });

  it('gives a delivery up after the attempt cap', async () => {
    const owner = await newKey();
    receiver.respond('/down', Array.from({ length: MAX_ATTEMPTS }, () => 503));
    const taskId = await generate(owner.key, { prompt: 'A quiet harbour', webhookUrl: receiver.url('/down') });

    expect(await attemptRecorded((a) => a.taskId === taskId && a.outcome !== 'pending')).toMatchObject({
      attempt: MAX_ATTEMPTS,
      outcome: 'failed',
    });
    expect(await onlyDelivery(taskId)).toMatchObject({ status: 'failed', attempts: MAX_ATTEMPTS, lastStatusCode: 503, nextAttemptAt: null });
    expect(receiver.requestsTo('/down')).toHaveLength(MAX_ATTEMPTS);
  });

  it('stores no delivery for a task without webhookUrl', async () => {
    const owner = await newKey();
    const taskId = await generate(owner.key, { prompt: 'A field of tulips' });
    expect((await terminal(taskId)).status).toBe('SUCCEEDED');
    expect(await webhookDeliveriesForTask(t.gateway.store, taskId)).toEqual([]);
  });

  it("sends each key only its own task's data, signed with its own secret", async () => {
    const alice = await newKey('alice');
    const bob = await newKey('bob');
    const aliceTask = await generate(alice.key, { prompt: 'Alice: a red kite', webhookUrl: receiver.url('/alice') });
    const bobTask = await generate(bob.key, { prompt: 'Bob: a blue whale', webhookUrl: receiver.url('/bob') });

    const [[toAlice], [toBob]] = await Promise.all([receiver.waitFor('/alice'), receiver.waitFor('/bob')]);
    if (!toAlice || !toBob) throw new Error('no request');
    for (const [request, own, other, ownTask, otherTask] of [
      [toAlice, alice, bob, aliceTask, bobTask],
      [toBob, bob, alice, bobTask, aliceTask],
    ] as const) {
      expect(verify(request, own.secret).ok).toBe(true);
      expect(verify(request, other.secret)).toEqual({ ok: false, reason: 'bad-signature' });
      const payload = JSON.parse(request.body) as Payload;
      expect(Object.keys(payload).sort()).toEqual(['data', 'timestamp', 'type']);
      expect(Object.keys(payload.data).sort()).toEqual(
        ['completedAt', 'createdAt', 'credits', 'creditsCharged', 'failure', 'id', 'status', 'videos'].sort(),
      );
      expect(payload.data.id).toBe(ownTask);
      for (const video of payload.data.videos) expect(String(video['id'])).toContain(ownTask);
      // Nothing of the other key, nor this key's own identifiers or prompt.
      for (const secretish of [otherTask, other.id, own.id, other.secret, own.secret, 'Alice:', 'Bob:']) {
        expect(request.body).not.toContain(secretish);
      }
    }
  });
});
