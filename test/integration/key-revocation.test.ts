// Revoking an API key ends what it holds open, not only its next HTTP request: its WebSockets close
// (4403, graphql-ws's Forbidden), an operation sent on such a socket is refused, its SSE
// subscriptions end, and with Redis the same happens on every instance.
import { CloseCode, MessageType } from 'graphql-ws';
import { beforeAll, describe, expect, it } from 'vitest';
import { operationText } from '../helpers/document.js';
import { GENERATE_VIDEO, TASK_UPDATED } from '../helpers/operations.js';
import { connectRawWs, forOperation } from '../helpers/raw-ws.js';
import { subscribeSse } from '../helpers/sse-client.js';
import { SCALE_OUT, startGateway, storageEnv, type TestGateway } from '../helpers/start-gateway.js';
import { countTasksForKey, ledgerTotals } from '../helpers/store-audit.js';
import { CHEAP, generateTask, graphqlErrorsOf, type TaskUpdatedData } from '../helpers/task-flows.js';

const ALL_STATUSES = ['QUEUED', 'SUBMITTED', 'PROCESSING', 'SUCCEEDED', 'FAILED', 'CANCELED', 'TIMED_OUT'] as const;

let t: TestGateway;

beforeAll(async () => {
  // Tasks stay open for the whole file, so a subscription runs until something ends it.
  t = await startGateway({ simulator: { taskSeconds: 60 } });
});

async function createAccount(gateway: TestGateway, credits: number) {
  const { key, account } = await gateway.gateway.apiKeys.create('revocation', credits);
  return { key, id: account.id };
}

describe('revoking a key', () => {
  it('closes its WebSocket with 4403, and generateVideo sent on that socket creates no task and holds nothing', async () => {
    const { key, id } = await createAccount(t, 1_000);
    const ws = await connectRawWs(t.url, key);
    await ws.roundTrip();

    await t.gateway.apiKeys.revoke(id);
    ws.send({
      id: 'gen',
      type: MessageType.Subscribe,
      payload: { query: operationText(GENERATE_VIDEO), variables: { input: { prompt: 'After revocation', ...CHEAP } } },
    });
    // Either the server refuses the operation or the socket is gone before it answers; never a task.
    const answer = await ws.take(forOperation('gen')).catch(() => null);
    if (answer !== null) {
      expect(answer).toMatchObject({ type: MessageType.Error, payload: [{ extensions: { code: 'UNAUTHENTICATED' } }] });
    }
    expect(await ws.closed).toMatchObject({ code: CloseCode.Forbidden, reason: 'Forbidden: API key revoked' });

    expect(await countTasksForKey(t.gateway.store, id, ALL_STATUSES)).toBe(0);
    expect(await ledgerTotals(t.gateway.store, id)).toMatchObject({ hold: 0 });
    const account = await t.gateway.apiKeys.account(id);
    expect(account).toMatchObject({ creditBalance: 1_000, creditsHeld: 0 });
    expect(account?.revokedAt).not.toBeNull();
  });

  it('ends its open taskUpdated SSE stream with an UNAUTHENTICATED error', async () => {
    const { key, id } = await createAccount(t, 1_000);
    const task = await generateTask(t, key, { prompt: 'A stream about to end', ...CHEAP });
    const sse = subscribeSse<TaskUpdatedData>(t.url, TASK_UPDATED, { id: task.id }, { key });
    await sse.until((payload) => payload.data?.taskUpdated !== undefined);

    await t.gateway.apiKeys.revoke(id);
    const outcome = await sse.done;
    expect(outcome.end).toBe('complete');
    expect(graphqlErrorsOf(outcome)).toEqual([expect.objectContaining({ message: 'The API key was revoked.', extensions: { code: 'UNAUTHENTICATED' } })]);
  });

  it('leaves the WebSockets of other keys open', async () => {
    const revoked = await createAccount(t, 100);
    const other = await createAccount(t, 100);
    const [gone, kept] = await Promise.all([connectRawWs(t.url, revoked.key), connectRawWs(t.url, other.key)]);
    await t.gateway.apiKeys.revoke(revoked.id);
    expect(await gone.closed).toMatchObject({ code: CloseCode.Forbidden });
    await kept.roundTrip();
  });
});

describe.skipIf(!SCALE_OUT)('revoking a key with two instances on PostgreSQL and Redis', () => {
  let a: TestGateway;
  let b: TestGateway;

  beforeAll(async () => {
    const storage = await storageEnv();
    // One after the other: the first runs the migrations.
    a = await startGateway({ env: storage, simulator: { taskSeconds: 60 } });
    b = await startGateway({ env: storage, simulator: { taskSeconds: 60 } });
  });

  it('on instance A closes the key’s WebSocket and ends its SSE stream on instance B', async () => {
    const { key, id } = await createAccount(a, 1_000);
    const task = await generateTask(b, key, { prompt: 'Watched from the other instance', ...CHEAP });
    const ws = await connectRawWs(b.url, key);
    const sse = subscribeSse<TaskUpdatedData>(b.url, TASK_UPDATED, { id: task.id }, { key });
    await Promise.all([ws.roundTrip(), sse.until((payload) => payload.data?.taskUpdated !== undefined)]);

    await a.gateway.apiKeys.revoke(id);
    expect(await ws.closed).toMatchObject({ code: CloseCode.Forbidden, reason: 'Forbidden: API key revoked' });
    expect(graphqlErrorsOf(await sse.done)).toEqual([expect.objectContaining({ extensions: { code: 'UNAUTHENTICATED' } })]);
  });
});
