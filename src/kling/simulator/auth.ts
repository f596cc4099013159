// Kling's AK/SK auth (kling-api.md sections 2 and 12.2): a Bearer HS256 JWT whose `iss` is an
// access key, signed with that key's secret, with exp/nbf in seconds checked against the clock.
import { decodeJwt, errors as joseErrors, jwtVerify } from 'jose';
import type { Clock } from '../../clock.js';

export interface KlingSimulatorKey {
  accessKey: string;
  secretKey: string;
  /**
   * Kling counts concurrency, balance and external ids per account, shared by all its keys.
   * @default the access key itself
   */
  account?: string;
}

export type AuthFailureCode = 1001 | 1002 | 1003 | 1004;

export type AuthResult = { ok: true; account: string } | { ok: false; code: AuthFailureCode; reason: string };

export interface SimulatorAuthOptions {
  keys: readonly KlingSimulatorKey[];
  /** Static API keys (Kling's 2026 alternative), each its own account. */
  apiKeys?: readonly string[] | undefined;
  clock: Clock;
  /** Skew allowed on exp/nbf; Kling documents none. @default 0 */
  clockToleranceSeconds?: number | undefined;
}

interface VerifiedToken {
  account: string;
  exp: number | undefined;
  nbf: number | undefined;
}

/** Bounds the cache of verified tokens; clients reuse a token for ~30 min, so a few distinct ones are typical. */
const MAX_CACHED_TOKENS = 10_000;

export function createSimulatorAuth(options: SimulatorAuthOptions) {
  const tolerance = options.clockToleranceSeconds ?? 0;
  const keysByAccessKey = new Map(options.keys.map((key) => [key.accessKey, key]));
  const apiKeys = new Set(options.apiKeys ?? []);
  const encoder = new TextEncoder();
  // Verifying a signature is the expensive part; a token seen before only needs its times rechecked.
  const verified = new Map<string, VerifiedToken>();

  const fail = (code: AuthFailureCode, reason: string): AuthResult => ({ ok: false, code, reason });

  function timesValid(token: VerifiedToken, nowSeconds: number): boolean {
    return (token.nbf === undefined || token.nbf <= nowSeconds + tolerance) && (token.exp === undefined || token.exp > nowSeconds - tolerance);
  }

  async function verifyJwt(token: string): Promise<AuthResult> {
    let issuer: unknown;
    try {
      issuer = decodeJwt(token).iss;
    } catch {
      return fail(1002, 'token is not a JWT');
    }
    const key = typeof issuer === 'string' ? keysByAccessKey.get(issuer) : undefined;
    if (key === undefined) return fail(1002, 'unknown access key');
    try {
      const { payload } = await jwtVerify(token, encoder.encode(key.secretKey), {
        algorithms: ['HS256'],
        currentDate: new Date(options.clock.now()),
        clockTolerance: tolerance,
      });
      const account = key.account ?? key.accessKey;
      if (verified.size >= MAX_CACHED_TOKENS) verified.clear();
      verified.set(token, { account, exp: payload.exp, nbf: payload.nbf });
      return { ok: true, account };
    } catch (error) {
      if (error instanceof joseErrors.JWTExpired) return fail(1004, 'token expired');
      if (error instanceof joseErrors.JWTClaimValidationFailed && error.claim === 'nbf') return fail(1003, 'token not yet valid');
      if (error instanceof joseErrors.JWSSignatureVerificationFailed) return fail(1002, 'bad signature');
      return fail(1002, error instanceof Error ? error.message : 'invalid token');
    }
  }

  return {
    async authenticate(header: string | undefined): Promise<AuthResult> {
      if (header === undefined || header.trim() === '') return fail(1001, 'missing Authorization header');
      // Kling wants exactly "Bearer <token>" with one space.
      if (!header.startsWith('Bearer ') || header.length === 'Bearer '.length) return fail(1002, 'expected "Bearer <token>"');
      const token = header.slice('Bearer '.length);
      if (apiKeys.has(token)) return { ok: true, account: token };
      const cached = verified.get(token);
      if (cached !== undefined && timesValid(cached, Math.floor(options.clock.now() / 1000))) {
        return { ok: true, account: cached.account };
      }
      return verifyJwt(token);
    },
  };
}

export type SimulatorAuth = ReturnType<typeof createSimulatorAuth>;
