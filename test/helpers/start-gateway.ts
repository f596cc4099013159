// Starts the Kling simulator and a gateway against it, both on loopback port 0, with an in-memory
// database unless told otherwise; everything started is stopped after the test file.
// With TEST_SCALE_OUT=1 every gateway runs on a fresh PostgreSQL database and Redis instead, so the
// whole integration suite also checks the scale-out mode (see .ci/run).
import { createGateway, type GatewayOverrides } from '../../src/app.js';
import { loadConfig } from '../../src/config/env.js';
import { createKlingSimulator, DEFAULT_SIMULATOR_KEY, type KlingSimulatorOptions } from '../../src/kling/simulator/simulator.js';
import type { Operation } from './document.js';
import { postGraphql } from './graphql-http.js';
import { onTeardown } from './leftovers.js';
import { freshPostgresDatabase, REDIS_URL } from './services.js';

export const SCALE_OUT = process.env['TEST_SCALE_OUT'] === '1';

/** The store and pub/sub settings of this run: embedded by default, PostgreSQL + Redis when scaling out. */
export async function storageEnv(): Promise<Record<string, string>> {
  return SCALE_OUT ? { DATABASE_URL: await freshPostgresDatabase(), REDIS_URL } : { DATABASE_URL: ':memory:' };
}

export interface StartGatewayOptions {
  env?: Record<string, string>;
  simulator?: KlingSimulatorOptions;
  overrides?: GatewayOverrides;
}

export async function startGateway(options: StartGatewayOptions = {}) {
  const simulator = createKlingSimulator({ port: 0, taskSeconds: 60, ...options.simulator });
  const simulatorUrl = await simulator.start();
  onTeardown(() => simulator.stop());

  const config = loadConfig({
    NODE_ENV: 'test',
    PORT: '0',
    ...(options.env?.['DATABASE_URL'] === undefined ? await storageEnv() : {}),
    KLING_BASE_URL: simulatorUrl,
    KLING_ACCESS_KEY: DEFAULT_SIMULATOR_KEY.accessKey,
    KLING_SECRET_KEY: DEFAULT_SIMULATOR_KEY.secretKey,
    LOG_LEVEL: 'silent',
    ...options.env,
  });
  const gateway = await createGateway(config, options.overrides);
  const url = await gateway.start();
  onTeardown(() => gateway.stop());

  return {
    gateway,
    simulator,
    url,
    /** Creates an API key with the given credits and returns the key itself. */
    async createKey(credits: number, name = 'test'): Promise<string> {
      return (await gateway.apiKeys.create(name, credits)).key;
    },
    graphql<TData = Record<string, unknown>>(query: Operation, variables?: Record<string, unknown>, key?: string) {
      return postGraphql<TData>(url, query, variables, { key });
    },
  };
}

export type TestGateway = Awaited<ReturnType<typeof startGateway>>;
