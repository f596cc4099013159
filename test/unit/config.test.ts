import { describe, expect, it } from 'vitest';
import { ConfigError, KLING_GLOBAL_BASE_URL, loadConfig } from '../../src/config/env.js';

type Env = Record<string, string | undefined>;

function problemsOf(env: Env): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error(`expected a ConfigError for ${JSON.stringify(env)}`);
}

describe('loadConfig defaults', () => {
  it('fills the documented defaults from an empty environment', () => {
    const config = loadConfig({});
    expect(config.env).toBe('development');
    expect(config.production).toBe(false);
    expect(config.http).toEqual({ host: '127.0.0.1', port: 4000, publicUrl: undefined, headersTimeoutMs: 10_000, requestTimeoutMs: 30_000 });
    expect(config.db.url).toBe('./data/gateway.db');
    expect(config.redis.url).toBeUndefined();
    expect(config.kling.baseUrl).toBe(KLING_GLOBAL_BASE_URL);
    expect(config.kling.credentials).toBeUndefined();
    expect(config.simulator).toEqual({ port: 4010, taskSeconds: 10, inProduction: false });
    expect(config.tasks.maxActivePerKey).toBe(20);
    expect(config.admin.token).toBeUndefined();
    expect(config.graphql).toEqual({ graphiql: true, introspection: true, cors: 'any', trustedDocuments: { file: undefined, only: false } });
    expect(config.demoKey).toBe(true);
  });

  it('turns GraphiQL, introspection and the demo key off in production', () => {
    const config = loadConfig({ NODE_ENV: 'production' });
    expect(config.production).toBe(true);
    expect(config.graphql).toEqual({ graphiql: false, introspection: false, cors: { origins: [] }, trustedDocuments: { file: undefined, only: false } });
    expect(config.demoKey).toBe(false);
  });

  it('lets production turn GraphiQL and introspection back on, but never the demo key', () => {
    const config = loadConfig({ NODE_ENV: 'production', GRAPHIQL: 'true', INTROSPECTION: 'true', DEMO_KEY: 'true' });
    expect(config.graphql).toEqual({ graphiql: true, introspection: true, cors: { origins: [] }, trustedDocuments: { file: undefined, only: false } });
    expect(config.demoKey).toBe(false);
  });

  it('reads CORS_ORIGINS as a list of origins, in any mode, and refuses anything else', () => {
    const origins = 'https://app.example.com, http://localhost:5173';
    const expected = { origins: ['https://app.example.com', 'http://localhost:5173'] };
    expect(loadConfig({ CORS_ORIGINS: origins }).graphql.cors).toEqual(expected);
    expect(loadConfig({ NODE_ENV: 'production', CORS_ORIGINS: origins }).graphql.cors).toEqual(expected);
    for (const bad of ['https://app.example.com/', 'app.example.com', 'https://app.example.com/path', 'ftp://files.example.com']) {
      expect(() => loadConfig({ CORS_ORIGINS: bad })).toThrow(/CORS_ORIGINS/);
    }
  });

  it('keeps metrics in production only with METRICS_TOKEN, and without one everywhere else', () => {
    const token = 'scrape-token-0123456789';
    expect(loadConfig({ NODE_ENV: 'production' }).metrics).toEqual({ enabled: false, token: undefined, withheldForToken: true });
    expect(loadConfig({ NODE_ENV: 'production', METRICS_TOKEN: token }).metrics).toEqual({ enabled: true, token, withheldForToken: false });
    expect(loadConfig({ NODE_ENV: 'production', METRICS: 'false' }).metrics).toEqual({ enabled: false, token: undefined, withheldForToken: false });
    expect(loadConfig({}).metrics).toEqual({ enabled: true, token: undefined, withheldForToken: false });
  });

  it('lets development turn GraphiQL and the demo key off', () => {
    const config = loadConfig({ GRAPHIQL: 'false', DEMO_KEY: 'no' });
    expect(config.graphql.graphiql).toBe(false);
    expect(config.demoKey).toBe(false);
  });

  it('reads the variables it is given', () => {
    const config = loadConfig({
      PORT: '8080',
      HOST: '0.0.0.0',
      DATABASE_URL: 'postgres://u:p@db/gateway',
      REDIS_URL: 'redis://cache:6379',
      KLING_BASE_URL: 'http://127.0.0.1:4010',
      SIMULATOR_TASK_SECONDS: '0.5',
      ADMIN_TOKEN: 'a-long-enough-admin-token',
    });
    expect(config.http).toMatchObject({ host: '0.0.0.0', port: 8080 });
    expect(config.db.url).toBe('postgres://u:p@db/gateway');
    expect(config.redis.url).toBe('redis://cache:6379');
    expect(config.kling.baseUrl).toBe('http://127.0.0.1:4010');
    expect(config.simulator.taskSeconds).toBe(0.5);
    expect(config.admin.token).toBe('a-long-enough-admin-token');
  });
});

describe('loadConfig treats empty strings as unset', () => {
  it('uses the defaults for empty values', () => {
    const empty = loadConfig({
      NODE_ENV: '',
      PORT: '',
      HOST: '',
      DATABASE_URL: '',
      REDIS_URL: '',
      KLING_ACCESS_KEY: '',
      KLING_SECRET_KEY: '',
      KLING_BASE_URL: '',
      ADMIN_TOKEN: '',
      GRAPHIQL: '',
      DEMO_KEY: '',
      SIMULATOR_TASK_SECONDS: '',
    });
    expect(empty).toEqual(loadConfig({}));
  });

  it.each<[Env, string]>([
    [{ KLING_ACCESS_KEY: 'ak', KLING_SECRET_KEY: '' }, 'KLING_SECRET_KEY'],
    [{ KLING_ACCESS_KEY: '', KLING_SECRET_KEY: 'sk' }, 'KLING_ACCESS_KEY'],
  ])('counts an empty Kling key as missing: %j names %s', (env, missing) => {
    const problems = problemsOf(env);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(new RegExp(`^${missing}: `));
  });
});

describe('loadConfig rejects bad variables by name', () => {
  it.each<[Env, string]>([
    [{ PORT: 'abc' }, 'PORT'],
    [{ PORT: '70000' }, 'PORT'],
    [{ PORT: '80.5' }, 'PORT'],
    [{ SIMULATOR_PORT: '-1' }, 'SIMULATOR_PORT'],
    [{ NODE_ENV: 'staging' }, 'NODE_ENV'],
    [{ REDIS_URL: 'http://cache:6379' }, 'REDIS_URL'],
    [{ KLING_BASE_URL: 'not a url' }, 'KLING_BASE_URL'],
    [{ ADMIN_TOKEN: 'short' }, 'ADMIN_TOKEN'],
    [{ DEMO_KEY: 'maybe' }, 'DEMO_KEY'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
    [{ KLING_ACCESS_KEY: 'ak' }, 'KLING_SECRET_KEY'],
    [{ KLING_SECRET_KEY: 'sk' }, 'KLING_ACCESS_KEY'],
  ])('%j fails naming %s', (env, variable) => {
    const problems = problemsOf(env);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(new RegExp(`^${variable}: \\S`));
  });

  it('explains the Kling key pair rule', () => {
    expect(problemsOf({ KLING_ACCESS_KEY: 'ak' })[0]).toMatch(/both KLING_ACCESS_KEY and KLING_SECRET_KEY, or neither/);
  });

  it('lists several bad variables in one ConfigError', () => {
    let caught: unknown;
    try {
      loadConfig({ PORT: 'abc', REDIS_URL: 'http://cache', ADMIN_TOKEN: 'short', LOG_LEVEL: 'loud' });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    const { problems, message } = caught as ConfigError;
    expect(problems.map((p) => p.split(':')[0])).toEqual(['PORT', 'REDIS_URL', 'ADMIN_TOKEN', 'LOG_LEVEL']);
    for (const problem of problems) expect(message).toContain(problem);
  });

  it('refuses TRUSTED_DOCUMENTS_ONLY without the file of documents', () => {
    expect(() => loadConfig({ TRUSTED_DOCUMENTS_ONLY: 'true' })).toThrow(/TRUSTED_DOCUMENTS_ONLY: needs TRUSTED_DOCUMENTS_FILE/);
    expect(loadConfig({ TRUSTED_DOCUMENTS_ONLY: 'true', TRUSTED_DOCUMENTS_FILE: 'docs.json' }).graphql.trustedDocuments).toEqual({
      file: 'docs.json',
      only: true,
    });
  });
});

describe('loadConfig and Kling credentials', () => {
  it('returns credentials when both keys are set', () => {
    expect(loadConfig({ KLING_ACCESS_KEY: 'ak', KLING_SECRET_KEY: 'sk' }).kling.credentials).toEqual({
      accessKey: 'ak',
      secretKey: 'sk',
    });
  });

  it('returns no credentials (the simulator) when neither is set', () => {
    expect(loadConfig({}).kling.credentials).toBeUndefined();
  });
});

describe('loadConfig reports cross-variable rules with field errors', () => {
  it('lists a lone Kling key even when another variable is also bad', () => {
    let problems: string[] = [];
    try {
      loadConfig({ PORT: 'abc', KLING_ACCESS_KEY: 'ak' });
    } catch (error) {
      if (error instanceof ConfigError) problems = error.problems;
    }
    expect(problems).toHaveLength(2);
    expect(problems[0]).toMatch(/^PORT: /);
    expect(problems[1]).toMatch(/^KLING_SECRET_KEY: set both/);
  });
});
