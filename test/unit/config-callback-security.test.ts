import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/env.js';

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error(`expected a ConfigError for ${JSON.stringify(env)}`);
}

const SECRET = 'whsec_dGVzdHNlY3JldHRlc3RzZWNyZXR0ZXN0c2VjcmV0MTI=';

describe('PUBLIC_URL in production', () => {
  it.each(['http://gateway.example.com', 'http://127.0.0.1:4000', 'HTTP://gateway.example.com/'])('refuses %s', (url) => {
    expect(problemsOf({ NODE_ENV: 'production', PUBLIC_URL: url })).toEqual([expect.stringMatching(/^PUBLIC_URL: must be https:\/\/ in production/)]);
  });

  it('takes https, or no PUBLIC_URL at all (no callbacks)', () => {
    expect(loadConfig({ NODE_ENV: 'production', PUBLIC_URL: 'https://gateway.example.com' }).http.publicUrl).toBe('https://gateway.example.com');
    expect(loadConfig({ NODE_ENV: 'production' }).http.publicUrl).toBeUndefined();
  });

  it('still takes http outside production, where the simulator calls back over loopback', () => {
    for (const NODE_ENV of ['development', 'test']) {
      expect(loadConfig({ NODE_ENV, PUBLIC_URL: 'http://127.0.0.1:4000' }).http.publicUrl).toBe('http://127.0.0.1:4000');
    }
  });

  it('reports it beside other problems', () => {
    const problems = problemsOf({ NODE_ENV: 'production', PUBLIC_URL: 'http://gateway.example.com', PORT: 'x' });
    expect(problems.some((p) => p.startsWith('PORT:'))).toBe(true);
    expect(problems.some((p) => p.startsWith('PUBLIC_URL:'))).toBe(true);
  });
});

describe('KLING_WEBHOOK_SECRET', () => {
  it("is Kling's whsec_ secret, with or without the prefix; unset or empty checks no signature", () => {
    expect(loadConfig({ KLING_WEBHOOK_SECRET: SECRET }).kling.webhookSecret).toBe(SECRET);
    expect(loadConfig({ KLING_WEBHOOK_SECRET: SECRET.slice('whsec_'.length) }).kling.webhookSecret).toBe(SECRET.slice('whsec_'.length));
    expect(loadConfig({}).kling.webhookSecret).toBeUndefined();
    expect(loadConfig({ KLING_WEBHOOK_SECRET: '' }).kling.webhookSecret).toBeUndefined();
  });

  it.each(['whsec_', 'whsec_c2hvcnQ=', 'whsec_not base64 at all!!!!!!!!!', 'secret'])('refuses %j', (value) => {
    expect(problemsOf({ KLING_WEBHOOK_SECRET: value })).toEqual([expect.stringMatching(/^KLING_WEBHOOK_SECRET: must be the Webhook Secret/)]);
  });
});
