import { beforeAll, describe, expect, it } from 'vitest';
import { GENERATE_VIDEO, ME, VIDEO_TASK, type GenerateVideoData, type MeData, type TaskFields } from '../helpers/operations.js';
import { startGateway, type TestGateway } from '../helpers/start-gateway.js';
import { ledgerTotals } from '../helpers/store-audit.js';

let t: TestGateway;

beforeAll(async () => {
  t = await startGateway();
});

const generate = (key: string, input: Record<string, unknown>) => t.graphql<GenerateVideoData>(GENERATE_VIDEO, { input }, key);
const me = async (key: string) => (await t.graphql<MeData>(ME, {}, key)).body.data?.me;

describe('generateVideo on the embedded default', () => {
  it('holds the price, stores the task with its Kling id and shows it through videoTask and me', async () => {
    const key = await t.createKey(1_000);
    const res = await generate(key, { prompt: '  A red fox in fresh snow  ', model: 'KLING_V1', mode: 'PROFESSIONAL' });
    expect(res.status).toBe(200);
    const result = res.body.data?.generateVideo;
    expect(result?.__typename).toBe('GenerateVideoSuccess');
    const task = result?.task as TaskFields;
    expect(task).toMatchObject({ status: 'SUBMITTED', prompt: 'A red fox in fresh snow', credits: 35, creditsCharged: 0 });
    expect(task.id).toMatch(/^vt_[A-Za-z0-9_-]{22}$/);

    const row = await t.gateway.store.getTask(task.id);
    expect(row?.klingTaskId).toMatch(/^\d{18}$/);
    expect(t.simulator.stats.tasksPerExternalId.get(task.id)).toBe(1);
    expect(t.simulator.peekTask(row?.klingTaskId ?? '')).toMatchObject({ task_info: { external_task_id: task.id } });

    const read = await t.graphql<{ videoTask: TaskFields | null }>(VIDEO_TASK, { id: task.id }, key);
    expect(read.body.data?.videoTask).toMatchObject({ id: task.id, status: 'SUBMITTED', model: 'KLING_V1', mode: 'PROFESSIONAL' });
    expect(await me(key)).toEqual({ name: 'test', creditBalance: 965, creditsHeld: 35, creditsUsed: 0 });
  });

  it('refuses a task the key cannot pay for without storing it or calling Kling', async () => {
    const key = await t.createKey(50);
    const createsBefore = t.simulator.stats.createsAccepted;
    const res = await generate(key, { prompt: 'An expensive clip', model: 'KLING_V1', mode: 'PROFESSIONAL', durationSeconds: 10 });
    expect(res.body.data?.generateVideo).toMatchObject({
      __typename: 'InsufficientCreditsError',
      code: 'INSUFFICIENT_CREDITS',
      required: 70,
      available: 50,
    });
    expect(t.simulator.stats.createsAccepted).toBe(createsBefore);
    expect(await me(key)).toEqual({ name: 'test', creditBalance: 50, creditsHeld: 0, creditsUsed: 0 });
  });

  it('rejects invalid input with one issue per field, holding nothing and calling nothing', async () => {
    const key = await t.createKey(1_000);
    const requestsBefore = t.simulator.stats.requests.total;
    const res = await generate(key, {
      prompt: '   ',
      model: 'KLING_V2_6',
      mode: 'STANDARD',
      durationSeconds: 7,
      generateAudio: true,
      webhookUrl: 'ftp://example.com/hook',
    });
    const result = res.body.data?.generateVideo;
    expect(result?.__typename).toBe('ValidationError');
    expect(result?.code).toBe('VALIDATION_FAILED');
    expect(result?.issues?.map((i) => i.path)).toEqual([['prompt'], ['durationSeconds'], ['generateAudio'], ['webhookUrl']]);
    expect(t.simulator.stats.requests.total).toBe(requestsBefore);
    expect(await me(key)).toMatchObject({ creditBalance: 1_000, creditsHeld: 0 });
  });

  it('reports a camera config breaking the one-non-zero rule at cameraControl.config', async () => {
    const key = await t.createKey(1_000);
    const res = await generate(key, {
      prompt: 'A castle at dawn',
      model: 'KLING_V1',
      cameraControl: { type: 'SIMPLE', config: { horizontal: 5, zoom: 3 } },
    });
    expect(res.body.data?.generateVideo.issues).toEqual([
      { path: ['cameraControl', 'config'], message: expect.stringContaining('exactly one non-zero') as string },
    ]);
  });

  it('fails and refunds a task whose submit Kling refuses, answering UpstreamError', async () => {
    const key = await t.createKey(1_000);
    const res = await generate(key, { prompt: 'Something [[reject]] worthy' });
    const result = res.body.data?.generateVideo;
    expect(result).toMatchObject({ __typename: 'UpstreamError', code: 'UPSTREAM_ERROR', retryable: false });
    const task = await t.graphql<{ videoTask: TaskFields | null }>(VIDEO_TASK, { id: result?.taskId }, key);
    expect(task.body.data?.videoTask).toMatchObject({ status: 'FAILED', creditsCharged: 0, failure: { code: 'CONTENT_POLICY' } });
    expect(await me(key)).toMatchObject({ creditBalance: 1_000, creditsHeld: 0, creditsUsed: 0 });
    const totals = await ledgerTotals(t.gateway.store, (await t.gateway.apiKeys.authenticate(key)) ?? '');
    expect(totals).toEqual({ grant: 1_000, hold: 100, charge: 0, refund: 100 });
  });

  it('accepts exactly as many of 50 concurrent submits as the key can pay for', async () => {
    const key = await t.createKey(1_000); // ten default tasks at 100 credits each
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, n) => generate(key, { prompt: `Concurrent clip ${n}` })),
    );
    const kinds = results.map((r) => r.body.data?.generateVideo.__typename);
    expect(kinds.filter((k) => k === 'GenerateVideoSuccess')).toHaveLength(10);
    expect(kinds.filter((k) => k === 'InsufficientCreditsError')).toHaveLength(40);
    expect(await me(key)).toMatchObject({ creditBalance: 0, creditsHeld: 1_000 });
  });
});

describe('idempotency keys', () => {
  it('returns the original task for a replay and holds nothing more', async () => {
    const key = await t.createKey(1_000);
    const input = { prompt: 'A lighthouse in a storm', idempotencyKey: 'order-42' };
    const first = await generate(key, input);
    const replay = await generate(key, { ...input, prompt: '  A lighthouse in a storm ' });
    expect(replay.body.data?.generateVideo.task?.id).toBe(first.body.data?.generateVideo.task?.id);
    expect(t.simulator.stats.tasksPerExternalId.get(first.body.data?.generateVideo.task?.id ?? '')).toBe(1);
    expect(await me(key)).toMatchObject({ creditBalance: 900, creditsHeld: 100 });
  });

  it('refuses the same key with a different input', async () => {
    const key = await t.createKey(1_000);
    await generate(key, { prompt: 'A quiet harbour', idempotencyKey: 'job-7' });
    const conflict = await generate(key, { prompt: 'A busy harbour', idempotencyKey: 'job-7' });
    expect(conflict.body.data?.generateVideo).toMatchObject({ __typename: 'IdempotencyConflictError', code: 'IDEMPOTENCY_CONFLICT' });
    expect(await me(key)).toMatchObject({ creditBalance: 900, creditsHeld: 100 });
  });

  it('does not consume a key on a rejected request', async () => {
    const key = await t.createKey(150);
    const invalid = await generate(key, { prompt: '', idempotencyKey: 'retry-me' });
    expect(invalid.body.data?.generateVideo.__typename).toBe('ValidationError');
    const poor = await generate(key, { prompt: 'Too dear', model: 'KLING_V2_MASTER', durationSeconds: 10, idempotencyKey: 'retry-me' });
    expect(poor.body.data?.generateVideo.__typename).toBe('InsufficientCreditsError');
    const ok = await generate(key, { prompt: 'Affordable', idempotencyKey: 'retry-me' });
    expect(ok.body.data?.generateVideo.__typename).toBe('GenerateVideoSuccess');
  });

  it('keeps keys of different API keys apart', async () => {
    const a = await t.createKey(1_000);
    const b = await t.createKey(1_000);
    const fromA = await generate(a, { prompt: 'Same words', idempotencyKey: 'shared' });
    const fromB = await generate(b, { prompt: 'Same words', idempotencyKey: 'shared' });
    expect(fromB.body.data?.generateVideo.task?.id).not.toBe(fromA.body.data?.generateVideo.task?.id);
  });
});

describe('key isolation and authentication', () => {
  it("reads another key's task as null, exactly like an unknown id", async () => {
    const owner = await t.createKey(1_000);
    const stranger = await t.createKey(1_000);
    const created = await generate(owner, { prompt: 'Private clip' });
    const id = created.body.data?.generateVideo.task?.id;
    const foreign = await t.graphql<{ videoTask: unknown }>(VIDEO_TASK, { id }, stranger);
    const unknown = await t.graphql<{ videoTask: unknown }>(VIDEO_TASK, { id: 'vt_doesnotexist0000000000' }, stranger);
    expect(foreign.body).toEqual({ data: { videoTask: null } });
    expect(unknown.body).toEqual({ data: { videoTask: null } });
  });

  it.each([
    ['a missing key', undefined],
    ['an unknown key', 'kgw_notarealkeynotarealkeynotarealkey0000000'],
    ['a malformed header value', 'not-a-key'],
  ])('answers %s with HTTP 401 and UNAUTHENTICATED', async (_label, key) => {
    const res = await t.graphql(ME, {}, key);
    expect(res.status).toBe(401);
    expect(res.body.errors?.[0]?.extensions?.['code']).toBe('UNAUTHENTICATED');
    expect(res.body.data ?? null).toBeNull();
  });

  it('treats a revoked key as unknown at once', async () => {
    const created = await t.gateway.apiKeys.create('short-lived', 100);
    expect((await t.graphql(ME, {}, created.key)).status).toBe(200);
    await t.gateway.apiKeys.revoke(created.account.id);
    const res = await t.graphql(ME, {}, created.key);
    expect(res.status).toBe(401);
    expect(res.body.errors?.[0]?.extensions?.['code']).toBe('UNAUTHENTICATED');
  });

  it('serves models without a key', async () => {
    const res = await t.graphql<{ models: { model: string }[] }>('{ models { model } }');
    expect(res.status).toBe(200);
    expect(res.body.data?.models).toHaveLength(9);
  });
});
