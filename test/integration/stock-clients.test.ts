// Stock GraphQL clients with their default settings, against a real gateway over real HTTP and
// WebSocket: urql (GET queries), graphql-request, graphql-ws. Each case is a failure a client met:
// a 403 on every urql query, mangled variable errors, untyped pagination errors, a capitalised
// connectionParams key ignored, and a rejected socket retried for 40 s.
import { Client as UrqlClient, fetchExchange } from '@urql/core';
import { ClientError, GraphQLClient } from 'graphql-request';
import { CloseCode, createClient } from 'graphql-ws';
import { beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { postGraphql } from '../helpers/graphql-http.js';
import { onTeardown } from '../helpers/leftovers.js';
import { createLogCapture, type LogCapture } from '../helpers/log-capture.js';
import { startGateway, type TestGateway } from '../helpers/start-gateway.js';
import { CHEAP, generateTask } from '../helpers/task-flows.js';
import { toWebSocketUrl } from '../helpers/ws-client.js';

const ME = 'query Me { me { name } }';
const ESTIMATE = 'query Estimate($input: GenerateVideoInput!) { estimateVideoCost(input: $input) { __typename } }';
const TASKS = 'query Tasks($first: Int, $last: Int, $after: String, $before: String, $filter: VideoTaskFilter) { videoTasks(first: $first, last: $last, after: $after, before: $before, filter: $filter) { edges { cursor node { id } } } }';

interface TasksData {
  videoTasks: { edges: { cursor: string; node: { id: string } }[] };
}

let t: TestGateway;
let logs: LogCapture;
let key: string;

beforeAll(async () => {
  logs = createLogCapture('error');
  t = await startGateway({ overrides: { logger: logs.logger } });
  key = await t.createKey(1_000, 'stock clients');
});

const unexpectedErrorsLogged = () => logs.entries.filter((e) => e['msg'] === 'unexpected error while executing an operation');

describe('urql with its defaults (queries as GET)', () => {
  it('answers a query sent with the key in Authorization and no CSRF header', async () => {
    const methods: (string | undefined)[] = [];
    const client = new UrqlClient({
      url: t.url.href,
      exchanges: [fetchExchange],
      fetchOptions: { headers: { Authorization: `Bearer ${key}` } },
      fetch: (input, init) => {
        methods.push(init?.method);
        return fetch(input, init);
      },
    });
    const result = await client.query<{ me: { name: string } }>(ME, {}).toPromise();
    expect(result.error).toBeUndefined();
    expect(result.data?.me.name).toBe('stock clients');
    expect(methods).toEqual(['GET']);
  });

  it('still refuses a GET that carries neither a key nor the CSRF header (a page could send it cross-site)', async () => {
    const res = await fetch(`${t.url.href}?query=${encodeURIComponent('{ models { model } }')}`);
    expect(res.status).toBe(403);
  });
});

describe('a variable that cannot be coerced (an unknown enum value)', () => {
  const input = { prompt: 'A fox', model: 'KLING_V9' };

  it('answers graphql-request with HTTP 400, the variable path in the message and BAD_USER_INPUT', async () => {
    const client = new GraphQLClient(t.url.href, { headers: { authorization: `Bearer ${key}` } });
    const error: unknown = await client.request(ESTIMATE, { input }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ClientError);
    const { response } = error as ClientError;
    expect(response.status).toBe(400);
    expect(response.data).toBeUndefined();
    expect(response.errors).toEqual([
      {
        message: expect.stringMatching(/^Variable "\$input" got invalid value "KLING_V9" at "input\.model"; Value "KLING_V9" does not exist in "VideoModel" enum\./) as string,
        locations: [{ line: 1, column: 16 }],
        extensions: { code: 'BAD_USER_INPUT' },
      },
    ]);
  });

  it('answers application/json with 200 and the same error, as GraphQL over HTTP asks of that media type', async () => {
    const res = await postGraphql(t.url, ESTIMATE, { input }, { key, headers: { accept: 'application/json' } });
    expect(res.status).toBe(200);
    expect(res.body.errors?.[0]).toMatchObject({ message: expect.stringContaining('at "input.model"') as string, extensions: { code: 'BAD_USER_INPUT' } });
  });

  it('treats a DateTime its parser refuses the same way, not as an internal error', async () => {
    const before = unexpectedErrorsLogged().length;
    const res = await postGraphql(t.url, TASKS, { filter: { createdFrom: 'yesterday' } }, { key });
    expect(res.status).toBe(400);
    expect(res.body.errors).toEqual([
      expect.objectContaining({
        message: 'Variable "$filter" got invalid value "yesterday" at "filter.createdFrom"; Expected type "DateTime". DateTime must be an ISO 8601 string.',
        extensions: { code: 'BAD_USER_INPUT' },
      }),
    ]);
    expect(unexpectedErrorsLogged()).toHaveLength(before);
  });
});

describe('videoTasks arguments out of range', () => {
  const garbage = Buffer.from('not a cursor').toString('base64url');

  it.each([
    ['first: -1', { first: -1 }, 'Argument "first" must be between 0 and 100; got -1.'],
    ['first: 101', { first: 101 }, 'Argument "first" must be between 0 and 100; got 101.'],
    ['last: 101', { last: 101 }, 'Argument "last" must be between 0 and 100; got 101.'],
    ['a garbage after cursor', { after: garbage }, 'Argument "after" is not a cursor from videoTasks.'],
    ['a garbage before cursor', { before: 'garbage!' }, 'Argument "before" is not a cursor from videoTasks.'],
  ])('%s is a BAD_USER_INPUT error on videoTasks, not an empty page or an internal error', async (_name, variables, message) => {
    const before = unexpectedErrorsLogged().length;
    const res = await postGraphql<TasksData>(t.url, TASKS, variables, { key });
    // A field error: data is there (null), so HTTP 200 in either media type.
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      data: null,
      errors: [{ message, locations: [{ line: 1, column: TASKS.indexOf('videoTasks(') + 1 }], path: ['videoTasks'], extensions: { code: 'BAD_USER_INPUT' } }],
    });
    expect(unexpectedErrorsLogged()).toHaveLength(before);
  });

  it('still pages with the cursors it hands out, and takes first: 0 and first: 100', async () => {
    const pager = await t.createKey(1_000, 'pager');
    const older = await generateTask(t, pager, { prompt: 'A first fox', ...CHEAP });
    const newer = await generateTask(t, pager, { prompt: 'A second fox', ...CHEAP });
    const first = await postGraphql<TasksData>(t.url, TASKS, { first: 1 }, { key: pager });
    const edge = first.body.data?.videoTasks.edges[0];
    expect(edge?.node.id).toBe(newer.id);
    const next = await postGraphql<TasksData>(t.url, TASKS, { first: 1, after: edge?.cursor }, { key: pager });
    expect(next.body.data?.videoTasks.edges.map((e) => e.node.id)).toEqual([older.id]);
    expect((await postGraphql<TasksData>(t.url, TASKS, { first: 0 }, { key: pager })).body.data?.videoTasks.edges).toEqual([]);
    expect((await postGraphql<TasksData>(t.url, TASKS, { first: 100 }, { key: pager })).body.data?.videoTasks.edges).toHaveLength(2);
  });
});

describe('graphql-ws with its defaults', () => {
  /** The README's advice: stop on the gateway's 4403 instead of graphql-ws's default retries (about 40 s). */
  const shouldRetry = (error: unknown) =>
    !(typeof error === 'object' && error !== null && 'code' in error && [4401, 4403].includes(error.code as number));

  function stockClient(connectionParams?: Record<string, unknown>) {
    let connecting = 0;
    const client = createClient({
      url: toWebSocketUrl(t.url),
      webSocketImpl: WebSocket,
      connectionParams,
      shouldRetry,
      on: { connecting: () => void (connecting += 1) },
    });
    onTeardown(() => client.dispose());
    return { client, attempts: () => connecting };
  }

  it('reads connectionParams.Authorization (any case), as HTTP reads header names', async () => {
    const { client } = stockClient({ Authorization: `Bearer ${key}` });
    const results: unknown[] = [];
    for await (const result of client.iterate({ query: ME })) results.push(result);
    expect(results).toEqual([{ data: { me: { name: 'stock clients' } } }]);
  });

  it('rejects connectionParams that carry two different authorization values', async () => {
    const { client } = stockClient({ authorization: `Bearer ${key}`, AUTHORIZATION: 'Bearer kgw_other' });
    await expect(client.iterate({ query: ME }).next()).rejects.toMatchObject({ code: CloseCode.Forbidden });
  });

  it('sends errors without extensions.http, which is for HTTP statuses', async () => {
    const { client } = stockClient();
    const results: unknown[] = [];
    for await (const result of client.iterate({ query: ME })) results.push(result);
    expect(results).toEqual([
      { errors: [{ message: 'A valid API key is required: send "Authorization: Bearer <apiKey>".', extensions: { code: 'UNAUTHENTICATED' } }] },
    ]);
  });

  it("gives up at once on a wrong key with the README's shouldRetry, and the close says why", async () => {
    const { client, attempts } = stockClient({ authorization: 'Bearer kgw_wrong' });
    await expect(client.iterate({ query: ME }).next()).rejects.toMatchObject({ code: CloseCode.Forbidden, reason: 'Forbidden: invalid API key' });
    expect(attempts()).toBe(1);
  });
});

describe('application/graphql-response+json without data', () => {
  it('is HTTP 500 for a masked internal error before execution; application/json keeps 200', async () => {
    const fresh = await t.createKey(10, 'fresh');
    const authenticate = t.gateway.apiKeys.authenticate.bind(t.gateway.apiKeys);
    // The key is not cached yet, so resolving the caller (the context, before execution) fails.
    t.gateway.apiKeys.authenticate = () => Promise.reject(new Error('the database went away'));
    try {
      const strict = await postGraphql(t.url, ME, {}, { key: fresh, headers: { accept: 'application/graphql-response+json' } });
      const json = await postGraphql(t.url, ME, {}, { key: fresh, headers: { accept: 'application/json' } });
      for (const res of [strict, json]) {
        expect(res.body).toEqual({ errors: [{ message: 'Unexpected error.', extensions: { code: 'INTERNAL_SERVER_ERROR' } }] });
      }
      expect([strict.status, json.status]).toEqual([500, 200]);
    } finally {
      t.gateway.apiKeys.authenticate = authenticate;
    }
  });
});
