// The scale-out services on this machine. Tests that need them skip, loudly, only when they are
// truly absent; TEST_POSTGRES_URL / TEST_REDIS_URL point elsewhere.
import { randomBytes } from 'node:crypto';
import { Socket } from 'node:net';
import pg from 'pg';
import { onTeardown } from './leftovers.js';

export const POSTGRES_URL = process.env['TEST_POSTGRES_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';
export const REDIS_URL = process.env['TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379';

function reachable(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = new Socket();
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.once('error', () => done(false));
    socket.connect(Number(port), hostname, () => done(true));
  });
}

const [postgresUp, redisUp] = await Promise.all([reachable(POSTGRES_URL), reachable(REDIS_URL)]);

function warnSkipped(suite: string, missing: string[]) {
  console.warn(`\n!!! SKIPPING ${suite}: ${missing.join(' and ')} not reachable. Start them (see .ci/run). !!!\n`);
}

/** True when both PostgreSQL and Redis answer; otherwise says loudly what is missing. */
export function scaleOutServicesAvailable(suite: string): boolean {
  if (postgresUp && redisUp) return true;
  warnSkipped(suite, [!postgresUp && `PostgreSQL (${POSTGRES_URL})`, !redisUp && `Redis (${REDIS_URL})`].filter((m) => m !== false));
  return false;
}

export function postgresAvailable(suite: string): boolean {
  if (postgresUp) return true;
  warnSkipped(suite, [`PostgreSQL (${POSTGRES_URL})`]);
  return false;
}

async function admin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

let staleDropped = false;

/** Drops test databases that earlier runs could not (still in use then), once per test file. */
async function dropStaleDatabases() {
  if (staleDropped) return;
  staleDropped = true;
  const { rows } = await admin((client) =>
    client.query<{ datname: string }>(
      `SELECT datname FROM pg_database d WHERE datname LIKE 'kg_test_%'
         AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.datname = d.datname)`,
    ),
  );
  // Names carry their creation time; only those over an hour old can belong to no running test.
  const hourAgo = Math.floor(Date.now() / 1000) - 3600;
  for (const { datname } of rows.filter((r) => Number(r.datname.split('_')[2]) < hourAgo)) {
    await admin((client) => client.query(`DROP DATABASE IF EXISTS "${datname}"`)).catch(() => undefined);
  }
}

/** A new, empty database for one test file's gateways; dropped afterwards. */
export async function freshPostgresDatabase(): Promise<string> {
  await dropStaleDatabases();
  const name = `kg_test_${Math.floor(Date.now() / 1000)}_${randomBytes(4).toString('hex')}`;
  await admin((client) => client.query(`CREATE DATABASE ${name}`));
  onTeardown(async () => {
    // Not WITH (FORCE): terminating a connection a pool is still closing surfaces in the test run as an
    // unhandled error. A database still in use is left behind and dropped by a later run.
    await admin((client) => client.query(`DROP DATABASE IF EXISTS ${name}`)).catch(() => undefined);
  });
  const url = new URL(POSTGRES_URL);
  url.pathname = `/${name}`;
  return url.href;
}
