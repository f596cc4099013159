// The MCP endpoint through the SDK's own client over real HTTP, against the simulator.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { ME, type MeData } from '../helpers/operations.js';
import { onTeardown } from '../helpers/leftovers.js';
import { startGateway, type TestGateway } from '../helpers/start-gateway.js';

let t: TestGateway;
let mcpUrl: URL;

beforeAll(async () => {
  t = await startGateway({ env: { POLL_FIRST_DELAY_MS: '20', POLL_MAX_INTERVAL_MS: '50' }, simulator: { taskSeconds: 0.3 } });
  mcpUrl = new URL('/mcp', t.url);
});

async function connect(key: string): Promise<Client> {
  const client = new Client({ name: 'mcp-test', version: '0.0.0' });
  const transport = new StreamableHTTPClientTransport(mcpUrl, { requestInit: { headers: { authorization: `Bearer ${key}` } } });
  await client.connect(transport);
  onTeardown(() => client.close());
  return client;
}

async function call(client: Client, name: string, args: Record<string, unknown>): Promise<CallToolResult> {
  return (await client.callTool({ name, arguments: args })) as CallToolResult;
}

const textOf = (result: CallToolResult) => result.content.map((c) => (c.type === 'text' ? c.text : '')).join('\n');

interface TaskContent {
  task_id: string;
  state: string;
  finished: boolean;
  credits: number;
  credits_charged: number;
  videos: { url: string; playback_url?: string; duration: number }[];
  note: string;
}
const taskOf = (result: CallToolResult) => result.structuredContent as unknown as TaskContent;

const me = async (key: string) => (await t.graphql<MeData>(ME, {}, key)).body.data?.me;

const ESTIMATE = /* GraphQL */ `
  query Estimate($input: GenerateVideoInput!) {
    estimateVideoCost(input: $input) {
      __typename
      ... on CostEstimate { credits }
    }
  }
`;

/** A JSON-RPC initialize request, as a client opens with. */
const initialize = (authorization?: string) =>
  fetch(mcpUrl, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      ...(authorization ? { authorization } : {}),
    },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '0' } },
    }),
  });

describe('the MCP endpoint', () => {
  it('lists the three tools, kling_generate_video with the seed tool’s input fields', async () => {
    const client = await connect(await t.createKey(0));
    const { tools } = await client.listTools();
    expect(tools.map((tool) => tool.name).sort()).toEqual(['kling_estimate_cost', 'kling_generate_video', 'kling_get_video_task']);

    const generate = tools.find((tool) => tool.name === 'kling_generate_video');
    const seedFields = [
      'prompt',
      'model',
      'mode',
      'aspect_ratio',
      'duration',
      'generate_audio',
      'negative_prompt',
      'cfg_scale',
      'camera_control',
      'timeout',
      'callback_url',
    ];
    expect(Object.keys(generate?.inputSchema.properties ?? {})).toEqual(expect.arrayContaining([...seedFields, 'idempotency_key']));
    expect(generate?.inputSchema.required).toEqual(['prompt']);
    const model = generate?.inputSchema.properties?.['model'] as { enum: string[] };
    expect(model.enum).toEqual(expect.arrayContaining(['kling-v1', 'kling-v2-master', 'kling-v3-omni', 'kling-video-o1']));
    expect(generate?.outputSchema?.properties).toHaveProperty('task_id');
    expect(generate?.description).toMatch(/credits/);

    const estimate = tools.find((tool) => tool.name === 'kling_estimate_cost');
    expect(Object.keys(estimate?.inputSchema.properties ?? {})).toEqual(expect.arrayContaining(['prompt', 'duration', 'camera_control']));
    expect(estimate?.inputSchema.properties).not.toHaveProperty('timeout');
    expect(estimate?.inputSchema.properties).not.toHaveProperty('callback_url');
  });

  it('generates a video, waiting for it, and charges the price estimateVideoCost quotes', async () => {
    const key = await t.createKey(1_000);
    const client = await connect(key);
    const quoted = await t.graphql<{ estimateVideoCost: { credits: number } }>(
      ESTIMATE,
      { input: { prompt: 'A red fox in fresh snow', model: 'KLING_V1', mode: 'PROFESSIONAL', durationSeconds: 5 } },
      key,
    );
    const price = quoted.body.data?.estimateVideoCost.credits ?? -1;
    expect(price).toBeGreaterThan(0);

    const estimate = await call(client, 'kling_estimate_cost', { prompt: 'A red fox in fresh snow', model: 'kling-v1', mode: 'pro', duration: 5 });
    expect(estimate.isError).toBeFalsy();
    expect(estimate.structuredContent).toMatchObject({ credits: price, model: 'kling-v1', mode: 'pro', duration: 5 });

    const result = await call(client, 'kling_generate_video', {
      prompt: 'A red fox in fresh snow',
      model: 'kling-v1',
      mode: 'pro',
      duration: 5,
      timeout: 30,
    });
    expect(result.isError).toBeFalsy();
    const task = taskOf(result);
    expect(task).toMatchObject({ state: 'SUCCEEDED', finished: true, credits: price, credits_charged: price });
    expect(task.task_id).toMatch(/^vt_/);
    expect(task.videos[0]?.url).toMatch(/^https?:\/\//);
    expect(textOf(result)).toContain(task.videos[0]?.url);
    // The gateway's own signed link, which outlives Kling's URL, plays without a key.
    const playback = await fetch(task.videos[0]?.playback_url ?? '', { redirect: 'manual' });
    expect(playback.status).toBe(302);
    expect(await me(key)).toMatchObject({ creditBalance: 1_000 - price, creditsHeld: 0, creditsUsed: price });
  });

  it('refuses bad input as a tool error naming the field, holding nothing and calling nothing', async () => {
    const key = await t.createKey(1_000);
    const client = await connect(key);
    const requestsBefore = t.simulator.stats.requests.total;

    const duration = await call(client, 'kling_generate_video', { prompt: 'A castle', model: 'kling-v2-master', duration: 7, cfg_scale: 0.5 });
    expect(duration.isError).toBe(true);
    expect(textOf(duration)).toMatch(/^- duration: kling-v2-master takes duration 5, 10\.$/m);
    expect(textOf(duration)).toMatch(/^- cfg_scale: /m);
    expect(textOf(duration)).not.toMatch(/KLING_V2_MASTER|durationSeconds/);

    const camera = await call(client, 'kling_generate_video', {
      prompt: 'A castle at dawn',
      model: 'kling-v1',
      camera_control: '{"type": "simple", "config": {"horizontal": 5, "zoom": 3}}',
    });
    expect(camera.isError).toBe(true);
    expect(textOf(camera)).toMatch(/^- camera_control\.config: .*exactly one non-zero/m);

    const notJson = await call(client, 'kling_generate_video', { prompt: 'A castle', model: 'kling-v1', camera_control: '{type: simple' });
    expect(textOf(notJson)).toMatch(/^- camera_control: camera_control is not valid JSON/m);

    const unknownModel = await call(client, 'kling_generate_video', { prompt: 'A castle', model: 'kling-v9' });
    expect(unknownModel.isError).toBe(true);
    expect(textOf(unknownModel)).toMatch(/model/);

    const estimate = await call(client, 'kling_estimate_cost', { prompt: '   ' });
    expect(estimate.isError).toBe(true);
    expect(textOf(estimate)).toMatch(/^- prompt: /m);

    expect(t.simulator.stats.requests.total).toBe(requestsBefore);
    expect(await me(key)).toMatchObject({ creditBalance: 1_000, creditsHeld: 0, creditsUsed: 0 });
  });

  it('refuses a task the key cannot pay for as a tool error, without calling Kling', async () => {
    const key = await t.createKey(5);
    const client = await connect(key);
    const requestsBefore = t.simulator.stats.requests.total;
    const result = await call(client, 'kling_generate_video', { prompt: 'An expensive clip', model: 'kling-v1', mode: 'pro', duration: 10 });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/Not enough credits: this task costs \d+ and the key has 5 available/);
    expect(t.simulator.stats.requests.total).toBe(requestsBefore);
    expect(await me(key)).toMatchObject({ creditBalance: 5, creditsHeld: 0 });
  });

  it('answers 401 with a JSON-RPC error to a missing, unknown or revoked key', async () => {
    const revokedKey = await t.createKey(100);
    const keyId = await t.gateway.apiKeys.authenticate(revokedKey);
    await t.gateway.apiKeys.revoke(keyId ?? '');

    for (const authorization of [undefined, 'Bearer kg_not_a_real_key', `Bearer ${revokedKey}`]) {
      const res = await initialize(authorization);
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect(await res.json()).toMatchObject({ jsonrpc: '2.0', id: null, error: { code: -32001, message: expect.stringMatching(/API key/) as string } });
    }
    // The SDK's client reports the HTTP status as the error's code.
    await expect(connect('kg_not_a_real_key')).rejects.toMatchObject({ code: 401 });
  });

  it('answers a valid key over plain HTTP, and refuses GET since it keeps no sessions', async () => {
    const key = await t.createKey(0);
    const ok = await initialize(`Bearer ${key}`);
    expect(ok.status).toBe(200);
    const get = await fetch(mcpUrl, { headers: { authorization: `Bearer ${key}`, accept: 'text/event-stream' } });
    expect(get.status).toBe(405);
  });

  it('keeps another key’s task invisible: kling_get_video_task answers as for an unknown id', async () => {
    const owner = await connect(await t.createKey(1_000));
    const submitted = await call(owner, 'kling_generate_video', { prompt: 'A lighthouse in a storm' });
    const task = taskOf(submitted);
    expect(task.finished).toBe(false);
    expect(task.note).toMatch(/kling_get_video_task/);
    expect((await call(owner, 'kling_get_video_task', { task_id: task.task_id })).isError).toBeFalsy();

    const stranger = await connect(await t.createKey(1_000));
    const foreign = await call(stranger, 'kling_get_video_task', { task_id: task.task_id });
    const unknown = await call(stranger, 'kling_get_video_task', { task_id: 'vt_doesnotexist' });
    expect(foreign.isError).toBe(true);
    expect(foreign.structuredContent).toBeUndefined();
    expect(textOf(foreign).replace(task.task_id, 'ID')).toBe(textOf(unknown).replace('vt_doesnotexist', 'ID'));
  });

  it('returns the current state when the wait runs out, and kling_get_video_task later sees it finish', async () => {
    const key = await t.createKey(1_000);
    const client = await connect(key);
    const result = await call(client, 'kling_generate_video', { prompt: 'A slow sunrise over hills', timeout: 0.05 });
    expect(result.isError).toBeFalsy();
    const task = taskOf(result);
    expect(task.finished).toBe(false);
    expect(['QUEUED', 'SUBMITTED', 'PROCESSING']).toContain(task.state);
    expect(textOf(result)).toMatch(/still processing/i);
    expect(textOf(result)).toContain(`Call kling_get_video_task with this task_id (${task.task_id})`);

    const finished = await vi.waitFor(
      async () => {
        const read = taskOf(await call(client, 'kling_get_video_task', { task_id: task.task_id }));
        if (!read.finished) throw new Error(`still ${read.state}`);
        return read;
      },
      { timeout: 10_000, interval: 50 },
    );
    expect(finished).toMatchObject({ state: 'SUCCEEDED', credits_charged: task.credits });
    expect(finished.videos).toHaveLength(1);
  });
});
