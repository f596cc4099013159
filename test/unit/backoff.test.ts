import { describe, expect, it } from 'vitest';
import { computeBackoffMs, retryAfterMs } from '../../src/backoff.js';

const almostOne = () => 0.999_999;

describe('computeBackoffMs', () => {
  it('doubles the window each attempt until the cap', () => {
    const schedule = [0, 1, 2, 3, 4, 5, 6].map((attempt) => computeBackoffMs(attempt, { baseMs: 100, maxMs: 2_000, random: almostOne }));
    expect(schedule).toEqual([99, 199, 399, 799, 1599, 1999, 1999]);
  });

  it('scales the window by the random draw (full jitter)', () => {
    expect(computeBackoffMs(3, { baseMs: 100, maxMs: 10_000, random: () => 0 })).toBe(0);
    expect(computeBackoffMs(3, { baseMs: 100, maxMs: 10_000, random: () => 0.5 })).toBe(400);
    expect(computeBackoffMs(3, { baseMs: 100, maxMs: 10_000, random: () => 0.25 })).toBe(200);
  });

  it.each([0, 1, 5, 10, 50, 2_000])('stays within [0, min(maxMs, baseMs * 2^%i)]', (attempt) => {
    const options = { baseMs: 250, maxMs: 30_000 };
    const ceiling = Math.min(options.maxMs, options.baseMs * 2 ** attempt);
    for (const draw of [0, 0.1, 0.5, 0.9, 0.999_999]) {
      const delay = computeBackoffMs(attempt, { ...options, random: () => draw });
      expect(delay).toBeGreaterThanOrEqual(0);
      expect(delay).toBeLessThanOrEqual(ceiling);
      expect(Number.isInteger(delay)).toBe(true);
    }
  });

  it('clamps a random source that strays outside [0, 1)', () => {
    expect(computeBackoffMs(0, { baseMs: 100, maxMs: 1_000, random: () => 7 })).toBe(100);
    expect(computeBackoffMs(0, { baseMs: 100, maxMs: 1_000, random: () => -1 })).toBe(0);
  });

  it('treats a negative attempt as the first and rejects negative bounds', () => {
    expect(computeBackoffMs(-3, { baseMs: 100, maxMs: 1_000, random: almostOne })).toBe(99);
    expect(() => computeBackoffMs(0, { baseMs: -1, maxMs: 1_000 })).toThrow(RangeError);
    expect(() => computeBackoffMs(0, { baseMs: 1, maxMs: Number.NaN })).toThrow(RangeError);
  });

  it('uses Math.random by default', () => {
    const delay = computeBackoffMs(2, { baseMs: 10, maxMs: 1_000 });
    expect(delay).toBeGreaterThanOrEqual(0);
    expect(delay).toBeLessThanOrEqual(40);
  });
});

describe('retryAfterMs', () => {
  const now = Date.UTC(2026, 0, 15, 12, 0, 0);

  it.each([
    { header: undefined, expected: undefined },
    { header: '', expected: undefined },
    { header: 'soon', expected: undefined },
    { header: '3', expected: 3_000 },
    { header: ' 0 ', expected: 0 },
    { header: ['2', '9'], expected: 2_000 },
    { header: new Date(now + 4_000).toUTCString(), expected: 4_000 },
    { header: new Date(now - 60_000).toUTCString(), expected: 0 },
  ])('reads $header as $expected ms', ({ header, expected }) => {
    expect(retryAfterMs(header, now)).toBe(expected);
  });
});
