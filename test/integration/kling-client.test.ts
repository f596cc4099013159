// Contract tests: the real client against the Kling simulator over real HTTP on 127.0.0.1.
import { SignJWT } from 'jose';
import { request } from 'undici';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Clock } from '../../src/clock.js';
import { createKlingClient, toWireCreateTaskBody, type KlingClientOptions } from '../../src/kling/client.js';
import { parseKlingResponse } from '../../src/kling/envelope.js';
import { KlingApiError } from '../../src/kling/errors.js';
import {
  createKlingSimulator,
  DEFAULT_SIMULATOR_KEY,
  FAIL_MARKER,
  REJECT_MARKER,
  type KlingSimulator,
  type KlingSimulatorOptions,
} from '../../src/kling/simulator/simulator.js';
import type { KlingClient, KlingCreateTaskRequest } from '../../src/kling/types.js';

const TASK_SECONDS = 60;
const MAX_ATTEMPTS = 3;
/**
 * Simulator latency that outlasts a 50 ms headers timeout. undici checks that timeout on a coarse timer
 * (ticks of about half a second), so the answer must be well over a second late for the timeout to win.
 */
const SLOW_ANSWER_MS = 2_000;

/**
 * One clock for simulator and client. Backoff sleeps return at once but move time forward, and can run
 * a hook, which is how a test changes the simulator between two attempts of one call.
 */
function createTestClock() {
  let nowMs = Date.now();
  const sleeps: number[] = [];
  let onSleep: (() => Promise<void> | void) | undefined;
  const clock: Clock = {
    now: () => nowMs,
    sleep: async (ms, signal) => {
      signal?.throwIfAborted();
      sleeps.push(ms);
      nowMs += ms;
      await onSleep?.();
      signal?.throwIfAborted();
    },
  };
  return {
    clock,
    sleeps,
    advanceSeconds: (seconds: number) => {
      nowMs += seconds * 1000;
    },
    onSleep: (hook: (() => Promise<void> | void) | undefined) => {
      onSleep = hook;
    },
  };
}

type TestClock = ReturnType<typeof createTestClock>;

interface Harness {
  sim: KlingSimulator;
  client: KlingClient;
  time: TestClock;
  baseUrl: string;
  /** Another client on the same simulator, e.g. with a wrong secret or a skewed clock. */
  clientWith: (overrides: Partial<KlingClientOptions>) => KlingClient;
}

const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  // Clients first: their pools hold sockets to the simulator.
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function startHarness(simOptions: KlingSimulatorOptions = {}): Promise<Harness> {
  const time = createTestClock();
  const sim = createKlingSimulator({ clock: time.clock, taskSeconds: TASK_SECONDS, seed: 7, ...simOptions });
  cleanups.push(() => sim.stop());
  const baseUrl = await sim.start();
  const clientWith = (overrides: Partial<KlingClientOptions>): KlingClient => {
    const client = createKlingClient({
      baseUrl,
      accessKey: DEFAULT_SIMULATOR_KEY.accessKey,
      secretKey: DEFAULT_SIMULATOR_KEY.secretKey,
      clock: time.clock,
      timeouts: { connectMs: 2_000, headersMs: 5_000, bodyMs: 5_000 },
      connections: 4,
      retry: { maxAttempts: MAX_ATTEMPTS, baseMs: 1, maxMs: 5 },
      random: () => 0.5,
      ...overrides,
    });
    cleanups.push(() => client.close());
    return client;
  };
  return { sim, client: clientWith({}), time, baseUrl, clientWith };
}

let nextId = 0;
function createRequest(overrides: Partial<KlingCreateTaskRequest> = {}): KlingCreateTaskRequest {
  nextId += 1;
  return {
    endpoint: 'text2video',
    modelName: 'kling-v2-6',
    prompt: 'a red fox running through fresh snow',
    mode: 'std',
    durationSeconds: 5,
    externalTaskId: `ours-${nextId}`,
    ...overrides,
  };
}

async function rejection(promise: Promise<unknown>): Promise<KlingApiError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof KlingApiError) return error;
    throw error;
  }
  throw new Error('expected the call to fail with a KlingApiError');
}

describe('toWireCreateTaskBody', () => {
  it('maps to snake_case, sends duration as a string and leaves out what was not given', () => {
    expect(toWireCreateTaskBody({ endpoint: 'text2video', modelName: 'kling-v1', prompt: 'p', externalTaskId: 'x' })).toEqual({
      model_name: 'kling-v1',
      prompt: 'p',
      external_task_id: 'x',
    });
    const full = toWireCreateTaskBody({
      endpoint: 'text2video',
      modelName: 'kling-v1',
      prompt: 'p',
      negativePrompt: 'n',
      mode: 'std',
      aspectRatio: '9:16',
      durationSeconds: 10,
      cfgScale: 0.4,
      cameraControl: { type: 'simple', config: { horizontal: 0, vertical: 0, pan: 0, tilt: 0, roll: 0, zoom: 5 } },
      sound: 'off',
      callbackUrl: 'https://example.test/cb',
      externalTaskId: 'x',
    });
    expect(full).toEqual({
      model_name: 'kling-v1',
      prompt: 'p',
      negative_prompt: 'n',
      mode: 'std',
      aspect_ratio: '9:16',
      duration: '10',
      cfg_scale: 0.4,
      camera_control: { type: 'simple', config: { horizontal: 0, vertical: 0, pan: 0, tilt: 0, roll: 0, zoom: 5 } },
      sound: 'off',
      callback_url: 'https://example.test/cb',
      external_task_id: 'x',
    });
  });
});

describe('Kling client against the simulator', () => {
  describe('create, get, list', () => {
    it('creates a task that Kling reports as submitted, with our external id', async () => {
      const { client, sim } = await startHarness();
      const task = await client.createTask(createRequest({ externalTaskId: 'job-create' }));

      expect(task).toMatchObject({ status: 'submitted', statusMessage: '', externalTaskId: 'job-create', videos: [] });
      expect(task.taskId).toMatch(/^\d{18}$/);
      expect(task.createdAt).toBe(task.updatedAt);
      expect(sim.stats.tasksPerExternalId.get('job-create')).toBe(1);
      expect(sim.stats.requests.create).toBe(1);
    });

    it('sends every optional field in a shape Kling accepts', async () => {
      const { client, time } = await startHarness();
      const created = await client.createTask(
        createRequest({
          modelName: 'kling-v1',
          mode: 'std',
          durationSeconds: 5,
          aspectRatio: '9:16',
          negativePrompt: 'blur',
          cfgScale: 0.5,
          cameraControl: { type: 'simple', config: { horizontal: 0, vertical: 0, pan: 0, tilt: 0, roll: 0, zoom: 5 } },
          sound: 'off',
        }),
      );
      time.advanceSeconds(TASK_SECONDS);
      const done = await client.getTask('text2video', created.taskId);
      expect(done?.videos[0]?.durationSeconds).toBeCloseTo(5.1);
    });

    it('gets a task by task_id and by external_task_id, and null for unknown ids', async () => {
      const { client } = await startHarness();
      const created = await client.createTask(createRequest({ externalTaskId: 'job-get' }));

      expect(await client.getTask('text2video', created.taskId)).toMatchObject({ taskId: created.taskId, status: 'submitted' });
      expect(await client.findTaskByExternalId('text2video', 'job-get')).toMatchObject({ taskId: created.taskId });
      expect(await client.getTask('text2video', '800000000000000001')).toBeNull();
      expect(await client.findTaskByExternalId('text2video', 'never-sent')).toBeNull();
    });

    it('lists tasks newest first, page by page', async () => {
      const { client } = await startHarness();
      const ids: string[] = [];
      for (let index = 0; index < 3; index += 1) ids.push((await client.createTask(createRequest())).taskId);

      const first = await client.listTasks('text2video', { pageNum: 1, pageSize: 2 });
      const second = await client.listTasks('text2video', { pageNum: 2, pageSize: 2 });
      expect(first.map((task) => task.taskId)).toEqual([ids[2], ids[1]]);
      expect(second.map((task) => task.taskId)).toEqual([ids[0]]);
      expect(await client.listTasks('text2video')).toHaveLength(3);
    });

    it('surfaces a bad list parameter as invalid_params', async () => {
      const { client } = await startHarness();
      const error = await rejection(client.listTasks('text2video', { pageSize: 501 }));
      expect(error).toMatchObject({ kind: 'invalid_params', klingCode: 1201, httpStatus: 400 });
    });
  });

  describe('lifecycle', () => {
    it('goes submitted -> processing -> succeed with a video', async () => {
      const { client, time } = await startHarness();
      const { taskId } = await client.createTask(createRequest());

      time.advanceSeconds(TASK_SECONDS / 2);
      expect((await client.getTask('text2video', taskId))?.status).toBe('processing');

      time.advanceSeconds(TASK_SECONDS / 2);
      const done = await client.getTask('text2video', taskId);
      expect(done).toMatchObject({ status: 'succeed', statusMessage: '' });
      expect(done?.videos).toHaveLength(1);
      expect(done?.videos[0]?.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/videos\//);
      expect(done?.videos[0]?.durationSeconds).toBeCloseTo(5.1);
      expect(done?.updatedAt).toBeGreaterThan(done?.createdAt ?? Infinity);
    });

    it('ends failed with a reason for a [[fail]] prompt (envelope still says SUCCEED)', async () => {
      const { client, time } = await startHarness();
      const { taskId } = await client.createTask(createRequest({ prompt: `a fox ${FAIL_MARKER}` }));
      time.advanceSeconds(TASK_SECONDS);

      const done = await client.getTask('text2video', taskId);
      expect(done?.status).toBe('failed');
      expect(done?.statusMessage).not.toBe('');
      expect(done?.videos).toEqual([]);
    });
  });

  describe('errors that must not be retried', () => {
    it('throws content_policy at once for a [[reject]] prompt', async () => {
      const { client, sim } = await startHarness();
      const error = await rejection(client.createTask(createRequest({ prompt: `a fox ${REJECT_MARKER}` })));
      expect(error).toMatchObject({ kind: 'content_policy', klingCode: 1301, retryable: false, ambiguous: false });
      expect(sim.stats.requests.create).toBe(1);
    });

    it('throws invalid_params at once for a duration the model lacks', async () => {
      const { client, sim, time } = await startHarness();
      const error = await rejection(client.createTask(createRequest({ modelName: 'kling-v1', durationSeconds: 7 })));
      expect(error).toMatchObject({ kind: 'invalid_params', klingCode: 1201 });
      expect(sim.stats.requests.create).toBe(1);
      expect(time.sleeps).toEqual([]);
    });

    it('throws not_found for an unknown model', async () => {
      const { client } = await startHarness();
      const error = await rejection(client.createTask(createRequest({ modelName: 'kling-v9' })));
      expect(error).toMatchObject({ kind: 'not_found', klingCode: 1203, httpStatus: 404 });
    });

    it('throws insufficient_balance at once when the resource pack is empty', async () => {
      const { client, sim } = await startHarness({ balanceUnits: 0 });
      const error = await rejection(client.createTask(createRequest()));
      expect(error).toMatchObject({ kind: 'insufficient_balance', klingCode: 1102, httpStatus: 429, retryable: false });
      expect(sim.stats.requests.create).toBe(1);
    });

    it('leaves a concurrency limit (1303) on create to the caller instead of retrying', async () => {
      const { client, sim, time } = await startHarness({ concurrencyLimit: 1 });
      await client.createTask(createRequest());
      const error = await rejection(client.createTask(createRequest({ externalTaskId: 'job-queued' })));

      expect(error).toMatchObject({ kind: 'concurrency_limited', klingCode: 1303, ambiguous: false });
      expect(sim.stats.requests.create).toBe(2);
      expect(sim.stats.tasksPerExternalId.has('job-queued')).toBe(false);
      expect(time.sleeps).toEqual([]);
    });
  });

  describe('injected faults', () => {
    it.each([
      { code: 1302 as const, kind: 'rate_limited' },
    ])('retries a create after $code without looking it up, and creates one task', async ({ code }) => {
      const { client, sim, time } = await startHarness({ faults: { errorRates: { [code]: 1 } } });
      time.onSleep(() => {
        sim.setFaults({});
      });
      const task = await client.createTask(createRequest({ externalTaskId: 'job-retry' }));

      expect(task.externalTaskId).toBe('job-retry');
      expect(sim.stats.injectedErrors.get(code)).toBe(1);
      expect(sim.stats.requests.create).toBe(2);
      // The server said no, so nothing can exist: no lookup before the resend.
      expect(sim.stats.requests.get).toBe(0);
      expect(sim.stats.tasksPerExternalId.get('job-retry')).toBe(1);
      expect(time.sleeps).toHaveLength(1);
    });

    it.each([5000, 5001, 5002] as const)('looks the task up after an injected %i before sending again', async (code) => {
      const { client, sim, time } = await startHarness({ faults: { errorRates: { [code]: 1 } } });
      time.onSleep(() => {
        sim.setFaults({});
      });
      const task = await client.createTask(createRequest({ externalTaskId: 'job-5xx' }));

      expect(task.externalTaskId).toBe('job-5xx');
      expect(sim.stats.requests.create).toBe(2);
      expect(sim.stats.getsPerTaskId.get('job-5xx')).toBe(1);
      expect(sim.stats.tasksPerExternalId.get('job-5xx')).toBe(1);
    });

    it('logs retries without the token or the secret key', async () => {
      const { clientWith, sim, time } = await startHarness({ faults: { errorRates: { 5000: 1 } } });
      const lines: string[] = [];
      const record = (details: Record<string, unknown>, message: string) => {
        lines.push(`${message} ${JSON.stringify(details)}`);
      };
      const client = clientWith({ logger: { debug: record, warn: record } });
      time.onSleep(() => {
        sim.setFaults({});
      });
      await client.createTask(createRequest());

      expect(lines.length).toBeGreaterThan(0);
      for (const line of lines) {
        expect(line).not.toContain(DEFAULT_SIMULATOR_KEY.secretKey);
        // Every JWT starts with the base64url of '{"alg"'.
        expect(line).not.toContain('eyJ');
        expect(line).not.toMatch(/bearer/i);
      }
    });

    it('gives up after maxAttempts on a lasting 5001, not ambiguous', async () => {
      const { client, sim, time } = await startHarness({ faults: { errorRates: { 5001: 1 } } });
      const error = await rejection(client.createTask(createRequest()));

      // Every lookup before a resend fails too (the fault hits every request), so it stops after the first.
      expect(error).toMatchObject({ kind: 'unavailable', klingCode: 5001, httpStatus: 503 });
      expect(sim.stats.requests.create).toBe(1);
      // Kling asks for a second at least before a retry after its own 5000/5001/5002.
      expect(time.sleeps.length).toBeGreaterThan(0);
      expect(time.sleeps.every((ms) => ms >= 1_000)).toBe(true);
    });

    it('stops and reports ambiguous when it cannot look a 5000 up', async () => {
      // Every request fails, the lookup included, so resending could duplicate the task.
      const { client, sim } = await startHarness({ faults: { errorRates: { 5000: 1 } } });
      const error = await rejection(client.createTask(createRequest()));

      expect(error).toMatchObject({ kind: 'server_error', klingCode: 5000, ambiguous: true });
      expect(sim.stats.requests.create).toBe(1);
      expect(sim.stats.requests.get).toBe(MAX_ATTEMPTS);
    });

    it('returns the stored task when the connection drops after Kling accepted the create', async () => {
      const { client, sim } = await startHarness({ faults: { dropAfterAcceptRate: 1 } });
      const task = await client.createTask(createRequest({ externalTaskId: 'job-dropped' }));

      expect(task).toMatchObject({ externalTaskId: 'job-dropped', status: 'submitted' });
      expect(sim.stats.createsDropped).toBe(1);
      expect(sim.stats.requests.create).toBe(1);
      expect(sim.stats.tasksPerExternalId.get('job-dropped')).toBe(1);
    });

    it('returns the stored task when Kling answers 5002 but created it', async () => {
      const { client, sim } = await startHarness({ faults: { timeoutAfterAcceptRate: 1 } });
      const task = await client.createTask(createRequest({ externalTaskId: 'job-5002' }));

      expect(task.externalTaskId).toBe('job-5002');
      expect(sim.stats.createsTimedOut).toBe(1);
      expect(sim.stats.requests.create).toBe(1);
      expect(sim.stats.tasksPerExternalId.get('job-5002')).toBe(1);
    });

    it('looks a timed-out create up before sending it again', async () => {
      const { clientWith, sim, time } = await startHarness({ faults: { latencyMs: { min: SLOW_ANSWER_MS, max: SLOW_ANSWER_MS } } });
      const client = clientWith({ timeouts: { connectMs: 2_000, headersMs: 50, bodyMs: 5_000 } });
      time.onSleep(() => {
        sim.setFaults({});
      });
      const task = await client.createTask(createRequest({ externalTaskId: 'job-slow' }));

      expect(task.externalTaskId).toBe('job-slow');
      expect(time.sleeps).toHaveLength(1);
      // The simulator drops a create whose client has gone, so the lookup finds nothing and a resend is safe.
      expect(sim.stats.getsPerTaskId.get('job-slow')).toBe(1);
      expect(sim.stats.requests.create).toBe(2);
      expect(sim.stats.tasksPerExternalId.get('job-slow')).toBe(1);
    });

    it('retries reads after a headers timeout, a bounded number of times', async () => {
      const { clientWith, sim, time } = await startHarness({ faults: { latencyMs: { min: SLOW_ANSWER_MS, max: SLOW_ANSWER_MS } } });
      const client = clientWith({
        timeouts: { connectMs: 2_000, headersMs: 50, bodyMs: 5_000 },
        retry: { maxAttempts: 2, baseMs: 1, maxMs: 5 },
      });
      const error = await rejection(client.getTask('text2video', '800000000000000001'));

      expect(error).toMatchObject({ kind: 'timeout', retryable: true, ambiguous: false });
      expect(time.sleeps).toHaveLength(1);
      expect(sim.stats.requests.get).toBe(2);
    });

    it.each([5000, 5001, 5002, 1302, 1303] as const)('retries a read after %i', async (code) => {
      const { client, sim, time } = await startHarness();
      const created = await client.createTask(createRequest());
      sim.setFaults({ errorRates: { [code]: 1 } });
      time.onSleep(() => {
        sim.setFaults({});
      });

      expect(await client.getTask('text2video', created.taskId)).toMatchObject({ taskId: created.taskId });
      expect(sim.stats.injectedErrors.get(code)).toBe(1);
      expect(sim.stats.requests.get).toBe(2);
    });

    it('reports a task the failRate fails as failed', async () => {
      const { client, time } = await startHarness({ faults: { failRate: 1 } });
      const { taskId } = await client.createTask(createRequest());
      time.advanceSeconds(TASK_SECONDS);
      const done = await client.getTask('text2video', taskId);
      expect(done?.status).toBe('failed');
      expect(done?.statusMessage).not.toBe('');
    });

    it('keeps a slow task processing past the normal task time', async () => {
      const { client, time } = await startHarness({ faults: { slowTaskRate: 1, slowTaskSeconds: 600 } });
      const { taskId } = await client.createTask(createRequest());
      time.advanceSeconds(TASK_SECONDS * 2);
      expect((await client.getTask('text2video', taskId))?.status).toBe('processing');
      time.advanceSeconds(600);
      expect((await client.getTask('text2video', taskId))?.status).toBe('succeed');
    });

    it('returns null once Kling has forgotten a task', async () => {
      const { client, sim } = await startHarness();
      const { taskId } = await client.createTask(createRequest());
      sim.forgetTask(taskId);
      expect(await client.getTask('text2video', taskId)).toBeNull();
    });
  });

  describe('auth', () => {
    it('rejects a token signed with the wrong secret (1002) without retrying', async () => {
      const { clientWith, sim } = await startHarness();
      const client = clientWith({ secretKey: 'not-the-secret' });
      const error = await rejection(client.createTask(createRequest()));

      expect(error).toMatchObject({ kind: 'auth', klingCode: 1002, httpStatus: 401, retryable: false });
      expect(sim.stats.requests.create).toBe(1);
    });

    it('re-signs once after an expired token (1004), then gives up', async () => {
      const { clientWith, sim, time } = await startHarness();
      // A client clock an hour behind signs tokens that were already expired for Kling.
      const client = clientWith({ clock: { ...time.clock, now: () => time.clock.now() - 3_600_000 } });
      const error = await rejection(client.listTasks('text2video'));

      expect(error).toMatchObject({ kind: 'auth', klingCode: 1004, httpStatus: 401 });
      expect(sim.stats.requests.list).toBe(2);
    });

    it('recovers from 1003 by re-signing once the clock is right again', async () => {
      const { clientWith, sim, time } = await startHarness();
      let skewMs = 1_600_000;
      const client = clientWith({ clock: { ...time.clock, now: () => time.clock.now() + skewMs } });
      expect(await rejection(client.listTasks('text2video'))).toMatchObject({ klingCode: 1003 });

      // The cached token still looks fresh to the corrected clock; only Kling's refusal retires it.
      skewMs = 0;
      sim.resetStats();
      expect(await client.listTasks('text2video')).toEqual([]);
      expect(sim.stats.answersByCode.get(1003)).toBe(1);
      expect(sim.stats.requests.list).toBe(2);
    });

    it.each([
      { name: 'a garbled token', token: async () => Promise.resolve('not.a.jwt'), code: 1002 },
      {
        name: 'an expired token',
        token: async () =>
          new SignJWT({ iss: DEFAULT_SIMULATOR_KEY.accessKey, exp: Math.floor(Date.now() / 1000) - 60, nbf: Math.floor(Date.now() / 1000) - 1_900 })
            .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
            .sign(new TextEncoder().encode(DEFAULT_SIMULATOR_KEY.secretKey)),
        code: 1004,
      },
      {
        name: 'a token not yet valid',
        token: async () =>
          new SignJWT({ iss: DEFAULT_SIMULATOR_KEY.accessKey, exp: Math.floor(Date.now() / 1000) + 3_600, nbf: Math.floor(Date.now() / 1000) + 600 })
            .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
            .sign(new TextEncoder().encode(DEFAULT_SIMULATOR_KEY.secretKey)),
        code: 1003,
      },
    ])('answers $name with 401 and code $code', async ({ token, code }) => {
      const { baseUrl } = await startHarness();
      const response = await request(`${baseUrl}/v1/videos/text2video`, {
        headers: { authorization: `Bearer ${await token()}`, 'content-type': 'application/json' },
      });
      const body = await response.body.text();

      expect(response.statusCode).toBe(401);
      let error: unknown;
      try {
        parseKlingResponse(response.statusCode, body, 'read');
      } catch (caught) {
        error = caught;
      }
      expect(error).toMatchObject({ kind: 'auth', klingCode: code, httpStatus: 401 });
    });
  });

  describe('cancellation and shutdown', () => {
    it('aborts an in-flight create and reports it as ambiguous', async () => {
      const { client, sim } = await startHarness({ faults: { latencyMs: { min: 10_000, max: 10_000 } } });
      const controller = new AbortController();
      const pending = rejection(client.createTask(createRequest(), { signal: controller.signal }));
      await vi.waitFor(() => {
        expect(sim.stats.requests.create).toBe(1);
      });
      controller.abort();

      expect(await pending).toMatchObject({ message: 'Kling request aborted', ambiguous: true, retryable: false });
    });

    it('aborts during a backoff sleep without sending again', async () => {
      const { client, sim, time } = await startHarness({ faults: { errorRates: { 5001: 1 } } });
      const controller = new AbortController();
      time.onSleep(() => {
        controller.abort();
      });
      const error = await rejection(client.createTask(createRequest(), { signal: controller.signal }));

      expect(error).toMatchObject({ message: 'Kling request aborted', ambiguous: false });
      expect(sim.stats.requests.create).toBe(1);
    });

    it('sends nothing when the signal is already aborted', async () => {
      const { client, sim } = await startHarness();
      const error = await rejection(client.createTask(createRequest(), { signal: AbortSignal.abort() }));

      expect(error).toMatchObject({ message: 'Kling request aborted', ambiguous: false });
      expect(sim.stats.requests.total).toBe(0);
    });

    it('retries a refused connection as not sent: no lookup, not ambiguous', async () => {
      const { client, sim, time } = await startHarness();
      await sim.stop();
      const error = await rejection(client.createTask(createRequest()));

      expect(error).toMatchObject({ kind: 'network', retryable: true, ambiguous: false });
      expect(time.sleeps).toHaveLength(MAX_ATTEMPTS - 1);
    });

    it('refuses calls after close(), and close() is idempotent', async () => {
      const { client, sim } = await startHarness();
      await client.close();
      await client.close();
      const error = await rejection(client.listTasks('text2video'));
      expect(error).toMatchObject({ kind: 'network', retryable: false });
      expect(sim.stats.requests.total).toBe(0);
    });
  });
});
