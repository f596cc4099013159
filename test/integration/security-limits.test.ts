// What an HTTP client cannot make the gateway do: run oversized, over-deep, over-costly or batched
// operations, send bodies without bound, spend more than its key's rate budget, or ride a browser's
// cookies through a simple (non-preflighted) cross-site request.
import { readFileSync } from 'node:fs';
import { Kind, parse, print } from 'graphql';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/env.js';
import { CSRF_HEADER } from '../../src/server/yoga.js';
import { postGraphql, type GraphqlResponse } from '../helpers/graphql-http.js';
import { CANCEL_VIDEO_TASK, GENERATE_VIDEO, ME, TASK_UPDATED, VIDEO_TASK, type GenerateVideoData } from '../helpers/operations.js';
import { subscribeSse } from '../helpers/sse-client.js';
import { startGateway, type TestGateway } from '../helpers/start-gateway.js';
import { generateTask, ledgerOf, type TaskUpdatedData } from '../helpers/task-flows.js';
import { CHEAP } from '../helpers/task-flows.js';

const ADMIN_TOKEN = 'security-limits-admin-token';
const README = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
/** The error codes yoga gives to documents it refuses before executing them. */
const REFUSED_DOCUMENT_CODES = ['GRAPHQL_PARSE_FAILED', 'GRAPHQL_VALIDATION_FAILED'];

/** Each limit small enough that a realistic operation crosses it, so both sides can be shown. */
const TIGHT = { MAX_DEPTH: '4', MAX_COST: '30', MAX_ALIASES: '3', MAX_TOKENS: '60', MAX_DIRECTIVES: '2' };
const RATE_LIMIT_POINTS = 10;

let defaults: TestGateway;
let tight: TestGateway;
let metered: TestGateway;

beforeAll(async () => {
  [defaults, tight, metered] = await Promise.all([
    startGateway({ env: { ADMIN_TOKEN } }),
    startGateway({ env: TIGHT }),
    startGateway({ env: { RATE_LIMIT_POINTS: String(RATE_LIMIT_POINTS) } }),
  ]);
});

const aliases = (n: number, selection: string) => `{ ${Array.from({ length: n }, (_, i) => `a${i}: ${selection}`).join(' ')} }`;

/** Status, messages and codes of a response, in one object that prints well when a test fails. */
function outcome(res: GraphqlResponse<unknown>) {
  return {
    status: res.status,
    hasData: res.body.data !== undefined && res.body.data !== null,
    errors: (res.body.errors ?? []).map((e) => ({ message: e.message, code: e.extensions?.['code'] })),
  };
}

function expectNotRefusedAsADocument(res: GraphqlResponse<unknown>) {
  const seen = outcome(res);
  expect(seen.errors.filter((e) => REFUSED_DOCUMENT_CODES.includes(String(e.code))), JSON.stringify(seen)).toEqual([]);
  expect(res.status, JSON.stringify(seen)).toBe(200);
  expect(res.body).toHaveProperty('data');
}

/**
 * Every operation in the README's graphql blocks, as a document of its own: one block lists the three
 * admin mutations, which a reader sends one at a time.
 */
function readmeOperations(): string[] {
  return [...README.matchAll(/```graphql\n([\s\S]*?)```/g)].flatMap(([, block]) => {
    const { definitions } = parse(block ?? '');
    const fragments = definitions.filter((d) => d.kind === Kind.FRAGMENT_DEFINITION);
    return definitions
      .filter((d) => d.kind === Kind.OPERATION_DEFINITION)
      .map((operation) => print({ kind: Kind.DOCUMENT, definitions: [operation, ...fragments] }));
  });
}

describe('default operation limits', () => {
  const operations = readmeOperations();

  it('finds the README examples to check', () => {
    expect(operations.length).toBeGreaterThanOrEqual(8);
  });

  it.each(operations.map((operation) => [operation.replace(/\s+/g, ' ').slice(0, 48), operation]))(
    'let the README example "%s" through parsing and validation',
    async (_title, operation) => {
      const admin = /\b(createApiKey|grantCredits|revokeApiKey)\b/.test(operation);
      const key = admin ? ADMIN_TOKEN : await defaults.createKey(1_000, 'readme');
      // Every variable a README example declares is an ID; unused extras are ignored by GraphQL.
      const res = await postGraphql(defaults.url, operation, { id: 'vt_unknown' }, { key });
      expectNotRefusedAsADocument(res);
    },
  );

  it('let every operation the tests share through, over HTTP and SSE', async () => {
    const key = await defaults.createKey(1_000, 'operations');
    const generated = await postGraphql<GenerateVideoData>(defaults.url, GENERATE_VIDEO, { input: { prompt: 'A kite over dunes', ...CHEAP } }, { key });
    expectNotRefusedAsADocument(generated);
    const id = generated.body.data?.generateVideo.task?.id;
    expect(id).toMatch(/^vt_/);
    for (const [query, variables] of [
      [VIDEO_TASK, { id }],
      [ME, {}],
    ] as const) {
      expectNotRefusedAsADocument(await postGraphql(defaults.url, query, variables, { key }));
    }
    const stream = subscribeSse<TaskUpdatedData>(defaults.url, TASK_UPDATED, { id }, { key });
    const first = await stream.until(() => true);
    stream.abort();
    expect(first.errors).toBeUndefined();
    expect(first.data?.taskUpdated.id).toBe(id);
    expectNotRefusedAsADocument(await postGraphql(defaults.url, CANCEL_VIDEO_TASK, { id }, { key }));
  });

  it('refuse a 16th alias, a 2,001st token and a 21st directive with a GraphQL error naming the limit', async () => {
    const key = await defaults.createKey(1_000);
    const directives = `{ ${Array.from({ length: 21 }, (_, i) => `t${i}: __typename @include(if: true)`).join(' ')} }`;
    const cases = [
      [aliases(16, 'me { name }'), 'Aliases limit of 15 exceeded, found 16.', 'GRAPHQL_VALIDATION_FAILED'],
      [`{ ${'__typename '.repeat(2_000)} }`, 'Syntax Error: Token limit of 2000 exceeded.', 'GRAPHQL_PARSE_FAILED'],
      [directives, 'Directives limit of 20 exceeded, found 21.', 'GRAPHQL_VALIDATION_FAILED'],
    ] as const;
    for (const [query, message, code] of cases) {
      const res = await postGraphql(defaults.url, query, undefined, { key });
      expect(outcome(res)).toEqual({ status: 400, hasData: false, errors: [{ message, code }] });
    }
    // One under each limit is fine.
    expectNotRefusedAsADocument(await postGraphql(defaults.url, aliases(15, 'me { name }'), undefined, { key }));
  });
});

describe('configured operation limits', () => {
  it.each([
    ['MAX_DEPTH=4', '{ videoTasks { edges { node { id } } } }', '{ videoTasks { edges { node { failure { code } } } } }', 'Query depth limit of 4 exceeded, found 5.'],
    [
      'MAX_COST=30',
      '{ videoTasks { edges { node { id status } } } }',
      '{ videoTasks { edges { node { id status prompt model mode credits creditsCharged createdAt updatedAt } } } }',
      expect.stringMatching(/^Query Cost limit of 30 exceeded, found [\d.]+\.$/) as string,
    ],
    ['MAX_ALIASES=3', aliases(3, 'me { name }'), aliases(4, 'me { name }'), 'Aliases limit of 3 exceeded, found 4.'],
    [
      'MAX_DIRECTIVES=2',
      '{ me @include(if: true) { name @skip(if: false) } }',
      '{ me @include(if: true) { name @skip(if: false) creditBalance @include(if: true) } }',
      'Directives limit of 2 exceeded, found 3.',
    ],
  ])('%s: accepts an operation within the limit and refuses one past it with a validation error', async (_limit, within, over, message) => {
    const key = await tight.createKey(1_000);
    const accepted = await postGraphql(tight.url, within, undefined, { key });
    expect(outcome(accepted)).toEqual({ status: 200, hasData: true, errors: [] });

    const refused = await postGraphql(tight.url, over, undefined, { key });
    expect(outcome(refused)).toEqual({ status: 400, hasData: false, errors: [{ message, code: 'GRAPHQL_VALIDATION_FAILED' }] });
  });

  it('MAX_TOKENS=60: refuses a longer document while parsing it', async () => {
    const key = await tight.createKey(1_000);
    expect(outcome(await postGraphql(tight.url, '{ me { name } }', undefined, { key })).errors).toEqual([]);
    const refused = await postGraphql(tight.url, `{ ${'__typename '.repeat(60)} }`, undefined, { key });
    expect(outcome(refused)).toEqual({
      status: 400,
      hasData: false,
      errors: [{ message: 'Syntax Error: Token limit of 60 exceeded.', code: 'GRAPHQL_PARSE_FAILED' }],
    });
  });

  it('checks the limits before authentication, so an anonymous caller cannot probe past them either', async () => {
    const refused = await postGraphql(tight.url, aliases(4, 'models { model }'));
    expect(outcome(refused).errors).toEqual([{ message: 'Aliases limit of 3 exceeded, found 4.', code: 'GRAPHQL_VALIDATION_FAILED' }]);
  });
});

describe('request bodies', () => {
  const maxBodyBytes = 65_536;
  /** A request body of exactly `bytes` bytes, padded in `extensions`, which the gateway ignores. */
  const bodyOf = (query: string, bytes: number) => {
    const bare = JSON.stringify({ query, extensions: { pad: '' } });
    return JSON.stringify({ query, extensions: { pad: 'x'.repeat(bytes - Buffer.byteLength(bare)) } });
  };
  const post = (body: BodyInit, headers: Record<string, string> = {}) =>
    fetch(defaults.url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body, duplex: 'half' } as RequestInit);

  it('accepts a body of exactly MAX_BODY_BYTES and refuses one byte more with 413, before running anything', async () => {
    const key = await defaults.createKey(1_000);
    const auth = { authorization: `Bearer ${key}` };
    const atLimit = bodyOf('{ me { name } }', maxBodyBytes);
    expect(Buffer.byteLength(atLimit)).toBe(maxBodyBytes);
    expect((await post(atLimit, auth)).status).toBe(200);

    const mutation = `mutation { generateVideo(input: { prompt: "too big", model: KLING_V1 }) { __typename } }`;
    const res = await post(bodyOf(mutation, maxBodyBytes + 1), auth);
    expect(res.status).toBe(413);
    expect(await res.json()).toEqual({ errors: [{ message: `The request body is larger than ${maxBodyBytes} bytes.` }] });
    expect((await ledgerOf(defaults, key)).hold).toBe(0);
  });

  it('refuses a chunked body without Content-Length with 411 rather than read it without bound', async () => {
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode(JSON.stringify({ query: '{ __typename }' })));
        controller.close();
      },
    });
    const res = await post(body);
    expect(res.status).toBe(411);
  });

  it('refuses a batch (a JSON array of operations)', async () => {
    const res = await post(JSON.stringify([{ query: '{ __typename }' }, { query: '{ __typename }' }]));
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ errors: [{ message: 'Batching is not supported.', extensions: { code: 'BAD_REQUEST' } }] });
  });

  it('does not parse multipart requests, even with the CSRF header', async () => {
    const form = new FormData();
    form.set('operations', JSON.stringify({ query: '{ __typename }' }));
    form.set('map', '{}');
    const res = await fetch(defaults.url, { method: 'POST', headers: { [CSRF_HEADER]: '1' }, body: form });
    expect(res.status).toBe(415);
  });
});

describe('per-key rate limit (RATE_LIMIT_POINTS=10)', () => {
  const generate = /* GraphQL */ `
    mutation {
      generateVideo(input: { prompt: "A heron at dawn", model: KLING_V1 }) {
        __typename
        ... on RateLimitedError { code message retryAfterSeconds }
      }
    }
  `;

  it('charges one point per root field, aliases included: ten aliases of `me` spend the whole budget', async () => {
    const key = await metered.createKey(1_000);
    const spent = await postGraphql<Record<string, { name: string }>>(metered.url, aliases(RATE_LIMIT_POINTS, 'me { name }'), undefined, { key });
    expect(outcome(spent)).toEqual({ status: 200, hasData: true, errors: [] });
    expect(Object.keys(spent.body.data ?? {})).toHaveLength(RATE_LIMIT_POINTS);

    const limited = await postGraphql(metered.url, ME, undefined, { key });
    expect(limited.status).toBe(429);
    expect(limited.body.data).toBeUndefined();
    const [error] = limited.body.errors ?? [];
    expect(error?.extensions?.['code']).toBe('RATE_LIMITED');
    const retryAfterSeconds = error?.extensions?.['retryAfterSeconds'];
    expect(retryAfterSeconds).toBeGreaterThanOrEqual(1);
    expect(retryAfterSeconds).toBeLessThanOrEqual(60);
    expect(limited.headers.get('retry-after')).toBe(String(retryAfterSeconds));
  });

  it('answers generateVideo over the limit with RateLimitedError as data, and holds and submits nothing', async () => {
    const key = await metered.createKey(1_000);
    await postGraphql(metered.url, aliases(RATE_LIMIT_POINTS, 'me { name }'), undefined, { key });
    const createsBefore = metered.simulator.stats.requests.create;

    const res = await postGraphql<{ generateVideo: Record<string, unknown> }>(metered.url, generate, undefined, { key });
    expect(res.status).toBe(200);
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data?.generateVideo).toEqual({
      __typename: 'RateLimitedError',
      code: 'RATE_LIMITED',
      message: expect.stringMatching(/retry after \d+ s/) as string,
      retryAfterSeconds: expect.any(Number) as number,
    });
    expect(res.body.data?.generateVideo['retryAfterSeconds']).toBeGreaterThanOrEqual(1);
    expect(await ledgerOf(metered, key)).toMatchObject({ hold: 0, charge: 0 });
    expect(metered.simulator.stats.requests.create).toBe(createsBefore);
  });

  it('refuses at once an operation that costs more points than the whole budget', async () => {
    const key = await metered.createKey(1_000);
    const res = await postGraphql(metered.url, aliases(RATE_LIMIT_POINTS + 1, 'me { name }'), undefined, { key });
    expect(res.status).toBe(429);
    expect(outcome(res).errors.map((e) => e.code)).toEqual(['RATE_LIMITED']);
  });

  it('keeps a separate budget per key', async () => {
    const spender = await metered.createKey(1_000);
    const bystander = await metered.createKey(1_000);
    await postGraphql(metered.url, aliases(RATE_LIMIT_POINTS, 'me { name }'), undefined, { key: spender });
    expect((await postGraphql(metered.url, ME, undefined, { key: spender })).status).toBe(429);
    expect(outcome(await postGraphql(metered.url, ME, undefined, { key: bystander }))).toEqual({ status: 200, hasData: true, errors: [] });
  });
});

describe('CSRF prevention', () => {
  const get = (query: string, headers: Record<string, string> = {}) =>
    fetch(`${defaults.url.href}?${new URLSearchParams({ query }).toString()}`, { headers });

  it('refuses a GET query without the x-graphql-yoga-csrf header, and answers one that carries it', async () => {
    const refused = await get('{ __typename }');
    expect(refused.status).toBe(403);
    expect(await refused.json()).toEqual({ errors: [{ message: 'Required CSRF header(s) not present' }] });

    const answered = await get('{ __typename }', { [CSRF_HEADER]: '1' });
    expect(answered.status).toBe(200);
    expect(await answered.json()).toEqual({ data: { __typename: 'Query' } });
  });

  it.each([
    ['text/plain', JSON.stringify({ query: '{ __typename }' })],
    ['text/plain;charset=UTF-8', JSON.stringify({ query: '{ __typename }' })],
    ['application/x-www-form-urlencoded', 'query=%7B__typename%7D'],
    ['multipart/form-data; boundary=x', '--x\r\nContent-Disposition: form-data; name="query"\r\n\r\n{ __typename }\r\n--x--\r\n'],
  ])('refuses a POST with content-type %s and neither a CSRF header nor Authorization (a form or simple request a page could send)', async (contentType, body) => {
    const res = await fetch(defaults.url, { method: 'POST', headers: { 'content-type': contentType }, body });
    expect(res.status).toBe(403);
    expect(await res.json()).toEqual({ errors: [{ message: 'Required CSRF header(s) not present' }] });
  });

  it('refuses a POST without any content type and no CSRF header', async () => {
    const res = await fetch(defaults.url, { method: 'POST', body: new Blob([JSON.stringify({ query: '{ __typename }' })]) });
    expect(res.status).toBe(403);
  });

  it('refuses SSE over GET without the header (EventSource cannot send one, nor Authorization)', async () => {
    const res = await fetch(`${defaults.url.href}?${new URLSearchParams({ query: 'subscription { taskUpdated(id: "vt_x") { id } }' }).toString()}`, {
      headers: { accept: 'text/event-stream' },
    });
    expect(res.status).toBe(403);
  });

  it('streams a subscription over SSE from a JSON POST without the header', async () => {
    const key = await defaults.createKey(1_000);
    const task = await generateTask(defaults, key, { prompt: 'A paper boat on a stream', ...CHEAP });
    const stream = subscribeSse<TaskUpdatedData>(defaults.url, TASK_UPDATED, { id: task.id }, { key });
    const first = await stream.until(() => true);
    stream.abort();
    expect(await stream.response).toMatchObject({ status: 200, contentType: expect.stringMatching(/^text\/event-stream/) as string });
    expect(first.data?.taskUpdated).toMatchObject({ id: task.id });
  });

  it('never runs a mutation sent with GET, header or not', async () => {
    const key = await defaults.createKey(1_000);
    const res = await get('mutation { cancelVideoTask(id: "vt_x") { __typename } }', { [CSRF_HEADER]: '1', authorization: `Bearer ${key}` });
    expect(res.status).toBe(405);
  });
});

describe("the README's Security section", () => {
  const section = /^## Security\n([\s\S]*?)^## /m.exec(README)?.[1] ?? '';
  const rows = [...section.matchAll(/^\|[^|\n]*\| `([A-Z_]+)` \| `(\d+)`/gm)].map(([, name, value]) => [name ?? '', Number(value)] as const);

  it('states the default the gateway actually uses for every limit it lists', () => {
    const config = loadConfig({});
    const actual: Record<string, number> = {
      MAX_BODY_BYTES: config.limits.maxBodyBytes,
      MAX_DEPTH: config.limits.maxDepth,
      MAX_COST: config.limits.maxCost,
      MAX_ALIASES: config.limits.maxAliases,
      MAX_TOKENS: config.limits.maxTokens,
      MAX_DIRECTIVES: config.limits.maxDirectives,
      RATE_LIMIT_POINTS: config.limits.rateLimitPoints,
      RATE_LIMIT_WINDOW_SECONDS: config.limits.rateLimitWindowSeconds,
      WS_MAX_PAYLOAD_BYTES: config.ws.maxPayloadBytes,
      WS_MAX_CONNECTIONS_PER_KEY: config.ws.maxConnectionsPerKey,
      WS_MAX_SUBSCRIPTIONS_PER_CONNECTION: config.ws.maxSubscriptionsPerConnection,
      WS_CONNECTION_INIT_TIMEOUT_MS: config.ws.connectionInitTimeoutMs,
      WS_KEEP_ALIVE_MS: config.ws.keepAliveMs,
      HTTP_HEADERS_TIMEOUT_MS: config.http.headersTimeoutMs,
      HTTP_REQUEST_TIMEOUT_MS: config.http.requestTimeoutMs,
    };
    expect(Object.fromEntries(rows)).toEqual(actual);
  });
});
