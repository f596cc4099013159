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

/** A new, empty database for one test file's gateways; dropped (connections and all) afterwards. */
export async function freshPostgresDatabase(): Promise<string> {
  const name = `kg_test_${randomBytes(6).toString('hex')}`;
  await admin((client) => client.query(`CREATE DATABASE ${name}`));
  onTeardown(async () => {
    await admin((client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
  });
  const url = new URL(POSTGRES_URL);
  url.pathname = `/${name}`;
  return url.href;
}
