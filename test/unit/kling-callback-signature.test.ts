import { createHmac } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { systemClock, type Clock } from '../../src/clock.js';
import { createKlingCallbackVerifier } from '../../src/tasks/kling-callback-signature.js';

// Kling's published test vector (kling-api.md section 8).
const SECRET = 'whsec_dGVzdHNlY3JldHRlc3RzZWNyZXR0ZXN0c2VjcmV0MTI=';
const ID = '9876543210';
const TIMESTAMP = 1781080794;
const BODY = '{"id":"1234567890","status":"succeeded","message":"","create_time":1781080778802,"update_time":1781080794151}';
const SIGNATURE = 'v1,UsKlJP00XoQyOn410NM9xv34sP+Gl0jnOO9Lcpr7NJ4=';

const clockAt = (seconds: number): Clock => ({ now: () => seconds * 1000, sleep: (ms, signal) => systemClock.sleep(ms, signal) });
const verifyAt = (seconds: number, headers: Record<string, string>, body: string | Uint8Array = BODY) =>
  createKlingCallbackVerifier({ secret: SECRET, clock: clockAt(seconds) })(headers, typeof body === 'string' ? Buffer.from(body) : body);
const headers = (signature = SIGNATURE) => ({ 'webhook-id': ID, 'webhook-timestamp': String(TIMESTAMP), 'webhook-signature': signature });

describe("Kling's callback signature", () => {
  it("accepts Kling's official test vector, over the raw body bytes", () => {
    expect(verifyAt(TIMESTAMP, headers())).toEqual({ ok: true, id: ID, timestampSeconds: TIMESTAMP });
  });

  it('takes the header names in any case', () => {
    const mixed = { 'Webhook-Id': ID, 'WEBHOOK-TIMESTAMP': String(TIMESTAMP), 'Webhook-Signature': SIGNATURE };
    expect(verifyAt(TIMESTAMP, mixed)).toMatchObject({ ok: true });
  });

  it('passes when any of several space-separated v1 entries matches (a secret rotation)', () => {
    const other = 'v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=';
    expect(verifyAt(TIMESTAMP, headers(`${other} ${SIGNATURE}`))).toMatchObject({ ok: true });
    expect(verifyAt(TIMESTAMP, headers(`${SIGNATURE} ${other}`))).toMatchObject({ ok: true });
    expect(verifyAt(TIMESTAMP, headers(other))).toEqual({ ok: false, reason: 'bad-signature' });
    // Only v1 entries count, whatever value another version carries.
    expect(verifyAt(TIMESTAMP, headers(SIGNATURE.replace(/^v1,/, 'v2,')))).toEqual({ ok: false, reason: 'bad-signature' });
  });

  it('judges the timestamp by the injected clock: 5 minutes either way and no more', () => {
    for (const skew of [-300, 0, 300]) expect(verifyAt(TIMESTAMP + skew, headers())).toMatchObject({ ok: true });
    for (const skew of [-301, 301]) expect(verifyAt(TIMESTAMP + skew, headers())).toEqual({ ok: false, reason: 'stale-timestamp' });
  });

  it('refuses another body under the same headers, down to one byte', () => {
    expect(verifyAt(TIMESTAMP, headers(), BODY.replace('succeeded', 'succeedeD'))).toEqual({ ok: false, reason: 'bad-signature' });
    expect(verifyAt(TIMESTAMP, headers(), `${BODY}\n`)).toEqual({ ok: false, reason: 'bad-signature' });
  });

  it('refuses a callback missing any of the three headers', () => {
    for (const name of ['webhook-id', 'webhook-timestamp', 'webhook-signature'] as const) {
      const { [name]: _dropped, ...rest } = headers();
      expect(verifyAt(TIMESTAMP, rest)).toEqual({ ok: false, reason: 'missing-headers' });
    }
    expect(verifyAt(TIMESTAMP, { ...headers(), 'webhook-timestamp': '1781080794.5' })).toEqual({ ok: false, reason: 'missing-headers' });
  });

  it('checks bytes, not text: a body that is not valid UTF-8 verifies as sent', () => {
    const body = Buffer.concat([Buffer.from('{"x":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]);
    const key = Buffer.from(SECRET.slice('whsec_'.length), 'base64');
    const mac = createHmac('sha256', key).update(`${ID}.${TIMESTAMP}.`).update(body).digest('base64');
    expect(verifyAt(TIMESTAMP, headers(`v1,${mac}`), body)).toMatchObject({ ok: true });
    // Decoded and re-encoded, the same body is other bytes (U+FFFD for each invalid one) and fails.
    expect(verifyAt(TIMESTAMP, headers(`v1,${mac}`), body.toString('utf8'))).toEqual({ ok: false, reason: 'bad-signature' });
  });

  it('accepts what the standardwebhooks library signs', () => {
    const signature = new Webhook(SECRET).sign(ID, new Date(TIMESTAMP * 1000), BODY);
    expect(signature).toBe(SIGNATURE);
    expect(verifyAt(TIMESTAMP, headers(signature))).toMatchObject({ ok: true });
  });
});
