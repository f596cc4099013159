// Bearer API keys: random, shown once, stored as a SHA-256 hash, looked up through a small cache.
import { createHash, randomBytes } from 'node:crypto';
import type { Clock } from '../clock.js';
import type { ApiKeyRow } from '../db/schema.js';
import type { Store } from '../db/store.js';
import { MAX_CREDIT_TOTAL } from '../db/store/api-keys.js';
import { ValidationError } from '../errors.js';

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

/**
 * A Standard Webhooks signing secret (`whsec_` + base64 of 24 random bytes). Shown to the key's
 * owner once, at creation or rotation; deliveries are signed with it (webhooks/signature.ts).
 */
export function generateWebhookSecret(): string {
  return 'whsec_' + randomBytes(24).toString('base64');
}

/**
 * The same failure with `secrets` cut out of its message, stack and causes: a failed insert's error
 * carries the statement's parameters (drizzle's "Failed query … params: …"), and whoever catches it
 * logs or prints it whole.
 */
export function withoutSecrets(error: unknown, secrets: readonly string[]): unknown {
  if (!(error instanceof Error)) return error;
  const scrub = (text: string) => secrets.reduce((t, secret) => (secret ? t.split(secret).join('[redacted]') : t), text);
  const clean = new Error(scrub(error.message), error.cause === undefined ? undefined : { cause: withoutSecrets(error.cause, secrets) });
  clean.name = error.name;
  clean.stack = scrub(error.stack ?? '');
  // Keep what identifies the failure (a database's code, constraint, …), scrubbed like the message.
  for (const [field, value] of Object.entries(error)) {
    if (field === 'cause') continue;
    if (typeof value === 'string') Object.assign(clean, { [field]: scrub(value) });
    else if (typeof value === 'number' || typeof value === 'boolean') Object.assign(clean, { [field]: value });
  }
  return clean;
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
   * How long a successful lookup is trusted. Revocation through this process clears it at once, and
   * so does one on another instance when they share Redis (see onRevoked/revokedElsewhere); the keys
   * CLI, and instances without Redis, see a revocation within this time.
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
  /** Told of every revocation, made here or elsewhere: ends the key's open streams. */
  const revokedListeners = new Set<(keyId: string) => void>();
  /** Tells the other instances (Redis pub/sub), when there are any. */
  let broadcast: ((keyId: string) => void) | undefined;
  const notify = (keyId: string) => {
    for (const listener of revokedListeners) listener(keyId);
  };

  return {
    /** The key and its webhook signing secret are returned this once; neither can be read back later. */
    async create(name: string, credits: number): Promise<{ key: string; webhookSecret: string; account: Account }> {
      const key = generateApiKey();
      const keyHash = hashApiKey(key);
      const webhookSecret = generateWebhookSecret();
      let row: ApiKeyRow;
      try {
        row = await store.insertApiKey(
          { id: newId('key_'), name, keyHash, keyPrefix: key.slice(0, KEY_PREFIX_SHOWN), webhookSecret, createdAt: clock.now() },
          credits,
        );
      } catch (error) {
        throw withoutSecrets(error, [webhookSecret, keyHash, key]);
      }
      return { key, webhookSecret, account: toAccount(row) };
    },

    /**
     * Gives the key a new webhook signing secret and returns it (shown this once); deliveries from now
     * on are signed with it. Null for an unknown or revoked key.
     */
    async rotateWebhookSecret(keyId: string): Promise<string | null> {
      const webhookSecret = generateWebhookSecret();
      try {
        return (await store.setWebhookSecret(keyId, webhookSecret)) ? webhookSecret : null;
      } catch (error) {
        throw withoutSecrets(error, [webhookSecret]);
      }
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

    /** Null for an unknown key; a ValidationError, with nothing written, when the key's total would pass MAX_CREDIT_TOTAL. */
    async grant(keyId: string, credits: number): Promise<Account | null> {
      const row = await store.grantCredits(keyId, credits, clock.now());
      if (row) return toAccount(row);
      const existing = await store.getApiKey(keyId);
      if (!existing) return null;
      const total = existing.creditBalance + existing.creditsHeld + existing.creditsUsed;
      throw new ValidationError([
        {
          path: ['credits'],
          message: `Granting ${credits} credits would take this key to ${total + credits} credits in all (balance + held + used); the most a key can hold is ${MAX_CREDIT_TOTAL}.`,
        },
      ]);
    },

    async revoke(keyId: string): Promise<Account | null> {
      const row = await store.revokeApiKey(keyId, clock.now());
      forget(keyId);
      if (row) {
        notify(keyId);
        broadcast?.(keyId);
      }
      return row ? toAccount(row) : null;
    },

    /** Calls `listener` with the key id of every revocation, made here or announced by another instance. */
    onRevoked(listener: (keyId: string) => void): () => void {
      revokedListeners.add(listener);
      return () => revokedListeners.delete(listener);
    },

    /** How revocations made here reach other instances (publishing on Redis). */
    broadcastRevocations(publish: (keyId: string) => void) {
      broadcast = publish;
    },

    /** A revocation made on another instance: the cache forgets the key and its streams end here too. */
    revokedElsewhere(keyId: string) {
      forget(keyId);
      notify(keyId);
    },
  };
}

export type ApiKeys = ReturnType<typeof createApiKeys>;
