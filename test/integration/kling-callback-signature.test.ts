// KLING_WEBHOOK_SECRET on the real server: a callback needs Kling's Standard Webhooks signature as
// well as the URL token (kling-api.md section 8). Signatures are made by the simulator's own signer,
// not by the gateway's verifier, and both sides run on a clock an hour off real time, so a callback
// only passes if the gateway judges the timestamp by its own clock.
import { randomBytes, randomUUID } from 'node:crypto';
import { freeLoopbackPort } from '../helpers/free-port.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { systemClock, type Clock } from '../../src/clock.js';
import { signWebhook } from '../../src/kling/simulator/webhook-signature.js';
import { TASK_UPDATED, type TaskFields } from '../helpers/operations.js';
import { startGateway, type TestGateway } from '../helpers/start-gateway.js';
import {
  CHEAP,
  generateTask,
  klingIdOf,
  lastTaskOf,
  PRICE,
  readAccount,
  statusesOf,
  type TaskUpdatedData,
} from '../helpers/task-flows.js';
import { createWsClient } from '../helpers/ws-client.js';

const newSecret = () => `whsec_${randomBytes(32).toString('base64')}`;

/** An hour ahead of real time: Date.now() would call every one of these timestamps stale. */
const SKEW_MS = 60 * 60_000;
const skewedClock: Clock = { now: () => Date.now() + SKEW_MS, sleep: (ms, signal) => systemClock.sleep(ms, signal) };

/** A gateway that only callbacks can move (the poller looks a minute after submit), checking `secret`. */
async function gatewayWithCallbacks(secret: string, simulatorSecrets: string | readonly string[]): Promise<TestGateway> {
  const port = await freeLoopbackPort();
  return startGateway({
    env: {
      PORT: String(port),
      PUBLIC_URL: `http://127.0.0.1:${port}`,
      KLING_WEBHOOK_SECRET: secret,
      POLL_FIRST_DELAY_MS: '60000',
      POLL_MAX_INTERVAL_MS: '60000',
    },
    simulator: { taskSeconds: 1, clock: skewedClock, webhookSecret: simulatorSecrets },
    overrides: { clock: skewedClock },
  });
}

/** Runs a task to its end on Kling's (the simulator's) signed callbacks alone. */
async function runOnCallbacks(t: TestGateway, prompt: string) {
  const key = await t.createKey(1_000);
  const ws = createWsClient(t.url, { key });
  await ws.subscribe('{ __typename }').done;
  const task = await generateTask(t, key, { prompt, ...CHEAP });
  const outcome = await ws.subscribe<TaskUpdatedData>(TASK_UPDATED, { id: task.id }).done;
  const klingId = await klingIdOf(t, task.id);
  await t.simulator.flushCallbacks();
  return { key, outcome, klingId };
}

describe("Kling's signed callbacks", () => {
  const secret = newSecret();
  let t: TestGateway;

  beforeAll(async () => {
    t = await gatewayWithCallbacks(secret, secret);
  });

  const rowOf = async (id: string) => {
    const row = await t.gateway.store.getTask(id);
    if (!row) throw new Error(`no task ${id}`);
    return row;
  };

  const post = (taskId: string, token: string, body: string, headers: Record<string, string>) =>
    fetch(new URL(`/kling/callback/${taskId}/${token}`, t.url), {
      method: 'POST',
      headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
      body,
    });

  /** The three headers Kling sends, signed with `key` over exactly `body`. */
  const signed = (body: string, options: { key?: string; timestampSeconds?: number; id?: string } = {}) => {
    const id = options.id ?? randomUUID();
    const timestampSeconds = options.timestampSeconds ?? Math.floor(skewedClock.now() / 1000);
    return {
      'webhook-id': id,
      'webhook-timestamp': String(timestampSeconds),
      'webhook-signature': signWebhook({ secret: options.key ?? secret, id, timestampSeconds, body }),
    };
  };

  it('moves a task to SUCCEEDED on signed callbacks alone', async () => {
    const { key, outcome, klingId } = await runOnCallbacks(t, 'A hummingbird, signed');

    expect(outcome.end).toBe('complete');
    expect(statusesOf(outcome).slice(-2)).toEqual(['PROCESSING', 'SUCCEEDED']);
    expect(lastTaskOf(outcome)).toMatchObject({ creditsCharged: PRICE, failure: null });
    expect(t.simulator.stats.getsPerTaskId.get(klingId)).toBeUndefined();
    expect(t.simulator.stats.callbacks.failed).toBe(0);
    expect(await readAccount(t, key)).toMatchObject({ creditsHeld: 0, creditsUsed: PRICE });
  });

  it('refuses with 401 an unsigned, wrongly signed, stale or replayed callback despite the right token, and changes nothing', async () => {
    const key = await t.createKey(1_000);
    // A slow task: Kling itself stays quiet for the length of this test.
    t.simulator.setFaults({ slowTaskRate: 1, slowTaskSeconds: 600 });
    let task: TaskFields;
    try {
      task = await generateTask(t, key, { prompt: 'Forged, but with the token', ...CHEAP });
    } finally {
      t.simulator.setFaults({});
    }
    const klingView = t.simulator.peekTask(await klingIdOf(t, task.id));
    const processing = JSON.stringify({ ...klingView, task_status: 'processing' });
    const forged = JSON.stringify({
      ...klingView,
      task_status: 'succeed',
      task_result: { videos: [{ id: 'forged', url: 'https://attacker.example/forged.mp4', duration: '5.1' }] },
    });
    const { callbackToken } = await rowOf(task.id);

    // A genuine callback, as if captured on its way: taken once, then its headers go with another body.
    const captured = signed(processing);
    const genuine = await post(task.id, callbackToken, processing, captured);
    expect(genuine.status).toBe(200);
    expect(await genuine.json()).toEqual({ outcome: 'applied' });
    const before = await rowOf(task.id);
    expect(before.status).toBe('PROCESSING');

    const now = Math.floor(skewedClock.now() / 1000);
    const refused = [
      ['unsigned', {}, 'missing-headers'],
      ['signed with another secret', signed(forged, { key: newSecret() }), 'bad-signature'],
      ['signed 6 min ago', signed(forged, { timestampSeconds: now - 360 }), 'stale-timestamp'],
      ['signed 6 min ahead', signed(forged, { timestampSeconds: now + 360 }), 'stale-timestamp'],
      ['a genuine signature replayed with another body', captured, 'bad-signature'],
      ["signed on the real clock, an hour behind the gateway's", signed(forged, { timestampSeconds: Math.floor(Date.now() / 1000) }), 'stale-timestamp'],
    ] as const;
    for (const [what, headers, reason] of refused) {
      const res = await post(task.id, callbackToken, forged, headers);
      const body: unknown = await res.json();
      expect({ what, status: res.status, body }).toEqual({ what, status: 401, body: { error: 'invalid signature', reason } });
    }
    expect(await rowOf(task.id)).toEqual(before);
    expect(await readAccount(t, key)).toMatchObject({ creditsHeld: PRICE, creditsUsed: 0 });

    // The signature does not replace the token: well signed, a wrong token still finds no task.
    const wrongToken = await post(task.id, `${callbackToken}x`, forged, signed(forged));
    expect(wrongToken.status).toBe(404);
    expect(await rowOf(task.id)).toEqual(before);

    // The same body, signed, with the token: only the signature had turned the others away.
    const accepted = await post(task.id, callbackToken, forged, signed(forged));
    expect(accepted.status).toBe(200);
    expect(await accepted.json()).toEqual({ outcome: 'applied' });
    expect((await rowOf(task.id)).status).toBe('SUCCEEDED');
  });
});

describe("Kling's callbacks during a secret rotation", () => {
  it('accepts callbacks carrying several signatures when one of them is by the configured secret', async () => {
    const current = newSecret();
    // Kling signs with the old and the new secret for 7 days; the gateway already has the new one.
    const t = await gatewayWithCallbacks(current, [newSecret(), current]);
    const { outcome } = await runOnCallbacks(t, 'Rotated news');

    expect(statusesOf(outcome).slice(-2)).toEqual(['PROCESSING', 'SUCCEEDED']);
    const { sent, delivered, failed } = t.simulator.stats.callbacks;
    expect({ delivered, failed }).toEqual({ delivered: sent, failed: 0 });
  });
});
