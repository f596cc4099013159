// Malformed and hostile HTTP requests: each gets a 4xx or a GraphQL error (never a 5xx, a hang or a
// masked internal error), and the very next ordinary request is answered as if nothing had happened.
import { request, type OutgoingHttpHeaders } from 'node:http';
import { connect } from 'node:net';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/env.js';
import { CSRF_HEADER } from '../../src/server/yoga.js';
import { ME, type MeData } from '../helpers/operations.js';
import { startGateway, type TestGateway } from '../helpers/start-gateway.js';

/** A request the gateway neither answers nor refuses within this long counts as a hang. */
const HANG_MS = 10_000;
const SEED = 20_260_915;
const MAX_BODY_BYTES = loadConfig({}).limits.maxBodyBytes;
// Each property run is two requests; a few seconds on an idle two-core machine, with room for a busy one.
const PROPERTY_TIMEOUT_MS = 60_000;

let t: TestGateway;
/** The same gateway with body and token limits raised, so huge documents reach the parser and validator. */
let loose: TestGateway;
let key: string;
let looseKey: string;

beforeAll(async () => {
  // Thousands of requests from one key: the rate limiter is not what these tests are about.
  const env = { RATE_LIMIT_POINTS: '100000000' };
  [t, loose] = await Promise.all([
    startGateway({ env }),
    startGateway({ env: { ...env, MAX_BODY_BYTES: '10000000', MAX_TOKENS: '10000000' } }),
  ]);
  // No credits: a mutation that fuzzing happens to form cannot start a task.
  [key, looseKey] = await Promise.all([t.createKey(0, 'transport'), loose.createKey(0, 'transport')]);
});

interface RawResponse {
  status: number;
  text: string;
}

interface RawRequest {
  method?: string;
  /** Path and query; default /graphql. */
  path?: string;
  headers?: OutgoingHttpHeaders;
  body?: string | Uint8Array;
  /** Send the body with Transfer-Encoding: chunked and no Content-Length. */
  chunked?: boolean;
}

/** node:http on a fresh connection each time, so one request's fate cannot leak into the next. */
function send(gateway: TestGateway, req: RawRequest): Promise<RawResponse> {
  const url = new URL(gateway.url);
  return new Promise((resolve, reject) => {
    const body = req.body ?? '';
    const headers: OutgoingHttpHeaders = { ...req.headers };
    if (!req.chunked && req.method !== 'GET') headers['content-length'] = Buffer.byteLength(body);
    const outgoing = request(
      { host: url.hostname, port: url.port, path: req.path ?? url.pathname, method: req.method ?? 'POST', headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    outgoing.setTimeout(HANG_MS, () => outgoing.destroy(new Error(`no answer within ${HANG_MS} ms`)));
    outgoing.on('error', reject);
    if (req.chunked) {
      outgoing.write(body);
      outgoing.end();
    } else outgoing.end(body);
  });
}

/** Writes bytes straight to a socket, for requests node's own client refuses to form. */
function sendRawBytes(gateway: TestGateway, bytes: string): Promise<RawResponse> {
  const url = new URL(gateway.url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: url.hostname, port: Number(url.port) });
    const chunks: Buffer[] = [];
    socket.setTimeout(HANG_MS, () => socket.destroy(new Error(`no answer within ${HANG_MS} ms`)));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      resolve({ status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1] ?? 0), text });
    });
    socket.end(bytes);
  });
}

interface GraphqlBody {
  data?: unknown;
  errors?: { message: string; extensions?: Record<string, unknown> }[];
}

function parseBody(text: string): GraphqlBody | undefined {
  try {
    const parsed: unknown = JSON.parse(text);
    return typeof parsed === 'object' && parsed !== null ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/** What every answer must satisfy, whatever was sent. */
function expectHandled(res: RawResponse) {
  expect(res.status, res.text.slice(0, 300)).toBeGreaterThanOrEqual(200);
  expect(res.status, res.text.slice(0, 300)).toBeLessThan(500);
  for (const error of parseBody(res.text)?.errors ?? []) {
    expect(error.extensions?.['code'], error.message).not.toBe('INTERNAL_SERVER_ERROR');
    expect(error.message).not.toMatch(/Unexpected error/i);
    // Masking: no stack trace reaches a client.
    expect(JSON.stringify(error)).not.toMatch(/\n\s+at /);
  }
}

/** Refused: a 4xx, or a GraphQL error and no data. */
function expectRefused(res: RawResponse) {
  expectHandled(res);
  if (res.status >= 400) return;
  const body = parseBody(res.text);
  expect(body?.errors?.length, res.text.slice(0, 300)).toBeGreaterThan(0);
  expect(body?.data ?? null).toBeNull();
}

/** The next ordinary request after a bad one is answered normally. */
async function expectStillServing(gateway: TestGateway, apiKey: string) {
  const res = await gateway.graphql<MeData>(ME, {}, apiKey);
  expect(res.status).toBe(200);
  expect(res.body.errors).toBeUndefined();
  expect(res.body.data?.me.name).toBe('transport');
}

const jsonHeaders = (apiKey: string): OutgoingHttpHeaders => ({
  'content-type': 'application/json',
  accept: 'application/graphql-response+json, application/json',
  authorization: `Bearer ${apiKey}`,
});

const postJson = (gateway: TestGateway, apiKey: string, body: string) => send(gateway, { headers: jsonHeaders(apiKey), body });
const postQuery = (gateway: TestGateway, apiKey: string, query: string, extra: Record<string, unknown> = {}) =>
  postJson(gateway, apiKey, JSON.stringify({ query, ...extra }));

const repeat = (n: number, f: (i: number) => string, separator = ' ') => Array.from({ length: n }, (_, i) => f(i)).join(separator);
const fragmentChain = (n: number) =>
  `query { ...F0 } ${repeat(n, (i) => `fragment F${i} on Query { ${i === n - 1 ? 'me { name }' : `...F${i + 1}`} }`)}`;
const fragmentCycle = (n: number) => `query { ...F0 } ${repeat(n, (i) => `fragment F${i} on Query { ...F${(i + 1) % n} }`)}`;

const textPlain = (extra: OutgoingHttpHeaders) => ({ 'content-type': 'text/plain', authorization: `Bearer ${key}`, ...extra });
const nested = (open: string, n: number, inner: string, close: string) => `${open.repeat(n)}${inner}${close.repeat(n)}`;
const rawPost = (headers: string, body: string) =>
  `POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n${headers}\r\n${body}`;

type Case = [name: string, run: () => Promise<RawResponse>, expected: number | 'refused' | 'handled'];

const onDefaults: Case[] = [
  ['invalid JSON', () => postJson(t, key, '{"query": '), 400],
  ['bytes that are not UTF-8 JSON', () => send(t, { headers: jsonHeaders(key), body: Uint8Array.from([0, 0xff, 0xfe, 0x7b]) }), 400],
  ['a JSON string instead of an object', () => postJson(t, key, '"{ me { name } }"'), 400],
  ['JSON null', () => postJson(t, key, 'null'), 400],
  ['an empty body', () => postJson(t, key, ''), 400],
  ['a JSON array (batching is off)', () => postJson(t, key, JSON.stringify([{ query: '{ me { name } }' }])), 400],
  ['text/plain without the CSRF header or a key', () => send(t, { headers: { 'content-type': 'text/plain' }, body: '{ me { name } }' }), 403],
  ['text/plain with a key and no CSRF header', () => send(t, { headers: textPlain({}), body: '{ me { name } }' }), 415],
  ['text/plain with the CSRF header', () => send(t, { headers: textPlain({ [CSRF_HEADER]: '1' }), body: '{ me { name } }' }), 415],
  [
    'multipart/form-data (multipart is off)',
    () =>
      send(t, {
        headers: { 'content-type': 'multipart/form-data; boundary=xx', [CSRF_HEADER]: '1', authorization: `Bearer ${key}` },
        body: '--xx\r\nContent-Disposition: form-data; name="operations"\r\n\r\n{"query":"{ me { name } }"}\r\n--xx--\r\n',
      }),
    415,
  ],
  [
    'application/x-www-form-urlencoded without the CSRF header or a key',
    () =>
      send(t, {
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: `query=${encodeURIComponent('{ me { name } }')}`,
      }),
    403,
  ],
  [
    'application/x-www-form-urlencoded with a mutation and the CSRF header',
    () =>
      send(t, {
        headers: { 'content-type': 'application/x-www-form-urlencoded', [CSRF_HEADER]: '1', authorization: `Bearer ${key}` },
        body: `query=${encodeURIComponent('mutation { cancelVideoTask(id: "vt_x") { __typename } }')}`,
      }),
    'handled',
  ],
  [
    'application/x-www-form-urlencoded with variables that are not JSON',
    () =>
      send(t, {
        headers: { 'content-type': 'application/x-www-form-urlencoded', [CSRF_HEADER]: '1', authorization: `Bearer ${key}` },
        body: `query=${encodeURIComponent('{ me { name } }')}&variables=%7Bnot-json`,
      }),
    400,
  ],
  ['no content type, no CSRF header, no key', () => send(t, { headers: {}, body: '{"query":"{ me { name } }"}' }), 403],
  ['PUT', () => send(t, { method: 'PUT', headers: jsonHeaders(key), body: '{"query":"{ me { name } }"}' }), 405],
  ['DELETE', () => send(t, { method: 'DELETE', headers: jsonHeaders(key) }), 405],
  [
    `a body over MAX_BODY_BYTES (${MAX_BODY_BYTES})`,
    () => postQuery(t, key, '{ me { name } }', { variables: { padding: 'x'.repeat(MAX_BODY_BYTES) } }),
    413,
  ],
  ['a body of 5 MB', () => postQuery(t, key, '{ me { name } }', { variables: { padding: 'x'.repeat(5_000_000) } }), 413],
  [
    'a chunked body without Content-Length',
    () => send(t, { headers: jsonHeaders(key), body: '{"query":"{ me { name } }"}', chunked: true }),
    411,
  ],
  ['a query nested 50 fields deep', () => postQuery(t, key, `{ me ${nested('{ name ', 50, '', '}')} }`), 'refused'],
  ['a query nested 1,000 fields deep', () => postQuery(t, key, `{ me ${nested('{ name ', 1_000, '', '}')} }`), 'refused'],
  // ~1,990 tokens, under MAX_TOKENS, yet deeper than graphql-js's recursive parser has stack for.
  ['1,990 unclosed list brackets in an argument', () => postQuery(t, key, `{ videoTask(id: ${'['.repeat(1_990)}) { id } }`), 400],
  ['600 nested input objects', () => postQuery(t, key, `{ videoTask(id: ${nested('{a:', 600, '1', '}')}) { id } }`), 'refused'],
  [
    'an introspection query nested through types and fields',
    () => postQuery(t, key, `{ __schema { types { ${nested('fields { type { ', 6, 'name', ' } }')} } } }`),
    'refused',
  ],
  ['300 aliases', () => postQuery(t, key, `{ ${repeat(300, (i) => `a${i}: me { name }`)} }`), 'refused'],
  ['10,000 tokens', () => postQuery(t, key, `{ me { ${'name '.repeat(10_000)}} }`), 'refused'],
  ['200 directives on one field', () => postQuery(t, key, `{ me ${'@include(if: true) '.repeat(200)}{ name } }`), 'refused'],
  ['an unknown directive', () => postQuery(t, key, '{ me @cached(ttl: 5) { name } }'), 'refused'],
  ['an operationName that is not in the document', () => postQuery(t, key, 'query A { me { name } }', { operationName: 'B' }), 'refused'],
  ['two operations and no operationName', () => postQuery(t, key, 'query A { me { name } } query B { me { name } }'), 'refused'],
  ['an operationName that is a number', () => postQuery(t, key, 'query A { me { name } }', { operationName: 5 }), 'refused'],
  ['an empty query', () => postQuery(t, key, ''), 'refused'],
  ['a query of whitespace and comments', () => postQuery(t, key, '  # nothing\n\t'), 'refused'],
  ['no query at all', () => postJson(t, key, '{"variables":{}}'), 'refused'],
  ['a query that is not a string', () => postJson(t, key, '{"query":{"me":"name"}}'), 'refused'],
  ['variables that are not an object', () => postJson(t, key, '{"query":"{ me { name } }","variables":"x"}'), 'refused'],
  ['extensions that are an array', () => postJson(t, key, '{"query":"{ me { name } }","extensions":[1]}'), 'refused'],
  ['a type-system definition', () => postQuery(t, key, 'type Evil { x: Int } { me { name } }'), 'refused'],
  ['a subscription over plain POST', () => postQuery(t, key, 'subscription { taskUpdated(id: "vt_x") { id } }'), 'handled'],
  ['an unterminated block string', () => postQuery(t, key, '{ videoTask(id: """never closed) { id } }'), 'refused'],
  ['a NUL byte in the document', () => postQuery(t, key, '{ me { na\u0000me } }'), 'refused'],
  [
    'GET with a mutation',
    () =>
      send(t, {
        method: 'GET',
        path: `/graphql?query=${encodeURIComponent('mutation { cancelVideoTask(id: "vt_x") { __typename } }')}`,
        headers: { [CSRF_HEADER]: '1', authorization: `Bearer ${key}`, accept: 'application/json' },
      }),
    405,
  ],
  [
    'GET with variables that are not JSON',
    () =>
      send(t, {
        method: 'GET',
        path: `/graphql?query=${encodeURIComponent('{ me { name } }')}&variables=%7Bnot-json`,
        headers: { [CSRF_HEADER]: '1', authorization: `Bearer ${key}`, accept: 'application/json' },
      }),
    400,
  ],
  [
    'GET with a URL longer than node accepts',
    () => send(t, { method: 'GET', path: `/graphql?query=${'%20'.repeat(20_000)}{__typename}`, headers: { [CSRF_HEADER]: '1' } }),
    431,
  ],
  ['2 fragments spreading each other', () => postQuery(t, key, fragmentCycle(2)), 400],
  ['a fragment spreading itself', () => postQuery(t, key, 'query { ...F } fragment F on Query { ...F }'), 400],
  ['10,000 fragments in a cycle (over the body limit)', () => postQuery(t, key, fragmentCycle(10_000)), 413],
  // 200 fragments fit within MAX_TOKENS, so these reach validation.
  ['200 fragments in a cycle', () => postQuery(t, key, fragmentCycle(200)), 'refused'],
  ['200 fragments in a chain', () => postQuery(t, key, fragmentChain(200)), 'handled'],
  [
    'one fragment spread 10,000 times',
    () => postQuery(t, key, `{ me { ${'...N '.repeat(10_000)}} } fragment N on Account { name }`),
    'refused',
  ],
  ['a fragment on a type that does not exist', () => postQuery(t, key, '{ ...F } fragment F on Nope { x }'), 'refused'],
  ['an unknown fragment', () => postQuery(t, key, '{ ...Missing }'), 'refused'],
];

const onLooseLimits: Case[] = [
  ['10,000 fragments in a cycle', () => postQuery(loose, looseKey, fragmentCycle(10_000)), 'refused'],
  ['10,000 fragments in a chain', () => postQuery(loose, looseKey, fragmentChain(10_000)), 'refused'],
  [
    '10,000 fragments spread side by side',
    () => postQuery(loose, looseKey, `{ ${repeat(10_000, (i) => `...F${i}`)} } ${repeat(10_000, (i) => `fragment F${i} on Query { me { name } }`)}`),
    'refused',
  ],
  ['a query nested 5,000 fields deep', () => postQuery(loose, looseKey, `{ me ${nested('{ name ', 5_000, '', '}')} }`), 'refused'],
  ['50,000 unclosed list brackets', () => postQuery(loose, looseKey, `{ videoTask(id: ${'['.repeat(50_000)}) { id } }`), 'refused'],
  ['100,000 tokens', () => postQuery(loose, looseKey, `{ me { ${'name '.repeat(100_000)}} }`), 'refused'],
];

describe('malformed requests at the default limits', () => {
  it.each(onDefaults)('%s: refused without a 5xx, and the next request is served', async (_name, run, expected) => {
    const res = await run();
    if (expected === 'refused') expectRefused(res);
    else if (expected === 'handled') expectHandled(res);
    else {
      expectHandled(res);
      expect(res.status, res.text.slice(0, 300)).toBe(expected);
    }
    await expectStillServing(t, key);
  });

  it.each([
    ['a request line that is not HTTP', 'HELLO\r\n\r\n'],
    ['a Content-Length that is not a number', rawPost('Content-Length: ten\r\n', '{}')],
    ['both Content-Length and chunked Transfer-Encoding', rawPost('Content-Length: 5\r\nTransfer-Encoding: chunked\r\n', '0\r\n\r\n')],
    ['a body shorter than its Content-Length', rawPost('Content-Length: 100\r\n', '{"query":')],
  ])('%s: answered 4xx or closed, and the next request is served', async (_name, bytes) => {
    const res = await sendRawBytes(t, bytes);
    // 0: the connection closed without an answer, which is a fine way to refuse broken framing.
    if (res.status !== 0) {
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
    }
    await expectStillServing(t, key);
  });
});

describe('huge documents with MAX_BODY_BYTES and MAX_TOKENS raised', () => {
  it.each(onLooseLimits)('%s: a GraphQL error, not an internal one', async (_name, run, expected) => {
    const res = await run();
    expect(expected).toBe('refused');
    expectRefused(res);
    await expectStillServing(loose, looseKey);
  });
});

// Pieces of GraphQL, so random documents get past the lexer often and exercise the parser, the
// validator, Armor's limits, the caller gate and the rate limiter.
const TOKENS = [
  ...['{', '}', '(', ')', '[', ']', ':', '=', '!', '|', '&', '...', '@', '$x', '$input', ','],
  ...['query', 'mutation', 'subscription', 'fragment', 'on', 'F', 'Query', 'Account', 'VideoTask', 'ID!', 'String', 'Int'],
  ...['me', 'name', 'creditBalance', 'models', 'model', 'videoTask', 'videoTasks', 'id', 'first', 'after', 'edges', 'node'],
  ...['generateVideo', 'cancelVideoTask', 'estimateVideoCost', 'input', 'prompt', 'credits', 'KLING_V1'],
  ...['__typename', '__schema', '__type', 'types', 'fields', '@include', '@skip', '@deprecated', 'if'],
  ...['true', 'false', 'null', '1', '-1', '1.5e3', '"s"', '"""b"""', '"\\u00e9"', '#c\n'],
];
const tokenSoup = fc.array(fc.constantFrom(...TOKENS), { minLength: 0, maxLength: 120 }).map((tokens) => tokens.join(' '));

const authorization = fc.constantFrom<'key' | 'none' | 'garbage'>('key', 'key', 'none', 'garbage');
const headersFor = (who: 'key' | 'none' | 'garbage', contentType: string): OutgoingHttpHeaders => ({
  'content-type': contentType,
  accept: 'application/graphql-response+json, application/json',
  ...(who === 'key' ? { authorization: `Bearer ${key}` } : who === 'garbage' ? { authorization: 'Bearer kgw_not-a-key' } : {}),
});
const contentType = fc.constantFrom(
  'application/json',
  'application/json; charset=utf-8',
  'application/graphql-response+json',
  'application/graphql',
  'text/plain',
  'application/json; charset=utf-16',
);

describe('random bodies', () => {
  it('never answers a random byte string with a 5xx, and keeps serving', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 2_000 }), contentType, authorization, async (bytes, type, who) => {
        expectHandled(await send(t, { headers: headersFor(who, type), body: bytes }));
        await expectStillServing(t, key);
      }),
      { seed: SEED, numRuns: 300 },
    );
  }, PROPERTY_TIMEOUT_MS);

  it('never answers a random JSON value with a 5xx, and keeps serving', async () => {
    const body = fc.oneof(
      fc.jsonValue({ maxDepth: 4 }),
      // Shaped like a GraphQL request, with random parts.
      fc.record(
        {
          query: fc.oneof(fc.string(), tokenSoup, fc.jsonValue({ maxDepth: 1 })),
          variables: fc.jsonValue({ maxDepth: 3 }),
          operationName: fc.jsonValue({ maxDepth: 1 }),
          extensions: fc.jsonValue({ maxDepth: 2 }),
        },
        { requiredKeys: [] },
      ),
    );
    await fc.assert(
      fc.asyncProperty(body, authorization, async (value, who) => {
        expectHandled(await send(t, { headers: headersFor(who, 'application/json'), body: JSON.stringify(value) }));
        await expectStillServing(t, key);
      }),
      { seed: SEED, numRuns: 400 },
    );
  }, PROPERTY_TIMEOUT_MS);

  it('never answers a random document of GraphQL tokens with a 5xx or an internal error, and keeps serving', async () => {
    const someJson = fc.jsonValue({ maxDepth: 2 });
    const variables = fc.option(fc.record({ x: someJson, input: someJson }, { requiredKeys: [] }), { nil: undefined });
    const operationName = fc.option(fc.constantFrom('F', 'Query', 'A'), { nil: undefined });
    await fc.assert(
      fc.asyncProperty(tokenSoup, variables, operationName, authorization, async (query, vars, name, who) => {
        const body = JSON.stringify({ query, variables: vars, operationName: name });
        expectHandled(await send(t, { headers: headersFor(who, 'application/json'), body }));
        await expectStillServing(t, key);
      }),
      { seed: SEED, numRuns: 500 },
    );
  }, PROPERTY_TIMEOUT_MS);

  it('never answers random bytes with a 5xx, from a random seed', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.uint8Array({ maxLength: 500 }), tokenSoup.map((query) => JSON.stringify({ query }))), async (body) => {
        expectHandled(await send(t, { headers: headersFor('key', 'application/json'), body }));
        await expectStillServing(t, key);
      }),
      { numRuns: 150 },
    );
  }, PROPERTY_TIMEOUT_MS);
});
