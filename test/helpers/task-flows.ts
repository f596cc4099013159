// Steps the task-lifecycle tests share: submit, read the account, read the ledger, read a stream.
import { GENERATE_VIDEO, ME, VIDEO_TASK, type GenerateVideoData, type MeData, type TaskFields } from './operations.js';
import type { TestGateway } from './start-gateway.js';
import { ledgerTotals } from './store-audit.js';
import type { GraphqlPayload, SubscriptionOutcome } from './subscription-collector.js';

/** Poll soon and often, so a task's whole life fits in a test. */
export const FAST_POLLING = { POLL_FIRST_DELAY_MS: '20', POLL_MAX_INTERVAL_MS: '50' };
/** KLING_V1, standard, 5 s: the cheapest task in the price table (api.md), PRICE credits. */
export const CHEAP = { model: 'KLING_V1', mode: 'STANDARD', durationSeconds: 5 };
export const PRICE = 10;

export interface TaskUpdatedData {
  taskUpdated: TaskFields;
}

/** Submits a task and returns it; throws with the answer when the gateway did not accept it. */
export async function generateTask(t: TestGateway, key: string, input: Record<string, unknown>): Promise<TaskFields> {
  const res = await t.graphql<GenerateVideoData>(GENERATE_VIDEO, { input }, key);
  const task = res.body.data?.generateVideo.task;
  if (!task) throw new Error(`generateVideo did not return a task: ${JSON.stringify(res.body)}`);
  return task;
}

export async function readTask(t: TestGateway, key: string, id: string): Promise<TaskFields | null> {
  const res = await t.graphql<{ videoTask: TaskFields | null }>(VIDEO_TASK, { id }, key);
  return res.body.data?.videoTask ?? null;
}

export async function readAccount(t: TestGateway, key: string): Promise<MeData['me'] | undefined> {
  return (await t.graphql<MeData>(ME, {}, key)).body.data?.me;
}

/** The key's ledger summed per kind: what was held, charged and refunded. */
export async function ledgerOf(t: TestGateway, key: string) {
  const apiKeyId = await t.gateway.apiKeys.authenticate(key);
  if (!apiKeyId) throw new Error('unknown API key');
  return ledgerTotals(t.gateway.store, apiKeyId);
}

/** The Kling task id the gateway stored for one of its tasks. */
export async function klingIdOf(t: TestGateway, taskId: string): Promise<string> {
  const row = await t.gateway.store.getTask(taskId);
  if (!row?.klingTaskId) throw new Error(`task ${taskId} has no Kling task id`);
  return row.klingTaskId;
}

export const statusOf = (payload: GraphqlPayload<TaskUpdatedData>) => payload.data?.taskUpdated.status;

export const isStatus =
  (...statuses: string[]) =>
  (payload: GraphqlPayload<TaskUpdatedData>) =>
    statuses.includes(statusOf(payload) ?? '');

export const statusesOf = (outcome: SubscriptionOutcome<TaskUpdatedData>) => outcome.results.map(statusOf);

export function lastTaskOf(outcome: SubscriptionOutcome<TaskUpdatedData>): TaskFields | undefined {
  return outcome.results.at(-1)?.data?.taskUpdated;
}

/**
 * The GraphQL errors an operation ended with, whichever way the transport reports them: graphql-ws
 * as an `error` message, SSE as a `next` payload with `errors`.
 */
export function graphqlErrorsOf(outcome: SubscriptionOutcome<unknown>): { message: string; extensions?: Record<string, unknown> }[] {
  if (Array.isArray(outcome.error)) return outcome.error as { message: string; extensions?: Record<string, unknown> }[];
  return outcome.results.flatMap((payload) => payload.errors ?? []);
}

/**
 * Runs `steps` with the gateway's poller stopped, then starts it again. Nothing the poller does (a
 * status check, a queue hand-over) can happen meanwhile, so what a test sets up does not depend on
 * how fast the machine is; a task Kling finished in that time is simply noticed afterwards.
 */
export async function withPollerHeld<T>(t: TestGateway, steps: () => Promise<T>): Promise<T> {
  await t.gateway.poller.stop();
  try {
    return await steps();
  } finally {
    t.gateway.poller.start();
  }
}
