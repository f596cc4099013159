// What one client cannot hold open: more than WS_MAX_CONNECTIONS_PER_KEY streams per key, counting its
// WebSockets, SSE subscriptions and waiting MCP calls together; WebSockets that never send
// connection_init; and sockets that never finish their request head.
import { connect, type Socket } from 'node:net';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { CloseCode, MessageType } from 'graphql-ws';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { onTeardown } from '../helpers/leftovers.js';
import { TASK_UPDATED } from '../helpers/operations.js';
import { connectRawWs, openRawWs, type RawWs } from '../helpers/raw-ws.js';
import { subscribeSse } from '../helpers/sse-client.js';
import { startGateway, type TestGateway } from '../helpers/start-gateway.js';
import { CHEAP, generateTask, graphqlErrorsOf, type TaskUpdatedData } from '../helpers/task-flows.js';

const MAX_STREAMS_PER_KEY = 3;
/** 1008 (policy violation): a WebSocket over the key's cap. */
const POLICY_VIOLATION = 1008;

let t: TestGateway;

beforeAll(async () => {
  t = await startGateway({
    env: {
      WS_MAX_CONNECTIONS_PER_KEY: String(MAX_STREAMS_PER_KEY),
      WS_CONNECTION_INIT_TIMEOUT_MS: '300',
      HTTP_HEADERS_TIMEOUT_MS: '300',
      HTTP_REQUEST_TIMEOUT_MS: '600',
    },
    // Tasks stay open for the whole file, so subscriptions and MCP waits run until ended.
    simulator: { taskSeconds: 60 },
  });
});

const sseOf = (key: string, taskId: string) => subscribeSse<TaskUpdatedData>(t.url, TASK_UPDATED, { id: taskId }, { key });
const streaming = (sse: ReturnType<typeof sseOf>) => sse.until((payload) => payload.data?.taskUpdated !== undefined);

async function expectSseRefused(key: string, taskId: string) {
  const outcome = await sseOf(key, taskId).done;
  const errors = graphqlErrorsOf(outcome);
  expect(errors.map((e) => e.extensions?.['code'])).toEqual(['TOO_MANY_STREAMS']);
  expect(errors[0]?.message).toMatch(/^Too many open streams for this API key/);
}

async function mcpClient(key: string): Promise<Client> {
  const client = new Client({ name: 'stream-caps-test', version: '0.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL('/mcp', t.url), { requestInit: { headers: { authorization: `Bearer ${key}` } } }));
  onTeardown(() => client.close());
  return client;
}

/** Starts kling_generate_video with a long wait; resolves once the wait holds its slot (the first progress notification). */
function startMcpWait(client: Client, prompt: string): Promise<void> {
  return new Promise((resolve, reject) => {
    client
      .callTool({ name: 'kling_generate_video', arguments: { prompt, model: 'kling-v1', timeout: 60 } }, undefined, {
        onprogress: () => resolve(),
        timeout: 120_000,
      })
      .then(() => reject(new Error('the MCP wait ended before it was counted')), () => undefined);
  });
}

const textOf = (result: CallToolResult) => result.content.map((c) => (c.type === 'text' ? c.text : '')).join('\n');

describe('one cap per key over WebSockets, SSE subscriptions and MCP waits', () => {
  it('refuses an SSE subscription with TOO_MANY_STREAMS once WebSockets and SSE streams fill the cap, and a WebSocket with 1008', async () => {
    const key = await t.createKey(1_000);
    const task = await generateTask(t, key, { prompt: 'Counted streams', ...CHEAP });
    const sockets: RawWs[] = await Promise.all([connectRawWs(t.url, key), connectRawWs(t.url, key)]);
    await streaming(sseOf(key, task.id));

    await expectSseRefused(key, task.id);
    const extra = await openRawWs(t.url);
    extra.send({ type: MessageType.ConnectionInit, payload: { authorization: `Bearer ${key}` } });
    expect(await extra.closed).toMatchObject({ code: POLICY_VIOLATION });

    // Another key is counted apart.
    const other = await t.createKey(1_000);
    await streaming(sseOf(other, (await generateTask(t, other, { prompt: 'Another key', ...CHEAP })).id));

    // A closed socket gives its slot back, to any kind of stream.
    sockets[0]?.socket.close();
    await sockets[0]?.closed;
    await vi.waitFor(() => streaming(sseOf(key, task.id)), { timeout: 5_000, interval: 50 });
  });

  it('counts MCP calls waiting for their task, and answers a wait over the cap with a tool error before submitting', async () => {
    const key = await t.createKey(1_000);
    const client = await mcpClient(key);
    await Promise.all([startMcpWait(client, 'First wait'), startMcpWait(client, 'Second wait')]);
    const ws = await connectRawWs(t.url, key);
    await ws.roundTrip();

    const task = await generateTask(t, key, { prompt: 'Not watched', ...CHEAP });
    await expectSseRefused(key, task.id);
    const refused = (await client.callTool({ name: 'kling_generate_video', arguments: { prompt: 'Third wait', model: 'kling-v1', timeout: 60 } })) as CallToolResult;
    expect(refused.isError).toBe(true);
    expect(textOf(refused)).toMatch(/Too many open streams.*No task was created and nothing was charged/s);
    // Without a wait the call holds no stream and goes through.
    const submitted = (await client.callTool({ name: 'kling_generate_video', arguments: { prompt: 'No wait', model: 'kling-v1' } })) as CallToolResult;
    expect(submitted.isError).toBeFalsy();
  });
});

describe('connections that never get going', () => {
  it('closes 60 anonymous WebSockets that never send connection_init after WS_CONNECTION_INIT_TIMEOUT_MS (4408)', async () => {
    const sockets = await Promise.all(Array.from({ length: 60 }, () => openRawWs(t.url)));
    const closes = await Promise.all(sockets.map((ws) => ws.closed));
    expect(new Set(closes.map((close) => close.code))).toEqual(new Set([CloseCode.ConnectionInitialisationTimeout]));
  });

  it('closes 50 sockets that send only part of a request line, and still answers others', async () => {
    const { port, hostname } = new URL(t.url);
    const sockets = await Promise.all(
      Array.from(
        { length: 50 },
        () =>
          new Promise<Socket>((resolve, reject) => {
            const socket = connect(Number(port), hostname, () => resolve(socket));
            socket.once('error', reject);
            onTeardown(() => {
              socket.destroy();
            });
          }),
      ),
    );
    const closedByServer = sockets.map(
      (socket) =>
        new Promise<string>((resolve) => {
          socket.on('data', () => undefined);
          socket.once('error', () => undefined);
          socket.once('close', () => resolve('closed'));
        }),
    );
    for (const socket of sockets) socket.write('POST /graphql HTT');
    expect(await Promise.all(closedByServer)).toEqual(sockets.map(() => 'closed'));

    const health = await fetch(new URL('/healthz', t.url));
    expect(health.status).toBe(200);
  });
});
