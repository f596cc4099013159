// The GraphQL clients apps really use, each set up as its documentation says, against a real gateway
// over real HTTP, WebSocket and SSE: Apollo Client (HTTP + graphql-ws split link, normalized cache
// with the committed possible-types map), urql (GET queries; subscriptions over graphql-ws, over
// graphql-sse and over urql's own fetch), graphql-request (Relay paging) and graphql-sse. Each flow
// runs a task to its end on the simulator's short task time.
import { ApolloClient, ApolloLink, HttpLink, InMemoryCache, type PossibleTypesMap } from '@apollo/client';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions';
import { Client as UrqlClient, cacheExchange, fetchExchange, subscriptionExchange, type Exchange, type OperationResult } from '@urql/core';
import { OperationTypeNode } from 'graphql';
import { GraphQLClient } from 'graphql-request';
import { createClient as createSseClient } from 'graphql-sse';
import { createClient as createWsClient, type Client as WsClient } from 'graphql-ws';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import introspection from '../../src/generated/possible-types.js';
import possibleTypesJson from '../../src/generated/possible-types.json' with { type: 'json' };
import { onTeardown } from '../helpers/leftovers.js';
import { GENERATE_VIDEO, TASK_UPDATED, VIDEO_TASK } from '../helpers/operations.js';
import { startGateway, type TestGateway } from '../helpers/start-gateway.js';
import { FAST_POLLING, generateTask, PRICE } from '../helpers/task-flows.js';
import { toWebSocketUrl } from '../helpers/ws-client.js';

const TERMINAL = ['SUCCEEDED', 'FAILED', 'CANCELED', 'TIMED_OUT'];
/** The cheapest task (PRICE credits). */
const CHEAP = { model: 'KLING_V1', mode: 'STANDARD', durationSeconds: 5 } as const;

const ME = 'query Me { me { name creditBalance } }';
const TASK_UPDATED_TEXT = 'subscription TaskUpdated($id: ID!) { taskUpdated(id: $id) { id status creditsCharged videos { url } } }';
const TASKS_PAGE = `
  query TasksPage($first: Int!, $after: String) {
    videoTasks(first: $first, after: $after) {
      edges { cursor node { id status } }
      pageInfo { hasNextPage endCursor }
    }
  }
`;

interface TaskUpdate {
  id: string;
  status: string;
  creditsCharged: number;
  videos: { url: string }[];
}
interface TasksPageData {
  videoTasks: { edges: { cursor: string; node: { id: string; status: string } }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } };
}

let t: TestGateway;

beforeAll(async () => {
  // A task takes ~1 s at the simulator and is polled every few ms: each flow ends in a second or two,
  // and a client that reads a task right after creating it still sees it unfinished.
  t = await startGateway({ env: FAST_POLLING, simulator: { taskSeconds: 1 } });
});

const bearer = (key: string) => `Bearer ${key}`;
const asError = (error: unknown) => (error instanceof Error ? error : new Error(JSON.stringify(error)));

describe('the committed possible-types map', () => {
  it('lists every union and interface, and the JSON copy is the same map', () => {
    expect(introspection.possibleTypes['Error']).toEqual(expect.arrayContaining(['ValidationError', 'InsufficientCreditsError', 'UpstreamError']));
    expect(Object.keys(introspection.possibleTypes)).toEqual(expect.arrayContaining(['Error', 'GenerateVideoResult', 'EstimateVideoCostResult', 'CancelVideoTaskResult']));
    expect(possibleTypesJson).toEqual(introspection);
  });
});

describe('Apollo Client 4: HttpLink + GraphQLWsLink split, InMemoryCache', () => {
  function apollo(key: string, possibleTypes?: PossibleTypesMap) {
    const requests: string[] = [];
    const httpLink = new HttpLink({
      uri: t.url.href,
      headers: { authorization: bearer(key) },
      // Only to count what goes over HTTP; the stock fetch does the work.
      fetch: (input, init) => {
        requests.push(typeof init?.body === 'string' ? init.body : '');
        return fetch(input, init);
      },
    });
    const wsClient = createWsClient({ url: toWebSocketUrl(t.url), webSocketImpl: WebSocket, connectionParams: { authorization: bearer(key) } });
    const link = ApolloLink.split(({ operationType }) => operationType === OperationTypeNode.SUBSCRIPTION, new GraphQLWsLink(wsClient), httpLink);
    const client = new ApolloClient({ link, cache: new InMemoryCache(possibleTypes ? { possibleTypes } : {}) });
    onTeardown(async () => {
      client.stop();
      await wsClient.dispose();
    });
    return { client, requests };
  }

  it('keeps `... on Error { code message }` of a ValidationError with the possible-types map', async () => {
    const { client } = apollo(await t.createKey(100, 'apollo'), introspection.possibleTypes);
    const { data } = await client.mutate({ mutation: GENERATE_VIDEO, variables: { input: { prompt: '   ', ...CHEAP } } });
    expect(data?.generateVideo).toEqual({
      __typename: 'ValidationError',
      code: 'VALIDATION_FAILED',
      message: expect.any(String) as string,
      issues: [{ __typename: 'FieldIssue', path: ['prompt'], message: expect.any(String) as string }],
    });
  });

  it('drops those fields without it (why the map ships): the cache cannot tell ValidationError is an Error', async () => {
    const { client } = apollo(await t.createKey(100, 'apollo bare'));
    // Apollo only warns (in development builds) and returns the rest.
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    onTeardown(() => warn.mockRestore());
    const { data } = await client.mutate({ mutation: GENERATE_VIDEO, variables: { input: { prompt: '   ', ...CHEAP } } });
    expect(data?.generateVideo).toEqual({
      __typename: 'ValidationError',
      issues: [{ __typename: 'FieldIssue', path: ['prompt'], message: expect.any(String) as string }],
    });
    // "Cannot match inline fragment on `Error` against `ValidationError`. This indicates a missing `possibleTypes` entry …"
    expect(warn.mock.calls).toContainEqual([expect.stringContaining('missing `possibleTypes`'), 'inline fragment', 'Error', 'ValidationError', 'ValidationError']);
    warn.mockRestore();
  });

  it('updates the cached VideoTask from taskUpdated, so a watched query shows SUCCEEDED without asking again', async () => {
    const { client, requests } = apollo(await t.createKey(100, 'apollo flow'), introspection.possibleTypes);
    const { data } = await client.mutate({ mutation: GENERATE_VIDEO, variables: { input: { prompt: 'A fox in the snow', ...CHEAP } } });
    const created = data?.generateVideo;
    if (created?.__typename !== 'GenerateVideoSuccess') throw new Error(`not created: ${JSON.stringify(created)}`);
    const id = created.task.id;

    // The watched query reads the task once over HTTP; every later status comes from the cache.
    const seen: string[] = [];
    let sawSucceeded!: () => void;
    const succeeded = new Promise<void>((resolve) => (sawSucceeded = resolve));
    let sawFirst!: () => void;
    const first = new Promise<void>((resolve) => (sawFirst = resolve));
    const watched = client.watchQuery({ query: VIDEO_TASK, variables: { id } }).subscribe((result) => {
      const status = result.data?.videoTask?.status;
      if (status === undefined || seen.at(-1) === status) return;
      seen.push(status);
      sawFirst();
      if (status === 'SUCCEEDED') sawSucceeded();
    });
    onTeardown(() => watched.unsubscribe());
    await first;
    expect(TERMINAL).not.toContain(seen[0]);

    const updates: string[] = [];
    await new Promise<void>((resolve, reject) => {
      client.subscribe({ query: TASK_UPDATED, variables: { id } }).subscribe({
        next: (result) => {
          if (result.error) reject(asError(result.error));
          else if (result.data) updates.push(result.data.taskUpdated.status);
        },
        error: (error: unknown) => reject(asError(error)),
        complete: resolve,
      });
    });
    await succeeded;

    expect(updates.at(-1)).toBe('SUCCEEDED');
    expect(seen.at(-1)).toBe('SUCCEEDED');
    const cached = client.readQuery({ query: VIDEO_TASK, variables: { id } })?.videoTask;
    expect(cached).toMatchObject({ id, status: 'SUCCEEDED', creditsCharged: PRICE, videos: [expect.objectContaining({ url: expect.any(String) as string })] });
    expect(requests.filter((body) => body.includes('"operationName":"VideoTask"'))).toHaveLength(1);
  });
});

describe('urql (@urql/core 6) with its stock exchanges', () => {
  function urql(key: string, options: { exchanges?: Exchange[]; fetchSubscriptions?: boolean } = {}) {
    const methods: string[] = [];
    const client = new UrqlClient({
      url: t.url.href,
      exchanges: options.exchanges ?? [cacheExchange, fetchExchange],
      fetchSubscriptions: options.fetchSubscriptions ?? false,
      fetchOptions: { headers: { authorization: bearer(key) } },
      fetch: (input, init) => {
        methods.push(init?.method ?? 'GET');
        return fetch(input, init);
      },
    });
    return { client, methods };
  }

  /** Follows a subscription until a terminal status, then stops it; fails on the first error. */
  function followToTheEnd(source: { subscribe(onResult: (r: OperationResult<{ taskUpdated: TaskUpdate }>) => void): { unsubscribe(): void } }) {
    return new Promise<TaskUpdate[]>((resolve, reject) => {
      const updates: TaskUpdate[] = [];
      const subscription = source.subscribe((result) => {
        if (result.error) {
          reject(result.error);
          return;
        }
        const task = result.data?.taskUpdated;
        if (!task) return;
        updates.push(task);
        if (TERMINAL.includes(task.status)) {
          queueMicrotask(() => subscription.unsubscribe());
          resolve(updates);
        }
      });
      onTeardown(() => subscription.unsubscribe());
    });
  }

  const expectSucceeded = (updates: TaskUpdate[], id: string) => {
    expect(updates.every((u) => u.id === id)).toBe(true);
    expect(updates.at(-1)).toMatchObject({ status: 'SUCCEEDED', creditsCharged: PRICE });
    expect(updates.at(-1)?.videos).toHaveLength(1);
  };

  it('sends queries as GET (its default) and gets an answer', async () => {
    const { client, methods } = urql(await t.createKey(100, 'urql'));
    const result = await client.query<{ me: { name: string; creditBalance: number } }>(ME, {}).toPromise();
    expect(result.error).toBeUndefined();
    expect(result.data?.me).toEqual({ __typename: 'Account', name: 'urql', creditBalance: 100 });
    expect(methods).toEqual(['GET']);
  });

  /** urql's stock exchanges, with subscriptions forwarded to a graphql-ws or graphql-sse client as its docs show. */
  const exchangesOver = (transport: Pick<WsClient, 'subscribe'>) => [
    cacheExchange,
    fetchExchange,
    subscriptionExchange({
      forwardSubscription: (request) => ({
        subscribe: (sink) => ({ unsubscribe: transport.subscribe({ ...request, query: request.query ?? '' }, sink) }),
      }),
    }),
  ];

  it('follows taskUpdated through subscriptionExchange over graphql-ws', async () => {
    const key = await t.createKey(100, 'urql ws');
    const wsClient = createWsClient({ url: toWebSocketUrl(t.url), webSocketImpl: WebSocket, connectionParams: { authorization: bearer(key) } });
    onTeardown(() => wsClient.dispose());
    const { client } = urql(key, { exchanges: exchangesOver(wsClient) });
    const task = await generateTask(t, key, { prompt: 'A fox over graphql-ws', ...CHEAP });
    expectSucceeded(await followToTheEnd(client.subscription(TASK_UPDATED_TEXT, { id: task.id })), task.id);
  });

  it('follows taskUpdated through subscriptionExchange over graphql-sse', async () => {
    const key = await t.createKey(100, 'urql sse');
    const sseClient = createSseClient({ url: t.url.href, headers: { authorization: bearer(key) } });
    onTeardown(() => sseClient.dispose());
    const { client } = urql(key, { exchanges: exchangesOver(sseClient) });
    const task = await generateTask(t, key, { prompt: 'A fox over graphql-sse', ...CHEAP });
    expectSucceeded(await followToTheEnd(client.subscription(TASK_UPDATED_TEXT, { id: task.id })), task.id);
  });

  it('follows taskUpdated over its own fetch transport (fetchSubscriptions: true, SSE)', async () => {
    const key = await t.createKey(100, 'urql fetch');
    const { client, methods } = urql(key, { fetchSubscriptions: true });
    const task = await generateTask(t, key, { prompt: 'A fox over fetch', ...CHEAP });
    expectSucceeded(await followToTheEnd(client.subscription(TASK_UPDATED_TEXT, { id: task.id })), task.id);
    expect(methods).toEqual(['POST']);
  });
});

describe('graphql-request 7', () => {
  it('pages through videoTasks with the after cursors it gets, newest first, to hasNextPage: false', async () => {
    const key = await t.createKey(100, 'pager');
    const created: string[] = [];
    for (let i = 0; i < 5; i += 1) created.push((await generateTask(t, key, { prompt: `Fox number ${i}`, ...CHEAP })).id);

    const client = new GraphQLClient(t.url.href, { headers: { authorization: bearer(key) } });
    const pages: string[][] = [];
    let after: string | null = null;
    for (;;) {
      const { videoTasks }: TasksPageData = await client.request<TasksPageData>(TASKS_PAGE, { first: 2, after });
      pages.push(videoTasks.edges.map((e) => e.node.id));
      expect(videoTasks.pageInfo.endCursor).toBe(videoTasks.edges.at(-1)?.cursor ?? null);
      if (!videoTasks.pageInfo.hasNextPage) break;
      after = videoTasks.pageInfo.endCursor;
      expect(pages.length).toBeLessThan(5);
    }
    expect(pages.map((p) => p.length)).toEqual([2, 2, 1]);
    expect(pages.flat()).toEqual(created.toReversed());
  });
});

describe('graphql-sse 2 client', () => {
  async function follow(singleConnection: boolean) {
    const key = await t.createKey(100, `sse ${singleConnection ? 'single' : 'distinct'}`);
    // retryAttempts: 0 so a refused connection fails the test at once instead of after ~30 s of retries.
    const client = createSseClient({ url: t.url.href, headers: { authorization: bearer(key) }, singleConnection, retryAttempts: 0 });
    onTeardown(() => client.dispose());
    const task = await generateTask(t, key, { prompt: 'A fox over SSE', ...CHEAP });
    const statuses: string[] = [];
    // The stream ends by itself after the terminal state.
    for await (const result of client.iterate<{ taskUpdated: TaskUpdate }>({ query: TASK_UPDATED_TEXT, variables: { id: task.id } })) {
      expect(result.errors).toBeUndefined();
      if (result.data) statuses.push(result.data.taskUpdated.status);
    }
    return statuses;
  }

  it('receives taskUpdated to SUCCEEDED in distinct connections mode (its default), and the stream completes', async () => {
    const statuses = await follow(false);
    expect(TERMINAL).not.toContain(statuses[0]);
    expect(statuses.at(-1)).toBe('SUCCEEDED');
  });

  it('refuses single connection mode at once with 405: its stream reservation is a PUT, which yoga does not take', async () => {
    // Documented in the README: the gateway speaks graphql-sse's default distinct connections mode only.
    await expect(follow(true)).rejects.toThrow(/405/);
  });
});
