// One key never reaches another key's work: not by listing, filtering, paging, subscribing,
// canceling, reusing an idempotency key or receiving webhooks, and task ids cannot be guessed.
// (videoTask of a foreign id answering null is covered in generate-video.test.ts.)
import { beforeAll, describe, expect, it } from 'vitest';
import { verifyWebhook } from '../../src/webhooks/signature.js';
import { CANCEL_VIDEO_TASK, TASK_UPDATED } from '../helpers/operations.js';
import { subscribeSse } from '../helpers/sse-client.js';
import { startGateway, type TestGateway } from '../helpers/start-gateway.js';
import { generateTask, graphqlErrorsOf, ledgerOf, readTask } from '../helpers/task-flows.js';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook-receiver.js';
import { createWsClient } from '../helpers/ws-client.js';

const ID_SAMPLE = 1_000;
/** Aliased generateVideo calls per request in the id sample; the limits below are raised for it. */
const PER_REQUEST = 100;

let t: TestGateway;
let receiver: WebhookReceiver;

beforeAll(async () => {
  receiver = await startWebhookReceiver();
  t = await startGateway({
    // Tasks stay open at Kling for the whole file, so there is always something to subscribe to or cancel.
    simulator: { taskSeconds: 60 },
    env: {
      MAX_ALIASES: String(PER_REQUEST),
      MAX_TOKENS: '10000',
      MAX_COST: '100000',
      RATE_LIMIT_POINTS: '100000',
      WEBHOOK_ALLOWED_HOSTS: receiver.host,
    },
  });
});

const newKey = async (name: string, credits = 1_000) => {
  const { key, account } = await t.gateway.apiKeys.create(name, credits);
  const row = await t.gateway.store.getApiKey(account.id);
  if (!row) throw new Error('key not stored');
  return { key, id: account.id, webhookSecret: row.webhookSecret };
};

const VIDEO_TASKS = /* GraphQL */ `
  query VideoTasks($first: Int, $after: String, $before: String, $last: Int, $filter: VideoTaskFilter) {
    videoTasks(first: $first, after: $after, before: $before, last: $last, filter: $filter) {
      edges { cursor node { id model status } }
    }
  }
`;
interface Edge {
  cursor: string;
  node: { id: string; model: string; status: string };
}

async function listTasks(key: string, variables: Record<string, unknown>): Promise<Edge[]> {
  const res = await t.graphql<{ videoTasks: { edges: Edge[] } }>(VIDEO_TASKS, variables, key);
  if (!res.body.data) throw new Error(`videoTasks answered ${JSON.stringify(res.body)}`);
  return res.body.data.videoTasks.edges;
}

/** The same answer with every task id blanked, so a foreign id's answer can be compared with an unknown id's. */
const withoutIds = (value: unknown) => JSON.stringify(value).replace(/vt_[\w-]+/g, 'vt_…');

describe('videoTasks', () => {
  it("lists only the caller's tasks, whatever the filter or cursor", async () => {
    const a = await newKey('a');
    const b = await newKey('b');
    const submit = (key: string, model: string, prompt: string) => generateTask(t, key, { prompt, model, mode: 'STANDARD', durationSeconds: 5 });
    const tasksOfA = [await submit(a.key, 'KLING_V1', 'A one'), await submit(a.key, 'KLING_V1_6', 'A two'), await submit(a.key, 'KLING_V1', 'A three')];
    const tasksOfB = [await submit(b.key, 'KLING_V1', 'B one'), await submit(b.key, 'KLING_V1_6', 'B two')];
    await t.graphql(CANCEL_VIDEO_TASK, { id: tasksOfA[0]?.id }, a.key);
    await t.graphql(CANCEL_VIDEO_TASK, { id: tasksOfB[0]?.id }, b.key);

    const filters: Record<string, unknown>[] = [
      {},
      { model: 'KLING_V1' },
      { model: 'KLING_V1_6' },
      { status: ['CANCELED'] },
      { status: ['QUEUED', 'SUBMITTED', 'PROCESSING', 'SUCCEEDED', 'FAILED', 'CANCELED', 'TIMED_OUT'] },
      { createdFrom: '2000-01-01T00:00:00.000Z', createdTo: '2100-01-01T00:00:00.000Z' },
    ];
    for (const [owner, own, foreign] of [
      [a, tasksOfA, tasksOfB],
      [b, tasksOfB, tasksOfA],
    ] as const) {
      const all = await listTasks(owner.key, { first: 100 });
      expect(all.map((e) => e.node.id).sort()).toEqual(own.map((task) => task.id).sort());
      for (const filter of filters) {
        const listed = await listTasks(owner.key, { first: 100, filter });
        const expected = all.filter(
          ({ node }) =>
            (filter['model'] === undefined || node.model === filter['model']) &&
            (filter['status'] === undefined || (filter['status'] as string[]).includes(node.status)),
        );
        expect(listed.map((e) => e.node.id), JSON.stringify(filter)).toEqual(expected.map((e) => e.node.id));
      }

      // The other key's cursors only position the page; they never bring its tasks along.
      const foreignCursors = (await listTasks(owner === a ? b.key : a.key, { first: 100 })).map((e) => e.cursor);
      for (const cursor of foreignCursors) {
        const pages = [await listTasks(owner.key, { first: 100, after: cursor }), await listTasks(owner.key, { last: 100, before: cursor })];
        for (const page of pages) {
          expect(page.map((e) => e.node.id).filter((id) => foreign.some((task) => task.id === id))).toEqual([]);
        }
      }
    }
  });
});

describe('taskUpdated', () => {
  it("answers another key's task exactly as an unknown id, over WebSocket and SSE, and sends none of its states", async () => {
    const owner = await newKey('owner');
    const stranger = await newKey('stranger');
    const task = await generateTask(t, owner.key, { prompt: 'A private sunrise', model: 'KLING_V1' });

    const ws = createWsClient(t.url, { key: stranger.key });
    const [foreignWs, unknownWs] = await Promise.all([
      ws.subscribe(TASK_UPDATED, { id: task.id }).done,
      ws.subscribe(TASK_UPDATED, { id: 'vt_doesNotExist000000000' }).done,
    ]);
    const [foreignSse, unknownSse] = await Promise.all([
      subscribeSse(t.url, TASK_UPDATED, { id: task.id }, { key: stranger.key }).done,
      subscribeSse(t.url, TASK_UPDATED, { id: 'vt_doesNotExist000000000' }, { key: stranger.key }).done,
    ]);

    for (const [foreign, unknown] of [
      [foreignWs, unknownWs],
      [foreignSse, unknownSse],
    ] as const) {
      const errors = graphqlErrorsOf(foreign);
      expect(errors.map((e) => e.extensions?.['code'])).toEqual(['NOT_FOUND']);
      expect(withoutIds(errors)).toBe(withoutIds(graphqlErrorsOf(unknown)));
      expect(foreign.results.filter((payload) => payload.data)).toEqual([]);
    }
    // The socket survives the refusal.
    expect((await ws.subscribe('{ __typename }').done).end).toBe('complete');
  });
});

describe('cancelVideoTask', () => {
  it("answers NotFoundError for another key's task, as for an unknown id, and leaves the task and both ledgers alone", async () => {
    const owner = await newKey('owner');
    const stranger = await newKey('stranger');
    const task = await generateTask(t, owner.key, { prompt: 'Not yours to cancel', model: 'KLING_V1' });
    const before = await readTask(t, owner.key, task.id);
    const ledgers = [await ledgerOf(t, owner.key), await ledgerOf(t, stranger.key)];

    const foreign = await t.graphql<{ cancelVideoTask: Record<string, unknown> }>(CANCEL_VIDEO_TASK, { id: task.id }, stranger.key);
    const unknown = await t.graphql<{ cancelVideoTask: Record<string, unknown> }>(CANCEL_VIDEO_TASK, { id: 'vt_doesNotExist000000000' }, stranger.key);
    expect(foreign.body.data?.cancelVideoTask).toMatchObject({ __typename: 'NotFoundError', code: 'NOT_FOUND' });
    expect(withoutIds(foreign.body)).toBe(withoutIds(unknown.body));

    expect(await readTask(t, owner.key, task.id)).toEqual(before);
    expect(before?.status).toMatch(/^(SUBMITTED|PROCESSING)$/);
    expect([await ledgerOf(t, owner.key), await ledgerOf(t, stranger.key)]).toEqual(ledgers);
  });
});

describe('idempotency keys', () => {
  it('are scoped to the API key: the same key and input from two callers make two tasks', async () => {
    const first = await newKey('first');
    const second = await newKey('second');
    const input = { prompt: 'The same words', model: 'KLING_V1', idempotencyKey: 'shared-idempotency-key' };
    const [ofFirst, ofSecond] = [await generateTask(t, first.key, input), await generateTask(t, second.key, input)];
    expect(ofSecond.id).not.toBe(ofFirst.id);
    expect((await generateTask(t, first.key, input)).id).toBe(ofFirst.id);
    expect(await readTask(t, second.key, ofFirst.id)).toBeNull();
    expect((await ledgerOf(t, second.key)).hold).toBe(ofSecond.credits);
  });
});

describe('webhooks', () => {
  it("carry only their own task, signed with the owner's secret, even when two keys share a URL", async () => {
    const a = await newKey('hooks-a');
    const b = await newKey('hooks-b');
    const url = receiver.url('/shared');
    const taskOfA = await generateTask(t, a.key, { prompt: 'Secret of A', model: 'KLING_V1', webhookUrl: url });
    const taskOfB = await generateTask(t, b.key, { prompt: 'Secret of B', model: 'KLING_V1', webhookUrl: url });
    await t.graphql(CANCEL_VIDEO_TASK, { id: taskOfA.id }, a.key);
    await t.graphql(CANCEL_VIDEO_TASK, { id: taskOfB.id }, b.key);

    const requests = await receiver.waitFor('/shared', 2);
    expect(requests).toHaveLength(2);
    for (const request of requests) {
      const payload = JSON.parse(request.body) as { type: string; data: { id: string } };
      const [own, other, ownTask, otherTask] =
        payload.data.id === taskOfA.id ? [a, b, taskOfA, taskOfB] : [b, a, taskOfB, taskOfA];
      expect(payload).toMatchObject({ type: 'video_task.canceled', data: { id: ownTask.id, status: 'CANCELED' } });
      const verify = (secret: string) => verifyWebhook({ secret, headers: request.headers, body: request.body, nowMs: Date.now() });
      expect(verify(own.webhookSecret)).toMatchObject({ ok: true });
      expect(verify(other.webhookSecret)).toMatchObject({ ok: false });
      for (const leak of [otherTask.id, otherTask.prompt, ownTask.prompt, own.id, other.id]) expect(request.body).not.toContain(leak);
    }
    expect(requests.map((r) => (JSON.parse(r.body) as { data: { id: string } }).data.id).sort()).toEqual([taskOfA.id, taskOfB.id].sort());
  });
});

describe('task ids', () => {
  it(`are unique and random: ${ID_SAMPLE} of them share no prefix beyond "vt_" and do not increase`, async () => {
    const { key } = await newKey('many', ID_SAMPLE * 10);
    const aliases = Array.from(
      { length: PER_REQUEST },
      (_, i) => `g${i}: generateVideo(input: $input) { ... on GenerateVideoSuccess { task { id } } ... on Error { code } }`,
    ).join('\n');
    const mutation = `mutation Many($input: GenerateVideoInput!) { ${aliases} }`;
    const batches = await Promise.all(
      Array.from({ length: ID_SAMPLE / PER_REQUEST }, (_, request) =>
        t.graphql<Record<string, { task?: { id: string }; code?: string }>>(
          mutation,
          { input: { prompt: `Batch ${request}`, model: 'KLING_V1', mode: 'STANDARD', durationSeconds: 5 } },
          key,
        ),
      ),
    );
    // Mutation fields execute one after another, so each answer lists its ids in creation order.
    const ids = batches.flatMap((res) =>
      Array.from({ length: PER_REQUEST }, (_, i) => {
        const id = res.body.data?.[`g${i}`]?.task?.id;
        if (!id) throw new Error(`generateVideo g${i} answered ${JSON.stringify(res.body.data?.[`g${i}`] ?? res.body.errors)}`);
        return id;
      }),
    );

    expect(new Set(ids).size).toBe(ID_SAMPLE);
    for (const id of ids) expect(id).toMatch(/^vt_[A-Za-z0-9_-]{22}$/);
    const bodies = ids.map((id) => id.slice('vt_'.length));

    const commonPrefix = (x: string, y: string) => {
      let n = 0;
      while (n < x.length && x[n] === y[n]) n++;
      return n;
    };
    // Nothing in common across all of them, and sorted neighbours share only what chance gives:
    // ~log64(1000) ≈ 2 characters; 6 shared characters among 1,000 random ids has odds of about 1e-5.
    expect(bodies.reduce((prefix, body) => prefix.slice(0, commonPrefix(prefix, body)))).toBe('');
    const sorted = [...bodies].sort();
    const longestShared = Math.max(...sorted.slice(1).map((body, i) => commonPrefix(body, sorted[i] ?? '')));
    expect(longestShared).toBeLessThan(6);
    expect(new Set(bodies.map((body) => body[0])).size).toBeGreaterThan(32);

    // Creation order is not id order: about half of consecutive pairs go up, as for random values
    // (999 pairs: 50 % ± 0.9 %, so 40-60 % is more than ten standard deviations wide).
    const rises = bodies.slice(1).filter((body, i) => body > (bodies[i] ?? '')).length;
    expect(rises / (bodies.length - 1)).toBeGreaterThan(0.4);
    expect(rises / (bodies.length - 1)).toBeLessThan(0.6);

    // Guessing one of them is hopeless; reading one of them with another key gets nothing.
    const stranger = await newKey('guesser');
    const sampled = ids.filter((_, i) => i % 100 === 0);
    for (const id of sampled) expect(await readTask(t, stranger.key, id)).toBeNull();
    // A thousand creates with their holds: seconds on an idle machine, several times that on a loaded one.
  }, 90_000);
});
