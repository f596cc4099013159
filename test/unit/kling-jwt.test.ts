import { decodeProtectedHeader, jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import type { Clock } from '../../src/clock.js';
import { createKlingTokenSigner } from '../../src/kling/jwt.js';

const accessKey = 'ak-test';
const secretKey = 'sk-test-secret';
const key = new TextEncoder().encode(secretKey);

/** Time moves only when the test says so. */
function manualClock(startMs: number) {
  let nowMs = startMs;
  const clock: Clock = {
    now: () => nowMs,
    sleep: () => Promise.resolve(),
  };
  return {
    clock,
    advanceSeconds: (seconds: number) => {
      nowMs += seconds * 1000;
    },
  };
}

// An instant with a fractional second, so truncation to whole seconds is exercised.
const start = Date.UTC(2026, 0, 15, 12, 0, 0) + 750;
const startSeconds = Math.floor(start / 1000);

describe('createKlingTokenSigner', () => {
  it('signs HS256 with exactly iss, exp = now+1800 s and nbf = now-5 s', async () => {
    const { clock } = manualClock(start);
    const token = await createKlingTokenSigner({ accessKey, secretKey, clock }).token();

    const { payload, protectedHeader } = await jwtVerify(token, key, {
      algorithms: ['HS256'],
      issuer: accessKey,
      currentDate: new Date(start),
    });
    expect(protectedHeader).toEqual({ alg: 'HS256', typ: 'JWT' });
    expect(payload).toEqual({ iss: accessKey, exp: startSeconds + 1800, nbf: startSeconds - 5 });
  });

  it('honours custom lifetime and skew', async () => {
    const { clock } = manualClock(start);
    const signer = createKlingTokenSigner({ accessKey, secretKey, clock, lifetimeSeconds: 600, notBeforeSkewSeconds: 30, refreshBeforeExpirySeconds: 60 });
    const { payload } = await jwtVerify(await signer.token(), key, { currentDate: new Date(start) });
    expect(payload.exp).toBe(startSeconds + 600);
    expect(payload.nbf).toBe(startSeconds - 30);
  });

  it('produces a token another secret cannot verify', async () => {
    const { clock } = manualClock(start);
    const token = await createKlingTokenSigner({ accessKey, secretKey, clock }).token();
    await expect(jwtVerify(token, new TextEncoder().encode('other'), { currentDate: new Date(start) })).rejects.toThrow();
    expect(decodeProtectedHeader(token).alg).toBe('HS256');
  });

  it('reuses the token until the refresh margin, then signs a new one', async () => {
    const { clock, advanceSeconds } = manualClock(start);
    const signer = createKlingTokenSigner({ accessKey, secretKey, clock });
    const first = await signer.token();

    advanceSeconds(1800 - 300 - 1); // one second before the 300 s refresh margin
    expect(await signer.token()).toBe(first);

    advanceSeconds(1);
    const second = await signer.token();
    expect(second).not.toBe(first);
    const { payload } = await jwtVerify(second, key, { currentDate: new Date(clock.now()) });
    expect(payload.exp).toBe(startSeconds + 1500 + 1800);
  });

  it('shares one signing between concurrent callers', async () => {
    const { clock } = manualClock(start);
    const signer = createKlingTokenSigner({ accessKey, secretKey, clock });
    const tokens = await Promise.all([signer.token(), signer.token(), signer.token()]);
    expect(new Set(tokens).size).toBe(1);
  });

  it('signs afresh after invalidate()', async () => {
    const { clock, advanceSeconds } = manualClock(start);
    const signer = createKlingTokenSigner({ accessKey, secretKey, clock });
    const first = await signer.token();
    advanceSeconds(1); // same claims in the same second would give the same token
    signer.invalidate(first);
    const second = await signer.token();
    expect(second).not.toBe(first);
    expect(await signer.token()).toBe(second);
  });

  it('ignores invalidate() for a token that has already been replaced', async () => {
    const { clock, advanceSeconds } = manualClock(start);
    const signer = createKlingTokenSigner({ accessKey, secretKey, clock });
    const first = await signer.token();
    advanceSeconds(1);
    signer.invalidate(first);
    const second = await signer.token();
    signer.invalidate(first); // a late refusal of the old token
    expect(await signer.token()).toBe(second);
  });

  it('rejects empty keys and a refresh margin longer than the lifetime', () => {
    const { clock } = manualClock(start);
    expect(() => createKlingTokenSigner({ accessKey: '', secretKey, clock })).toThrow();
    expect(() => createKlingTokenSigner({ accessKey, secretKey: '', clock })).toThrow();
    expect(() => createKlingTokenSigner({ accessKey, secretKey, clock, lifetimeSeconds: 300 })).toThrow(RangeError);
  });
});
