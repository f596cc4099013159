import { describe, expect, it } from 'vitest';
import { signWebhook, verifyWebhook, webhookHeaders } from '../../src/webhooks/signature.js';

// Kling's published Standard Webhooks test vector (kling-api.md section 8).
const VECTOR = {
  secret: 'whsec_dGVzdHNlY3JldHRlc3RzZWNyZXR0ZXN0c2VjcmV0MTI=',
  id: '9876543210',
  timestampSeconds: 1781080794,
  body: '{"id":"1234567890","status":"succeeded","message":"","create_time":1781080778802,"update_time":1781080794151}',
};
const SIGNATURE = 'v1,UsKlJP00XoQyOn410NM9xv34sP+Gl0jnOO9Lcpr7NJ4=';
const AT_VECTOR_TIME = VECTOR.timestampSeconds * 1000;

describe('webhook signature', () => {
  it('matches the official test vector', () => {
    expect(signWebhook(VECTOR)).toBe(SIGNATURE);
  });

  it('signs the same with or without the whsec_ prefix', () => {
    expect(signWebhook({ ...VECTOR, secret: VECTOR.secret.slice('whsec_'.length) })).toBe(SIGNATURE);
  });

  it('produces the three Standard Webhooks headers', () => {
    expect(webhookHeaders(VECTOR)).toEqual({
      'webhook-id': '9876543210',
      'webhook-timestamp': '1781080794',
      'webhook-signature': SIGNATURE,
    });
  });

  it('verifies the vector, matching header names case-insensitively', () => {
    const headers = { 'Webhook-Id': VECTOR.id, 'WEBHOOK-TIMESTAMP': String(VECTOR.timestampSeconds), 'webhook-signature': SIGNATURE };
    expect(verifyWebhook({ secret: VECTOR.secret, headers, body: VECTOR.body, nowMs: AT_VECTOR_TIME })).toEqual({
      ok: true,
      id: VECTOR.id,
      timestampSeconds: VECTOR.timestampSeconds,
    });
  });

  it('accepts any matching entry of a rotated signature list', () => {
    const headers = { ...webhookHeaders(VECTOR), 'webhook-signature': `v1,c29tZXRoaW5nZWxzZQ== v2,abc ${SIGNATURE}` };
    expect(verifyWebhook({ secret: VECTOR.secret, headers, body: VECTOR.body, nowMs: AT_VECTOR_TIME }).ok).toBe(true);
  });

  it.each([
    ['a changed body', { body: VECTOR.body.replace('succeeded', 'failed') }, 'bad-signature'],
    ['another secret', { secret: 'whsec_' + Buffer.from('another-secret-of-some-length').toString('base64') }, 'bad-signature'],
    ['a timestamp over five minutes old', { nowMs: AT_VECTOR_TIME + 301_000 }, 'stale-timestamp'],
    ['a timestamp over five minutes ahead', { nowMs: AT_VECTOR_TIME - 301_000 }, 'stale-timestamp'],
    ['no signature header', { headers: { 'webhook-id': VECTOR.id, 'webhook-timestamp': String(VECTOR.timestampSeconds) } }, 'missing-headers'],
  ])('rejects %s', (_name, change, reason) => {
    const input = { secret: VECTOR.secret, headers: webhookHeaders(VECTOR), body: VECTOR.body, nowMs: AT_VECTOR_TIME, ...change };
    expect(verifyWebhook(input)).toEqual({ ok: false, reason });
  });
});
