import { describe, expect, it } from 'vitest';
import { signWebhook } from '../../src/kling/simulator/webhook-signature.js';

describe('simulator webhook signature', () => {
  it("matches Kling's published Standard Webhooks test vector", () => {
    expect(
      signWebhook({
        secret: 'whsec_dGVzdHNlY3JldHRlc3RzZWNyZXR0ZXN0c2VjcmV0MTI=',
        id: '9876543210',
        timestampSeconds: 1781080794,
        body: '{"id":"1234567890","status":"succeeded","message":"","create_time":1781080778802,"update_time":1781080794151}',
      }),
    ).toBe('v1,UsKlJP00XoQyOn410NM9xv34sP+Gl0jnOO9Lcpr7NJ4=');
  });
});
