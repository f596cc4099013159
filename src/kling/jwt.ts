// Kling's AK/SK bearer token (kling-api.md section 2): HS256 over {iss, exp, nbf}, integer seconds.
import { SignJWT } from 'jose';
import { systemClock, type Clock } from '../clock.js';

export interface KlingTokenSignerOptions {
  /** Kling AccessKey; becomes the `iss` claim. */
  accessKey: string;
  /** Kling SecretKey; the HS256 key. Never logged. */
  secretKey: string;
  /** @default systemClock */
  clock?: Clock;
  /**
   * Seconds from signing to `exp`. Kling's samples use 30 minutes and no server maximum is documented,
   * so going longer risks a rejection we could not predict.
   * @default 1800
   */
  lifetimeSeconds?: number;
  /**
   * Seconds `nbf` is back-dated, so a Kling clock slightly behind ours does not answer 1003.
   * @default 5
   */
  notBeforeSkewSeconds?: number;
  /**
   * A cached token is replaced once it has fewer than this many seconds left, so a token never expires
   * while a slow request (or one waiting in a retry backoff) is still carrying it.
   * @default 300
   */
  refreshBeforeExpirySeconds?: number;
}

interface CachedToken {
  token: string;
  /** `exp` claim, Unix seconds. */
  expiresAt: number;
}

export function createKlingTokenSigner(options: KlingTokenSignerOptions) {
  const {
    accessKey,
    secretKey,
    clock = systemClock,
    lifetimeSeconds = 1800,
    notBeforeSkewSeconds = 5,
    refreshBeforeExpirySeconds = 300,
  } = options;
  if (accessKey === '' || secretKey === '') {
    throw new Error('Kling access key and secret key must both be non-empty');
  }
  if (!(lifetimeSeconds > refreshBeforeExpirySeconds) || refreshBeforeExpirySeconds < 0) {
    throw new RangeError('lifetimeSeconds must exceed refreshBeforeExpirySeconds, which must be >= 0');
  }
  const key = new TextEncoder().encode(secretKey);

  let cached: CachedToken | undefined;
  let signing: Promise<CachedToken> | undefined;

  const nowSeconds = () => Math.floor(clock.now() / 1000);

  async function sign(): Promise<CachedToken> {
    const now = nowSeconds();
    const expiresAt = now + lifetimeSeconds;
    // Exactly the claims of Kling's samples: an iat/sub/aud the server does not expect buys nothing.
    const token = await new SignJWT({ iss: accessKey, exp: expiresAt, nbf: now - notBeforeSkewSeconds })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .sign(key);
    return { token, expiresAt };
  }

  function startSigning(): Promise<CachedToken> {
    const current = sign();
    signing = current;
    current.then(
      (result) => {
        // After an invalidate() during signing, a newer signing owns the cache; this result only serves its own waiters.
        if (signing === current) {
          cached = result;
          signing = undefined;
        }
      },
      () => {
        if (signing === current) signing = undefined;
      },
    );
    return current;
  }

  return {
    /** A valid bearer token; signs a new one only when the cached one is close to expiry. */
    async token(): Promise<string> {
      if (cached !== undefined && nowSeconds() < cached.expiresAt - refreshBeforeExpirySeconds) {
        return cached.token;
      }
      // Concurrent callers share one signing instead of each producing (and caching) its own token.
      const pending = signing ?? startSigning();
      return (await pending).token;
    },

    /**
     * Drops the cached token after Kling refused it (1003/1004). Passing the refused token makes this a
     * no-op once that token is no longer the cached one, so a burst of refusals re-signs once, not once each.
     */
    invalidate(refusedToken?: string): void {
      if (refusedToken !== undefined && cached?.token !== refusedToken) return;
      cached = undefined;
      signing = undefined;
    },
  };
}

export type KlingTokenSigner = ReturnType<typeof createKlingTokenSigner>;
