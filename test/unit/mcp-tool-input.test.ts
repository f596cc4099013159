import { describe, expect, it } from 'vitest';
import { MODEL_CAPABILITIES, VIDEO_MODELS } from '../../src/catalog/models.js';
import { inToolTerms, toGenerateInputRaw, toToolIssues } from '../../src/mcp/tool-input.js';
import { checkGenerateInput } from '../../src/tasks/input.js';

describe('MCP tool input', () => {
  it.each(VIDEO_MODELS)('maps the Kling name of %s onto the model', (model) => {
    const mapped = toGenerateInputRaw({ prompt: 'x', model: MODEL_CAPABILITIES[model].klingName });
    expect(mapped).toMatchObject({ ok: true, raw: { model } });
  });

  it('maps the seed’s fields onto the GraphQL input', () => {
    expect(
      toGenerateInputRaw({
        prompt: 'A fox',
        negative_prompt: 'blur',
        mode: 'pro',
        aspect_ratio: '9:16',
        duration: 10,
        cfg_scale: 0.4,
        generate_audio: false,
        callback_url: 'https://example.com/hook',
        idempotency_key: 'k1',
      }),
    ).toEqual({
      ok: true,
      raw: {
        prompt: 'A fox',
        negativePrompt: 'blur',
        model: undefined,
        mode: 'PROFESSIONAL',
        aspectRatio: 'RATIO_9_16',
        durationSeconds: 10,
        cfgScale: 0.4,
        cameraControl: undefined,
        generateAudio: false,
        webhookUrl: 'https://example.com/hook',
        idempotencyKey: 'k1',
      },
    });
  });

  it('reads camera_control the same from an object and from its JSON string', () => {
    const camera = { type: 'simple', config: { zoom: 4 } } as const;
    const fromObject = toGenerateInputRaw({ prompt: 'x', camera_control: camera });
    const fromString = toGenerateInputRaw({ prompt: 'x', camera_control: JSON.stringify(camera) });
    expect(fromObject).toEqual(fromString);
    expect(fromObject).toMatchObject({ ok: true, raw: { cameraControl: { type: 'SIMPLE', config: { zoom: 4 } } } });
    expect(toGenerateInputRaw({ prompt: 'x', camera_control: '{"type":"down_back"}' })).toMatchObject({
      ok: true,
      raw: { cameraControl: { type: 'DOWN_BACK' } },
    });
  });

  it.each([
    ['not json', 'camera_control'],
    ['{"type":"sideways"}', 'camera_control.type'],
    ['{"type":"simple","config":{"zooom":1}}', 'camera_control.config'],
  ])('names the field of a bad camera_control string %s', (value, field) => {
    const mapped = toGenerateInputRaw({ prompt: 'x', camera_control: value });
    expect(mapped.ok).toBe(false);
    if (!mapped.ok) expect(mapped.issues[0]?.field).toBe(field);
  });

  it('names the rules’ issues with the tools’ field and value names', () => {
    const mapped = toGenerateInputRaw({
      prompt: 'x',
      model: 'kling-v1',
      duration: 5,
      camera_control: { type: 'simple', config: { horizontal: 11 } },
      callback_url: 'ftp://x',
    });
    if (!mapped.ok) throw new Error('mapping failed');
    const checked = checkGenerateInput(mapped.raw);
    if (checked.ok) throw new Error('expected issues');
    expect(toToolIssues(checked.issues).map((i) => i.field)).toEqual(['camera_control.config.horizontal', 'callback_url']);
    expect(inToolTerms('KLING_V2_6 generates audio only in mode PROFESSIONAL.')).toBe('kling-v2-6 generates audio only in mode pro.');
    expect(inToolTerms('KLING_V1_6 takes durationSeconds 5, 10.')).toBe('kling-v1-6 takes duration 5, 10.');
  });
});
