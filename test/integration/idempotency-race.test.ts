// Two gateway instances on one database, one idempotency key, fifty requests at the same moment. The
// requests that lose the race to insert the task hit the unique (key, idempotency key) index; each must
// run again, find the winner's task and replay it, never answer "Unexpected error". On PostgreSQL (the
// race is real there: transactions run side by side) and on one SQLite file shared by both instances.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TASK_STATUSES } from '../../src/db/task-status.js';
import { postGraphql } from '../helpers/graphql-http.js';
import { onTeardown } from '../helpers/leftovers.js';
import { GENERATE_VIDEO, type GenerateVideoData } from '../helpers/operations.js';
import { freshPostgresDatabase, postgresAvailable } from '../helpers/services.js';
import { startGateway } from '../helpers/start-gateway.js';
import { countTasksForKey, ledgerEntriesPerTask, ledgerTotals } from '../helpers/store-audit.js';

const REQUESTS = 50;
const PRICE = 100; // the default model, mode and duration

async function sqliteFile(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'kg-idempotency-race-'));
  onTeardown(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'gateway.db');
}

const databases = [
  { kind: 'PostgreSQL', url: freshPostgresDatabase, available: () => postgresAvailable('idempotency race on PostgreSQL') },
  { kind: 'SQLite', url: sqliteFile, available: () => true },
];

describe.each(databases)('one idempotency key raced on two instances over $kind', ({ url, available }) => {
  it.skipIf(!available())(
    `answers all ${REQUESTS} requests with the one task, holds its price once, and still refuses another input`,
    async () => {
      const settings = { DATABASE_URL: await url(), RATE_LIMIT_POINTS: '1000000', DEMO_KEY: 'false', KEY_MAX_ACTIVE_TASKS: '100' };
      const a = await startGateway({ env: { ...settings, INSTANCE_ID: 'race-a' } });
      const b = await startGateway({ env: { ...settings, INSTANCE_ID: 'race-b' } });
      const key = await a.createKey(1_000);
      const input = { prompt: 'A paper boat in the rain', idempotencyKey: 'order-race' };

      // Each answer as the task id it names, or else as what came instead (an error code, a typename).
      const ids = await Promise.all(
        Array.from({ length: REQUESTS }, async (_, n) => {
          const res = await postGraphql<GenerateVideoData>((n % 2 === 0 ? a : b).url, GENERATE_VIDEO, { input }, { key });
          const answer = res.body.data?.generateVideo;
          if (answer?.__typename === 'GenerateVideoSuccess') return answer.task?.id;
          return String(answer?.__typename ?? res.body.errors?.[0]?.extensions?.['code']);
        }),
      );
      const tally = [...new Set(ids)].map((id) => `${String(id)} ×${ids.filter((other) => other === id).length}`);
      expect(new Set(ids).size, `answers: ${tally.join(', ')}`).toBe(1);
      const [taskId] = ids;
      expect(taskId).toMatch(/^vt_/);

      const keyId = (await a.gateway.apiKeys.authenticate(key)) ?? '';
      expect(await countTasksForKey(a.gateway.store, keyId, TASK_STATUSES)).toBe(1);
      expect((await ledgerTotals(b.gateway.store, keyId)).hold).toBe(PRICE);
      const held = (await ledgerEntriesPerTask(a.gateway.store)).filter((entry) => entry.holds > 0);
      expect(held.map((entry) => [entry.taskId, entry.holds])).toEqual([[taskId, 1]]);

      const conflict = await postGraphql<GenerateVideoData>(b.url, GENERATE_VIDEO, { input: { ...input, prompt: 'A paper plane' } }, { key });
      expect(conflict.body.data?.generateVideo).toMatchObject({ __typename: 'IdempotencyConflictError', code: 'IDEMPOTENCY_CONFLICT' });
      expect(await countTasksForKey(b.gateway.store, keyId, TASK_STATUSES)).toBe(1);
    },
    60_000,
  );
});
