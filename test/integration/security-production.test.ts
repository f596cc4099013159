// NODE_ENV=production: no GraphiQL, no introspection and no schema hints unless enabled; unexpected
// failures masked; and no credential (Kling secret, API key, admin token) in any log line or answer.
import { randomBytes } from 'node:crypto';
import { MessageType } from 'graphql-ws';
import { beforeAll, describe, expect, it } from 'vitest';
import { postGraphql, type GraphqlResponse } from '../helpers/graphql-http.js';
import { operationText, type Operation } from '../helpers/document.js';
import { createLogCapture } from '../helpers/log-capture.js';
import { GENERATE_VIDEO, ME, TASK_UPDATED, type GenerateVideoData } from '../helpers/operations.js';
import { openRawWs } from '../helpers/raw-ws.js';
import { subscribeSse } from '../helpers/sse-client.js';
import { startGateway, type TestGateway } from '../helpers/start-gateway.js';
import { generateTask, graphqlErrorsOf, type TaskUpdatedData } from '../helpers/task-flows.js';
import { createWsClient } from '../helpers/ws-client.js';
import { CHEAP } from '../helpers/task-flows.js';

const ADMIN_TOKEN = `admin-${randomBytes(16).toString('hex')}`;
const KLING_KEY = { accessKey: `ak-${randomBytes(8).toString('hex')}`, secretKey: `sk-${randomBytes(24).toString('hex')}` };
const INTROSPECTION = '{ __schema { queryType { name } } }';
/** A stack frame as V8 prints it: "at fn (file:line:col)". */
const STACK_FRAME = /\bat .*:\d+:\d+/;

const productionLogs = createLogCapture();
let production: TestGateway;
let enabled: TestGateway;
let development: TestGateway;

beforeAll(async () => {
  [production, enabled, development] = await Promise.all([
    startGateway({
      env: {
        NODE_ENV: 'production',
        ADMIN_TOKEN,
        KLING_ACCESS_KEY: KLING_KEY.accessKey,
        KLING_SECRET_KEY: KLING_KEY.secretKey,
        LOG_LEVEL: 'trace',
        POLL_FIRST_DELAY_MS: '20',
        POLL_MAX_INTERVAL_MS: '50',
      },
      simulator: { keys: [KLING_KEY], taskSeconds: 0.2 },
      overrides: { logger: productionLogs.logger },
    }),
    startGateway({ env: { NODE_ENV: 'production', GRAPHIQL: 'true', INTROSPECTION: 'true' } }),
    startGateway({ env: { NODE_ENV: 'development' } }),
  ]);
});

const graphiql = (t: TestGateway) => fetch(t.url, { headers: { accept: 'text/html' } });

describe('GraphiQL', () => {
  it('is not served in production', async () => {
    const res = await graphiql(production);
    expect(res.status).toBe(406);
    expect(await res.text()).not.toMatch(/<html/i);
  });

  it('is served in production when GRAPHIQL=true', async () => {
    const res = await graphiql(enabled);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await res.text()).toMatch(/<html/i);
  });

  it('is served outside production', async () => {
    expect((await graphiql(development)).status).toBe(200);
  });
});

describe('introspection', () => {
  it('is refused in production, to anonymous callers and keys alike', async () => {
    const key = await production.createKey(100);
    for (const res of [await postGraphql(production.url, INTROSPECTION), await postGraphql(production.url, INTROSPECTION, undefined, { key })]) {
      expect(res.status).toBe(400);
      expect(res.body.data).toBeUndefined();
      expect(res.body.errors?.[0]?.message).toMatch(/introspection has been disabled/);
    }
    const typeQuery = await postGraphql(production.url, '{ __type(name: "VideoTask") { fields { name } } }');
    expect(typeQuery.status).toBe(400);
  });

  it('is answered in production when INTROSPECTION=true', async () => {
    const res = await postGraphql(enabled.url, INTROSPECTION);
    expect(res.body).toEqual({ data: { __schema: { queryType: { name: 'Query' } } } });
  });
});

describe('"Did you mean …?" hints', () => {
  const typos: [string, string, Record<string, unknown> | undefined, string][] = [
    ['a field', '{ mee { name } }', undefined, 'me'],
    ['an argument', '{ videoTasks(frist: 5) { edges { cursor } } }', undefined, 'first'],
    ['an enum value', 'mutation { generateVideo(input: { prompt: "x", model: KLING_V9 }) { __typename } }', undefined, 'KLING_V1'],
    ['an input field', 'mutation { generateVideo(input: { promt: "x" }) { __typename } }', undefined, 'prompt'],
    ['a type', '{ videoTask(id: "x") { ... on VideoTsk { id } } }', undefined, 'VideoTask'],
    [
      'an enum value in variables',
      'mutation ($input: GenerateVideoInput!) { generateVideo(input: $input) { __typename } }',
      { input: { prompt: 'x', model: 'KLING_V9' } },
      'KLING_V1',
    ],
    [
      'an input field in variables',
      'mutation ($input: GenerateVideoInput!) { generateVideo(input: $input) { __typename } }',
      { input: { prompt: 'x', negativePromt: 'y' } },
      'negativePrompt',
    ],
  ];
  const messagesOf = (res: GraphqlResponse) => (res.body.errors ?? []).map((e) => e.message).join('\n');

  it.each(typos)('are hidden in production when %s is misspelt', async (_what, query, variables, hint) => {
    const key = await production.createKey(100);
    const messages = messagesOf(await postGraphql(production.url, query, variables, { key }));
    expect(messages).toContain('[Suggestion hidden]');
    expect(messages).not.toMatch(/Did you mean/);
    expect(messages).not.toContain(`"${hint}"`);
  });

  it.each(typos)('are given outside production when %s is misspelt', async (_what, query, variables, hint) => {
    const key = await development.createKey(100);
    expect(messagesOf(await postGraphql(development.url, query, variables, { key }))).toMatch(new RegExp(`Did you mean .*"${hint}"`));
  });

  it('are hidden over WebSocket in production too', async () => {
    const key = await production.createKey(100);
    const ws = createWsClient(production.url, { key });
    const [validation, variables] = await Promise.all([
      ws.subscribe('mutation { generateVideo(input: { prompt: "x", model: KLING_V9 }) { __typename } }').done,
      ws.subscribe('mutation ($input: GenerateVideoInput!) { generateVideo(input: $input) { __typename } }', {
        input: { prompt: 'x', model: 'KLING_V9' },
      }).done,
    ]);
    const messages = [...graphqlErrorsOf(validation), ...graphqlErrorsOf(variables)].map((e) => e.message);
    expect(messages).toHaveLength(2);
    for (const message of messages) expect(message).toMatch(/\[Suggestion hidden\]$/);
  });
});

describe('an unexpected failure (the database closed under a running gateway)', () => {
  it.each(['production', 'development'])('in %s is answered "Unexpected error." with no internal message or stack, and logged in full', async (mode) => {
    const logs = createLogCapture('error');
    // Its own in-memory database, whatever the suite's storage: this test breaks it on purpose.
    const t = await startGateway({ env: { NODE_ENV: mode, DATABASE_URL: ':memory:', LOG_LEVEL: 'error' }, overrides: { logger: logs.logger } });
    const key = await t.createKey(1_000);
    // Authenticates once, so the key is cached and the failure comes from the resolver.
    expect((await t.graphql(ME, {}, key)).status).toBe(200);
    await t.gateway.database.close();

    const answers = [
      await t.graphql(ME, {}, key),
      await t.graphql<GenerateVideoData>(GENERATE_VIDEO, { input: { prompt: 'A fox', ...CHEAP } }, key),
    ];
    for (const res of answers) {
      expect(res.body.errors).toEqual([{ message: 'Unexpected error.', extensions: { code: 'INTERNAL_SERVER_ERROR' } }]);
      const text = JSON.stringify(res.body);
      expect(text).not.toMatch(/database|sqlite|not open|TypeError/i);
      expect(text).not.toMatch(STACK_FRAME);
    }
    const stream = await subscribeSse(t.url, TASK_UPDATED, { id: 'vt_any' }, { key }).done;
    expect(graphqlErrorsOf(stream)).toEqual([{ message: 'Unexpected error.', extensions: { code: 'INTERNAL_SERVER_ERROR' } }]);

    // The operator still sees what went wrong, with its stack.
    const logged = logs.entries.find((e) => e['msg'] === 'unexpected error while executing an operation');
    expect(logged?.['err']).toMatchObject({ message: 'The database connection is not open', stack: expect.stringMatching(STACK_FRAME) as string });
  });
});

describe('credentials', () => {
  it('never appear in the logs or in any answer: Kling secret, API keys, admin token', async () => {
    const t = production;
    const answers: string[] = [];
    const record = <T>(res: GraphqlResponse<T>) => {
      answers.push(JSON.stringify(res.body));
      return res;
    };
    const withBearer = (query: Operation, bearer: string, variables?: Record<string, unknown>) =>
      postGraphql(t.url, query, variables, { key: bearer }).then(record);

    // Admin calls; the new key is shown once, in this one answer, by design.
    const created = await postGraphql<{ createApiKey: { key: string; account: { id: string } } }>(
      t.url,
      'mutation { createApiKey(name: "leak-check", credits: 1000) { key account { id } } }',
      undefined,
      { key: ADMIN_TOKEN },
    );
    const apiKey = created.body.data?.createApiKey.key ?? '';
    const accountId = created.body.data?.createApiKey.account.id ?? '';
    expect(apiKey).toMatch(/^kgw_/);
    const otherKey = await t.createKey(1_000, 'other');
    await withBearer(`mutation { grantCredits(id: "${accountId}", credits: 500) { creditBalance } }`, ADMIN_TOKEN);

    // Wrong credentials of every kind.
    const wrongAdmin = `admin-${randomBytes(16).toString('hex')}`;
    const unknownKey = `kgw_${randomBytes(32).toString('base64url')}`;
    expect((await withBearer(ME, wrongAdmin)).status).toBe(401);
    expect((await withBearer(ME, unknownKey)).status).toBe(401);
    const malformed = await fetch(t.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`${apiKey}:x`).toString('base64')}` },
      body: JSON.stringify({ query: operationText(ME) }),
    });
    answers.push(await malformed.text());
    expect((await withBearer('mutation { revokeApiKey(id: "key_x") { id } }', otherKey)).body.errors?.[0]?.extensions?.['code']).toBe('FORBIDDEN');
    const badSocket = await openRawWs(t.url);
    badSocket.send({ type: MessageType.ConnectionInit, payload: { authorization: `Bearer ${unknownKey}` } });
    expect((await badSocket.closed).code).toBe(4403);

    // Tasks: one that succeeds, one Kling refuses, one submitted while Kling fails every request.
    const succeeded = await generateTask(t, apiKey, { prompt: 'A lantern on a pier', ...CHEAP });
    const rejected = await withBearer(GENERATE_VIDEO, apiKey, { input: { prompt: 'Refused [[reject]]', ...CHEAP } });
    expect((rejected.body.data as GenerateVideoData | undefined)?.generateVideo.__typename).toBe('UpstreamError');
    t.simulator.setFaults({ errorRates: { 5000: 1 } });
    const retried = await generateTask(t, apiKey, { prompt: 'A kite in a storm', ...CHEAP });
    t.simulator.setFaults({});
    for (const task of [succeeded, retried]) {
      const outcome = await subscribeSse<TaskUpdatedData>(t.url, TASK_UPDATED, { id: task.id }, { key: apiKey }).done;
      expect(outcome.results.at(-1)?.data?.taskUpdated.status).toBe('SUCCEEDED');
      answers.push(JSON.stringify(outcome.results));
    }
    const ws = createWsClient(t.url, { key: apiKey });
    answers.push(JSON.stringify((await ws.subscribe(ME).done).results));
    await ws.dispose();

    // Revoked: the key is refused from now on.
    await withBearer(`mutation { revokeApiKey(id: "${accountId}") { revoked } }`, ADMIN_TOKEN);
    expect((await withBearer(ME, apiKey)).status).toBe(401);

    // The run did log: warnings about the failing upstream, and per-request traces.
    const logs = productionLogs.text;
    expect(productionLogs.entries.some((e) => Number(e['level']) >= 40)).toBe(true);
    expect(productionLogs.entries.length).toBeGreaterThan(50);

    for (const [name, secret] of Object.entries({
      'the Kling secret key': KLING_KEY.secretKey,
      'the admin token': ADMIN_TOKEN,
      'a wrong admin token': wrongAdmin,
      'the API key': apiKey,
      'another API key': otherKey,
      'an unknown API key': unknownKey,
    })) {
      expect(logs.includes(secret), `${name} is in the logs`).toBe(false);
      expect(answers.filter((answer) => answer.includes(secret)), `${name} is in an answer`).toEqual([]);
    }
    // Nor a bearer token made from the secret: a Kling JWT is a credential for as long as it lives.
    expect(logs).not.toMatch(/eyJ[\w-]+\.eyJ[\w-]+\./);
    expect(answers.filter((answer) => STACK_FRAME.test(answer) || answer.includes('"stack"'))).toEqual([]);
  });
});
