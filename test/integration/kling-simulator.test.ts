import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT } from 'jose';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import type { Clock } from '../../src/clock.js';
import { sampleClip } from '../../src/kling/simulator/placeholder-video.js';
import { createKlingSimulator, type KlingSimulator, type KlingSimulatorOptions } from '../../src/kling/simulator/simulator.js';
import { signWebhook } from '../../src/kling/simulator/webhook-signature.js';
import { wireTaskSchema, type WireTask } from '../../src/kling/wire.js';

const START = Date.UTC(2026, 8, 1, 12, 0, 0);
const ACCESS_KEY = 'sim-access-key';
const SECRET_KEY = 'sim-secret-key';
const T2V = '/v1/videos/text2video';
const OMNI = '/v1/videos/omni-video';
const THIRTY_DAYS_MS = 30 * 24 * 60 * 60 * 1000;

interface ManualClock extends Clock {
  advance(ms: number): void;
}

/** Time moves only when a test says so; sleepers wake when the clock passes their deadline. */
function createManualClock(startMs = START): ManualClock {
  let now = startMs;
  const sleepers = new Set<{ until: number; wake: () => void }>();
  return {
    now: () => now,
    sleep(ms, signal) {
      return new Promise<void>((resolve, reject) => {
        if (signal?.aborted) {
          reject(signal.reason as Error);
          return;
        }
        if (ms <= 0) {
          resolve();
          return;
        }
        const onAbort = (): void => {
          sleepers.delete(sleeper);
          reject(signal?.reason as Error);
        };
        const sleeper = {
          until: now + ms,
          wake: () => {
            signal?.removeEventListener('abort', onAbort);
            resolve();
          },
        };
        sleepers.add(sleeper);
        signal?.addEventListener('abort', onAbort, { once: true });
      });
    },
    advance(ms) {
      now += ms;
      for (const sleeper of [...sleepers]) {
        if (sleeper.until <= now) {
          sleepers.delete(sleeper);
          sleeper.wake();
        }
      }
    },
  };
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((cleanup) => cleanup()));
});

interface Harness {
  sim: KlingSimulator;
  clock: ManualClock;
  base: string;
  token: string;
}

async function startSimulator(options: KlingSimulatorOptions = {}): Promise<Harness> {
  const clock = createManualClock();
  const sim = createKlingSimulator({ clock, ...options });
  cleanups.push(() => sim.stop());
  const base = await sim.start();
  return { sim, clock, base, token: await sign({ clock }) };
}

interface SignOptions {
  clock: Clock;
  iss?: string;
  secret?: string;
  expInSeconds?: number;
  nbfInSeconds?: number;
  alg?: 'HS256' | 'HS512';
}

async function sign(options: SignOptions): Promise<string> {
  const nowSeconds = Math.floor(options.clock.now() / 1000);
  return new SignJWT({
    iss: options.iss ?? ACCESS_KEY,
    exp: nowSeconds + (options.expInSeconds ?? 1800),
    nbf: nowSeconds + (options.nbfInSeconds ?? -5),
  })
    .setProtectedHeader({ alg: options.alg ?? 'HS256', typ: 'JWT' })
    .sign(new TextEncoder().encode(options.secret ?? SECRET_KEY));
}

interface Envelope {
  code: number;
  message: string;
  request_id: string;
  data?: unknown;
}

interface ApiAnswer {
  status: number;
  body: Envelope;
}

interface CallOptions {
  body?: unknown;
  rawBody?: string;
  /** null sends no Authorization header. */
  authorization?: string | null;
}

async function call(h: Harness, method: 'GET' | 'POST' | 'DELETE', path: string, options: CallOptions = {}): Promise<ApiAnswer> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  const authorization = options.authorization === undefined ? `Bearer ${h.token}` : options.authorization;
  if (authorization !== null) headers.authorization = authorization;
  const body = options.rawBody ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
  const response = await request(`${h.base}${path}`, { method, headers, body });
  return { status: response.statusCode, body: (await response.body.json()) as Envelope };
}

const create = (h: Harness, body: Record<string, unknown>, path = T2V): Promise<ApiAnswer> => call(h, 'POST', path, { body });

function taskOf(answer: ApiAnswer): WireTask {
  expect(answer.body.code, answer.body.message).toBe(0);
  return wireTaskSchema.parse(answer.body.data);
}

function tasksOf(answer: ApiAnswer): WireTask[] {
  expect(answer.body.code, answer.body.message).toBe(0);
  return wireTaskSchema.array().parse(answer.body.data);
}

function expectError(answer: ApiAnswer, status: number, code: number): void {
  expect({ status: answer.status, code: answer.body.code }, answer.body.message).toEqual({ status, code });
  expect(answer.body).not.toHaveProperty('data');
  expect(answer.body.request_id).toMatch(/^[0-9a-f-]{36}$/);
}

interface Received {
  headers: IncomingHttpHeaders;
  raw: string;
  body: Record<string, unknown>;
}

/** A callback target that records what arrives and lets a test await the n-th delivery. */
async function startReceiver(status = 200) {
  const received: Received[] = [];
  const waiters: { count: number; resolve: () => void }[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      received.push({ headers: req.headers, raw, body: JSON.parse(raw) as Record<string, unknown> });
      res.writeHead(status).end();
      for (const waiter of waiters.filter((w) => received.length >= w.count)) waiter.resolve();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
        server.closeAllConnections();
      }),
  );
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    received,
    waitFor(count: number): Promise<void> {
      if (received.length >= count) return Promise.resolve();
      return new Promise((resolve) => waiters.push({ count, resolve }));
    },
  };
}

describe('Kling simulator auth', () => {
  it.each([
    ['no Authorization header', null, 1001],
    ['an empty Authorization header', '', 1001],
    ['a non-Bearer scheme', 'Basic c2ltOnNpbQ==', 1002],
    ['a token that is not a JWT', 'Bearer not-a-jwt', 1002],
  ])('answers 401 for %s', async (_name, authorization, code) => {
    const h = await startSimulator();
    expectError(await call(h, 'GET', T2V, { authorization }), 401, code);
  });

  it.each([
    ['a wrong secret', { secret: 'other-secret' }, 1002],
    ['an unknown access key', { iss: 'nobody' }, 1002],
    ['a token signed with HS512', { alg: 'HS512' as const }, 1002],
    ['nbf in the future', { nbfInSeconds: 60 }, 1003],
    ['exp in the past', { expInSeconds: -1 }, 1004],
  ])('answers 401 for %s', async (_name, claims, code) => {
    const h = await startSimulator();
    const token = await sign({ clock: h.clock, ...claims });
    expectError(await call(h, 'GET', T2V, { authorization: `Bearer ${token}` }), 401, code);
  });

  it('expires an accepted token when the simulator clock passes exp', async () => {
    const h = await startSimulator();
    const token = await sign({ clock: h.clock, expInSeconds: 60 });
    expect((await call(h, 'GET', T2V, { authorization: `Bearer ${token}` })).status).toBe(200);
    h.clock.advance(61_000);
    expectError(await call(h, 'GET', T2V, { authorization: `Bearer ${token}` }), 401, 1004);
  });

  it('accepts every configured key pair and static API keys', async () => {
    const h = await startSimulator({
      keys: [
        { accessKey: 'ak-1', secretKey: 'sk-1' },
        { accessKey: 'ak-2', secretKey: 'sk-2' },
      ],
      apiKeys: ['static-key'],
    });
    const second = await sign({ clock: h.clock, iss: 'ak-2', secret: 'sk-2' });
    expect((await call(h, 'GET', T2V, { authorization: `Bearer ${second}` })).status).toBe(200);
    expect((await call(h, 'GET', T2V, { authorization: 'Bearer static-key' })).status).toBe(200);
    expectError(await call(h, 'GET', T2V), 401, 1002);
  });
});

describe('Kling simulator create validation', () => {
  const longText = 'x'.repeat(2501);
  it.each<[string, Record<string, unknown>, number, number, RegExp]>([
    ['a missing prompt', {}, 400, 1201, /prompt/],
    ['an empty prompt', { prompt: '  ' }, 400, 1201, /prompt/],
    ['a prompt over 2500 characters', { prompt: longText }, 400, 1201, /prompt.*2500/],
    ['a negative_prompt over 2500 characters', { prompt: 'a cat', negative_prompt: longText }, 400, 1201, /negative_prompt/],
    ['an unknown model', { prompt: 'a cat', model_name: 'kling-v9' }, 404, 1203, /kling-v9/],
    ['an omni model on text2video', { prompt: 'a cat', model_name: 'kling-v3-omni' }, 404, 1203, /kling-v3-omni/],
    ['an unknown mode', { prompt: 'a cat', mode: 'ultra' }, 400, 1201, /mode/],
    ['an unknown aspect ratio', { prompt: 'a cat', aspect_ratio: '4:3' }, 400, 1201, /aspect_ratio/],
    ['a numeric duration', { prompt: 'a cat', duration: 5 }, 400, 1201, /duration/],
    ['a duration the model lacks', { prompt: 'a cat', model_name: 'kling-v2-6', duration: '7' }, 400, 1201, /duration "7"/],
    ['cfg_scale above 1', { prompt: 'a cat', cfg_scale: 1.5 }, 400, 1201, /cfg_scale/],
    ['a string cfg_scale', { prompt: 'a cat', cfg_scale: '0.5' }, 400, 1201, /cfg_scale/],
    ['simple camera without config', { prompt: 'a cat', camera_control: { type: 'simple' } }, 400, 1201, /config/],
    [
      'simple camera with two moves',
      { prompt: 'a cat', camera_control: { type: 'simple', config: { zoom: 5, pan: 1 } } },
      400,
      1201,
      /exactly one/,
    ],
    ['a camera value beyond 10', { prompt: 'a cat', camera_control: { type: 'simple', config: { zoom: 11 } } }, 400, 1201, /zoom/],
    [
      'a preset camera with config',
      { prompt: 'a cat', camera_control: { type: 'down_back', config: { zoom: 5 } } },
      400,
      1201,
      /empty/,
    ],
    ['an unknown camera type', { prompt: 'a cat', camera_control: { type: 'orbit' } }, 400, 1201, /camera_control.type/],
    [
      'camera control on kling-v1-6',
      { prompt: 'a cat', model_name: 'kling-v1-6', camera_control: { type: 'down_back' } },
      400,
      1201,
      /camera_control/,
    ],
    [
      'camera control on kling-v1 pro',
      { prompt: 'a cat', mode: 'pro', camera_control: { type: 'down_back' } },
      400,
      1201,
      /camera_control/,
    ],
    ['sound on kling-v1', { prompt: 'a cat', sound: 'on' }, 400, 1201, /sound/],
    ['sound on kling-v2-6 std', { prompt: 'a cat', model_name: 'kling-v2-6', sound: 'on' }, 400, 1201, /sound/],
    ['a bad sound value', { prompt: 'a cat', sound: 'yes' }, 400, 1201, /sound/],
    ['a non-http callback_url', { prompt: 'a cat', callback_url: 'ftp://example.com/x' }, 400, 1201, /callback_url/],
    ['a numeric external_task_id', { prompt: 'a cat', external_task_id: 5 }, 400, 1201, /external_task_id/],
    ['a [[reject]] prompt', { prompt: 'a cat [[reject]]' }, 400, 1301, /./],
  ])('rejects %s', async (_name, body, status, code, message) => {
    const h = await startSimulator();
    const answer = await create(h, body);
    expectError(answer, status, code);
    expect(answer.body.message).toMatch(message);
    expect(h.sim.taskCount).toBe(0);
  });

  it('answers 400/1200 when the body is not JSON', async () => {
    const h = await startSimulator();
    expectError(await call(h, 'POST', T2V, { rawBody: '{"prompt":' }), 400, 1200);
    expectError(await call(h, 'POST', T2V, { rawBody: '[1]' }), 400, 1200);
  });

  it.each<[string, Record<string, unknown>, string]>([
    ['2500 emoji (code points, not UTF-16 units)', { prompt: '🎬'.repeat(2500) }, T2V],
    ['kling-v2-master with a mode it ignores', { prompt: 'a cat', model_name: 'kling-v2-master', mode: 'pro' }, T2V],
    ['kling-v1 std 5 s simple camera', { prompt: 'a cat', camera_control: { type: 'simple', config: { zoom: -4, pan: 0 } } }, T2V],
    ['kling-v1 std 5 s preset camera', { prompt: 'a cat', camera_control: { type: 'forward_up' } }, T2V],
    ['kling-v2-6 pro with sound', { prompt: 'a cat', model_name: 'kling-v2-6', mode: 'pro', sound: 'on' }, T2V],
    ['kling-v3 for 13 s with sound', { prompt: 'a cat', model_name: 'kling-v3', duration: '13', sound: 'on' }, T2V],
    ['kling-v3-omni on omni-video', { prompt: 'a cat', model_name: 'kling-v3-omni', duration: '12', sound: 'on' }, OMNI],
    ['kling-video-o1 on omni-video', { prompt: 'a cat', model_name: 'kling-video-o1', mode: 'pro' }, OMNI],
    ['the deprecated model alias', { prompt: 'a cat', model: 'no-such-model' }, T2V],
  ])('accepts %s', async (_name, body, path) => {
    const h = await startSimulator();
    expect(taskOf(await create(h, body, path)).task_status).toBe('submitted');
  });

  it('ignores unsupported camera control and sound when configured to', async () => {
    const h = await startSimulator({ unsupportedOptions: 'ignore' });
    const answer = await create(h, { prompt: 'a cat', model_name: 'kling-v1-6', sound: 'on', camera_control: { type: 'down_back' } });
    expect(taskOf(answer).task_status).toBe('submitted');
  });
});

describe('Kling simulator tasks', () => {
  it('creates a submitted task and finds it by task_id and by external_task_id', async () => {
    const h = await startSimulator();
    const created = await create(h, { prompt: 'a cat', external_task_id: 'ours-1' });
    expect(created.status).toBe(200);
    expect(created.body.message).toBe('SUCCEED');
    const task = taskOf(created);
    expect(task.task_id).toMatch(/^\d{18}$/);
    expect(task).toMatchObject({ task_status: 'submitted', task_info: { external_task_id: 'ours-1' }, created_at: START, updated_at: START });

    const byId = taskOf(await call(h, 'GET', `${T2V}/${task.task_id}`));
    const byExternal = taskOf(await call(h, 'GET', `${T2V}/ours-1`));
    const viaList = tasksOf(await call(h, 'GET', `${T2V}?external_task_id=ours-1`));
    expect(byExternal).toEqual(byId);
    expect(viaList).toEqual([byId]);
    expect(h.sim.stats.getsPerTaskId.get(task.task_id)).toBe(2);
  });

  it('echoes an empty task_info without an external id and keeps endpoints apart', async () => {
    const h = await startSimulator();
    const task = taskOf(await create(h, { prompt: 'a cat' }));
    expect(task.task_info).toEqual({});
    expectError(await call(h, 'GET', `${OMNI}/${task.task_id}`), 404, 1203);
    expect(tasksOf(await call(h, 'GET', OMNI))).toEqual([]);
  });

  it('moves submitted -> processing -> succeed with the clock and serves the video', async () => {
    const h = await startSimulator({ taskSeconds: 10 });
    const { task_id: id } = taskOf(await create(h, { prompt: 'a cat', external_task_id: 'life-1', watermark_info: { enabled: true } }));

    h.clock.advance(999);
    expect(taskOf(await call(h, 'GET', `${T2V}/${id}`)).task_status).toBe('submitted');
    h.clock.advance(1);
    expect(taskOf(await call(h, 'GET', `${T2V}/${id}`))).toMatchObject({ task_status: 'processing', updated_at: START + 1000 });
    h.clock.advance(9000);
    const done = await call(h, 'GET', `${T2V}/${id}`);
    const task = taskOf(done);
    expect(task).toMatchObject({ task_status: 'succeed', task_status_msg: '', updated_at: START + 10_000, final_unit_deduction: '1' });
    const video = task.task_result?.videos?.[0];
    expect(video?.duration).toBe('5.1');
    expect(video?.id).toMatch(/^\d+$/);
    expect(video?.watermark_url).toBeDefined();
    const url = new URL(video?.url ?? '');
    expect(`${url.protocol}//${url.host}`).toBe(h.base);
    expect(Number(url.searchParams.get('Expires'))).toBe(Math.floor((START + 10_000 + THIRTY_DAYS_MS) / 1000));

    const file = await request(url);
    expect(file.statusCode).toBe(200);
    expect(file.headers['content-type']).toBe('video/mp4');
    const bytes = Buffer.from(await file.body.arrayBuffer());
    expect(bytes.subarray(4, 8).toString('latin1')).toBe('ftyp');
    expect(bytes.includes(Buffer.from('moov'))).toBe(true);
    // The committed clip (src/kling/simulator/assets/sample-clip.mp4): several seconds that really play, not one frame.
    expect(bytes.equals(sampleClip())).toBe(true);
    expect(bytes.length).toBeGreaterThan(1000);

    const partial = await request(url, { headers: { range: 'bytes=0-7' } });
    expect(partial.statusCode).toBe(206);
    expect(partial.headers['content-range']).toBe(`bytes 0-7/${bytes.length}`);
    expect((await partial.body.arrayBuffer()).byteLength).toBe(8);
  });

  it('ends a [[fail]] task failed with a content-safety message, still HTTP 200 / code 0', async () => {
    const h = await startSimulator({ taskSeconds: 0.2 });
    const { task_id: id } = taskOf(await create(h, { prompt: 'a cat [[fail]]' }));
    h.clock.advance(200);
    const answer = await call(h, 'GET', `${T2V}/${id}`);
    expect(answer.status).toBe(200);
    const task = taskOf(answer);
    expect(task.task_status).toBe('failed');
    expect(task.task_status_msg).toBe('Failure to pass the risk control system');
    expect(task.task_result).toEqual({});
  });

  it('lists tasks newest first in pages and rejects out-of-range paging', async () => {
    const h = await startSimulator();
    const ids: string[] = [];
    for (let index = 0; index < 7; index++) {
      ids.push(taskOf(await create(h, { prompt: `clip ${index}` })).task_id);
      h.clock.advance(1);
    }
    const newestFirst = [...ids].reverse();
    const page = async (query: string): Promise<string[]> => tasksOf(await call(h, 'GET', `${T2V}${query}`)).map((task) => task.task_id);
    expect(await page('')).toEqual(newestFirst);
    expect(await page('?pageNum=1&pageSize=3')).toEqual(newestFirst.slice(0, 3));
    expect(await page('?pageNum=3&pageSize=3')).toEqual(newestFirst.slice(6));
    expect(await page('?pageNum=4&pageSize=3')).toEqual([]);
    for (const query of ['pageNum=0', 'pageNum=1001', 'pageSize=0', 'pageSize=501', 'pageSize=abc', 'pageNum=1.5']) {
      expectError(await call(h, 'GET', `${T2V}?${query}`), 400, 1201);
    }
  });

  it('rejects a duplicate external_task_id per account, not across accounts', async () => {
    const h = await startSimulator({
      keys: [
        { accessKey: ACCESS_KEY, secretKey: SECRET_KEY },
        { accessKey: 'other', secretKey: 'other-secret' },
      ],
    });
    const first = taskOf(await create(h, { prompt: 'a cat', external_task_id: 'dup' }));
    const again = await create(h, { prompt: 'a dog', external_task_id: 'dup' });
    expectError(again, 400, 1201);
    expect(again.body.message).toMatch(/external_task_id "dup" already exists/);
    expect(h.sim.stats.tasksPerExternalId.get('dup')).toBe(1);

    const other = `Bearer ${await sign({ clock: h.clock, iss: 'other', secret: 'other-secret' })}`;
    expectError(await call(h, 'GET', `${T2V}/${first.task_id}`, { authorization: other }), 404, 1203);
    expect((await call(h, 'POST', T2V, { body: { prompt: 'a cat', external_task_id: 'dup' }, authorization: other })).body.code).toBe(0);
  });

  it('forgets a task on request', async () => {
    const h = await startSimulator();
    const { task_id: id } = taskOf(await create(h, { prompt: 'a cat', external_task_id: 'lost' }));
    expect(h.sim.forgetTask(id)).toBe(true);
    expectError(await call(h, 'GET', `${T2V}/${id}`), 404, 1203);
    expectError(await call(h, 'GET', `${T2V}/lost`), 404, 1203);
    expect(tasksOf(await call(h, 'GET', T2V))).toEqual([]);
    expect(h.sim.peekTask(id)).toBeUndefined();
    expect(h.sim.forgetTask(id)).toBe(false);
  });

  it('answers 404 for unknown tasks and routes', async () => {
    const h = await startSimulator();
    expectError(await call(h, 'GET', `${T2V}/123456789012345678`), 404, 1203);
    expectError(await call(h, 'GET', `${T2V}/%E0%A4%A`), 404, 1203);
    expectError(await call(h, 'GET', '/v1/videos/image2video'), 404, 1202);
    expectError(await call(h, 'DELETE', T2V), 404, 1202);
    expect(h.sim.stats.requests).toMatchObject({ total: 4, get: 2, unknown: 2 });
  });

  it('builds video links on publicUrl when one is given', async () => {
    const h = await startSimulator({ taskSeconds: 0, publicUrl: 'https://sim.example.test' });
    const { task_id: id } = taskOf(await create(h, { prompt: 'a cat' }));
    const url = taskOf(await call(h, 'GET', `${T2V}/${id}`)).task_result?.videos?.[0]?.url;
    expect(url).toMatch(new RegExp(`^https://sim\\.example\\.test/videos/${id}/\\d+\\.mp4\\?Expires=\\d+$`));
  });
});

describe('Kling simulator limits', () => {
  it('answers 429/1303 over the per-model concurrency limit until a task ends', async () => {
    const h = await startSimulator({ concurrencyLimit: 2, taskSeconds: 10 });
    taskOf(await create(h, { prompt: 'one' }));
    taskOf(await create(h, { prompt: 'two' }));
    const over = await create(h, { prompt: 'three' });
    expectError(over, 429, 1303);
    expect(over.body.message).toBe('parallel task over resource pack limit');
    taskOf(await create(h, { prompt: 'other model', model_name: 'kling-v1-6' }));
    h.clock.advance(10_000);
    taskOf(await create(h, { prompt: 'three again' }));
  });

  it('answers 429/1102 once the balance cannot pay for a task', async () => {
    const h = await startSimulator({ balanceUnits: 1.5 });
    taskOf(await create(h, { prompt: 'costs 1 unit' }));
    expectError(await create(h, { prompt: 'costs 1 more' }), 429, 1102);
  });

  it('answers 429/1302 over the request rate per window of the clock', async () => {
    const h = await startSimulator({ rateLimit: { requests: 2, windowMs: 1000 } });
    expect((await call(h, 'GET', T2V)).status).toBe(200);
    expect((await call(h, 'GET', T2V)).status).toBe(200);
    expectError(await call(h, 'GET', T2V), 429, 1302);
    h.clock.advance(1000);
    expect((await call(h, 'GET', T2V)).status).toBe(200);
  });
});

describe('Kling simulator callbacks', () => {
  it('posts the bare task object on processing and on the terminal state', async () => {
    const receiver = await startReceiver();
    const h = await startSimulator({ taskSeconds: 10 });
    const { task_id: id } = taskOf(await create(h, { prompt: 'a cat', callback_url: receiver.url, external_task_id: 'cb-1' }));

    h.clock.advance(1000);
    await receiver.waitFor(1);
    h.clock.advance(9000);
    await receiver.waitFor(2);

    expect(receiver.received.map((r) => r.body.task_status)).toEqual(['processing', 'succeed']);
    const last = receiver.received[1];
    expect(last?.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(last?.headers['webhook-signature']).toBeUndefined();
    expect(last?.body).not.toHaveProperty('code');
    const task = wireTaskSchema.parse(last?.body);
    expect(task).toMatchObject({ task_id: id, task_info: { external_task_id: 'cb-1' }, updated_at: START + 10_000 });
    expect(task.task_result?.videos).toHaveLength(1);
    await h.sim.flushCallbacks();
    expect(h.sim.stats.callbacks).toEqual({ sent: 2, delivered: 2, failed: 0 });
  });

  it('reports each transition in order when the clock jumps past both', async () => {
    const receiver = await startReceiver();
    const h = await startSimulator({ taskSeconds: 10 });
    taskOf(await create(h, { prompt: 'a cat [[fail]]', callback_url: receiver.url }));
    h.clock.advance(60_000);
    await receiver.waitFor(2);
    expect(receiver.received.map((r) => r.body.task_status)).toEqual(['processing', 'failed']);
    expect(receiver.received[1]?.body.task_status_msg).toBe('Failure to pass the risk control system');
  });

  it('signs callbacks with Standard Webhooks headers when given a secret', async () => {
    const secret = 'whsec_dGVzdHNlY3JldHRlc3RzZWNyZXR0ZXN0c2VjcmV0MTI=';
    const receiver = await startReceiver();
    const h = await startSimulator({ taskSeconds: 0, webhookSecret: secret });
    taskOf(await create(h, { prompt: 'a cat', callback_url: receiver.url }));
    h.clock.advance(1);
    await receiver.waitFor(1);
    const [delivery] = receiver.received;
    const id = String(delivery?.headers['webhook-id']);
    const timestampSeconds = Number(delivery?.headers['webhook-timestamp']);
    expect(timestampSeconds).toBe(Math.floor(h.clock.now() / 1000));
    expect(delivery?.headers['webhook-signature']).toBe(signWebhook({ secret, id, timestampSeconds, body: delivery?.raw ?? '' }));
  });

  it('counts a refused callback and keeps serving', async () => {
    const receiver = await startReceiver(500);
    const h = await startSimulator({ taskSeconds: 0 });
    taskOf(await create(h, { prompt: 'a cat', callback_url: receiver.url }));
    h.clock.advance(1);
    await receiver.waitFor(1);
    await h.sim.flushCallbacks();
    expect(h.sim.stats.callbacks).toEqual({ sent: 1, delivered: 0, failed: 1 });
    expect((await call(h, 'GET', T2V)).status).toBe(200);
  });
});

describe('Kling simulator faults', () => {
  const errorMix = { errorRates: { 5000: 0.15, 5001: 0.15, 5002: 0.15, 1302: 0.15, 1303: 0.15 } };

  async function codeSequence(seed: number, requests: number): Promise<number[]> {
    const h = await startSimulator({ seed, faults: errorMix });
    const codes: number[] = [];
    for (let index = 0; index < requests; index++) codes.push((await call(h, 'GET', T2V)).body.code);
    return codes;
  }

  it('gives the same outcome sequence for the same seed', async () => {
    const first = await codeSequence(42, 40);
    expect(await codeSequence(42, 40)).toEqual(first);
    expect(new Set(first)).toEqual(new Set([0, 5000, 5001, 5002, 1302, 1303]));
    expect(await codeSequence(43, 40)).not.toEqual(first);
  });

  it.each([
    [5000, 500],
    [5001, 503],
    [5002, 504],
    [1302, 429],
    [1303, 429],
  ] as const)('injects %i as HTTP %i on any request without storing anything', async (code, status) => {
    const h = await startSimulator({ faults: { errorRates: { [code]: 1 } } });
    expectError(await create(h, { prompt: 'a cat' }), status, code);
    expectError(await call(h, 'GET', T2V), status, code);
    expect(h.sim.taskCount).toBe(0);
    expect(h.sim.stats.injectedErrors.get(code)).toBe(2);
  });

  it('switches faults at runtime', async () => {
    const h = await startSimulator();
    h.sim.setFaults({ errorRates: { 5001: 1 } });
    expectError(await call(h, 'GET', T2V), 503, 5001);
    h.sim.setFaults({});
    expect((await call(h, 'GET', T2V)).status).toBe(200);
    expect(() => {
      h.sim.setFaults({ errorRates: { 5000: 0.7, 5001: 0.7 } });
    }).toThrow(/errorRates/);
  });

  it('adds latency before answering', async () => {
    const h = await startSimulator({ faults: { latencyMs: { min: 60, max: 60 } } });
    const started = performance.now();
    await call(h, 'GET', T2V);
    // Timers may fire a millisecond early relative to performance.now().
    expect(performance.now() - started).toBeGreaterThanOrEqual(55);
  });

  it('stores a create but drops the connection, leaving a task findable by external id', async () => {
    const h = await startSimulator({ faults: { dropAfterAcceptRate: 1 } });
    await expect(create(h, { prompt: 'a cat', external_task_id: 'ambiguous' })).rejects.toThrow();
    h.sim.setFaults({});
    const task = taskOf(await call(h, 'GET', `${T2V}/ambiguous`));
    expect(task.task_status).toBe('submitted');
    expect(h.sim.stats).toMatchObject({ createsAccepted: 1, createsDropped: 1 });
    expect(h.sim.stats.tasksPerExternalId.get('ambiguous')).toBe(1);
  });

  it('answers 504/5002 for a create that was in fact stored', async () => {
    const h = await startSimulator({ faults: { timeoutAfterAcceptRate: 1 } });
    expectError(await create(h, { prompt: 'a cat', external_task_id: 'timed-out' }), 504, 5002);
    expect(taskOf(await call(h, 'GET', `${T2V}/timed-out`)).task_info).toEqual({ external_task_id: 'timed-out' });
    expect(h.sim.stats.createsTimedOut).toBe(1);
  });

  it('drops the same creates for the same seed', async () => {
    async function outcomes(): Promise<string[]> {
      const h = await startSimulator({ seed: 7, faults: { dropAfterAcceptRate: 0.5 } });
      const result: string[] = [];
      for (let index = 0; index < 12; index++) {
        result.push(await create(h, { prompt: 'a cat' }).then(
          () => 'answered',
          () => 'dropped',
        ));
      }
      expect(h.sim.taskCount).toBe(12);
      return result;
    }
    const first = await outcomes();
    expect(first).toContain('dropped');
    expect(first).toContain('answered');
    expect(await outcomes()).toEqual(first);
  });

  it('fails tasks at the configured rate', async () => {
    const h = await startSimulator({ taskSeconds: 1, faults: { failRate: 1 } });
    const { task_id: id } = taskOf(await create(h, { prompt: 'a cat' }));
    h.clock.advance(1000);
    expect(taskOf(await call(h, 'GET', `${T2V}/${id}`))).toMatchObject({ task_status: 'failed', final_unit_deduction: '0' });
  });

  it('keeps slow tasks processing for slowTaskSeconds', async () => {
    const h = await startSimulator({ taskSeconds: 10, faults: { slowTaskRate: 1, slowTaskSeconds: 100 } });
    const { task_id: id } = taskOf(await create(h, { prompt: 'a cat' }));
    h.clock.advance(50_000);
    expect(taskOf(await call(h, 'GET', `${T2V}/${id}`)).task_status).toBe('processing');
    h.clock.advance(50_000);
    expect(taskOf(await call(h, 'GET', `${T2V}/${id}`)).task_status).toBe('succeed');
  });
});

describe('Kling simulator lifecycle of the server', () => {
  it('stops despite open keep-alive connections, and stop() is idempotent', async () => {
    const h = await startSimulator();
    await call(h, 'GET', T2V);
    const started = performance.now();
    await Promise.all([h.sim.stop(), h.sim.stop()]);
    await h.sim.stop();
    expect(performance.now() - started).toBeLessThan(1000);
    await expect(call(h, 'GET', T2V)).rejects.toThrow();
  });

  it('holds 10,000 open tasks and still lists and reads them', async () => {
    const h = await startSimulator({ taskSeconds: 600 });
    const total = 10_000;
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < total) {
        const index = next++;
        const answer = await create(h, { prompt: `clip ${index}`, external_task_id: `bulk-${index}` });
        expect(answer.body.code).toBe(0);
      }
    };
    await Promise.all(Array.from({ length: 32 }, worker));
    expect(h.sim.taskCount).toBe(total);

    const seen = new Set<string | undefined>();
    for (let pageNum = 1; pageNum <= 20; pageNum++) {
      const page = tasksOf(await call(h, 'GET', `${T2V}?pageNum=${pageNum}&pageSize=500`));
      expect(page).toHaveLength(500);
      for (const task of page) seen.add(task.task_info?.external_task_id);
    }
    expect(seen.size).toBe(total);
    expect(tasksOf(await call(h, 'GET', `${T2V}?pageNum=21&pageSize=500`))).toEqual([]);
    expect(taskOf(await call(h, 'GET', `${T2V}/bulk-4321`)).task_status).toBe('submitted');
  });
});
