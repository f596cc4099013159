import { describe, expect, it } from 'vitest';
import type { FieldIssue } from '../../src/errors.js';
import {
  checkGenerateInput,
  fingerprintOf,
  generateVideoInputSchema,
  type GenerateRequest,
  type GenerateVideoInputRaw,
} from '../../src/tasks/input.js';

const PROMPT = 'a red fox running through fresh snow at dawn';

/** One emoji is one code point but two UTF-16 units. */
const EMOJI = '\u{1F98A}';
/** Man, woman, girl joined by zero-width joiners: one grapheme, five code points. */
const FAMILY = '\u{1F468}\u200D\u{1F469}\u200D\u{1F467}';

function issuesOf(raw: GenerateVideoInputRaw): FieldIssue[] {
  const result = checkGenerateInput(raw);
  if (result.ok) throw new Error(`expected a rejection, got ${JSON.stringify(result.value)}`);
  return result.issues;
}

function acceptedValue(raw: GenerateVideoInputRaw): GenerateRequest {
  const result = checkGenerateInput(raw);
  if (!result.ok) throw new Error(`expected acceptance, got ${JSON.stringify(result.issues)}`);
  return result.value;
}

interface RejectCase {
  name: string;
  input: Omit<GenerateVideoInputRaw, 'prompt'> & { prompt?: string };
  path: string[];
  message: RegExp;
}

const rejected: RejectCase[] = [
  // prompt and negativePrompt
  { name: 'an empty prompt', input: { prompt: '' }, path: ['prompt'], message: /empty/ },
  { name: 'a whitespace-only prompt', input: { prompt: ' \t\n\u3000 ' }, path: ['prompt'], message: /empty/ },
  { name: 'a prompt of 2501 ASCII characters', input: { prompt: 'a'.repeat(2501) }, path: ['prompt'], message: /2500/ },
  { name: 'a prompt of 2501 emoji (code points, not UTF-16 units)', input: { prompt: EMOJI.repeat(2501) }, path: ['prompt'], message: /2500/ },
  { name: 'a prompt of 501 ZWJ families (2505 code points)', input: { prompt: FAMILY.repeat(501) }, path: ['prompt'], message: /2500/ },
  { name: 'a negativePrompt of 2501 characters', input: { negativePrompt: 'b'.repeat(2501) }, path: ['negativePrompt'], message: /2500/ },
  { name: 'a negativePrompt of 2501 emoji', input: { negativePrompt: EMOJI.repeat(2501) }, path: ['negativePrompt'], message: /2500/ },
  // mode and duration
  { name: 'PROFESSIONAL on KLING_V2_MASTER', input: { model: 'KLING_V2_MASTER', mode: 'PROFESSIONAL' }, path: ['mode'], message: /STANDARD/ },
  { name: 'PROFESSIONAL on KLING_V2_1_MASTER', input: { model: 'KLING_V2_1_MASTER', mode: 'PROFESSIONAL' }, path: ['mode'], message: /STANDARD/ },
  { name: '7 s on KLING_V1', input: { model: 'KLING_V1', durationSeconds: 7 }, path: ['durationSeconds'], message: /5, 10/ },
  { name: '2 s on KLING_V3', input: { model: 'KLING_V3', durationSeconds: 2 }, path: ['durationSeconds'], message: /3 to 15/ },
  { name: '16 s on KLING_V3', input: { model: 'KLING_V3', durationSeconds: 16 }, path: ['durationSeconds'], message: /3 to 15/ },
  { name: '16 s on KLING_V3_OMNI', input: { model: 'KLING_V3_OMNI', durationSeconds: 16 }, path: ['durationSeconds'], message: /3 to 15/ },
  { name: '3 s on KLING_V2_6', input: { model: 'KLING_V2_6', durationSeconds: 3 }, path: ['durationSeconds'], message: /5, 10/ },
  { name: '15 s on KLING_VIDEO_O1', input: { model: 'KLING_VIDEO_O1', durationSeconds: 15 }, path: ['durationSeconds'], message: /5, 10/ },
  { name: 'a fractional duration on KLING_V3', input: { model: 'KLING_V3', durationSeconds: 5.5 }, path: ['durationSeconds'], message: /3 to 15/ },
  // cfgScale
  { name: 'cfgScale -0.1 on KLING_V1', input: { model: 'KLING_V1', cfgScale: -0.1 }, path: ['cfgScale'], message: /between 0 and 1/ },
  { name: 'cfgScale 1.1 on KLING_V1', input: { model: 'KLING_V1', cfgScale: 1.1 }, path: ['cfgScale'], message: /between 0 and 1/ },
  { name: 'cfgScale NaN on KLING_V1_6', input: { model: 'KLING_V1_6', cfgScale: Number.NaN }, path: ['cfgScale'], message: /between 0 and 1/ },
  { name: 'cfgScale on KLING_V2_MASTER (no cfg support)', input: { model: 'KLING_V2_MASTER', cfgScale: 0.5 }, path: ['cfgScale'], message: /does not support cfgScale/ },
  { name: 'cfgScale on KLING_V3 (no cfg support)', input: { model: 'KLING_V3', cfgScale: 0.5 }, path: ['cfgScale'], message: /does not support cfgScale/ },
  // generateAudio
  { name: 'audio on KLING_V2_6 STANDARD', input: { model: 'KLING_V2_6', mode: 'STANDARD', generateAudio: true }, path: ['generateAudio'], message: /only in mode PROFESSIONAL/ },
  { name: 'audio on KLING_V1', input: { model: 'KLING_V1', generateAudio: true }, path: ['generateAudio'], message: /cannot generate audio/ },
  { name: 'audio on KLING_VIDEO_O1', input: { model: 'KLING_VIDEO_O1', mode: 'PROFESSIONAL', generateAudio: true }, path: ['generateAudio'], message: /cannot generate audio/ },
  // cameraControl
  {
    name: 'camera control on a model without it',
    input: { model: 'KLING_V2_6', cameraControl: { type: 'SIMPLE', config: { zoom: 5 } } },
    path: ['cameraControl'],
    message: /does not support camera control/,
  },
  {
    name: 'a camera preset on a model without camera control',
    input: { model: 'KLING_V3', cameraControl: { type: 'FORWARD_UP' } },
    path: ['cameraControl'],
    message: /does not support camera control/,
  },
  {
    name: 'camera control on KLING_V1 PROFESSIONAL',
    input: { model: 'KLING_V1', mode: 'PROFESSIONAL', cameraControl: { type: 'SIMPLE', config: { pan: 3 } } },
    path: ['cameraControl'],
    message: /only in mode STANDARD at 5 s/,
  },
  {
    name: 'camera control on KLING_V1 at 10 s',
    input: { model: 'KLING_V1', durationSeconds: 10, cameraControl: { type: 'DOWN_BACK' } },
    path: ['cameraControl'],
    message: /only in mode STANDARD at 5 s/,
  },
  {
    name: 'SIMPLE without config',
    input: { model: 'KLING_V1', cameraControl: { type: 'SIMPLE' } },
    path: ['cameraControl', 'config'],
    message: /exactly one non-zero/,
  },
  {
    name: 'SIMPLE with a null config',
    input: { model: 'KLING_V1', cameraControl: { type: 'SIMPLE', config: null } },
    path: ['cameraControl', 'config'],
    message: /exactly one non-zero/,
  },
  {
    name: 'SIMPLE with all values zero',
    input: { model: 'KLING_V1', cameraControl: { type: 'SIMPLE', config: { horizontal: 0, vertical: 0, pan: 0, tilt: 0, roll: 0, zoom: 0 } } },
    path: ['cameraControl', 'config'],
    message: /exactly one non-zero value; got 0/,
  },
  {
    name: 'SIMPLE with an empty config',
    input: { model: 'KLING_V1', cameraControl: { type: 'SIMPLE', config: {} } },
    path: ['cameraControl', 'config'],
    message: /exactly one non-zero value; got 0/,
  },
  {
    name: 'SIMPLE with two non-zero values',
    input: { model: 'KLING_V1', cameraControl: { type: 'SIMPLE', config: { pan: 2, tilt: -1 } } },
    path: ['cameraControl', 'config'],
    message: /exactly one non-zero value; got 2/,
  },
  {
    name: 'SIMPLE with zoom 11',
    input: { model: 'KLING_V1', cameraControl: { type: 'SIMPLE', config: { zoom: 11 } } },
    path: ['cameraControl', 'config', 'zoom'],
    message: /between -10 and 10/,
  },
  {
    name: 'SIMPLE with roll -10.5',
    input: { model: 'KLING_V1', cameraControl: { type: 'SIMPLE', config: { roll: -10.5 } } },
    path: ['cameraControl', 'config', 'roll'],
    message: /between -10 and 10/,
  },
  {
    name: 'a preset with a config',
    input: { model: 'KLING_V1', cameraControl: { type: 'RIGHT_TURN_FORWARD', config: { zoom: 3 } } },
    path: ['cameraControl', 'config'],
    message: /preset and takes no config/,
  },
  // webhookUrl
  { name: 'an ftp:// webhook', input: { webhookUrl: 'ftp://example.com/hook' }, path: ['webhookUrl'], message: /http\(s\) URL/ },
  { name: 'a webhook that is not a URL', input: { webhookUrl: 'not a url' }, path: ['webhookUrl'], message: /http\(s\) URL/ },
  { name: 'a javascript: webhook', input: { webhookUrl: 'javascript:alert(1)' }, path: ['webhookUrl'], message: /http\(s\) URL/ },
  { name: 'a relative webhook path', input: { webhookUrl: '/hooks/kling' }, path: ['webhookUrl'], message: /http\(s\) URL/ },
  {
    name: 'a 3000-character webhook',
    input: { webhookUrl: `https://example.com/${'a'.repeat(3000 - 'https://example.com/'.length)}` },
    path: ['webhookUrl'],
    message: /2048/,
  },
  {
    name: 'a 2049-character webhook',
    input: { webhookUrl: `https://example.com/${'a'.repeat(2049 - 'https://example.com/'.length)}` },
    path: ['webhookUrl'],
    message: /2048/,
  },
  { name: 'a loopback webhook', input: { webhookUrl: 'http://127.0.0.1/hook' }, path: ['webhookUrl'], message: /127\.0\.0\.1 is a loopback address/ },
  { name: 'a webhook on another port', input: { webhookUrl: 'https://hooks.example.com:8443/kling' }, path: ['webhookUrl'], message: /port 80 or 443/ },
  { name: 'a webhook with userinfo', input: { webhookUrl: 'https://user:pw@hooks.example.com/' }, path: ['webhookUrl'], message: /user name or password/ },
  { name: 'a metadata-service webhook', input: { webhookUrl: 'http://metadata.google.internal/' }, path: ['webhookUrl'], message: /local name/ },
  // idempotencyKey
  { name: 'an empty idempotencyKey', input: { idempotencyKey: '' }, path: ['idempotencyKey'], message: /1 to 255/ },
  { name: 'a 256-character idempotencyKey', input: { idempotencyKey: 'k'.repeat(256) }, path: ['idempotencyKey'], message: /1 to 255/ },
];

describe('checkGenerateInput rejects each broken rule with one issue on the field to change', () => {
  it.each(rejected)('rejects $name', ({ input, path, message }) => {
    const issues = issuesOf({ prompt: PROMPT, ...input });
    expect(issues).toEqual([{ path, message: expect.stringMatching(message) as unknown }]);
  });
});

interface AcceptCase {
  name: string;
  input: Omit<GenerateVideoInputRaw, 'prompt'> & { prompt?: string };
}

const accepted: AcceptCase[] = [
  { name: 'a prompt of exactly 2500 ASCII characters', input: { prompt: 'a'.repeat(2500) } },
  { name: 'a prompt of 2500 emoji (5000 UTF-16 units)', input: { prompt: EMOJI.repeat(2500) } },
  { name: 'a prompt of 500 ZWJ families (2500 code points)', input: { prompt: FAMILY.repeat(500) } },
  { name: 'a 2500-character prompt with whitespace around it', input: { prompt: `   ${'a'.repeat(2500)}\n` } },
  { name: 'a negativePrompt of 2500 emoji', input: { negativePrompt: EMOJI.repeat(2500) } },
  { name: '3 s on KLING_V3', input: { model: 'KLING_V3', durationSeconds: 3 } },
  { name: '15 s on KLING_V3', input: { model: 'KLING_V3', durationSeconds: 15 } },
  { name: '3 s on KLING_V3_OMNI', input: { model: 'KLING_V3_OMNI', durationSeconds: 3 } },
  { name: '15 s on KLING_V3_OMNI', input: { model: 'KLING_V3_OMNI', durationSeconds: 15 } },
  { name: '10 s on KLING_V1', input: { model: 'KLING_V1', durationSeconds: 10 } },
  { name: 'cfgScale 0 on KLING_V1', input: { model: 'KLING_V1', cfgScale: 0 } },
  { name: 'cfgScale 1 on KLING_V1', input: { model: 'KLING_V1', cfgScale: 1 } },
  { name: 'cfgScale null on a model without cfg support', input: { model: 'KLING_V2_MASTER', cfgScale: null } },
  { name: 'audio on KLING_V2_6 PROFESSIONAL', input: { model: 'KLING_V2_6', mode: 'PROFESSIONAL', generateAudio: true } },
  { name: 'audio on KLING_V3 STANDARD', input: { model: 'KLING_V3', mode: 'STANDARD', generateAudio: true } },
  { name: 'audio on KLING_V3 PROFESSIONAL', input: { model: 'KLING_V3', mode: 'PROFESSIONAL', generateAudio: true } },
  { name: 'audio on KLING_V3_OMNI STANDARD', input: { model: 'KLING_V3_OMNI', mode: 'STANDARD', generateAudio: true } },
  { name: 'generateAudio false on KLING_V1', input: { model: 'KLING_V1', generateAudio: false } },
  {
    name: 'SIMPLE with one non-zero value on KLING_V1 STANDARD 5 s',
    input: { model: 'KLING_V1', mode: 'STANDARD', durationSeconds: 5, cameraControl: { type: 'SIMPLE', config: { zoom: 4 } } },
  },
  {
    name: 'SIMPLE at the edge of the range (-10)',
    input: { model: 'KLING_V1', cameraControl: { type: 'SIMPLE', config: { horizontal: -10, vertical: 0, pan: null } } },
  },
  { name: 'a preset without config', input: { model: 'KLING_V1', cameraControl: { type: 'DOWN_BACK' } } },
  { name: 'a preset with a null config', input: { model: 'KLING_V1', cameraControl: { type: 'LEFT_TURN_FORWARD', config: null } } },
  { name: 'a null cameraControl on a model without camera control', input: { model: 'KLING_V3', cameraControl: null } },
  { name: 'an http webhook', input: { webhookUrl: 'http://hooks.example.com/kling' } },
  { name: 'an https webhook with the default port, query and fragment', input: { webhookUrl: 'https://hooks.example.com:443/kling?x=1#y' } },
  { name: 'a webhook on a public IP address', input: { webhookUrl: 'http://93.184.215.14/kling' } },
  { name: 'a 2048-character webhook', input: { webhookUrl: `https://example.com/${'a'.repeat(2048 - 'https://example.com/'.length)}` } },
  { name: 'a 255-character idempotencyKey', input: { idempotencyKey: 'k'.repeat(255) } },
];

describe('checkGenerateInput accepts what the rules allow', () => {
  it.each(accepted)('accepts $name', ({ input }) => {
    expect(checkGenerateInput({ prompt: PROMPT, ...input })).toMatchObject({ ok: true });
  });
});

describe('checkGenerateInput with several problems', () => {
  it('reports one issue per problem, each on its own field', () => {
    const issues = issuesOf({
      prompt: '   ',
      negativePrompt: 'n'.repeat(2501),
      model: 'KLING_V2_MASTER',
      mode: 'PROFESSIONAL',
      durationSeconds: 7,
      cfgScale: 0.5,
      generateAudio: true,
      cameraControl: { type: 'DOWN_BACK' },
      webhookUrl: 'ftp://example.com',
      idempotencyKey: '',
    });
    expect(issues.map((i) => i.path)).toEqual([
      ['prompt'],
      ['negativePrompt'],
      ['mode'],
      ['durationSeconds'],
      ['cfgScale'],
      ['generateAudio'],
      ['cameraControl'],
      ['webhookUrl'],
      ['idempotencyKey'],
    ]);
    for (const issue of issues) expect(issue.message).toMatch(/\S/);
  });

  it('reports a camera placed wrongly and a broken SIMPLE config separately', () => {
    const issues = issuesOf({
      prompt: PROMPT,
      model: 'KLING_V1',
      mode: 'PROFESSIONAL',
      cameraControl: { type: 'SIMPLE', config: { pan: 1, tilt: 1 } },
    });
    expect(issues.map((i) => i.path)).toEqual([['cameraControl'], ['cameraControl', 'config']]);
  });

  it('reports every out-of-range camera axis', () => {
    const issues = issuesOf({
      prompt: PROMPT,
      model: 'KLING_V1',
      cameraControl: { type: 'SIMPLE', config: { horizontal: 12, zoom: -11 } },
    });
    expect(issues.map((i) => i.path)).toEqual([
      ['cameraControl', 'config', 'horizontal'],
      ['cameraControl', 'config', 'zoom'],
    ]);
  });
});

describe('checkGenerateInput normalises an accepted input', () => {
  it('applies the defaults and trims the prompt', () => {
    expect(acceptedValue({ prompt: `  ${PROMPT}\n\t` })).toEqual({
      prompt: PROMPT,
      negativePrompt: null,
      model: 'KLING_V2_MASTER',
      mode: 'STANDARD',
      aspectRatio: 'RATIO_16_9',
      durationSeconds: 5,
      cfgScale: null,
      cameraControl: null,
      generateAudio: false,
      webhookUrl: null,
      idempotencyKey: null,
    });
  });

  it('treats explicit nulls like absent fields', () => {
    const value = acceptedValue({
      prompt: PROMPT,
      negativePrompt: null,
      model: null,
      mode: null,
      aspectRatio: null,
      durationSeconds: null,
      cfgScale: null,
      cameraControl: null,
      generateAudio: null,
      webhookUrl: null,
      idempotencyKey: null,
    });
    expect(value).toEqual(acceptedValue({ prompt: PROMPT }));
  });

  it('turns a whitespace-only negativePrompt into null and trims the webhook', () => {
    const value = acceptedValue({ prompt: PROMPT, negativePrompt: '   ', webhookUrl: '  https://example.com/hook ' });
    expect(value.negativePrompt).toBeNull();
    expect(value.webhookUrl).toBe('https://example.com/hook');
  });

  it('fills every camera axis of a SIMPLE config, missing ones as 0', () => {
    const value = acceptedValue({ prompt: PROMPT, model: 'KLING_V1', cameraControl: { type: 'SIMPLE', config: { tilt: -2.5 } } });
    expect(value.cameraControl).toEqual({
      type: 'SIMPLE',
      config: { horizontal: 0, vertical: 0, pan: 0, tilt: -2.5, roll: 0, zoom: 0 },
    });
  });

  it('keeps a preset without config', () => {
    const value = acceptedValue({ prompt: PROMPT, model: 'KLING_V1', cameraControl: { type: 'FORWARD_UP' } });
    expect(value.cameraControl).toEqual({ type: 'FORWARD_UP', config: null });
  });
});

describe('generateVideoInputSchema (Standard Schema)', () => {
  const validate = (value: unknown) => generateVideoInputSchema['~standard'].validate(value);

  it('returns the same issue paths as checkGenerateInput', async () => {
    const raw: GenerateVideoInputRaw = {
      prompt: '',
      model: 'KLING_V1',
      durationSeconds: 10,
      cfgScale: 2,
      cameraControl: { type: 'SIMPLE', config: { zoom: 11 } },
    };
    const result = await validate(raw);
    const expected = issuesOf(raw).map((i) => i.path);
    expect(expected).toEqual([['prompt'], ['cfgScale'], ['cameraControl'], ['cameraControl', 'config', 'zoom']]);
    expect(result.issues?.map((i) => i.path)).toEqual(expected);
  });

  it('returns the normalised value and no issues for a valid input', async () => {
    const result = await validate({ prompt: ` ${PROMPT} `, model: 'KLING_V3', durationSeconds: 12 });
    expect(result.issues).toBeUndefined();
    expect(result).toMatchObject({ value: { prompt: PROMPT, model: 'KLING_V3', durationSeconds: 12 } });
  });
});

describe('fingerprintOf', () => {
  const camera = (zoom: number, pan = 0): GenerateVideoInputRaw => ({
    prompt: PROMPT,
    model: 'KLING_V1',
    cameraControl: { type: 'SIMPLE', config: { zoom, pan } },
  });

  it('ignores the idempotency key', () => {
    const a = acceptedValue({ ...camera(3), idempotencyKey: 'first' });
    const b = acceptedValue({ ...camera(3), idempotencyKey: 'second' });
    const c = acceptedValue(camera(3));
    expect(fingerprintOf(a)).toBe(fingerprintOf(b));
    expect(fingerprintOf(a)).toBe(fingerprintOf(c));
  });

  it('is the same for inputs that normalise to the same request', () => {
    const explicit = acceptedValue({
      prompt: PROMPT,
      model: 'KLING_V2_MASTER',
      mode: 'STANDARD',
      aspectRatio: 'RATIO_16_9',
      durationSeconds: 5,
      generateAudio: false,
    });
    const implicit = acceptedValue({ prompt: `\n${PROMPT}   `, negativePrompt: '  ' });
    expect(fingerprintOf(explicit)).toBe(fingerprintOf(implicit));
  });

  it.each<[string, GenerateVideoInputRaw, GenerateVideoInputRaw]>([
    ['a different camera value', camera(3), camera(4)],
    ['a different camera axis', camera(3), camera(0, 3)],
    ['a preset instead of SIMPLE', camera(3), { prompt: PROMPT, model: 'KLING_V1', cameraControl: { type: 'DOWN_BACK' } }],
    ['a different prompt', { prompt: PROMPT }, { prompt: `${PROMPT}!` }],
    ['a different duration', { prompt: PROMPT }, { prompt: PROMPT, durationSeconds: 10 }],
    ['audio on', { prompt: PROMPT, model: 'KLING_V3' }, { prompt: PROMPT, model: 'KLING_V3', generateAudio: true }],
    ['a different webhook', { prompt: PROMPT, webhookUrl: 'https://a.example' }, { prompt: PROMPT, webhookUrl: 'https://b.example' }],
  ])('changes with %s', (_name, a, b) => {
    expect(fingerprintOf(acceptedValue(a))).not.toBe(fingerprintOf(acceptedValue(b)));
  });
});

describe('text that storage cannot hold as given', () => {
  it.each([
    ['prompt', { prompt: 'a\u0000b' }],
    ['negativePrompt', { prompt: 'ok', negativePrompt: 'x\u0000' }],
    ['idempotencyKey', { prompt: 'ok', idempotencyKey: 'k\u0000' }],
  ])('rejects a NUL character in %s', (field, raw) => {
    const result = checkGenerateInput(raw);
    expect(result.ok).toBe(false);
    expect(result.ok ? [] : result.issues.map((i) => i.path)).toEqual([[field]]);
  });
});
