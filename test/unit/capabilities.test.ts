import { describe, expect, it } from 'vitest';
import {
  capabilitiesOf,
  DEFAULT_MODEL,
  MODEL_CAPABILITIES,
  VIDEO_MODELS,
  VIDEO_MODES,
  type VideoMode,
  type VideoModel,
} from '../../src/catalog/models.js';
import { createPricing, DEFAULT_PRICE_TABLE, PriceUnavailableError } from '../../src/credits/pricing.js';
import { checkGenerateInput } from '../../src/tasks/input.js';

const isSubset = <T>(part: readonly T[], whole: readonly T[]) => part.every((x) => whole.includes(x));
const isSortedUnique = (values: readonly number[]) => values.every((v, i) => i === 0 || v > (values[i - 1] ?? Infinity));

describe('the capability table is consistent for every model', () => {
  it('has exactly one entry per VideoModel', () => {
    expect(Object.keys(MODEL_CAPABILITIES).sort()).toEqual([...VIDEO_MODELS].sort());
    expect(VIDEO_MODELS).toContain(DEFAULT_MODEL);
  });

  it.each(VIDEO_MODELS)('%s: entry names itself, modes and durations are sane, audio and camera stay inside them', (model) => {
    const caps = capabilitiesOf(model);
    expect(caps).toBe(MODEL_CAPABILITIES[model]);
    expect(caps.model).toBe(model);
    expect(caps.modes.length).toBeGreaterThan(0);
    expect(isSubset(caps.modes, VIDEO_MODES)).toBe(true);
    expect(new Set(caps.modes).size).toBe(caps.modes.length);
    expect(caps.durationsSeconds.length).toBeGreaterThan(0);
    expect(isSortedUnique(caps.durationsSeconds)).toBe(true);
    expect(caps.durationsSeconds.every((d) => Number.isInteger(d) && d > 0)).toBe(true);
    expect(caps.durationsSeconds).toContain(5);
    expect(isSubset(caps.audioModes, caps.modes)).toBe(true);
    if (caps.camera) {
      expect(caps.camera.modes.length).toBeGreaterThan(0);
      expect(isSubset(caps.camera.modes, caps.modes)).toBe(true);
      expect(caps.camera.durationsSeconds.length).toBeGreaterThan(0);
      expect(isSubset(caps.camera.durationsSeconds, caps.durationsSeconds)).toBe(true);
    }
  });
});

// kling-api.md section 4.1 (text2video models) and section 3 (the omni-video neighbours).
const KLING_MATRIX: [VideoModel, string, 'text2video' | 'omni-video', readonly number[]][] = [
  ['KLING_V1', 'kling-v1', 'text2video', [5, 10]],
  ['KLING_V1_6', 'kling-v1-6', 'text2video', [5, 10]],
  ['KLING_V2_MASTER', 'kling-v2-master', 'text2video', [5, 10]],
  ['KLING_V2_1_MASTER', 'kling-v2-1-master', 'text2video', [5, 10]],
  ['KLING_V2_5_TURBO', 'kling-v2-5-turbo', 'text2video', [5, 10]],
  ['KLING_V2_6', 'kling-v2-6', 'text2video', [5, 10]],
  ['KLING_V3', 'kling-v3', 'text2video', [3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]],
  ['KLING_V3_OMNI', 'kling-v3-omni', 'omni-video', [3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]],
  ['KLING_VIDEO_O1', 'kling-video-o1', 'omni-video', [5, 10]],
];

describe('the capability table follows kling-api.md section 4.1', () => {
  it('covers every model in the matrix', () => {
    expect(KLING_MATRIX.map(([model]) => model)).toEqual([...VIDEO_MODELS]);
  });

  it.each(KLING_MATRIX)('%s is %s on %s with durations %j', (model, klingName, endpoint, durations) => {
    const caps = capabilitiesOf(model);
    expect(caps.klingName).toBe(klingName);
    expect(caps.endpoint).toBe(endpoint);
    expect(caps.durationsSeconds).toEqual(durations);
  });

  it('offers audio only on KLING_V2_6 PROFESSIONAL and on both KLING_V3 models', () => {
    const audio = Object.fromEntries(VIDEO_MODELS.map((m) => [m, [...capabilitiesOf(m).audioModes]]));
    expect(audio).toEqual({
      KLING_V1: [],
      KLING_V1_6: [],
      KLING_V2_MASTER: [],
      KLING_V2_1_MASTER: [],
      KLING_V2_5_TURBO: [],
      KLING_V2_6: ['PROFESSIONAL'],
      KLING_V3: ['STANDARD', 'PROFESSIONAL'],
      KLING_V3_OMNI: ['STANDARD', 'PROFESSIONAL'],
      KLING_VIDEO_O1: [],
    });
  });

  it('offers camera control only on KLING_V1 STANDARD 5 s', () => {
    const withCamera = VIDEO_MODELS.filter((m) => capabilitiesOf(m).camera !== null);
    expect(withCamera).toEqual(['KLING_V1']);
    expect(capabilitiesOf('KLING_V1').camera).toEqual({ modes: ['STANDARD'], durationsSeconds: [5] });
  });

  it('sends no mode for the v2 master models, which take only STANDARD', () => {
    for (const model of VIDEO_MODELS) {
      const caps = capabilitiesOf(model);
      const master = model === 'KLING_V2_MASTER' || model === 'KLING_V2_1_MASTER';
      expect(caps.sendsMode, model).toBe(!master);
      if (master) expect(caps.modes, model).toEqual(['STANDARD']);
    }
  });

  it('takes cfgScale on KLING_V1 and never on the kling-v2.x family', () => {
    expect(capabilitiesOf('KLING_V1').cfgScale).toBe(true);
    const v2 = VIDEO_MODELS.filter((m) => m.startsWith('KLING_V2'));
    expect(v2).toEqual(['KLING_V2_MASTER', 'KLING_V2_1_MASTER', 'KLING_V2_5_TURBO', 'KLING_V2_6']);
    for (const model of v2) expect(capabilitiesOf(model).cfgScale, model).toBe(false);
  });
});

describe('every input validation accepts can be priced', () => {
  const pricing = createPricing(DEFAULT_PRICE_TABLE);

  it.each(VIDEO_MODELS)('%s: a price exists for each offered mode, and an audio price for each audio mode', (model) => {
    const caps = capabilitiesOf(model);
    for (const mode of caps.modes) expect(DEFAULT_PRICE_TABLE[model][mode]?.creditsPerSecond, mode).toBeGreaterThan(0);
    for (const mode of caps.audioModes)
      expect(DEFAULT_PRICE_TABLE[model][mode]?.creditsPerSecondWithAudio, mode).toBeGreaterThan(0);
  });

  const combinations = VIDEO_MODELS.flatMap((model) =>
    VIDEO_MODES.flatMap((mode: VideoMode) =>
      [false, true].map((generateAudio) => ({ model, mode, generateAudio })),
    ),
  );

  it.each(combinations)(
    '$model $mode audio=$generateAudio: accepted at a duration exactly when it can be quoted',
    ({ model, mode, generateAudio }) => {
      for (const durationSeconds of capabilitiesOf(model).durationsSeconds) {
        const check = checkGenerateInput({ prompt: 'a lighthouse in a storm', model, mode, durationSeconds, generateAudio });
        let credits: number | null = null;
        try {
          credits = pricing.quote({ model, mode, durationSeconds, generateAudio }).credits;
        } catch (error) {
          expect(error).toBeInstanceOf(PriceUnavailableError);
        }
        expect(credits !== null, `${durationSeconds} s`).toBe(check.ok);
        if (credits !== null) {
          expect(Number.isInteger(credits)).toBe(true);
          expect(credits).toBeGreaterThan(0);
        }
      }
    },
  );
});
