import { describe, expect, it } from 'vitest';
import { checkCreateBody, countChars } from '../../src/kling/simulator/create-rules.js';

describe('simulator create rules', () => {
  it('applies Kling defaults per endpoint', () => {
    const text = checkCreateBody('text2video', { prompt: 'a cat' });
    expect(text).toMatchObject({
      ok: true,
      value: { modelName: 'kling-v1', mode: 'std', aspectRatio: '16:9', durationSeconds: 5, sound: 'off', watermark: false },
    });
    expect(checkCreateBody('omni-video', { prompt: 'a cat' })).toMatchObject({ ok: true, value: { modelName: 'kling-video-o1' } });
  });

  it('gives models without modes no mode', () => {
    expect(checkCreateBody('text2video', { prompt: 'a cat', model_name: 'kling-v2-1-master', mode: 'nonsense' })).toMatchObject({
      ok: true,
      value: { mode: undefined },
    });
  });

  it.each([
    [{ model_name: 'kling-v1' }, 1],
    [{ model_name: 'kling-v1', mode: 'pro', duration: '10' }, 7],
    [{ model_name: 'kling-v1-6', mode: 'pro' }, 3.5],
    [{ model_name: 'kling-v2-master', duration: '10' }, 20],
    [{ model_name: 'kling-v2-5-turbo', mode: 'pro' }, 2.5],
    [{ model_name: 'kling-v2-6', mode: 'pro', sound: 'on', duration: '10' }, 10],
    [{ model_name: 'kling-v3', duration: '3' }, 1.8],
    [{ model_name: 'kling-v3', mode: 'pro', sound: 'on', duration: '15' }, 18],
  ])('prices %o at %d units', (fields, units) => {
    const check = checkCreateBody('text2video', { prompt: 'a cat', ...fields });
    expect(check.ok && check.value.units).toBe(units);
  });

  it('accepts kling-v3 customize multi-shot without a prompt when the shots add up', () => {
    const body = {
      model_name: 'kling-v3',
      duration: '6',
      multi_shot: true,
      shot_type: 'customize',
      multi_prompt: [
        { index: 1, prompt: 'wide shot', duration: '2' },
        { index: 2, prompt: 'close-up', duration: '4' },
      ],
    };
    expect(checkCreateBody('text2video', body).ok).toBe(true);
    expect(checkCreateBody('text2video', { ...body, duration: '7' })).toMatchObject({ ok: false, code: 1201 });
    expect(checkCreateBody('text2video', { ...body, model_name: 'kling-v2-6', duration: '5' })).toMatchObject({ ok: false, code: 1201 });
  });

  it('counts code points', () => {
    expect(countChars('🎬a')).toBe(2);
  });
});
