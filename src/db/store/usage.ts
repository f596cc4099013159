// Reports: a key's settled charges for usage, and the totals over every key that metrics show.
import { and, eq, gte, lt, sql } from 'drizzle-orm';
import type { TaskStatus } from '../task-status.js';
import { first, toNumber, type StoreContext } from './context.js';

export function createUsage({ dialect, run }: StoreContext) {
  const { apiKeys, creditLedger, tasks } = dialect.tables;

  return {
    /** The key's settled charges in [from, to), with what each task was, for usage reports. */
    async chargesForKey(apiKeyId: string, from: number, to: number) {
      return run((db) =>
        db
          .select({
            amount: creditLedger.amount,
            chargedAt: creditLedger.createdAt,
            model: tasks.model,
            durationSeconds: tasks.durationSeconds,
            status: tasks.status,
          })
          .from(creditLedger)
          .innerJoin(tasks, eq(tasks.id, creditLedger.taskId))
          .where(
            and(
              eq(creditLedger.apiKeyId, apiKeyId),
              eq(creditLedger.kind, 'charge'),
              gte(creditLedger.createdAt, from),
              lt(creditLedger.createdAt, to),
            ),
          ),
      );
    },

    /** Tasks per status over every key, for metrics; a status with no tasks is absent. */
    async countTasksByStatus(): Promise<Partial<Record<TaskStatus, number>>> {
      const rows = await run((db) => db.select({ status: tasks.status, n: sql`count(*)` }).from(tasks).groupBy(tasks.status));
      return Object.fromEntries(rows.map((row) => [row.status, toNumber(row.n)]));
    },

    /** Credits held for open tasks and charged so far, summed over every key, for metrics. */
    async creditTotals(): Promise<{ held: number; charged: number }> {
      return run(async (db) => {
        const row = first(
          await db
            .select({ held: sql`coalesce(sum(${apiKeys.creditsHeld}), 0)`, charged: sql`coalesce(sum(${apiKeys.creditsUsed}), 0)` })
            .from(apiKeys),
        );
        return { held: toNumber(row?.held ?? 0), charged: toNumber(row?.charged ?? 0) };
      });
    },
  };
}
