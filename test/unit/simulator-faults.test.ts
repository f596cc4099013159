import { describe, expect, it } from 'vitest';
import { checkFaults, createFaultInjector } from '../../src/kling/simulator/faults.js';
import { createSeededRandom } from '../../src/kling/simulator/seeded-random.js';

describe('simulator faults', () => {
  it('draws the same numbers in [0, 1) for the same seed', () => {
    const a = createSeededRandom(123);
    const b = createSeededRandom(123);
    const first = Array.from({ length: 1000 }, a);
    expect(Array.from({ length: 1000 }, b)).toEqual(first);
    expect(first.every((value) => value >= 0 && value < 1)).toBe(true);
    expect(Array.from({ length: 1000 }, createSeededRandom(124))).not.toEqual(first);
  });

  it('does not shift other outcomes when one fault is switched on', () => {
    const plain = createFaultInjector(5, { failRate: 0.5 });
    const withErrors = createFaultInjector(5, { failRate: 0.5, errorRates: { 5000: 0.5 }, latencyMs: { min: 1, max: 9 } });
    for (let index = 0; index < 50; index++) {
      plain.request();
      withErrors.request();
      expect(withErrors.create().fail).toBe(plain.create().fail);
    }
  });

  it('draws latency within its range', () => {
    const injector = createFaultInjector(1, { latencyMs: { min: 10, max: 20 } });
    for (let index = 0; index < 100; index++) {
      const { latencyMs } = injector.request();
      expect(latencyMs).toBeGreaterThanOrEqual(10);
      expect(latencyMs).toBeLessThanOrEqual(20);
    }
  });

  it.each([
    [{ failRate: 1.5 }, /failRate/],
    [{ errorRates: { 5000: 0.6, 1303: 0.6 } }, /errorRates/],
    [{ latencyMs: { min: 5, max: 1 } }, /latencyMs/],
    [{ dropAfterAcceptRate: 0.6, timeoutAfterAcceptRate: 0.6 }, /dropAfterAcceptRate/],
    [{ slowTaskSeconds: 0 }, /slowTaskSeconds/],
  ])('refuses %o', (faults, message) => {
    expect(() => {
      checkFaults(faults);
    }).toThrow(message);
  });
});
