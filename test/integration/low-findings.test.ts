// Red-team "Low" findings (step 10), each checked on a real server: credits past 2^31, admin-token
// guessing, client errors in the log, CORS, production without Kling keys, and MCP rate limits.
import { execFile } from 'node:child_process';
import { request } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { createApiKeys } from '../../src/auth/api-keys.js';
import { runKeysCommand } from '../../src/cli/keys-command.js';
import { systemClock } from '../../src/clock.js';
import { openSqlite } from '../../src/db/connection.js';
import { createStore } from '../../src/db/store.js';
import { createLogCapture } from '../helpers/log-capture.js';
import { ME, type MeData } from '../helpers/operations.js';
import { spawnGateway } from '../helpers/spawn-gateway.js';
import { startGateway } from '../helpers/start-gateway.js';
import { ledgerTotals } from '../helpers/store-audit.js';

const ADMIN_TOKEN = 'a-long-admin-token-for-tests';
const GRANT_CREDITS = /* GraphQL */ `
  mutation GrantCredits($id: ID!, $credits: Int!) {
    grantCredits(id: $id, credits: $credits) { id creditBalance }
  }
`;

describe('credits past 2^31 - 1', () => {
  it('grantCredits refuses, with a typed error and nothing written, a grant that would pass the 32-bit limit', async () => {
    const t = await startGateway({ env: { ADMIN_TOKEN } });
    const { key, account } = await t.gateway.apiKeys.create('big', 0);
    const grant = () => t.graphql<{ grantCredits: { creditBalance: number } }>(GRANT_CREDITS, { id: account.id, credits: 1_000_000_000 }, ADMIN_TOKEN);
    expect((await grant()).body.data?.grantCredits.creditBalance).toBe(1_000_000_000);
    expect((await grant()).body.data?.grantCredits.creditBalance).toBe(2_000_000_000);
    const third = await grant();
    expect(third.body.data ?? null).toBeNull();
    expect(third.body.errors?.map((e) => e.extensions?.['code'])).toEqual(['VALIDATION_FAILED']);
    expect(third.body.errors?.[0]?.message).toMatch(/most a key can hold is 2147483647/);
    // Nothing written: the balance and the ledger are as after the second grant, and `me` still answers.
    const me = await t.graphql<MeData>(ME, {}, key);
    expect(me.body.errors).toBeUndefined();
    expect(me.body.data?.me.creditBalance).toBe(2_000_000_000);
    expect(await ledgerTotals(t.gateway.store, account.id)).toMatchObject({ grant: 2_000_000_000 });
    // Up to the limit exactly is still fine.
    const last = await t.graphql<{ grantCredits: { creditBalance: number } }>(GRANT_CREDITS, { id: account.id, credits: 147_483_647 }, ADMIN_TOKEN);
    expect(last.body.data?.grantCredits.creditBalance).toBe(2_147_483_647);
  });

  it('npm run keys grant refuses it too, with one clear line and exit code 1', async () => {
    const database = openSqlite(':memory:');
    afterAll(() => database.close());
    const store = createStore(database.db);
    const apiKeys = createApiKeys({ store, clock: systemClock });
    const { account } = await apiKeys.create('cli-big', 1_000_000_000);
    const out: string[] = [];
    const err: string[] = [];
    const deps = { apiKeys: () => apiKeys, out: (s: string) => out.push(s), err: (s: string) => err.push(s) };
    expect(await runKeysCommand(['grant', account.id, '--credits', '1000000000'], deps)).toBe(0);
    expect(await runKeysCommand(['grant', account.id, '--credits', '1000000000'], deps)).toBe(1);
    expect(err).toEqual([expect.stringMatching(/^Error: Granting 1000000000 credits would take this key to 3000000000 credits in all/) as string]);
    expect((await apiKeys.account(account.id))?.creditBalance).toBe(2_000_000_000);
    expect(await ledgerTotals(store, account.id)).toMatchObject({ grant: 2_000_000_000 });
  });
});

/** POSTs one GraphQL operation from a chosen loopback address (Linux routes all of 127/8 to lo). */
function postFrom(url: URL, localAddress: string, body: unknown, token: string, path = url.pathname) {
  return new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }>((resolve, reject) => {
    const text = JSON.stringify(body);
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        path,
        method: 'POST',
        localAddress,
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${token}` },
      },
      (res) => {
        let data = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (data += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: data }));
      },
    );
    req.on('error', reject);
    req.end(text);
  });
}

describe('admin-token guessing', () => {
  it('answers 429 with Retry-After after 10 wrong tokens a minute from one address; other addresses are unaffected', async () => {
    const t = await startGateway({ env: { ADMIN_TOKEN } });
    const { account } = await t.gateway.apiKeys.create('target', 0);
    const op = { query: GRANT_CREDITS, variables: { id: account.id, credits: 5 } };
    const statuses: number[] = [];
    let last: Awaited<ReturnType<typeof postFrom>> | undefined;
    for (let i = 0; i < 30; i++) {
      last = await postFrom(t.url, '127.0.0.2', op, `guess-${i}`);
      statuses.push(last.status);
    }
    expect(statuses.slice(0, 10)).toEqual(Array(10).fill(401));
    expect(statuses.slice(10)).toEqual(Array(20).fill(429));
    expect(Number(last?.headers['retry-after'])).toBeGreaterThan(0);
    expect(JSON.parse(last?.body ?? '{}')).toMatchObject({ errors: [{ extensions: { code: 'RATE_LIMITED' } }] });
    // While throttled even the right token is not compared from that address (a 200 would confirm a guess)…
    expect((await postFrom(t.url, '127.0.0.2', op, ADMIN_TOKEN)).status).toBe(429);
    // …nor a wrong token on /mcp.
    const mcp = await postFrom(t.url, '127.0.0.2', { jsonrpc: '2.0', id: 1, method: 'tools/list' }, 'guess-mcp', '/mcp');
    expect(mcp.status).toBe(429);
    // Another address, the right token: works as always, over and over.
    for (let i = 0; i < 12; i++) {
      const ok = await postFrom(t.url, '127.0.0.3', op, ADMIN_TOKEN);
      expect(ok.status).toBe(200);
      expect(JSON.parse(ok.body)).toMatchObject({ data: { grantCredits: { id: account.id } } });
    }
    expect((await t.gateway.apiKeys.account(account.id))?.creditBalance).toBe(60);
  });
});

describe('log levels', () => {
  it('logs client errors at info and the gateway’s own faults at error', async () => {
    const logs = createLogCapture('info');
    const t = await startGateway({ env: { ADMIN_TOKEN, RATE_LIMIT_POINTS: '3' }, overrides: { logger: logs.logger } });
    const key = await t.createKey(10);
    const post = (body: string, token?: string) =>
      fetch(t.url, { method: 'POST', headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) }, body });
    const statuses = [
      (await post('{"query":"{ nope }"}', key)).status, // validation
      (await post('{"query":"{ me { name } }"}')).status, // no key
      (await post('{"query":"{ me { name } }"}', 'wrong-token')).status, // wrong key
      (await post('{bad json')).status, // bad request
      (await post('{"query":"{ me { name } "}', key)).status, // parse
      (await post('{"query":"query($a: Int!){ me { name } }","variables":{"a":"x"}}', key)).status, // variables
    ];
    for (let i = 0; i < 4; i++) statuses.push((await post('{"query":"{ me { name } }"}', key)).status); // rate limited
    expect(statuses).toEqual([200, 401, 401, 400, 200, 200, 200, 200, 200, 429]);
    const lines = logs.entries.filter((e) => e['msg'] === 'graphql operation');
    expect(lines.filter((e) => e['outcome'] === 'error')).toHaveLength(7);
    expect(logs.entries.filter((e) => (e['level'] as number) >= 40)).toEqual([]);

    // A fault of the gateway's own: the operation's line is at error.
    const other = await t.createKey(10);
    t.gateway.apiKeys.account = () => Promise.reject(new Error('the database went away'));
    const failed = await post('{"query":"query Me { me { name } }"}', other);
    expect(failed.status).toBe(200);
    const line = logs.entries.find((e) => e['msg'] === 'graphql operation' && e['operationName'] === 'Me');
    expect(line).toMatchObject({ level: 50, errorCodes: ['INTERNAL_SERVER_ERROR'] });
  });
});

describe('CORS', () => {
  const ALLOWED = 'https://app.example.com';
  const OTHER = 'https://evil.example';
  const preflight = (url: URL, origin: string) =>
    fetch(url, {
      method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type, authorization' },
    });
  const simple = (url: URL, origin: string) =>
    fetch(url, { method: 'POST', headers: { origin, 'content-type': 'application/json' }, body: '{"query":"{ models { model } }"}' });
  const cors = (res: Response) => ({
    origin: res.headers.get('access-control-allow-origin'),
    credentials: res.headers.get('access-control-allow-credentials'),
  });

  it('answers only the origins in CORS_ORIGINS', async () => {
    const t = await startGateway({ env: { CORS_ORIGINS: `${ALLOWED}, http://localhost:5173` } });
    expect(cors(await preflight(t.url, ALLOWED))).toEqual({ origin: ALLOWED, credentials: 'true' });
    expect(cors(await simple(t.url, ALLOWED))).toEqual({ origin: ALLOWED, credentials: 'true' });
    expect(cors(await preflight(t.url, 'http://localhost:5173'))).toEqual({ origin: 'http://localhost:5173', credentials: 'true' });
    expect(cors(await preflight(t.url, OTHER))).toEqual({ origin: null, credentials: null });
    const other = await simple(t.url, OTHER);
    expect(other.status).toBe(200);
    expect(cors(other)).toEqual({ origin: null, credentials: null });
  });

  it('answers no origin in production unless configured, and every origin in development', async () => {
    const [production, development] = await Promise.all([startGateway({ env: { NODE_ENV: 'production' } }), startGateway()]);
    for (const origin of [ALLOWED, OTHER]) {
      expect(cors(await preflight(production.url, origin))).toEqual({ origin: null, credentials: null });
      expect(cors(await simple(production.url, origin))).toEqual({ origin: null, credentials: null });
      expect(cors(await preflight(development.url, origin))).toEqual({ origin, credentials: 'true' });
      expect(cors(await simple(development.url, origin))).toEqual({ origin, credentials: 'true' });
    }
  });
});

describe('production without Kling keys', () => {
  const root = fileURLToPath(new URL('../..', import.meta.url));
  const productionEnv = (settings: Record<string, string> = {}) => ({
    PATH: process.env['PATH'] ?? '',
    HOME: process.env['HOME'] ?? '',
    NODE_ENV: 'production',
    PORT: '0',
    DATABASE_URL: ':memory:',
    LOG_LEVEL: 'warn',
    ...settings,
  });

  it('refuses to start, with one clear line and exit code 1', async () => {
    const result = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      execFile(join(root, 'node_modules/.bin/tsx'), ['src/main.ts'], { cwd: root, env: productionEnv(), timeout: 30_000 }, (error, stdout, stderr) => {
        resolve({ code: typeof error?.code === 'number' ? error.code : error ? -1 : 0, stdout, stderr });
      });
    });
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^Refusing to start: NODE_ENV=production without KLING_ACCESS_KEY.*SIMULATOR_IN_PRODUCTION=true/) as string]);
  }, 40_000);

  it('starts the simulator when SIMULATOR_IN_PRODUCTION=true says so', async () => {
    const gateway = await spawnGateway(productionEnv({ SIMULATOR_IN_PRODUCTION: 'true' }));
    expect(gateway.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/graphql$/);
    await gateway.kill();
  }, 40_000);
});

describe('MCP rate limit', () => {
  it('charges every MCP request, not only tool calls, and answers 429 with Retry-After past the limit', async () => {
    const t = await startGateway({ env: { RATE_LIMIT_POINTS: '5' } });
    const key = await t.createKey(100);
    const mcp = new URL('/mcp', t.url);
    const list = (id: number) =>
      fetch(mcp, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${key}` },
        body: JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/list' }),
      });
    const statuses: number[] = [];
    let last: Response | undefined;
    for (let i = 0; i < 8; i++) {
      last = await list(i);
      statuses.push(last.status);
      if (last.status === 200) await last.text();
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429, 429]);
    expect(Number(last?.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await last?.json()).toMatchObject({ jsonrpc: '2.0', error: { message: expect.stringMatching(/^Too many requests/) as string } });
    // The same budget as GraphQL's.
    const me = await t.graphql(ME, {}, key);
    expect(me.status).toBe(429);
  });
});
