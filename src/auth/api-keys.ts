// Bearer API keys: random, shown once, stored as a SHA-256 hash, looked up through a small cache.
import { createHash, randomBytes } from 'node:crypto';
import type { Clock } from '../clock.js';
import type { ApiKeyRow } from '../db/schema.js';
import type { Store } from '../db/store.js';

/** Recognisable in logs, secret scanners and support tickets. */
export const API_KEY_PREFIX = 'kgw_';
const KEY_PREFIX_SHOWN = API_KEY_PREFIX.length + 6;

export function generateApiKey(): string {
  return API_KEY_PREFIX + randomBytes(32).toString('base64url');
}

/** 256 random bits make a slow password hash pointless; SHA-256 keeps lookups cheap. */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

export function newId(prefix: string): string {
  return prefix + randomBytes(16).toString('base64url');
}

export interface Account {
  id: string;
  name: string;
  creditBalance: number;
  creditsHeld: number;
  creditsUsed: number;
  createdAt: number;
  revokedAt: number | null;
  keyPrefix: string;
}

export function toAccount(row: ApiKeyRow): Account {
  return {
    id: row.id,
    name: row.name,
    creditBalance: row.creditBalance,
    creditsHeld: row.creditsHeld,
    creditsUsed: row.creditsUsed,
    createdAt: row.createdAt,
    revokedAt: row.revokedAt,
    keyPrefix: row.keyPrefix,
  };
}

export interface ApiKeysOptions {
  store: Store;
  clock: Clock;
  /**
   * How long a successful lookup is trusted. Revocation through this process clears it at once;
   * other processes (the keys CLI, other instances) see a revocation within this time.
   * @default 5_000
   */
  cacheTtlMs?: number;
  /** @default 10_000 */
  cacheMaxEntries?: number;
}

export function createApiKeys({ store, clock, cacheTtlMs = 5_000, cacheMaxEntries = 10_000 }: ApiKeysOptions) {
  // Keyed by the presented key itself, so a hit costs no hash: every authenticated request asks.
  // Only keys that were valid get in, so random guesses cannot crowd it.
  const cache = new Map<string, { keyId: string; expiresAt: number }>();

  const forget = (keyId: string) => {
    for (const [presented, entry] of cache) if (entry.keyId === keyId) cache.delete(presented);
  };

  return {
    async create(name: string, credits: number): Promise<{ key: string; account: Account }> {
      const key = generateApiKey();
      const row = await store.insertApiKey(
        {
          id: newId('key_'),
          name,
          keyHash: hashApiKey(key),
          keyPrefix: key.slice(0, KEY_PREFIX_SHOWN),
          webhookSecret: 'whsec_' + randomBytes(24).toString('base64'),
          createdAt: clock.now(),
        },
        credits,
      );
      return { key, account: toAccount(row) };
    },

    /** The key id for a presented key, or null for a missing, unknown or revoked key. */
    async authenticate(presented: string | null | undefined): Promise<string | null> {
      if (!presented?.startsWith(API_KEY_PREFIX)) return null;
      const now = clock.now();
      const cached = cache.get(presented);
      if (cached && cached.expiresAt > now) return cached.keyId;
      const row = await store.findApiKeyByHash(hashApiKey(presented));
      if (!row || row.revokedAt !== null) {
        cache.delete(presented);
        return null;
      }
      if (cache.size >= cacheMaxEntries) cache.delete(cache.keys().next().value ?? '');
      cache.set(presented, { keyId: row.id, expiresAt: now + cacheTtlMs });
      return row.id;
    },

    /** The key id of a presented key this process validated within the cache's time, else null; no I/O. */
    recentlyValid(presented: string): string | null {
      const cached = cache.get(presented);
      return cached && cached.expiresAt > clock.now() ? cached.keyId : null;
    },

    async account(keyId: string): Promise<Account | null> {
      const row = await store.getApiKey(keyId);
      return row ? toAccount(row) : null;
    },

    async find(idOrName: string): Promise<Account | null> {
      const row = await store.findApiKey(idOrName);
      return row ? toAccount(row) : null;
    },

    async list(): Promise<Account[]> {
      return (await store.listApiKeys()).map(toAccount);
    },

    async grant(keyId: string, credits: number): Promise<Account | null> {
      const row = await store.grantCredits(keyId, credits, clock.now());
      return row ? toAccount(row) : null;
    },

    async revoke(keyId: string): Promise<Account | null> {
      const row = await store.revokeApiKey(keyId, clock.now());
      forget(keyId);
      return row ? toAccount(row) : null;
    },
  };
}

export type ApiKeys = ReturnType<typeof createApiKeys>;
