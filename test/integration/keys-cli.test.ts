// `npm run keys` as an operator runs it: a real child process on a real database file, checked
// through the same store the gateway reads. Command edge cases run in-process against :memory:.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { createApiKeys } from '../../src/auth/api-keys.js';
import { KEYS_USAGE, parseKeysCommand, runKeysCommand } from '../../src/cli/keys-command.js';
import { systemClock, type Clock } from '../../src/clock.js';
import { openSqlite } from '../../src/db/connection.js';
import { createStore } from '../../src/db/store.js';
import { freshPostgresDatabase, postgresAvailable } from '../helpers/services.js';
import { ledgerTotals } from '../helpers/store-audit.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'kling-gateway-keys-'));
const dbPath = join(dir, 'nested', 'gateway.db');

afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

function keysCli(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  const inherited: NodeJS.ProcessEnv = { ...process.env };
  // The CLI reads the gateway's whole configuration; keys meant for another process must not leak in.
  delete inherited['KLING_ACCESS_KEY'];
  delete inherited['KLING_SECRET_KEY'];
  const childEnv = { ...inherited, DATABASE_URL: dbPath, ...env };
  return new Promise((resolve) => {
    // What `npm run keys` runs: the built bundle of src/cli/keys.ts (rebuilt first if src/ changed).
    execFile(process.execPath, ['scripts/start.mjs', 'keys', ...args], { cwd: root, env: childEnv }, (error, stdout, stderr) => {
      resolve({ code: typeof error?.code === 'number' ? error.code : error ? -1 : 0, stdout, stderr });
    });
  });
}

/** Opens the CLI's database the way the gateway does, for one check, and closes it again. */
async function withDatabase<T>(check: (deps: ReturnType<typeof open>) => Promise<T>): Promise<T> {
  const deps = open();
  try {
    return await check(deps);
  } finally {
    deps.database.close();
  }
}

function open() {
  const database = openSqlite(dbPath);
  const store = createStore(database.db);
  return { database, store, apiKeys: createApiKeys({ store, clock: systemClock }) };
}

const createdKey = (stdout: string) => /^API key \(shown once\): (kgw_\S+)$/m.exec(stdout)?.[1] ?? '';
const createdId = (stdout: string) => /^Created key "[^"]*" \((key_[\w-]+)\)/m.exec(stdout)?.[1] ?? '';

describe('npm run keys (child process, SQLite file)', () => {
  let aliceKey = '';
  let aliceId = '';

  it('prints usage for --help without creating the database', async () => {
    const res = await keysCli(['--help']);
    expect(res).toMatchObject({ code: 0, stderr: '' });
    expect(res.stdout.trim()).toBe(KEYS_USAGE);
    expect(existsSync(dbPath)).toBe(false);
  });

  it('creates a key, prints it once, and stores only its hash', async () => {
    const res = await keysCli(['create', '--name', 'alice', '--credits', '500']);
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(
      /^Created key "alice" \(key_[\w-]{22}\) with 500 credits\.\nAPI key \(shown once\): kgw_[\w-]{43}\nWebhook signing secret \(shown once\): whsec_[A-Za-z0-9+/]{32}\n$/,
    );
    aliceKey = createdKey(res.stdout);
    aliceId = createdId(res.stdout);

    await withDatabase(async ({ apiKeys, store, database }) => {
      expect(await apiKeys.authenticate(aliceKey)).toBe(aliceId);
      expect(await apiKeys.account(aliceId)).toMatchObject({ name: 'alice', creditBalance: 500, creditsHeld: 0, creditsUsed: 0 });
      expect(await ledgerTotals(store, aliceId)).toEqual({ grant: 500, hold: 0, charge: 0, refund: 0 });
      database.sqlite.pragma('wal_checkpoint(TRUNCATE)');
    });
    expect(readFileSync(dbPath).includes(aliceKey)).toBe(false);
  });

  it('lists keys as a table with prefix and credits but never the key', async () => {
    await keysCli(['create', '--name', 'bob', '--credits', '0']);
    const res = await keysCli(['list']);
    expect(res.code).toBe(0);
    const [header, ...rows] = res.stdout.trimEnd().split('\n');
    expect(header?.split(/\s{2,}/)).toEqual(['id', 'name', 'key prefix', 'balance', 'held', 'used', 'created', 'revoked']);
    expect(rows).toHaveLength(2);
    expect(rows[0]?.split(/\s+/)).toEqual([
      aliceId,
      'alice',
      `${aliceKey.slice(0, 10)}…`,
      '500',
      '0',
      '0',
      expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/) as string,
      '-',
    ]);
    expect(rows[1]).toContain('bob');
    expect(res.stdout).not.toContain(aliceKey);
  });

  it('grants credits by name and records one ledger row for the grant', async () => {
    const res = await keysCli(['grant', 'alice', '--credits', '250']);
    expect(res).toMatchObject({ code: 0, stderr: '' });
    expect(res.stdout).toBe(`Granted 250 credits to "alice" (${aliceId}); balance now 750.\n`);

    await withDatabase(async ({ apiKeys, database }) => {
      expect(await apiKeys.account(aliceId)).toMatchObject({ creditBalance: 750 });
      const rows = database.sqlite
        .prepare('SELECT kind, amount, task_id AS taskId FROM credit_ledger WHERE api_key_id = ? ORDER BY id')
        .all(aliceId);
      expect(rows).toEqual([
        { kind: 'grant', amount: 500, taskId: null },
        { kind: 'grant', amount: 250, taskId: null },
      ]);
    });
  });

  it('revokes a key by id so it no longer authenticates; revoking again is harmless', async () => {
    const res = await keysCli(['revoke', aliceId]);
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(new RegExp(`^Revoked key "alice" \\(${aliceId}\\)\\.`));
    await withDatabase(async ({ apiKeys }) => {
      expect(await apiKeys.authenticate(aliceKey)).toBeNull();
      expect((await apiKeys.account(aliceId))?.revokedAt).toEqual(expect.any(Number));
    });

    const again = await keysCli(['revoke', aliceId]);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/was already revoked at \d{4}-/);
    expect((await keysCli(['list'])).stdout).toMatch(new RegExp(`${aliceId}.*\\d\\dZ\\s+\\d{4}-\\d\\d-\\d\\dT[\\d:]+Z\\n`));
  });

  it.each([
    ['an unknown command', ['rotate'], /^Error: Unknown command "rotate"\.\nRun "npm run keys -- --help" for usage\.\n$/],
    ['an unknown key', ['grant', 'nobody', '--credits', '5'], /^Error: No API key with id or name "nobody"\./],
    ['a bad number', ['create', '--name', 'carol', '--credits', '12abc'], /^Error: --credits must be a whole number from 0 to 1000000000, not "12abc"\./],
    ['a missing name', ['create', '--credits', '5'], /^Error: --name NAME is required\./],
    ['a mistyped option', ['create', '--nmae', 'carol', '--credits', '5'], /^Error: Unknown option '--nmae'/],
  ])('exits 1 with a clear message on %s and changes nothing', async (_label, args, message) => {
    const before = await withDatabase(({ apiKeys }) => apiKeys.list());
    const res = await keysCli(args);
    expect(res).toMatchObject({ code: 1, stdout: '' });
    expect(res.stderr).toMatch(message);
    expect(await withDatabase(({ apiKeys }) => apiKeys.list())).toEqual(before);
  });

  it.skipIf(!postgresAvailable('keys CLI on PostgreSQL'))('manages keys in a shared PostgreSQL database', async () => {
    const env = { DATABASE_URL: await freshPostgresDatabase() };
    const created = await keysCli(['create', '--name', 'shared', '--credits', '40'], env);
    expect(created.code).toBe(0);
    const listed = await keysCli(['list'], env);
    expect(listed.stdout).toContain('shared');
    expect(listed.stdout).toContain('40');
  });

  it('reports an invalid gateway configuration and exits 1', async () => {
    const res = await keysCli(['list'], { KLING_ACCESS_KEY: 'only-half-a-pair' });
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('Invalid configuration');
  });
});

describe('runKeysCommand (in process, :memory:)', () => {
  function setup(now = Date.UTC(2026, 0, 2, 3, 4, 5, 678)) {
    const database = openSqlite(':memory:');
    const clock: Clock = { now: () => now, sleep: () => Promise.resolve() };
    const apiKeys = createApiKeys({ store: createStore(database.db), clock });
    const out: string[] = [];
    const err: string[] = [];
    let opened = 0;
    const run = (...argv: string[]) =>
      runKeysCommand(argv, {
        apiKeys: () => {
          opened += 1;
          return apiKeys;
        },
        out: (text) => out.push(text),
        err: (text) => err.push(text),
      });
    return { database, apiKeys, out, err, run, opened: () => opened };
  }

  it('formats list times in UTC without milliseconds and right-aligns credits', async () => {
    const s = setup();
    await s.apiKeys.create('a', 5);
    await s.apiKeys.create('long-name', 12_345);
    expect(await s.run('list')).toBe(0);
    const lines = s.out[0]?.split('\n') ?? [];
    expect(lines[1]).toContain('      5     0     0  2026-01-02T03:04:05Z  -');
    expect(lines[2]).toContain('  12345     0     0  2026-01-02T03:04:05Z  -');
    s.database.close();
  });

  it('says so when there are no keys', async () => {
    const s = setup();
    expect(await s.run('list')).toBe(0);
    expect(s.out).toEqual(['No API keys yet. Create one with: npm run keys -- create --name NAME --credits N']);
    s.database.close();
  });

  it('picks the active key when a revoked one shares its name, and refuses an ambiguous name', async () => {
    const s = setup();
    const old = await s.apiKeys.create('shared', 10);
    await s.apiKeys.revoke(old.account.id);
    const current = await s.apiKeys.create('shared', 10);
    expect(await s.run('grant', 'shared', '--credits', '5')).toBe(0);
    expect(await s.apiKeys.account(current.account.id)).toMatchObject({ creditBalance: 15 });
    expect(await s.apiKeys.account(old.account.id)).toMatchObject({ creditBalance: 10 });

    const third = await s.apiKeys.create('shared', 10);
    expect(await s.run('revoke', 'shared')).toBe(1);
    expect(s.err).toEqual([`Error: 2 active keys are named "shared"; use one of their ids: ${current.account.id}, ${third.account.id}.`]);
    expect(await s.apiKeys.authenticate(third.key)).toBe(third.account.id);
    s.database.close();
  });

  it('warns when credits go to a revoked key', async () => {
    const s = setup();
    const { account } = await s.apiKeys.create('gone', 0);
    await s.apiKeys.revoke(account.id);
    expect(await s.run('grant', account.id, '--credits', '1')).toBe(0);
    expect(s.out[1]).toBe('Note: this key was revoked at 2026-01-02T03:04:05Z and cannot use them.');
    s.database.close();
  });

  it('never opens the database for help or a usage error', async () => {
    const s = setup();
    expect(await s.run('--help')).toBe(0);
    expect(await s.run('help')).toBe(0);
    expect(await s.run()).toBe(1);
    expect(await s.run('create', '--name', 'x')).toBe(1);
    expect(s.opened()).toBe(0);
    s.database.close();
  });
});

describe('parseKeysCommand', () => {
  it.each([
    [['create', '--name', ' team a ', '--credits', '0'], { command: 'create', name: 'team a', credits: 0 }],
    [['create', '--credits=1000000000', '--name=x'], { command: 'create', name: 'x', credits: 1_000_000_000 }],
    [['list'], { command: 'list' }],
    [['grant', 'key_abc', '--credits', '7'], { command: 'grant', key: 'key_abc', credits: 7 }],
    [['revoke', 'ops'], { command: 'revoke', key: 'ops' }],
    [['list', '-h'], { command: 'help' }],
  ])('parses %j', (argv, expected) => {
    expect(parseKeysCommand(argv)).toEqual(expected);
  });

  it.each([
    [[], 'No command given.'],
    [['create', '--name', 'x', '--credits', '-5'], "Option '--credits' argument is ambiguous."],
    [['create', '--name', 'x', '--credits', '1.5'], '--credits must be a whole number from 0 to 1000000000, not "1.5".'],
    [['create', '--name', 'x', '--credits', '1000000001'], '--credits must be a whole number from 0 to 1000000000, not "1000000001".'],
    [['create', '--name', '   ', '--credits', '1'], '--name NAME is required.'],
    [['create', '--name', 'x'.repeat(101), '--credits', '1'], '--name must be at most 100 characters.'],
    [['create', 'extra', '--name', 'x', '--credits', '1'], '"create" takes no arguments; got "extra".'],
    [['grant', 'x', '--credits', '0'], '--credits must be a whole number from 1 to 1000000000, not "0".'],
    [['grant', '--credits', '5'], '"grant" takes one key id or name; got none.'],
    [['grant', 'a', 'b', '--credits', '5'], '"grant" takes one key id or name; got "a" "b".'],
    [['revoke', 'a', '--credits', '5'], '"revoke" takes no --credits.'],
    [['list', '--name', 'x'], '"list" takes no --name.'],
  ])('refuses %j', (argv, message) => {
    expect(() => parseKeysCommand(argv)).toThrow(message);
  });
});
