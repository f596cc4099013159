import { describe, expect, it } from 'vitest';
import { ZodError } from 'zod';
import { VIDEO_MODELS, type VideoMode, type VideoModel } from '../../src/catalog/models.js';
import {
  createPricing,
  DEFAULT_PRICE_TABLE,
  loadPriceTable,
  PriceUnavailableError,
  type PriceQuery,
} from '../../src/credits/pricing.js';

const pricing = createPricing();

const query = (model: VideoModel, mode: VideoMode, durationSeconds: number, generateAudio = false): PriceQuery => ({
  model,
  mode,
  durationSeconds,
  generateAudio,
});

describe('the default price table is 10 x Kling units (kling-api.md section 9)', () => {
  // [model, mode, seconds, audio, Kling units, credits]
  it.each<[VideoModel, VideoMode, number, boolean, number, number]>([
    // the seed's table for KLING_V1
    ['KLING_V1', 'STANDARD', 5, false, 1, 10],
    ['KLING_V1', 'PROFESSIONAL', 5, false, 3.5, 35],
    ['KLING_V1', 'STANDARD', 10, false, 2, 20],
    ['KLING_V1', 'PROFESSIONAL', 10, false, 7, 70],
    ['KLING_V1_6', 'STANDARD', 5, false, 2, 20],
    ['KLING_V1_6', 'STANDARD', 10, false, 4, 40],
    ['KLING_V1_6', 'PROFESSIONAL', 5, false, 3.5, 35],
    ['KLING_V1_6', 'PROFESSIONAL', 10, false, 7, 70],
    ['KLING_V2_MASTER', 'STANDARD', 5, false, 10, 100],
    ['KLING_V2_MASTER', 'STANDARD', 10, false, 20, 200],
    ['KLING_V2_1_MASTER', 'STANDARD', 5, false, 10, 100],
    ['KLING_V2_1_MASTER', 'STANDARD', 10, false, 20, 200],
    ['KLING_V2_5_TURBO', 'STANDARD', 5, false, 1.5, 15],
    ['KLING_V2_5_TURBO', 'STANDARD', 10, false, 3, 30],
    ['KLING_V2_5_TURBO', 'PROFESSIONAL', 5, false, 2.5, 25],
    ['KLING_V2_5_TURBO', 'PROFESSIONAL', 10, false, 5, 50],
    ['KLING_V2_6', 'STANDARD', 5, false, 1.5, 15],
    ['KLING_V2_6', 'STANDARD', 10, false, 3, 30],
    ['KLING_V2_6', 'PROFESSIONAL', 5, false, 2.5, 25],
    ['KLING_V2_6', 'PROFESSIONAL', 10, false, 5, 50],
    ['KLING_V2_6', 'PROFESSIONAL', 5, true, 5, 50],
    ['KLING_V2_6', 'PROFESSIONAL', 10, true, 10, 100],
    // KLING_V3 is priced per second, so every duration is pro rata
    ['KLING_V3', 'STANDARD', 3, false, 1.8, 18],
    ['KLING_V3', 'STANDARD', 5, false, 3, 30],
    ['KLING_V3', 'STANDARD', 5, true, 4.5, 45],
    ['KLING_V3', 'STANDARD', 15, true, 13.5, 135],
    ['KLING_V3', 'PROFESSIONAL', 7, false, 5.6, 56],
    ['KLING_V3', 'PROFESSIONAL', 15, false, 12, 120],
    ['KLING_V3', 'PROFESSIONAL', 15, true, 18, 180],
  ])('%s %s %i s audio=%s costs %d units = %i credits', (model, mode, seconds, audio, _units, credits) => {
    expect(pricing.quote(query(model, mode, seconds, audio)).credits).toBe(credits);
  });

  it('reports the rate it used', () => {
    expect(pricing.quote(query('KLING_V3', 'PROFESSIONAL', 15, true))).toEqual({ credits: 180, creditsPerSecond: 12 });
    expect(pricing.quote(query('KLING_V1', 'STANDARD', 5))).toEqual({ credits: 10, creditsPerSecond: 2 });
  });

  it('prices the unpublished omni models like KLING_V3 and says so', () => {
    for (const model of ['KLING_V3_OMNI', 'KLING_VIDEO_O1'] as const) {
      for (const mode of ['STANDARD', 'PROFESSIONAL'] as const) {
        expect(pricing.quote(query(model, mode, 5)).credits).toBe(pricing.quote(query('KLING_V3', mode, 5)).credits);
        expect(DEFAULT_PRICE_TABLE[model][mode]?.source).toMatch(/operator/);
      }
    }
  });

  it('uses the default table when none is given', () => {
    expect(createPricing().table).toBe(DEFAULT_PRICE_TABLE);
  });
});

describe('a combination the table does not price', () => {
  it.each<[string, PriceQuery]>([
    ['audio on KLING_V1', query('KLING_V1', 'STANDARD', 5, true)],
    ['audio on KLING_V2_6 STANDARD', query('KLING_V2_6', 'STANDARD', 5, true)],
    ['audio on KLING_VIDEO_O1', query('KLING_VIDEO_O1', 'PROFESSIONAL', 5, true)],
    ['PROFESSIONAL on KLING_V2_MASTER', query('KLING_V2_MASTER', 'PROFESSIONAL', 5)],
    ['PROFESSIONAL on KLING_V2_1_MASTER', query('KLING_V2_1_MASTER', 'PROFESSIONAL', 10)],
  ])('throws PriceUnavailableError for %s', (_name, q) => {
    expect(() => pricing.quote(q)).toThrow(PriceUnavailableError);
  });

  it('names the model, mode and audio in the error', () => {
    expect(() => pricing.quote(query('KLING_V1', 'PROFESSIONAL', 5, true))).toThrow(
      'No price for KLING_V1 PROFESSIONAL with audio',
    );
  });
});

describe('loadPriceTable', () => {
  it('merges an override of one entry and keeps every other entry', () => {
    const table = loadPriceTable({ KLING_V1: { STANDARD: { creditsPerSecond: 3 } } });
    expect(table.KLING_V1.STANDARD).toEqual({ creditsPerSecond: 3, source: 'operator override' });
    expect(table.KLING_V1.PROFESSIONAL).toEqual(DEFAULT_PRICE_TABLE.KLING_V1.PROFESSIONAL);
    for (const model of VIDEO_MODELS.filter((m) => m !== 'KLING_V1')) expect(table[model], model).toEqual(DEFAULT_PRICE_TABLE[model]);
    expect(createPricing(table).quote(query('KLING_V1', 'STANDARD', 10)).credits).toBe(30);
    expect(createPricing(table).quote(query('KLING_V1', 'PROFESSIONAL', 10)).credits).toBe(70);
  });

  it('can add a mode the defaults leave unpriced, with its own source', () => {
    const table = loadPriceTable({
      KLING_V2_MASTER: { PROFESSIONAL: { creditsPerSecond: 30, source: 'contract 2026-01' } },
    });
    expect(table.KLING_V2_MASTER).toEqual({
      STANDARD: DEFAULT_PRICE_TABLE.KLING_V2_MASTER.STANDARD,
      PROFESSIONAL: { creditsPerSecond: 30, source: 'contract 2026-01' },
    });
  });

  it('leaves the default table untouched', () => {
    const before = structuredClone(DEFAULT_PRICE_TABLE);
    loadPriceTable({ KLING_V3: { STANDARD: { creditsPerSecond: 1, creditsPerSecondWithAudio: 2 } } });
    expect(DEFAULT_PRICE_TABLE).toEqual(before);
  });

  it('returns the defaults for an empty override', () => {
    expect(loadPriceTable({})).toEqual(DEFAULT_PRICE_TABLE);
  });

  it.each<[string, unknown]>([
    ['a negative price', { KLING_V1: { STANDARD: { creditsPerSecond: -2 } } }],
    ['a zero price', { KLING_V1: { STANDARD: { creditsPerSecond: 0 } } }],
    ['a negative audio price', { KLING_V3: { STANDARD: { creditsPerSecond: 6, creditsPerSecondWithAudio: -9 } } }],
    ['a price that is not a number', { KLING_V1: { STANDARD: { creditsPerSecond: '2' } } }],
    ['an entry without creditsPerSecond', { KLING_V1: { STANDARD: { source: 'x' } } }],
    ['an unknown model', { KLING_V9: { STANDARD: { creditsPerSecond: 2 } } }],
    ['an unknown mode', { KLING_V1: { ULTRA: { creditsPerSecond: 2 } } }],
    ['something that is not an object', [1, 2, 3]],
  ])('rejects %s', (_name, override) => {
    expect(() => loadPriceTable(override)).toThrow(ZodError);
  });
});

describe('operator overrides that could misprice', () => {
  it('does not round float noise up to an extra credit', () => {
    const table = loadPriceTable({ KLING_V3: { STANDARD: { creditsPerSecond: 16.6, creditsPerSecondWithAudio: 20 } } });
    expect(createPricing(table).quote({ model: 'KLING_V3', mode: 'STANDARD', durationSeconds: 15, generateAudio: false }).credits).toBe(249);
  });

  it('refuses an override that leaves an accepted combination unpriced', () => {
    expect(() => loadPriceTable({ KLING_V2_6: { PROFESSIONAL: { creditsPerSecond: 6 } } })).toThrow(
      /KLING_V2_6 PROFESSIONAL with audio/,
    );
  });
});
