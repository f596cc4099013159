// Who is calling: an API key, the operator's admin token, or nobody. Same rules for HTTP and WebSocket.
import { timingSafeEqual, createHash } from 'node:crypto';
import { RateLimiterMemory, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { ApiKeys } from '../auth/api-keys.js';

export interface Caller {
  apiKeyId: string | null;
  isAdmin: boolean;
  /** True when credentials were presented but are not valid (unknown or revoked key, wrong token). */
  rejected: boolean;
  /**
   * Set (with `rejected`) when the client address presented too many wrong tokens lately: the token
   * was not even compared, and the answer is 429 with Retry-After this many seconds.
   */
  throttledSeconds?: number;
}

/** Wrong bearer tokens (admin-token or key guesses) one client address may present per window. */
export const AUTH_FAILURE_POINTS = 10;
export const AUTH_FAILURE_WINDOW_SECONDS = 60;

export function createAuthFailureLimiter(): RateLimiterAbstract {
  return new RateLimiterMemory({ keyPrefix: 'auth-failures', points: AUTH_FAILURE_POINTS, duration: AUTH_FAILURE_WINDOW_SECONDS });
}

const ANONYMOUS: Caller = { apiKeyId: null, isAdmin: false, rejected: false };

/** Extracts the token from "Bearer <token>" (case-insensitive scheme); null when absent or malformed. */
export function bearerToken(header: unknown): string | null {
  if (typeof header !== 'string') return null;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header.trim());
  return match?.[1] ?? null;
}

/**
 * The `authorization` entry of graphql-ws connectionParams, its name matched case-insensitively as
 * HTTP header names are (clients copy their `Authorization` header there). Two entries with different
 * values answer both, which no bearer token parses from, so the caller is rejected rather than guessed.
 */
export function authorizationParam(params: Readonly<Record<string, unknown>> | undefined): unknown {
  if (!params) return undefined;
  const values = Object.keys(params)
    .filter((name) => name.toLowerCase() === 'authorization')
    .map((name) => params[name]);
  return new Set(values).size > 1 ? values : values[0];
}

const digest = (s: string) => createHash('sha256').update(s).digest();

export interface CallerResolverOptions {
  apiKeys: ApiKeys;
  adminToken: string | undefined;
  /**
   * Counts wrong bearer tokens per client address; once it is spent the address gets 429 without its
   * token being compared, so the admin token (or a key) cannot be guessed at speed. One per process
   * (createAuthFailureLimiter) unless given, e.g. on Redis to share it between instances.
   */
  failureLimiter?: RateLimiterAbstract | undefined;
}

export function createCallerResolver({ apiKeys, adminToken, failureLimiter = createAuthFailureLimiter() }: CallerResolverOptions) {
  const adminDigest = adminToken ? digest(adminToken) : null;
  const throttled = async (address: string): Promise<number | null> => {
    const res = await failureLimiter.get(address).catch(() => null);
    return res && res.remainingPoints <= 0 && res.msBeforeNext > 0 ? Math.max(1, Math.ceil(res.msBeforeNext / 1000)) : null;
  };
  const failed = (address: string | undefined): Caller => {
    if (address) {
      // Only counting: whether this very attempt went over is told on the address's next request.
      failureLimiter.consume(address).catch(() => undefined);
    }
    return { ...ANONYMOUS, rejected: true };
  };
  /** `address` is the client's (the socket's remote address); without it nothing is throttled. */
  return async function resolveCaller(authorization: unknown, address?: string): Promise<Caller> {
    if (authorization === undefined || authorization === null || authorization === '') return ANONYMOUS;
    const token = bearerToken(authorization);
    if (token === null) return { ...ANONYMOUS, rejected: true };
    // The common case first, without hashing: a key this process validated a moment ago. (The admin
    // token is the operator's own secret; it is never also an API key.) Not throttled: it tells a
    // guesser nothing it did not know.
    const recent = apiKeys.recentlyValid(token);
    if (recent) return { apiKeyId: recent, isAdmin: false, rejected: false };
    if (address) {
      const retryAfter = await throttled(address);
      if (retryAfter !== null) return { ...ANONYMOUS, rejected: true, throttledSeconds: retryAfter };
    }
    // Compare digests so the comparison takes the same time whatever the token's length.
    if (adminDigest && timingSafeEqual(digest(token), adminDigest)) return { apiKeyId: null, isAdmin: true, rejected: false };
    const apiKeyId = await apiKeys.authenticate(token);
    return apiKeyId ? { apiKeyId, isAdmin: false, rejected: false } : failed(address);
  };
}

export type CallerResolver = ReturnType<typeof createCallerResolver>;
