// The one price table. Credits = 10 x Kling's units (api.md "Credits", kling-api.md section 9), which
// reproduces the seed's KLING_V1 table: 5 s standard 10, professional 35; 10 s standard 20, professional 70.
// Every model is priced per second, so other durations are pro rata.
import { z } from 'zod';
import { MODEL_CAPABILITIES, VIDEO_MODELS, VIDEO_MODES, type VideoMode, type VideoModel } from '../catalog/models.js';

export interface PriceEntry {
  creditsPerSecond: number;
  /** Rate with `generateAudio: true`; absent where the model has no audio in that mode. */
  creditsPerSecondWithAudio?: number | undefined;
  /** Where the figure comes from, shown in the README. */
  source: string;
}

export type PriceTable = Readonly<Record<VideoModel, Partial<Record<VideoMode, PriceEntry>>>>;

export const DEFAULT_PRICE_TABLE: PriceTable = {
  KLING_V1: {
    STANDARD: { creditsPerSecond: 2, source: '1 / 2 units per 5 / 10 s' },
    PROFESSIONAL: { creditsPerSecond: 7, source: '3.5 / 7 units per 5 / 10 s' },
  },
  KLING_V1_6: {
    STANDARD: { creditsPerSecond: 4, source: '2 / 4 units per 5 / 10 s' },
    PROFESSIONAL: { creditsPerSecond: 7, source: '3.5 / 7 units per 5 / 10 s' },
  },
  KLING_V2_MASTER: { STANDARD: { creditsPerSecond: 20, source: '10 / 20 units per 5 / 10 s' } },
  KLING_V2_1_MASTER: { STANDARD: { creditsPerSecond: 20, source: '10 / 20 units per 5 / 10 s' } },
  KLING_V2_5_TURBO: {
    STANDARD: { creditsPerSecond: 3, source: '0.3 units per s' },
    PROFESSIONAL: { creditsPerSecond: 5, source: '0.5 units per s' },
  },
  KLING_V2_6: {
    STANDARD: { creditsPerSecond: 3, source: '1.5 / 3 units per 5 / 10 s, silent' },
    PROFESSIONAL: { creditsPerSecond: 5, creditsPerSecondWithAudio: 10, source: '2.5 / 5 units silent, 5 / 10 with sound' },
  },
  KLING_V3: {
    STANDARD: { creditsPerSecond: 6, creditsPerSecondWithAudio: 9, source: '0.6 units per s, 0.9 with sound' },
    PROFESSIONAL: { creditsPerSecond: 8, creditsPerSecondWithAudio: 12, source: '0.8 units per s, 1.2 with sound' },
  },
  // Kling publishes no price for the omni models: operator-set defaults, priced like KLING_V3.
  KLING_V3_OMNI: {
    STANDARD: { creditsPerSecond: 6, creditsPerSecondWithAudio: 9, source: 'unpublished; operator default (as KLING_V3)' },
    PROFESSIONAL: { creditsPerSecond: 8, creditsPerSecondWithAudio: 12, source: 'unpublished; operator default (as KLING_V3)' },
  },
  KLING_VIDEO_O1: {
    STANDARD: { creditsPerSecond: 6, source: 'unpublished; operator default (as KLING_V3)' },
    PROFESSIONAL: { creditsPerSecond: 8, source: 'unpublished; operator default (as KLING_V3)' },
  },
};

export interface PriceQuery {
  model: VideoModel;
  mode: VideoMode;
  durationSeconds: number;
  generateAudio: boolean;
}

export interface PriceQuote {
  credits: number;
  creditsPerSecond: number;
}

export class PriceUnavailableError extends Error {
  override readonly name = 'PriceUnavailableError';
}

export function createPricing(table: PriceTable = DEFAULT_PRICE_TABLE) {
  return {
    table,
    /** Throws PriceUnavailableError for a combination the table does not price; validation rejects those first. */
    quote(query: PriceQuery): PriceQuote {
      const entry = table[query.model][query.mode];
      const rate = query.generateAudio ? entry?.creditsPerSecondWithAudio : entry?.creditsPerSecond;
      if (rate === undefined) {
        throw new PriceUnavailableError(
          `No price for ${query.model} ${query.mode}${query.generateAudio ? ' with audio' : ''}`,
        );
      }
      // Round away float noise first (16.6 x 15 is 249.00000000000003), then charge whole credits upwards.
      const exact = Math.round(rate * query.durationSeconds * 1e6) / 1e6;
      return { credits: Math.ceil(exact), creditsPerSecond: rate };
    },
  };
}
export type Pricing = ReturnType<typeof createPricing>;

const priceEntrySchema = z.object({
  creditsPerSecond: z.number().positive(),
  creditsPerSecondWithAudio: z.number().positive().optional(),
  source: z.string().default('operator override'),
});
const overrideSchema = z.partialRecord(z.enum(VIDEO_MODELS), z.partialRecord(z.enum(VIDEO_MODES), priceEntrySchema));

/**
 * Merges an operator's override file (JSON, same shape as the table) over the defaults; an entry
 * replaces the default entry for that model and mode whole. Refuses a table that leaves any
 * combination the capability table accepts without a price.
 */
export function loadPriceTable(overrideJson: unknown): PriceTable {
  const override = overrideSchema.parse(overrideJson);
  const merged: Record<VideoModel, Partial<Record<VideoMode, PriceEntry>>> = { ...DEFAULT_PRICE_TABLE };
  for (const model of VIDEO_MODELS) {
    const modes = override[model];
    if (modes) merged[model] = { ...merged[model], ...modes };
  }
  const unpriced: string[] = [];
  for (const model of VIDEO_MODELS) {
    const caps = MODEL_CAPABILITIES[model];
    for (const mode of caps.modes) {
      const entry = merged[model][mode];
      if (!entry) unpriced.push(`${model} ${mode}`);
      else if (caps.audioModes.includes(mode) && entry.creditsPerSecondWithAudio === undefined)
        unpriced.push(`${model} ${mode} with audio`);
    }
  }
  if (unpriced.length > 0) throw new PriceUnavailableError(`The price table leaves unpriced: ${unpriced.join(', ')}`);
  return merged;
}
