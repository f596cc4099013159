// Who is calling: an API key, the operator's admin token, or nobody. Same rules for HTTP and WebSocket.
import { timingSafeEqual, createHash } from 'node:crypto';
import type { ApiKeys } from '../auth/api-keys.js';

export interface Caller {
  apiKeyId: string | null;
  isAdmin: boolean;
  /** True when credentials were presented but are not valid (unknown or revoked key, wrong token). */
  rejected: boolean;
}

const ANONYMOUS: Caller = { apiKeyId: null, isAdmin: false, rejected: false };

/** Extracts the token from "Bearer <token>" (case-insensitive scheme); null when absent or malformed. */
export function bearerToken(header: unknown): string | null {
  if (typeof header !== 'string') return null;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header.trim());
  return match?.[1] ?? null;
}

const digest = (s: string) => createHash('sha256').update(s).digest();

export function createCallerResolver({ apiKeys, adminToken }: { apiKeys: ApiKeys; adminToken: string | undefined }) {
  const adminDigest = adminToken ? digest(adminToken) : null;
  return async function resolveCaller(authorization: unknown): Promise<Caller> {
    if (authorization === undefined || authorization === null || authorization === '') return ANONYMOUS;
    const token = bearerToken(authorization);
    if (token === null) return { ...ANONYMOUS, rejected: true };
    // The common case first, without hashing: a key this process validated a moment ago. (The admin
    // token is the operator's own secret; it is never also an API key.)
    const recent = apiKeys.recentlyValid(token);
    if (recent) return { apiKeyId: recent, isAdmin: false, rejected: false };
    // Compare digests so the comparison takes the same time whatever the token's length.
    if (adminDigest && timingSafeEqual(digest(token), adminDigest)) return { apiKeyId: null, isAdmin: true, rejected: false };
    const apiKeyId = await apiKeys.authenticate(token);
    return apiKeyId ? { apiKeyId, isAdmin: false, rejected: false } : { ...ANONYMOUS, rejected: true };
  };
}

export type CallerResolver = ReturnType<typeof createCallerResolver>;
