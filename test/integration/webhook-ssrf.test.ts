// SSRF through webhookUrl / callback_url (red-team finding): every loopback, private, metadata and
// local-name form is refused by validation through both doors, with nothing stored, held or sent;
// a name that resolves to loopback passes validation but is refused when the sender connects, once,
// without retries; an allow-listed loopback receiver still gets its webhooks.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { eq } from 'drizzle-orm';
import { Agent, request } from 'undici';
import { beforeAll, describe, expect, it } from 'vitest';
import { TASK_STATUSES } from '../../src/tasks/status.js';
import { verifyWebhook } from '../../src/webhooks/signature.js';
import { createWebhookConnector, targetRefusalOf, type WebhookLookup } from '../../src/webhooks/webhook-connector.js';
import type { WebhookAttemptResult } from '../../src/webhooks/webhook-sender.js';
import { DEFAULT_WEBHOOK_TARGETS, parseAllowedHosts } from '../../src/webhooks/webhook-target.js';
import { GENERATE_VIDEO, type GenerateVideoData } from '../helpers/operations.js';
import { onTeardown } from '../helpers/leftovers.js';
import { startGateway, type TestGateway } from '../helpers/start-gateway.js';
import { countTasksForKey, ledgerTotals, webhookAttemptsOf, webhookDeliveriesForTask } from '../helpers/store-audit.js';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook-receiver.js';

const MAX_ATTEMPTS = 5;

/** The names the gateway's resolver knows in this file; anything else does not resolve. */
const DNS: Record<string, { address: string; family: number }[]> = {
  'hooks.example.test': [{ address: '127.0.0.1', family: 4 }],
  // One public answer does not make up for a private one: every address is checked.
  'mixed.example.test': [
    { address: '93.184.215.14', family: 4 },
    { address: '10.0.0.7', family: 4 },
  ],
  'metadata.example.test': [{ address: '169.254.169.254', family: 4 }],
  'mapped.example.test': [{ address: '::ffff:127.0.0.1', family: 6 }],
};
const lookups: string[] = [];
const lookup: WebhookLookup = (hostname) => {
  lookups.push(hostname);
  const answer = DNS[hostname];
  if (!answer) return Promise.reject(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }));
  return Promise.resolve(answer);
};

let t: TestGateway;
let receiver: WebhookReceiver;
let mcpUrl: URL;
const attempts: WebhookAttemptResult[] = [];
const waiters: { taskId: string; resolve: (a: WebhookAttemptResult) => void }[] = [];

/** The first attempt recorded for the task. */
const firstAttempt = (taskId: string): Promise<WebhookAttemptResult> => {
  const seen = attempts.find((a) => a.taskId === taskId);
  if (seen) return Promise.resolve(seen);
  return new Promise((resolve) => waiters.push({ taskId, resolve }));
};

beforeAll(async () => {
  receiver = await startWebhookReceiver();
  t = await startGateway({
    env: { POLL_FIRST_DELAY_MS: '20', POLL_MAX_INTERVAL_MS: '50', WEBHOOK_ALLOWED_HOSTS: receiver.host },
    simulator: { taskSeconds: 0.3 },
    overrides: {
      webhookLookup: lookup,
      webhooks: {
        retryBaseMs: 20,
        retryMaxMs: 50,
        maxAttempts: MAX_ATTEMPTS,
        onAttempt: (attempt) => {
          attempts.push(attempt);
          for (const waiter of waiters.filter((w) => w.taskId === attempt.taskId)) {
            waiters.splice(waiters.indexOf(waiter), 1);
            waiter.resolve(attempt);
          }
        },
      },
    },
  });
  mcpUrl = new URL('/mcp', t.url);
});

const port = () => receiver.host.split(':')[1] ?? '';

/** What the red team got deliveries to, and what else must be refused, with the reason given. */
const REFUSED: [url: string, reason: RegExp][] = [
  ['http://127.0.0.1/hook', /127\.0\.0\.1 is a loopback address/],
  ['http://localhost/hook', /localhost is a local name/],
  ['http://[::1]/hook', /::1 is a loopback address/],
  ['http://2130706433/hook', /127\.0\.0\.1 is a loopback address/],
  ['http://0x7f000001/hook', /127\.0\.0\.1 is a loopback address/],
  ['http://127.1/hook', /127\.0\.0\.1 is a loopback address/],
  ['http://0/hook', /0\.0\.0\.0 is the unspecified address/],
  ['http://[::ffff:127.0.0.1]/hook', /::ffff:7f00:1 is an IPv4-mapped loopback address/],
  ['http://[::ffff:7f00:1]/hook', /::ffff:7f00:1 is an IPv4-mapped loopback address/],
  ['http://evil@127.0.0.1/hook', /user name or password/],
  ['https://evil@hooks.example.com/hook', /user name or password/],
  ['http://169.254.169.254/latest/meta-data/', /169\.254\.169\.254 is a link-local address/],
  ['http://[::ffff:169.254.169.254]/latest/meta-data/', /IPv4-mapped link-local/],
  ['http://10.0.0.1/hook', /10\.0\.0\.1 is a private address/],
  ['http://192.168.1.10/hook', /private address/],
  ['http://172.16.0.1/hook', /private address/],
  ['http://172.31.255.254/hook', /private address/],
  ['http://100.64.0.1/hook', /carrier-grade NAT/],
  ['http://[fd00::1]/hook', /unique-local/],
  ['http://[fe80::1]/hook', /link-local/],
  ['http://224.0.0.251/hook', /multicast/],
  ['http://metadata.google.internal/computeMetadata/v1/', /metadata\.google\.internal is a local name/],
  ['http://kubernetes.default.svc.cluster.local/api', /local name/],
  ['http://printer.local/hook', /local name/],
  ['http://app.localhost/hook', /local name/],
  ['http://metadata/computeMetadata/v1/', /single-label name/],
  ['https://hooks.example.com:8443/hook', /port 80 or 443, not 8443/],
  // The allow-list names 127.0.0.1:<port>, not other names or ports of the same receiver.
  ['http://localhost:PORT/hook', /port 80 or 443/],
  ['http://127.0.0.1:1/hook', /port 80 or 443/],
];
const withPort = (url: string) => url.replace('PORT', port());

const newKey = async (name: string) => {
  const { key, account } = await t.gateway.apiKeys.create(name, 10_000);
  const row = await t.gateway.store.getApiKey(account.id);
  if (!row) throw new Error('key not stored');
  return { key, id: account.id, secret: row.webhookSecret };
};

/** What a refused input must not change: tasks, the ledger and Kling's traffic. */
async function sideEffects(apiKeyId: string) {
  return {
    tasks: await countTasksForKey(t.gateway.store, apiKeyId, TASK_STATUSES),
    ledger: await ledgerTotals(t.gateway.store, apiKeyId),
    balance: (await t.gateway.store.getApiKey(apiKeyId))?.creditBalance,
    upstreamRequests: t.simulator.stats.requests.total,
  };
}

const generate = (key: string, webhookUrl: string) =>
  t.graphql<GenerateVideoData>(GENERATE_VIDEO, { input: { prompt: 'A lighthouse at night', model: 'KLING_V1', webhookUrl } }, key);

async function generated(key: string, webhookUrl: string): Promise<string> {
  const result = (await generate(key, webhookUrl)).body.data?.generateVideo;
  if (result?.__typename !== 'GenerateVideoSuccess' || !result.task) throw new Error(`generateVideo: ${JSON.stringify(result)}`);
  return result.task.id;
}

async function connectMcp(key: string): Promise<Client> {
  const client = new Client({ name: 'ssrf-test', version: '0.0.0' });
  await client.connect(new StreamableHTTPClientTransport(mcpUrl, { requestInit: { headers: { authorization: `Bearer ${key}` } } }));
  onTeardown(() => client.close());
  return client;
}

const generateOverMcp = async (client: Client, callbackUrl: string) =>
  (await client.callTool({
    name: 'kling_generate_video',
    arguments: { prompt: 'A lighthouse at night', model: 'kling-v1', callback_url: callbackUrl },
  })) as CallToolResult;

const textOf = (result: CallToolResult) => result.content.map((c) => (c.type === 'text' ? c.text : '')).join('\n');

/** Gives a retry (20-50 ms apart here) ample time to happen, then returns what the store holds. */
async function settledDelivery(taskId: string) {
  await new Promise((resolve) => setTimeout(resolve, 400));
  const deliveries = await webhookDeliveriesForTask(t.gateway.store, taskId);
  expect(deliveries).toHaveLength(1);
  const delivery = deliveries[0] as NonNullable<(typeof deliveries)[0]>;
  return { delivery, attempts: await webhookAttemptsOf(t.gateway.store, delivery.id) };
}

describe('webhookUrl validation over GraphQL', () => {
  it.each(REFUSED)('refuses %s with a ValidationError on webhookUrl, storing, holding and calling nothing', async (url, reason) => {
    const { key, id } = await newKey('graphql-ssrf');
    const before = await sideEffects(id);

    const res = await generate(key, withPort(url));

    expect(res.body.errors).toBeUndefined();
    expect(res.body.data?.generateVideo).toMatchObject({
      __typename: 'ValidationError',
      code: 'VALIDATION_FAILED',
      issues: [{ path: ['webhookUrl'], message: expect.stringMatching(reason) as unknown }],
    });
    expect(await sideEffects(id)).toEqual(before);
  });

  it('reports the webhook target together with the other issues, and estimateVideoCost refuses it too', async () => {
    const { key } = await newKey('graphql-ssrf-more');
    const res = await t.graphql<GenerateVideoData>(
      GENERATE_VIDEO,
      { input: { prompt: '  ', model: 'KLING_V1', webhookUrl: 'http://169.254.169.254/' } },
      key,
    );
    expect(res.body.data?.generateVideo.issues?.map((i) => i.path)).toEqual([['prompt'], ['webhookUrl']]);

    const estimate = await t.graphql<{ estimateVideoCost: { __typename: string; issues?: { path: string[] }[] } }>(
      /* GraphQL */ `
        query Estimate($input: GenerateVideoInput!) {
          estimateVideoCost(input: $input) { __typename ... on ValidationError { issues { path message } } }
        }
      `,
      { input: { prompt: 'A lighthouse', webhookUrl: 'http://localhost/' } },
      key,
    );
    expect(estimate.body.data?.estimateVideoCost).toMatchObject({ __typename: 'ValidationError', issues: [{ path: ['webhookUrl'] }] });
  });
});

describe('callback_url validation over MCP', () => {
  it.each(REFUSED)('refuses %s as a tool error naming callback_url, storing, holding and calling nothing', async (url, reason) => {
    const { key, id } = await newKey('mcp-ssrf');
    const client = await connectMcp(key);
    const before = await sideEffects(id);

    const result = await generateOverMcp(client, withPort(url));

    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/^Invalid input; no task was created and nothing was charged\./);
    const line = textOf(result).split('\n').find((l) => l.startsWith('- callback_url: '));
    expect(line).toMatch(reason);
    expect(line).toMatch(/^- callback_url: callback_url must/);
    expect(await sideEffects(id)).toEqual(before);
  });
});

describe('delivery', () => {
  it('still delivers to an allow-listed loopback receiver (WEBHOOK_ALLOWED_HOSTS), from GraphQL and from MCP', async () => {
    const owner = await newKey('allowed');
    const fromGraphql = await generated(owner.key, receiver.url('/allowed-graphql'));
    const tool = await generateOverMcp(await connectMcp(owner.key), receiver.url('/allowed-mcp'));
    expect(tool.isError ?? false).toBe(false);
    const fromMcp = (tool.structuredContent as { task_id: string }).task_id;

    const [[viaGraphql], [viaMcp]] = await Promise.all([receiver.waitFor('/allowed-graphql'), receiver.waitFor('/allowed-mcp')]);
    for (const [request, taskId] of [
      [viaGraphql, fromGraphql],
      [viaMcp, fromMcp],
    ] as const) {
      if (!request) throw new Error('no request');
      expect(verifyWebhook({ secret: owner.secret, headers: request.headers, body: request.body, nowMs: Date.now() }).ok).toBe(true);
      expect(await firstAttempt(taskId)).toMatchObject({ attempt: 1, statusCode: 200, outcome: 'delivered' });
    }
  });

  it.each([
    ['hooks.example.test', /target refused: hooks\.example\.test resolves to 127\.0\.0\.1, a loopback address/],
    ['mixed.example.test', /target refused: mixed\.example\.test resolves to 10\.0\.0\.7, a private address/],
    ['metadata.example.test', /target refused: metadata\.example\.test resolves to 169\.254\.169\.254, a link-local address/],
    ['mapped.example.test', /resolves to ::ffff:127\.0\.0\.1, an IPv4-mapped loopback address/],
  ])('passes %s at validation, refuses it at connect time, and gives the delivery up without retrying', async (host, error) => {
    const owner = await newKey('rebind');
    const taskId = await generated(owner.key, `http://${host}/hook`);

    expect(await firstAttempt(taskId)).toMatchObject({ attempt: 1, statusCode: null, outcome: 'failed', error: expect.stringMatching(error) as unknown });
    const { delivery, attempts: recorded } = await settledDelivery(taskId);
    expect(delivery).toMatchObject({ status: 'failed', attempts: 1, lastStatusCode: null, nextAttemptAt: null });
    expect(recorded).toMatchObject([{ attempt: 1, statusCode: null, error: expect.stringMatching(error) as unknown }]);
    expect(lookups.filter((name) => name === host)).toHaveLength(1);
  });

  it('refuses, at send time, a stored URL that the rules refuse (a row from before them) and does not retry it', async () => {
    const owner = await newKey('legacy');
    const taskId = await generated(owner.key, 'https://hooks.example.com/legacy');
    // As if stored before these rules: the same receiver under another name, which the allow-list does not cover.
    const { tasks } = t.gateway.store.dialect.tables;
    await t.gateway.store.dialect.run((db) => db.update(tasks).set({ webhookUrl: `http://localhost:${port()}/legacy` }).where(eq(tasks.id, taskId)));

    expect(await firstAttempt(taskId)).toMatchObject({ attempt: 1, outcome: 'failed', error: expect.stringMatching(/^target refused: /) as unknown });
    const { delivery, attempts: recorded } = await settledDelivery(taskId);
    expect(delivery).toMatchObject({ status: 'failed', attempts: 1 });
    expect(recorded).toHaveLength(1);
    expect(receiver.requestsTo('/legacy')).toEqual([]);
  });
});

describe('in production', () => {
  it('accepts only https webhook URLs, and http ones only for allow-listed hosts, through both doors', async () => {
    const prod = await startGateway({ env: { NODE_ENV: 'production', WEBHOOK_ALLOWED_HOSTS: receiver.host }, simulator: { taskSeconds: 60 } });
    const key = await prod.createKey(1_000);
    const send = async (webhookUrl: string) =>
      (await prod.graphql<GenerateVideoData>(GENERATE_VIDEO, { input: { prompt: 'A lighthouse', model: 'KLING_V1', webhookUrl } }, key)).body.data
        ?.generateVideo;

    expect(await send('http://hooks.example.com/hook')).toMatchObject({
      __typename: 'ValidationError',
      issues: [{ path: ['webhookUrl'], message: 'webhookUrl must be an https URL.' }],
    });
    expect((await send('https://hooks.example.com/hook'))?.__typename).toBe('GenerateVideoSuccess');
    expect((await send(receiver.url('/production')))?.__typename).toBe('GenerateVideoSuccess');

    const client = new Client({ name: 'ssrf-test', version: '0.0.0' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL('/mcp', prod.url), { requestInit: { headers: { authorization: `Bearer ${key}` } } }),
    );
    onTeardown(() => client.close());
    const tool = await generateOverMcp(client, 'http://hooks.example.com/hook');
    expect(tool.isError).toBe(true);
    expect(textOf(tool)).toMatch(/^- callback_url: callback_url must be an https URL\.$/m);
  });
});

describe("the sender's connector", () => {
  const agentWith = (connect: ReturnType<typeof createWebhookConnector>) => {
    const agent = new Agent({ connect });
    onTeardown(() => agent.close());
    return agent;
  };
  const refusalOf = async (promise: Promise<unknown>) => {
    try {
      await promise;
    } catch (error) {
      return targetRefusalOf(error)?.message ?? `not a refusal: ${String(error)}`;
    }
    return 'no error';
  };

  it('refuses a literal private address, which net would connect to without a lookup', async () => {
    const dispatcher = agentWith(createWebhookConnector({ policy: DEFAULT_WEBHOOK_TARGETS, lookup, timeoutMs: 1_000 }));
    expect(await refusalOf(request(receiver.url('/literal'), { method: 'POST', dispatcher }))).toBe('127.0.0.1 is a loopback address');
    expect(await refusalOf(request(`http://[::ffff:7f00:1]:${port()}/literal`, { method: 'POST', dispatcher }))).toBe(
      '::ffff:7f00:1 is an IPv4-mapped loopback address',
    );
    expect(receiver.requestsTo('/literal')).toEqual([]);
  });

  it('connects to the address its lookup checked, resolving once, with the name kept for Host', async () => {
    const seen: string[] = [];
    const pinnedLookup: WebhookLookup = (hostname) => {
      seen.push(hostname);
      return Promise.resolve([{ address: '127.0.0.1', family: 4 }]);
    };
    // Allow-listed, so the loopback answer is trusted; the name exists only in this lookup.
    const policy = { allowedHosts: parseAllowedHosts(`pinned.example.test:${port()}`).hosts, httpsOnly: false };
    const dispatcher = agentWith(createWebhookConnector({ policy, lookup: pinnedLookup, timeoutMs: 1_000 }));

    const response = await request(`http://pinned.example.test:${port()}/pinned`, { method: 'POST', dispatcher, body: '{}' });
    await response.body.dump();

    expect(response.statusCode).toBe(200);
    expect(seen).toEqual(['pinned.example.test']);
    expect(receiver.requestsTo('/pinned').map((r) => r.headers.host)).toEqual([`pinned.example.test:${port()}`]);
  });
});
