import { describe, expect, it } from 'vitest';
import { loadSimulatorConfig } from '../../src/kling/simulator/simulator-env.js';

describe('simulator environment', () => {
  it('has defaults that need nothing set', () => {
    expect(loadSimulatorConfig({})).toEqual({
      host: '127.0.0.1',
      port: 4010,
      logRequests: false,
      options: { keys: [{ accessKey: 'sim-access-key', secretKey: 'sim-secret-key' }], taskSeconds: 10, faults: {} },
    });
  });

  it('reads keys, timing, limits and faults', () => {
    const config = loadSimulatorConfig({
      SIMULATOR_PORT: '0',
      SIMULATOR_HOST: '0.0.0.0',
      SIMULATOR_ACCESS_KEY: 'ak',
      SIMULATOR_SECRET_KEY: 'sk',
      SIMULATOR_TASK_SECONDS: '0.5',
      SIMULATOR_SEED: '9',
      SIMULATOR_ERROR_RATES: '5000=0.1, 5002:0.05',
      SIMULATOR_LATENCY_MS: '20-80',
      SIMULATOR_DROP_AFTER_ACCEPT_RATE: '0.01',
      SIMULATOR_SLOW_TASK_RATE: '0.1',
      SIMULATOR_SLOW_TASK_SECONDS: '120',
      SIMULATOR_CONCURRENCY_LIMIT: '5',
      SIMULATOR_LOG: '1',
      SIMULATOR_FAIL_RATE: '',
    });
    expect(config).toMatchObject({
      host: '0.0.0.0',
      port: 0,
      logRequests: true,
      options: {
        keys: [{ accessKey: 'ak', secretKey: 'sk' }],
        taskSeconds: 0.5,
        seed: 9,
        concurrencyLimit: 5,
        faults: {
          errorRates: { 5000: 0.1, 5002: 0.05 },
          latencyMs: { min: 20, max: 80 },
          dropAfterAcceptRate: 0.01,
          slowTaskRate: 0.1,
          slowTaskSeconds: 120,
        },
      },
    });
    expect(config.options.faults).not.toHaveProperty('failRate');
  });

  it.each([
    [{ SIMULATOR_PORT: 'abc' }, /SIMULATOR_PORT/],
    [{ SIMULATOR_PORT: '70000' }, /SIMULATOR_PORT/],
    [{ SIMULATOR_TASK_SECONDS: '-1' }, /SIMULATOR_TASK_SECONDS/],
    [{ SIMULATOR_ERROR_RATES: '404=0.1' }, /SIMULATOR_ERROR_RATES/],
    [{ SIMULATOR_ERROR_RATES: '5000=0.6,5001=0.6' }, /SIMULATOR_ERROR_RATES/],
    [{ SIMULATOR_LATENCY_MS: '90-10' }, /SIMULATOR_LATENCY_MS/],
    [{ SIMULATOR_FAIL_RATE: '2' }, /SIMULATOR_FAIL_RATE/],
    [{ SIMULATOR_DROP_AFTER_ACCEPT_RATE: '0.7', SIMULATOR_TIMEOUT_AFTER_ACCEPT_RATE: '0.7' }, /SIMULATOR_DROP_AFTER_ACCEPT_RATE/],
  ])('names the bad variable in %o', (env, message) => {
    expect(() => loadSimulatorConfig(env)).toThrow(message);
  });
});
