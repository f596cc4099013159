// The credit ledger and the hold: every credit change writes its ledger row in the transaction that
// makes it, so every balance can be recomputed from the ledger.
import { and, eq, gte, sql } from 'drizzle-orm';
import type { SqliteDb } from '../dialect.js';
import type { LedgerKind } from '../schema.js';
import type { StoreContext } from './context.js';

export type Settlement = 'charge' | 'refund';

export function createLedger({ dialect }: StoreContext) {
  const { apiKeys, creditLedger } = dialect.tables;
  // The statements of every submit and every status change, built once (see byShape for the latter).
  const placeholder = sql.placeholder;
  const ledgerRow = dialect.prepareIn<{ id: number }>('ledger_insert', (db) =>
    db
      .insert(creditLedger)
      .values({
        apiKeyId: placeholder('apiKeyId'),
        taskId: placeholder('taskId'),
        kind: placeholder('kind'),
        amount: placeholder('amount'),
        createdAt: placeholder('createdAt'),
      })
      .returning({ id: creditLedger.id }),
  );

  const ledger = (tx: SqliteDb, apiKeyId: string, taskId: string | null, kind: LedgerKind, amount: number, now: number) =>
    ledgerRow(tx, { apiKeyId, taskId, kind, amount, createdAt: now });
  /** Moves `credits` of the key's balance to held when the balance covers them; returns the key's slots in use. */
  const holdCredits = dialect.prepareIn<{ slotsInUse: number }>('hold_credits', (db) =>
    db
      .update(apiKeys)
      .set({
        creditBalance: sql`${apiKeys.creditBalance} - ${placeholder('credits')}`,
        creditsHeld: sql`${apiKeys.creditsHeld} + ${placeholder('credits')}`,
      })
      .where(and(eq(apiKeys.id, placeholder('apiKeyId')), gte(apiKeys.creditBalance, placeholder('credits'))))
      .returning({ slotsInUse: apiKeys.slotsInUse }),
  );

  return { ledger, holdCredits };
}

export type Ledger = ReturnType<typeof createLedger>;
