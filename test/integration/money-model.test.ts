// A model-based test of the money path. fast-check generates interleavings of what users, Kling and
// time can do; each runs against the REAL gateway services (driven by hand: no HTTP server, no
// background loops) and the REAL Kling simulator over HTTP, on SQLite and on PostgreSQL (two gateway
// instances over one database there). Time is virtual (test/helpers/virtual-time.ts). After every
// command the database and the simulator are audited (test/helpers/money-audit.ts):
//
//   1. a task has one hold and at most one settlement; a terminal task exactly one, an open task
//      none; SUCCEEDED is charged, FAILED refunded, creditsCharged agrees with the ledger;
//   2. a task Kling holds is never refunded, unless Kling failed it;
//   3. no balance goes negative;
//   4. balance + held + used is the key's grant, and held/used agree with the ledger;
//   5. slotsInUse is the number of the key's tasks holding a slot, at most KEY_MAX_ACTIVE_TASKS, and
//      no finished task holds one;
//   6. a charged task was taken by Kling;
//   7. after a drain at the end of each run (Kling normal; a while for tasks to end as they would,
//      then time far past deadline and not-found window, ticks until every task ends), every task
//      is terminal, 1-6 hold, and Kling got at most one task per external id (plus one per task the
//      test made Kling lose).
// Beyond money, marked "+" (MODEL_EXTRA_CHECKS=off leaves them out): a task at Kling holds a slot;
// a task no create was ever tried for ends at once when canceled, and at the first tick past its
// deadline. Commands also check their own results (replays, conflicts, NOT_FOUND for another key,
// insufficient credits exactly when the balance is short, a cancel never leaves a task at Kling open).
//
// Commands: submit (key, idempotency key, [[fail]]/[[reject]] prompts), replay of an idempotent
// submit (same or other input), cancel (own key, or the other key), cancel while the submit's create
// is in flight, a crash (stop and start) while a submit's create is in flight, a tick racing a cancel
// or a submit, Kling's mood (one setting, or a whole new mood: errors, balance, dropped/5002 answers
// after accept, lookup lag, not-found shapes), a callback with Kling's current or a stale view,
// Kling losing a task, time passing, poller ticks (sometimes two at once), restarts.
//
// MODEL_RUNS sets the runs per store (defaults below), MODEL_RUNS_POSTGRES the PostgreSQL runs
// alone (a PostgreSQL run costs about 3x a SQLite run). To replay a failure, pass what fast-check
// printed: MODEL_SEED=<seed> MODEL_PATH=<path> MODEL_REPLAY_PATH=<replayPath> (and -t SQLite or
// -t PostgreSQL). MODEL_TRACE=1 prints what every run did, with real timings.
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc, { type AsyncCommand } from 'fast-check';
import pg from 'pg';
import { afterAll, beforeAll, describe, it, vi } from 'vitest';
import { createGateway, type Gateway } from '../../src/app.js';
import { loadConfig } from '../../src/config/env.js';
import { openPostgres, openSqlite } from '../../src/db/connection.js';
import type { TaskRow } from '../../src/db/schema.js';
import { isTerminal } from '../../src/db/task-status.js';
import { IdempotencyConflictError, InsufficientCreditsError, NotFoundError, UpstreamError } from '../../src/errors.js';
import { createKlingClient } from '../../src/kling/client.js';
import {
  createKlingSimulator,
  DEFAULT_SIMULATOR_KEY,
  FAIL_MARKER,
  REJECT_MARKER,
  type FaultCode,
  type KlingSimulator,
  type KlingSimulatorFaults,
  NOT_FOUND_ANSWERS,
  type NotFoundAnswer,
} from '../../src/kling/simulator/simulator.js';
import type { KlingClient, KlingTask } from '../../src/kling/types.js';
import { checkGenerateInput, type GenerateRequest } from '../../src/tasks/input.js';
import { moneyViolations, snapshotStore, type KlingView } from '../helpers/money-audit.js';
import { freshPostgresDatabase, postgresAvailable } from '../helpers/services.js';
import { createVirtualTime, seededRandom, type VirtualTime } from '../helpers/virtual-time.js';

// ---------------------------------------------------------------------------------------------
// Settings

const runsFrom = (name: string) => (process.env[name] === undefined ? undefined : Number(process.env[name]));
const RUNS = { sqlite: runsFrom('MODEL_RUNS') ?? 120, postgres: runsFrom('MODEL_RUNS_POSTGRES') ?? runsFrom('MODEL_RUNS') ?? 30 };
const REPLAY =
  process.env['MODEL_SEED'] === undefined
    ? {}
    : { seed: Number(process.env['MODEL_SEED']), ...(process.env['MODEL_PATH'] ? { path: process.env['MODEL_PATH'] } : {}), endOnFailure: true };
// The commands' own replay hint, which fast-check prints as a replayPath comment in the counterexample.
const REPLAY_PATH = process.env['MODEL_REPLAY_PATH'] ? { replayPath: process.env['MODEL_REPLAY_PATH'] } : {};
const MAX_COMMANDS = 25;
const TRACE = process.env['MODEL_TRACE'] === '1';
/** Real time one run may take before it counts as hung. */
const RUN_LIMIT_MS = 30_000;
/**
 * Checks beyond money, marked "+": a task no create was ever tried for ends at once when canceled
 * or past its deadline (it cannot be at Kling), and a task at Kling holds one of its key's slots.
 * MODEL_EXTRA_CHECKS=off leaves them out.
 */
const EXTRA_CHECKS = process.env['MODEL_EXTRA_CHECKS'] !== 'off';

const PRICE = 10;
const GRANTS = [50, 30] as const;
const DEADLINE_MS = 60_000;
const NOT_FOUND_WINDOW_MS = 5_000;
const MAX_ACTIVE = 2;
const KLING_TASK_SECONDS = 10;

const GATEWAY_ENV = {
  NODE_ENV: 'test',
  PORT: '0',
  LOG_LEVEL: 'silent',
  METRICS: 'false',
  DEMO_KEY: 'false',
  DATABASE_POOL_SIZE: '4',
  KLING_ACCESS_KEY: DEFAULT_SIMULATOR_KEY.accessKey,
  KLING_SECRET_KEY: DEFAULT_SIMULATOR_KEY.secretKey,
  POLL_FIRST_DELAY_MS: '1000',
  POLL_MAX_INTERVAL_MS: '5000',
  POLL_REQUESTS_PER_SECOND: '100000',
  POLL_LEASE_MS: '5000',
  SUBMIT_LEASE_MS: '3000',
  KEY_MAX_ACTIVE_TASKS: String(MAX_ACTIVE),
  TASK_DEADLINE_SECONDS: String(DEADLINE_MS / 1000),
  UPSTREAM_NOT_FOUND_ANSWERS: '2',
  UPSTREAM_NOT_FOUND_WINDOW_MS: String(NOT_FOUND_WINDOW_MS),
  UPSTREAM_COOL_DOWN_MS: '2000',
} as const;

// ---------------------------------------------------------------------------------------------
// Kling's mood: one setting per dimension; 'normal' resets them all.

const MOODS = [
  'normal',
  '5000',
  '5001',
  '5002',
  '1303',
  '1302',
  'balance-0',
  'balance-topped-up',
  'drop-after-accept',
  '5002-after-accept',
  'lookup-lag',
  'not-found-1203',
  'not-found-1201',
  'not-found-empty',
] as const;
type MoodChange = (typeof MOODS)[number];

interface Mood {
  errors: FaultCode | null;
  afterAccept: 'answer' | 'drop' | 'timeout';
  balanceEmpty: boolean;
  lagMs: number;
  notFound: NotFoundAnswer;
}

const NORMAL: Mood = { errors: null, afterAccept: 'answer', balanceEmpty: false, lagMs: 0, notFound: 'code-1203' };

function changeMood(mood: Mood, change: MoodChange, lagMs: number): Mood {
  switch (change) {
    case 'normal':
      return NORMAL;
    case '5000':
    case '5001':
    case '5002':
    case '1303':
    case '1302':
      return { ...mood, errors: Number(change) as FaultCode };
    case 'balance-0':
      return { ...mood, balanceEmpty: true };
    case 'balance-topped-up':
      return { ...mood, balanceEmpty: false };
    case 'drop-after-accept':
      return { ...mood, afterAccept: 'drop' };
    case '5002-after-accept':
      return { ...mood, afterAccept: 'timeout' };
    case 'lookup-lag':
      return { ...mood, lagMs };
    case 'not-found-1203':
      return { ...mood, notFound: 'code-1203' };
    case 'not-found-1201':
      return { ...mood, notFound: 'code-1201' };
    case 'not-found-empty':
      return { ...mood, notFound: 'empty-data' };
  }
}

/** Rates are 0 or 1 only, so the simulator's dice (shared by every run) never decide an outcome. */
function faultsOf(mood: Mood, latencyMs?: number): KlingSimulatorFaults {
  return {
    errorRates: mood.errors === null ? {} : { [mood.errors]: 1 },
    dropAfterAcceptRate: mood.afterAccept === 'drop' ? 1 : 0,
    timeoutAfterAcceptRate: mood.afterAccept === 'timeout' ? 1 : 0,
    ...(latencyMs === undefined ? {} : { latencyMs: { min: latencyMs, max: latencyMs } }),
  };
}

function applyMood(simulator: KlingSimulator, mood: Mood, latencyMs?: number) {
  simulator.setFaults(faultsOf(mood, latencyMs));
  simulator.setBalance(mood.balanceEmpty ? 0 : undefined);
  simulator.setLookups({ notFoundAnswer: mood.notFound, lookupLagMs: mood.lagMs });
}

// ---------------------------------------------------------------------------------------------
// The world: one simulator and virtual time per store, fresh gateways and database per run.

interface StoreFixture {
  kind: 'sqlite' | 'postgres';
  instances: number;
  /** A fresh, migrated database for one run; returns its DATABASE_URL. */
  freshDatabase(run: number): Promise<string>;
  /** After the run's gateways have stopped. */
  release(url: string): Promise<void>;
  close(): Promise<void>;
}

interface Shared {
  time: VirtualTime;
  simulator: KlingSimulator;
  simulatorUrl: string;
  /** Reads Kling's task list for the audit, with faults switched off meanwhile. */
  auditor: KlingClient;
  fixture: StoreFixture;
  runs: number;
}

interface World {
  shared: Shared;
  databaseUrl: string;
  instanceIds: string[];
  instances: Gateway[];
  /** Each instance's Kling client. */
  clients: KlingClient[];
  /** Tasks some instance asked its Kling client to create (whether or not the create got out). */
  createsTried: Set<string>;
  /** Tasks whose submit a crash cut short: whether a create got out, the gateway cannot know. */
  interrupted: Set<string>;
  /** The simulator's createsAccepted before the run. */
  createsBefore: number;
  keys: { id: string; grant: number }[];
  mood: Mood;
  /** Tasks the test made Kling lose, per external id. */
  forgotten: Map<string, number>;
  /** Kling's views of our tasks seen by callbacks and forgets: stale callbacks replay them. */
  views: { taskId: string; body: Record<string, unknown> }[];
  /** Virtual time at the start of the run, and what each command did. */
  startedAt: number;
  trace: string[];
}

interface KnownTask {
  id: string;
  keyIndex: number;
}

interface IdempotentSubmit {
  keyIndex: number;
  request: GenerateRequest;
  /** The task it stored; null when it stored nothing (not enough credits). */
  taskId: string | null;
}

interface Model {
  tasks: KnownTask[];
  idempotent: IdempotentSubmit[];
  counter: number;
}

function configFor(shared: Shared, databaseUrl: string, instanceId: string) {
  return loadConfig({ ...GATEWAY_ENV, KLING_BASE_URL: shared.simulatorUrl, DATABASE_URL: databaseUrl, INSTANCE_ID: instanceId });
}

/**
 * A gateway instance with its own Kling client, built as app.ts builds it, which also notes every
 * task it was asked to create: a task never in that set cannot be at Kling, and the gateway has no
 * reason to treat it as maybe sent.
 */
async function startInstance(shared: Shared, databaseUrl: string, instanceId: string, createsTried: Set<string>) {
  const config = configFor(shared, databaseUrl, instanceId);
  const client = createKlingClient({
    baseUrl: config.kling.baseUrl,
    accessKey: DEFAULT_SIMULATOR_KEY.accessKey,
    secretKey: DEFAULT_SIMULATOR_KEY.secretKey,
    clock: shared.time.gatewayClock,
    timeouts: { connectMs: config.kling.connectTimeoutMs, headersMs: config.kling.requestTimeoutMs, bodyMs: config.kling.requestTimeoutMs },
    connections: config.kling.connections,
    // As in app.ts.
    retry: { maxAttempts: 3, baseMs: 200, maxMs: 5_000 },
    userAgent: `kling-gateway (${instanceId})`,
  });
  const kling: KlingClient = {
    ...client,
    createTask(create, options) {
      createsTried.add(create.externalTaskId);
      return client.createTask(create, options);
    },
  };
  const gateway = await createGateway(config, { clock: shared.time.gatewayClock, kling });
  return { gateway, client };
}

/** Stops an instance: its database closes at once, its Kling connections after (a given client is not the gateway's to close). */
async function stopInstance(world: World, n: number) {
  await world.instances[n]?.stop();
  await world.clients[n]?.close();
}

async function restartInstance(world: World, n: number) {
  const started = await startInstance(world.shared, world.databaseUrl, world.instanceIds[n] ?? 'embedded', world.createsTried);
  world.instances[n] = started.gateway;
  world.clients[n] = started.client;
}

async function createWorld(shared: Shared, run: number): Promise<World> {
  applyMood(shared.simulator, NORMAL);
  const databaseUrl = await shared.fixture.freshDatabase(run);
  const instanceIds = shared.fixture.instances === 1 ? ['embedded'] : ['mm-a', 'mm-b'];
  const createsTried = new Set<string>();
  const started = await Promise.all(instanceIds.map((id) => startInstance(shared, databaseUrl, id, createsTried)));
  const instances = started.map((instance) => instance.gateway);
  const first = instances[0] as Gateway;
  const keys: World['keys'] = [];
  for (const [n, grant] of GRANTS.entries()) {
    const { account } = await first.apiKeys.create(`model-${n}`, grant);
    keys.push({ id: account.id, grant });
  }
  return {
    shared,
    databaseUrl,
    instanceIds,
    instances,
    clients: started.map((instance) => instance.client),
    keys,
    mood: NORMAL,
    forgotten: new Map(),
    views: [],
    createsTried,
    interrupted: new Set(),
    createsBefore: shared.simulator.stats.createsAccepted,
    startedAt: shared.time.now(),
    trace: [],
  };
}

async function disposeWorld(world: World) {
  await Promise.all(world.instances.map((_, n) => stopInstance(world, n)));
  applyMood(world.shared.simulator, NORMAL);
  await world.shared.fixture.release(world.databaseUrl);
}

const instanceOf = (world: World, n: number) => world.instances[n % world.instances.length] as Gateway;
const storeOf = (world: World) => (world.instances[0] as Gateway).store;
const keyOf = (world: World, keyIndex: number) => world.keys[keyIndex] as { id: string; grant: number };

function request(prompt: string, idempotencyKey: string | null): GenerateRequest {
  const checked = checkGenerateInput({ prompt, model: 'KLING_V1', mode: 'STANDARD', durationSeconds: 5, idempotencyKey });
  if (!checked.ok) throw new Error(`the model's request is invalid: ${JSON.stringify(checked.issues)}`);
  return checked.value;
}

type PromptKind = 'plain' | 'fail' | 'reject';
const promptOf = (n: number, kind: PromptKind) =>
  `model task ${n}${kind === 'fail' ? ` ${FAIL_MARKER}` : kind === 'reject' ? ` ${REJECT_MARKER}` : ''}`;

/** Kling's tasks as a query would show them now, by external id (our task id). */
async function klingView(world: World): Promise<KlingView> {
  const { simulator, auditor } = world.shared;
  // Kling's list is newest first, and this run's tasks are the newest: as many as it created is enough.
  const createdThisRun = simulator.stats.createsAccepted - world.createsBefore;
  if (createdThisRun > 500) throw new Error(`a run created ${createdThisRun} tasks at Kling, more than one page shows`);
  let listed: KlingTask[] = [];
  if (createdThisRun > 0) {
    const faults = simulator.faults;
    simulator.setFaults({});
    try {
      listed = await auditor.listTasks('text2video', { pageSize: createdThisRun });
    } finally {
      simulator.setFaults(faults);
    }
  }
  const holds = new Map<string, KlingTask>();
  for (const task of listed) if (task.externalTaskId !== undefined && !holds.has(task.externalTaskId)) holds.set(task.externalTaskId, task);
  return { holds, created: simulator.stats.tasksPerExternalId, forgotten: world.forgotten };
}

async function audit(world: World, final: boolean) {
  const snapshot = await snapshotStore(storeOf(world), world.keys);
  const problems = moneyViolations(snapshot, await klingView(world), { maxActivePerKey: MAX_ACTIVE, final, extra: EXTRA_CHECKS });
  if (problems.length > 0) throw new Error(`${problems.join('\n')}\n${traceOf(world)}`);
}

const traceOf = (world: World) => `--- what happened (virtual ms since the start of the run) ---\n${world.trace.join('\n')}`;

class PostconditionError extends Error {
  override readonly name = 'PostconditionError';
}
function expectThat(condition: boolean, message: string): asserts condition {
  if (!condition) throw new PostconditionError(message);
}

// ---------------------------------------------------------------------------------------------
// Submitting, shared by submit, replay and cancel-during-submit.

type SubmitOutcome =
  | { kind: 'task'; id: string; status: string }
  | { kind: 'refused'; id: string }
  | { kind: 'insufficient' }
  | { kind: 'conflict' };

async function submitOutcome(gateway: Gateway, keyId: string, req: GenerateRequest): Promise<SubmitOutcome> {
  try {
    const view = await gateway.tasks.submit(keyId, req);
    return { kind: 'task', id: view.id, status: view.status };
  } catch (error) {
    if (error instanceof InsufficientCreditsError) return { kind: 'insufficient' };
    if (error instanceof IdempotencyConflictError) return { kind: 'conflict' };
    if (error instanceof UpstreamError && error.taskId !== null) return { kind: 'refused', id: error.taskId };
    throw error;
  }
}

const describeOutcome = (outcome: SubmitOutcome) =>
  outcome.kind === 'task' ? `${outcome.id} ${outcome.status}` : outcome.kind === 'refused' ? `${outcome.id} refused` : outcome.kind;

function remember(model: Model, keyIndex: number, outcome: SubmitOutcome) {
  if (outcome.kind !== 'task' && outcome.kind !== 'refused') return;
  if (!model.tasks.some((task) => task.id === outcome.id)) model.tasks.push({ id: outcome.id, keyIndex });
}

/**
 * A fresh submit (no stored task behind its idempotency key): what must follow from the balance
 * before it. With `balanceMayRise` a tick ran alongside and may have refunded something meanwhile.
 */
function checkFreshSubmit(outcome: SubmitOutcome, balanceBefore: number, prompt: string, balanceMayRise = false) {
  expectThat(outcome.kind !== 'conflict', 'a fresh idempotency key was a conflict');
  const insufficient = outcome.kind === 'insufficient';
  expectThat(
    balanceMayRise ? !insufficient || balanceBefore < PRICE : insufficient === balanceBefore < PRICE,
    `balance ${balanceBefore} before the submit, outcome ${describeOutcome(outcome)}`,
  );
  if (outcome.kind === 'refused') expectThat(prompt.includes(REJECT_MARKER), `Kling refused a task without ${REJECT_MARKER}`);
  if (outcome.kind === 'task') expectThat(outcome.status !== 'FAILED' || !prompt.includes(REJECT_MARKER), 'a refused task came back without an error');
}

async function balanceOf(world: World, keyIndex: number) {
  return (await storeOf(world).getApiKey(keyOf(world, keyIndex).id))?.creditBalance ?? Number.NaN;
}

function note(world: World, line: string) {
  world.trace.push(`${String(world.shared.time.now() - world.startedAt).padStart(8)} ${line}`);
}

// ---------------------------------------------------------------------------------------------
// Commands

type ModelCommand = AsyncCommand<Model, World>;

abstract class Audited implements ModelCommand {
  abstract check(model: Readonly<Model>): boolean;
  abstract act(model: Model, world: World): Promise<string>;
  abstract toString(): string;
  async run(model: Model, world: World): Promise<void> {
    const started = performance.now();
    let outcome: string;
    try {
      outcome = await this.act(model, world);
    } catch (error) {
      note(world, `${this.toString()} -> ${error instanceof Error ? error.name : 'error'}`);
      throw error instanceof PostconditionError ? new PostconditionError(`${error.message}\n${traceOf(world)}`) : error;
    }
    const acted = performance.now();
    note(world, `${this.toString()} -> ${outcome}`);
    await audit(world, false);
    if (TRACE) note(world, `  (${(acted - started).toFixed(1)} ms real, audit ${(performance.now() - acted).toFixed(1)} ms)`);
  }
}

class Submit extends Audited {
  constructor(
    readonly keyIndex: number,
    readonly prompt: PromptKind,
    readonly idempotent: boolean,
    readonly via: number,
  ) {
    super();
  }
  check() {
    return true;
  }
  async act(model: Model, world: World) {
    const n = ++model.counter;
    const req = request(promptOf(n, this.prompt), this.idempotent ? `idem-${n}` : null);
    world.shared.time.advance(1);
    const before = await balanceOf(world, this.keyIndex);
    const outcome = await submitOutcome(instanceOf(world, this.via), keyOf(world, this.keyIndex).id, req);
    checkFreshSubmit(outcome, before, req.prompt);
    remember(model, this.keyIndex, outcome);
    if (this.idempotent) {
      model.idempotent.push({ keyIndex: this.keyIndex, request: req, taskId: outcome.kind === 'task' || outcome.kind === 'refused' ? outcome.id : null });
    }
    return describeOutcome(outcome);
  }
  toString() {
    return `submit(key ${this.keyIndex}, ${this.prompt}${this.idempotent ? ', idempotent' : ''}, via ${this.via})`;
  }
}

class Replay extends Audited {
  constructor(
    readonly which: number,
    readonly sameInput: boolean,
    readonly via: number,
  ) {
    super();
  }
  check(model: Readonly<Model>) {
    return model.idempotent.length > 0;
  }
  async act(model: Model, world: World) {
    const original = model.idempotent[this.which % model.idempotent.length] as IdempotentSubmit;
    const req = this.sameInput ? original.request : { ...original.request, prompt: `${original.request.prompt} (changed)` };
    world.shared.time.advance(1);
    const tasksBefore = (await snapshotStore(storeOf(world), world.keys)).tasks.length;
    const before = await balanceOf(world, original.keyIndex);
    const stored = original.taskId;
    const outcome = await submitOutcome(instanceOf(world, this.via), keyOf(world, original.keyIndex).id, req);
    if (stored === null) {
      // Nothing was stored under the key: this is a first submit after all.
      checkFreshSubmit(outcome, before, req.prompt);
      remember(model, original.keyIndex, outcome);
      if (outcome.kind === 'task' || outcome.kind === 'refused') {
        original.taskId = outcome.id;
        original.request = req;
      }
    } else if (this.sameInput) {
      expectThat(outcome.kind === 'task' && outcome.id === stored, `a replay returned ${describeOutcome(outcome)}, not ${stored}`);
    } else {
      expectThat(outcome.kind === 'conflict', `another input under one idempotency key returned ${describeOutcome(outcome)}`);
    }
    if (stored !== null) {
      const tasksAfter = (await snapshotStore(storeOf(world), world.keys)).tasks.length;
      expectThat(tasksAfter === tasksBefore, 'a replay or conflict stored a task');
    }
    return describeOutcome(outcome);
  }
  toString() {
    return `replay(#${this.which}, ${this.sameInput ? 'same input' : 'other input'}, via ${this.via})`;
  }
}

/** No instance ever tried to create the task, and no crash cut its submit short. */
const neverTried = (world: World, taskId: string) => !world.createsTried.has(taskId) && !world.interrupted.has(taskId);

/** One of the run's tasks; three times in four one still open, when there is one (that is where cancels matter). */
async function pickTask(model: Readonly<Model>, world: World, which: number): Promise<KnownTask> {
  const open: KnownTask[] = [];
  if (which % 4 !== 0) {
    for (const task of model.tasks) {
      const row = await storeOf(world).getTask(task.id);
      if (row && !isTerminal(row.status)) open.push(task);
    }
  }
  const from = open.length > 0 ? open : model.tasks;
  return from[Math.floor(which / 4) % from.length] as KnownTask;
}

class Cancel extends Audited {
  constructor(
    readonly which: number,
    readonly wrongKey: boolean,
    readonly via: number,
  ) {
    super();
  }
  check(model: Readonly<Model>) {
    return model.tasks.length > 0;
  }
  async act(model: Model, world: World) {
    const task = await pickTask(model, world, this.which);
    const gateway = instanceOf(world, this.via);
    const before = await storeOf(world).getTask(task.id);
    if (!before) throw new Error(`task ${task.id} vanished`);
    if (this.wrongKey) {
      const other = keyOf(world, (task.keyIndex + 1) % world.keys.length).id;
      const refused = await gateway.tasks.cancel(other, task.id).then(
        () => false,
        (error: unknown) => error instanceof NotFoundError,
      );
      expectThat(refused, `another key could cancel ${task.id}`);
      const after = await storeOf(world).getTask(task.id);
      expectThat(after?.version === before.version && after.status === before.status, 'a refused cancel changed the task');
      return 'NOT_FOUND';
    }
    const view = await gateway.tasks.cancel(keyOf(world, task.keyIndex).id, task.id);
    if (isTerminal(before.status)) expectThat(view.status === before.status, `cancel changed finished task ${task.id}`);
    // No create of it was ever tried, so Kling cannot have it: nothing to wait for.
    if (EXTRA_CHECKS && before.status === 'QUEUED' && neverTried(world, task.id)) {
      expectThat(view.status === 'CANCELED', `+: cancel left ${task.id} ${view.status}, though no create of it was ever tried`);
    }
    expectThat(view.status !== 'SUBMITTED' && view.status !== 'PROCESSING', `cancel left ${task.id} ${view.status}`);
    if (view.status === 'QUEUED') {
      const after = await storeOf(world).getTask(task.id);
      expectThat(after?.cancelRequestedAt !== null, `cancel left ${task.id} QUEUED without recording the cancel`);
    }
    return `${task.id} ${before.status} -> ${view.status}`;
  }
  toString() {
    return `cancel(#${this.which}${this.wrongKey ? ', with the other key' : ''}, via ${this.via})`;
  }
}

/** Polls (real time) until `find` returns something or `done` settles. */
async function pollUntil<T>(find: () => Promise<T | undefined>, done: Promise<unknown>): Promise<T | undefined> {
  const state = { settled: false };
  const mark = () => {
    state.settled = true;
  };
  void done.then(mark, mark);
  const giveUpAt = performance.now() + 10_000;
  while (!state.settled && performance.now() < giveUpAt) {
    const found = await find();
    if (found !== undefined) return found;
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  return find();
}

/** The key's newest task, if it is not one of `known`. */
async function newTaskOf(world: World, keyId: string, known: ReadonlySet<string>) {
  const [newest] = await storeOf(world).listTasksForKey(keyId, { limit: 1 });
  return newest !== undefined && !known.has(newest.id) ? newest : undefined;
}

class CancelDuringSubmit extends Audited {
  constructor(
    readonly keyIndex: number,
    readonly prompt: PromptKind,
    readonly latencyMs: number,
    readonly submitVia: number,
    readonly cancelVia: number,
  ) {
    super();
  }
  check() {
    return true;
  }
  async act(model: Model, world: World) {
    const n = ++model.counter;
    const req = request(promptOf(n, this.prompt), null);
    const keyId = keyOf(world, this.keyIndex).id;
    const known = new Set(model.tasks.map((task) => task.id));
    world.shared.time.advance(1);
    const before = await balanceOf(world, this.keyIndex);
    // Every Kling request now takes latencyMs of real time: the create is in flight while we cancel.
    applyMood(world.shared.simulator, world.mood, this.latencyMs);
    let cancelSeen = 'no task to cancel';
    let outcome: SubmitOutcome;
    try {
      const submitting = submitOutcome(instanceOf(world, this.submitVia), keyId, req);
      // Awaited below; if the cancel fails first, its error is the one reported.
      submitting.catch(() => undefined);
      const row = await pollUntil(() => newTaskOf(world, keyId, known), submitting);
      if (row) {
        const view = await instanceOf(world, this.cancelVia).tasks.cancel(keyId, row.id);
        expectThat(view.status !== 'SUBMITTED' && view.status !== 'PROCESSING', `cancel left ${row.id} ${view.status}`);
        cancelSeen = `cancel ${row.id} ${row.status} -> ${view.status}`;
      }
      outcome = await submitting;
    } finally {
      applyMood(world.shared.simulator, world.mood);
    }
    checkFreshSubmit(outcome, before, req.prompt);
    remember(model, this.keyIndex, outcome);
    return `${cancelSeen}; submit ${describeOutcome(outcome)}`;
  }
  toString() {
    return `cancel-during-submit(key ${this.keyIndex}, ${this.prompt}, ${this.latencyMs} ms, submit via ${this.submitVia}, cancel via ${this.cancelVia})`;
  }
}

/**
 * The instance dies while its submit's create is in flight: it stops (its database and Kling
 * connections close under the submit), and starts again. The task is the next dispatcher's, after
 * its submit lease, which must look it up at Kling before anything else.
 */
class CrashDuringSubmit extends Audited {
  constructor(
    readonly keyIndex: number,
    readonly prompt: PromptKind,
    readonly latencyMs: number,
    readonly via: number,
  ) {
    super();
  }
  check() {
    return true;
  }
  async act(model: Model, world: World) {
    const n = ++model.counter;
    const req = request(promptOf(n, this.prompt), null);
    const keyId = keyOf(world, this.keyIndex).id;
    const known = new Set(model.tasks.map((task) => task.id));
    const index = this.via % world.instances.length;
    const gateway = instanceOf(world, index);
    world.shared.time.advance(1);
    applyMood(world.shared.simulator, world.mood, this.latencyMs);
    let outcome: string;
    let row: TaskRow | undefined;
    try {
      // Whatever the submit ends with (a closed database or Kling client included) is fine: the process died.
      const submitting = submitOutcome(gateway, keyId, req).then(describeOutcome, (error: unknown) => `died: ${String(error)}`.slice(0, 120));
      row = await pollUntil(() => newTaskOf(world, keyId, known), submitting);
      await stopInstance(world, index);
      outcome = await submitting;
    } finally {
      applyMood(world.shared.simulator, world.mood);
    }
    await restartInstance(world, index);
    // The task may have been written before the crash, or only later found by its id.
    const task = row ?? (await newTaskOf(world, keyId, known));
    if (task) {
      model.tasks.push({ id: task.id, keyIndex: this.keyIndex });
      world.interrupted.add(task.id);
    }
    return `${task?.id ?? 'no task'}: ${outcome}`;
  }
  toString() {
    return `crash-during-submit(key ${this.keyIndex}, ${this.prompt}, ${this.latencyMs} ms, via ${this.via})`;
  }
}

/**
 * A poller tick and a user's call at the same moment, with Kling slow enough (real latency) for
 * their requests to overlap.
 */
class Race extends Audited {
  constructor(
    readonly user: 'cancel' | 'submit',
    readonly which: number,
    readonly latencyMs: number,
    readonly tickVia: number,
    readonly userVia: number,
  ) {
    super();
  }
  check(model: Readonly<Model>) {
    return this.user === 'submit' || model.tasks.length > 0;
  }
  async act(model: Model, world: World) {
    world.shared.time.advance(1);
    applyMood(world.shared.simulator, world.mood, this.latencyMs);
    try {
      const tick = instanceOf(world, this.tickVia).poller.runOnce();
      if (this.user === 'submit') {
        const keyIndex = this.which % world.keys.length;
        const n = ++model.counter;
        const req = request(promptOf(n, 'plain'), null);
        const before = await balanceOf(world, keyIndex);
        const [handled, outcome] = await Promise.all([tick, submitOutcome(instanceOf(world, this.userVia), keyOf(world, keyIndex).id, req)]);
        checkFreshSubmit(outcome, before, req.prompt, true);
        remember(model, keyIndex, outcome);
        return `tick handled ${handled}; submit ${describeOutcome(outcome)}`;
      }
      const task = await pickTask(model, world, this.which);
      const [handled, view] = await Promise.all([tick, instanceOf(world, this.userVia).tasks.cancel(keyOf(world, task.keyIndex).id, task.id)]);
      expectThat(view.status !== 'SUBMITTED' && view.status !== 'PROCESSING', `cancel left ${task.id} ${view.status}`);
      return `tick handled ${handled}; cancel ${task.id} -> ${view.status}`;
    } finally {
      applyMood(world.shared.simulator, world.mood);
    }
  }
  toString() {
    return `race(tick via ${this.tickVia} with ${this.user} #${this.which} via ${this.userVia}, ${this.latencyMs} ms)`;
  }
}

/** Kling in a whole new mood at once: several dimensions change together. */
class NewMood extends Audited {
  constructor(readonly mood: Mood) {
    super();
  }
  check() {
    return true;
  }
  async act(_model: Model, world: World) {
    world.mood = this.mood;
    applyMood(world.shared.simulator, world.mood);
    return 'ok';
  }
  toString() {
    const { errors, afterAccept, balanceEmpty, lagMs, notFound } = this.mood;
    const parts = [
      errors === null ? '' : `${errors} always`,
      afterAccept === 'answer' ? '' : afterAccept === 'drop' ? 'drop after accept' : '5002 after accept',
      balanceEmpty ? 'balance 0' : '',
      lagMs === 0 ? '' : `lookup lag ${lagMs} ms`,
      `not found as ${notFound}`,
    ];
    return `kling-mood(${parts.filter((part) => part !== '').join(', ')})`;
  }
}

class SetMood extends Audited {
  constructor(
    readonly change: MoodChange,
    readonly lagMs: number,
  ) {
    super();
  }
  check() {
    return true;
  }
  async act(_model: Model, world: World) {
    world.mood = changeMood(world.mood, this.change, this.lagMs);
    applyMood(world.shared.simulator, world.mood);
    return JSON.stringify(world.mood);
  }
  toString() {
    return `kling(${this.change}${this.change === 'lookup-lag' ? ` ${this.lagMs} ms` : ''})`;
  }
}

/** This run's tasks that Kling holds now. */
async function heldByKling(model: Model, world: World): Promise<{ task: KnownTask; kling: KlingTask }[]> {
  const view = await klingView(world);
  return model.tasks.flatMap((task) => {
    const kling = view.holds.get(task.id);
    return kling ? [{ task, kling }] : [];
  });
}

/**
 * Kling's callback for one of our tasks: its view now, or (stale) a view captured by an earlier
 * callback or forget, arriving late and out of order.
 */
class Callback extends Audited {
  constructor(
    readonly which: number,
    readonly via: number,
    readonly stale: boolean,
  ) {
    super();
  }
  check(model: Readonly<Model>) {
    return model.tasks.length > 0;
  }
  async act(model: Model, world: World) {
    let pick: { taskId: string; body: Record<string, unknown> } | undefined;
    if (this.stale) {
      pick = world.views[this.which % Math.max(1, world.views.length)];
    } else {
      const held = await heldByKling(model, world);
      const current = held[this.which % Math.max(1, held.length)];
      const body = current && world.shared.simulator.peekTask(current.kling.taskId);
      if (current && body) {
        pick = { taskId: current.task.id, body };
        world.views.push(pick);
      }
    }
    if (!pick) return this.stale ? 'no view captured yet' : 'Kling holds none of our tasks';
    const row = await storeOf(world).getTask(pick.taskId);
    if (!row) throw new Error(`task ${pick.taskId} vanished`);
    const outcome = await instanceOf(world, this.via).onKlingCallback(row.id, row.callbackToken, pick.body);
    expectThat(outcome !== 'unknown-task', `the callback for ${row.id} was not recognised`);
    return `${row.id} (${String(pick.body['task_id'])} ${String(pick.body['task_status'])}) ${outcome}`;
  }
  toString() {
    return `callback(#${this.which}${this.stale ? ', stale' : ''}, via ${this.via})`;
  }
}

class Forget extends Audited {
  constructor(readonly which: number) {
    super();
  }
  check(model: Readonly<Model>) {
    return model.tasks.length > 0;
  }
  async act(model: Model, world: World) {
    const held = await heldByKling(model, world);
    const pick = held[this.which % Math.max(1, held.length)];
    if (!pick) return 'Kling holds none of our tasks';
    const body = world.shared.simulator.peekTask(pick.kling.taskId);
    if (body) world.views.push({ taskId: pick.task.id, body });
    world.shared.simulator.forgetTask(pick.kling.taskId);
    world.forgotten.set(pick.task.id, (world.forgotten.get(pick.task.id) ?? 0) + 1);
    return `${pick.task.id} (${pick.kling.taskId}, ${pick.kling.status})`;
  }
  toString() {
    return `forget(#${this.which})`;
  }
}

class Advance extends Audited {
  constructor(readonly ms: number) {
    super();
  }
  check() {
    return true;
  }
  async act(_model: Model, world: World) {
    world.shared.time.advance(this.ms);
    return 'ok';
  }
  toString() {
    return `advance(${this.ms} ms)`;
  }
}

/** The poller's loop, by hand: after `afterMs` of time (0: right away), one tick, or two at once. */
class Tick extends Audited {
  constructor(
    readonly via: number,
    readonly concurrent: boolean,
    readonly afterMs: number,
  ) {
    super();
  }
  check() {
    return true;
  }
  async act(_model: Model, world: World) {
    world.shared.time.advance(this.afterMs);
    if (!this.concurrent) return `handled ${await instanceOf(world, this.via).poller.runOnce()}`;
    // Two ticks at once: of both instances on PostgreSQL, of the one instance twice on SQLite.
    const pollers = world.instances.length > 1 ? world.instances : [instanceOf(world, 0), instanceOf(world, 0)];
    const handled = await Promise.all(pollers.map((gateway) => gateway.poller.runOnce()));
    return `handled ${handled.join(' + ')}`;
  }
  toString() {
    return `tick(${this.concurrent ? 'concurrent' : `via ${this.via}`}${this.afterMs > 0 ? `, after ${this.afterMs} ms` : ''})`;
  }
}

class Restart extends Audited {
  constructor(readonly which: number) {
    super();
  }
  check() {
    return true;
  }
  async act(_model: Model, world: World) {
    const n = this.which % world.instances.length;
    await stopInstance(world, n);
    await restartInstance(world, n);
    return `instance ${world.instanceIds[n] ?? n} restarted`;
  }
  toString() {
    return `restart(${this.which})`;
  }
}

const instanceArb = fc.nat({ max: 1 });
const promptArb = fc.constantFrom<PromptKind>('plain', 'plain', 'plain', 'plain', 'fail', 'reject');
/** Real time each Kling request takes while a create is meant to be in flight. */
const latencyArb = fc.integer({ min: 5, max: 30 });
const tickArb = fc
  .tuple(instanceArb, fc.boolean(), fc.constantFrom(0, 0, 500, 1_000, 2_500))
  .map(([via, concurrent, afterMs]) => new Tick(via, concurrent, afterMs));
// Kling's lookup lag stays below the not-found window: a task invisible for longer than the window
// looks absent to the gateway's absence rule, which is then refunded while Kling holds it.
const moodArb = fc.tuple(fc.constantFrom(...MOODS), fc.constantFrom(1_500, 4_000)).map(([change, lag]) => new SetMood(change, lag));
const newMoodArb = fc
  .record({
    errors: fc.oneof(
      { arbitrary: fc.constant(null), weight: 3 },
      { arbitrary: fc.constantFrom<FaultCode>(5000, 5001, 5002, 1303, 1302), weight: 1 },
    ),
    afterAccept: fc.constantFrom<Mood['afterAccept']>('answer', 'answer', 'drop', 'timeout'),
    balanceEmpty: fc.constantFrom(false, false, false, true),
    lagMs: fc.constantFrom(0, 0, 1_500, 4_000),
    notFound: fc.constantFrom(...NOT_FOUND_ANSWERS),
  })
  .map((mood) => new NewMood(mood));
const advanceArb = fc
  .oneof(
    { arbitrary: fc.integer({ min: 100, max: 1_500 }), weight: 3 },
    { arbitrary: fc.integer({ min: 1_500, max: 8_000 }), weight: 3 },
    { arbitrary: fc.integer({ min: 8_000, max: 20_000 }), weight: 2 },
    { arbitrary: fc.integer({ min: 30_000, max: DEADLINE_MS + 10_000 }), weight: 1 },
  )
  .map((ms) => new Advance(ms));
const cancelArb = fc.tuple(fc.nat(), fc.nat({ max: 4 }), instanceArb).map(([which, wrong, via]) => new Cancel(which, wrong === 4, via));
/** Listed twice or three times: what should happen more often. */
const commandArbs: fc.Arbitrary<ModelCommand>[] = [
  fc
    .tuple(fc.nat({ max: 1 }), promptArb, fc.boolean(), instanceArb)
    .map(([key, prompt, idempotent, via]) => new Submit(key, prompt, idempotent, via)),
  fc
    .tuple(fc.nat({ max: 1 }), promptArb, fc.boolean(), instanceArb)
    .map(([key, prompt, idempotent, via]) => new Submit(key, prompt, idempotent, via)),
  fc.tuple(fc.nat(), fc.boolean(), instanceArb).map(([which, same, via]) => new Replay(which, same, via)),
  cancelArb,
  cancelArb,
  fc
    .tuple(fc.nat({ max: 1 }), promptArb, latencyArb, instanceArb, instanceArb)
    .map(([key, prompt, latency, submitVia, cancelVia]) => new CancelDuringSubmit(key, prompt, latency, submitVia, cancelVia)),
  moodArb,
  newMoodArb,
  newMoodArb,
  fc.tuple(fc.nat(), instanceArb, fc.nat({ max: 3 })).map(([which, via, stale]) => new Callback(which, via, stale === 3)),
  fc
    .tuple(fc.nat({ max: 1 }), promptArb, latencyArb, instanceArb)
    .map(([key, prompt, latency, via]) => new CrashDuringSubmit(key, prompt, latency, via)),
  fc
    .tuple(fc.constantFrom<'cancel' | 'submit'>('cancel', 'submit'), fc.nat(), fc.constantFrom(0, 5, 20), instanceArb, instanceArb)
    .map(([user, which, latency, tickVia, userVia]) => new Race(user, which, latency, tickVia, userVia)),
  fc.nat().map((which) => new Forget(which)),
  advanceArb,
  advanceArb,
  tickArb,
  tickArb,
  tickArb,
  fc.nat({ max: 1 }).map((which) => new Restart(which)),
];

// ---------------------------------------------------------------------------------------------
// One run: commands, then a drain with Kling behaving, then the final audit.

async function tickAll(world: World) {
  for (const gateway of world.instances) await gateway.poller.runOnce();
}

async function drain(world: World) {
  world.mood = NORMAL;
  applyMood(world.shared.simulator, NORMAL);
  // First a while with Kling behaving, so what can end the ordinary way does.
  for (let round = 0; round < 3; round++) {
    world.shared.time.advance((KLING_TASK_SECONDS * 1000) / 2);
    await tickAll(world);
  }
  // Then past every deadline: nothing may stay open.
  world.shared.time.advance(DEADLINE_MS + NOT_FOUND_WINDOW_MS);
  for (let round = 0; round < 30; round++) {
    await tickAll(world);
    const { tasks } = await snapshotStore(storeOf(world), world.keys);
    if (EXTRA_CHECKS && round === 0) {
      // The deadline sweep ends a task Kling cannot have at once, without asking Kling.
      const waiting = tasks.filter((task) => !isTerminal(task.row.status) && neverTried(world, task.row.id));
      const ids = waiting.map((task) => task.row.id).join(', ');
      expectThat(waiting.length === 0, `+: past the deadline, never-tried tasks still open: ${ids}\n${traceOf(world)}`);
    }
    if (tasks.every((task) => isTerminal(task.row.status))) break;
    world.shared.time.advance(NOT_FOUND_WINDOW_MS);
  }
  note(world, 'drained');
  await audit(world, true);
}

async function runModel(shared: Shared, run: number, seed: number, cmds: Iterable<ModelCommand>) {
  const random = vi.spyOn(Math, 'random').mockImplementation(seededRandom(seed));
  const t0 = performance.now();
  const world = await createWorld(shared, run);
  const t1 = performance.now();
  let t2 = t1;
  let t3 = t1;
  // A run that does not end in RUN_LIMIT_MS of real time is a hang: say what it was doing.
  let watchdog: NodeJS.Timeout | undefined;
  const hung = new Promise<never>((_, reject) => {
    watchdog = setTimeout(() => {
      const message = `run ${run} still going after ${RUN_LIMIT_MS} ms: it hangs\n${traceOf(world)}`;
      console.error(message);
      reject(new Error(message));
    }, RUN_LIMIT_MS);
  });
  try {
    await Promise.race([
      hung,
      (async () => {
        await fc.asyncModelRun(() => ({ model: { tasks: [], idempotent: [], counter: 0 }, real: world }), cmds);
        t2 = performance.now();
        await drain(world);
        t3 = performance.now();
      })(),
    ]);
  } finally {
    clearTimeout(watchdog);
    random.mockRestore();
    await disposeWorld(world);
    if (TRACE) {
      const t4 = performance.now();
      note(world, `(real ms: setup ${(t1 - t0).toFixed(0)}, commands ${(t2 - t1).toFixed(0)}, drain ${(t3 - t2).toFixed(0)}, teardown ${(t4 - t3).toFixed(0)})`);
      console.log(`run ${run}:\n${world.trace.join('\n')}`);
    }
  }
}

async function createShared(fixture: StoreFixture, runs: number): Promise<Shared> {
  const time = createVirtualTime();
  const simulator = createKlingSimulator({ clock: time.simulatorClock, taskSeconds: KLING_TASK_SECONDS });
  const simulatorUrl = await simulator.start();
  const auditor = createKlingClient({
    baseUrl: simulatorUrl,
    accessKey: DEFAULT_SIMULATOR_KEY.accessKey,
    secretKey: DEFAULT_SIMULATOR_KEY.secretKey,
    clock: time.gatewayClock,
    timeouts: { connectMs: 5_000, headersMs: 10_000, bodyMs: 10_000 },
    connections: 2,
    retry: { maxAttempts: 1, baseMs: 1, maxMs: 1 },
  });
  return { time, simulator, simulatorUrl, auditor, fixture, runs };
}

async function closeShared(shared: Shared) {
  await shared.auditor.close();
  await shared.simulator.stop();
  await shared.fixture.close();
}

/** Time for the runs plus room for shrinking a failure. */
const timeoutFor = (runs: number, msPerRun: number) => Math.max(60_000, runs * msPerRun + 180_000);

function checkModel(shared: () => Shared, timeoutMs: number) {
  let run = 0;
  return async () => {
    const { runs } = shared();
    await fc.assert(
      fc.asyncProperty(fc.commands(commandArbs, { maxCommands: MAX_COMMANDS, size: 'max', ...REPLAY_PATH }), fc.integer(), async (cmds, seed) => {
        await runModel(shared(), run++, seed, cmds);
      }),
      // Stopped before vitest's timeout, fast-check still reports the failure (shrunk so far) with its seed;
      // running out of time before all runs passed is a failure too, not a quiet pass with fewer runs.
      { numRuns: runs, interruptAfterTimeLimit: timeoutMs - 15_000, markInterruptAsFailure: true, ...REPLAY },
    );
  };
}

// ---------------------------------------------------------------------------------------------
// Stores

function sqliteFixture(): StoreFixture {
  const dir = mkdtempSync(join(tmpdir(), 'money-model-'));
  const template = join(dir, 'template.db');
  // Migrating once and copying the file is much cheaper than migrating per run.
  openSqlite(template).close();
  return {
    kind: 'sqlite',
    instances: 1,
    async freshDatabase(run) {
      const file = join(dir, `run-${run}.db`);
      copyFileSync(template, file);
      return file;
    },
    async release(url) {
      for (const suffix of ['', '-wal', '-shm']) rmSync(url + suffix, { force: true });
    },
    async close() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function postgresFixture(): Promise<StoreFixture> {
  const url = await freshPostgresDatabase();
  // The first gateway would migrate it too; doing it here lets every run start by emptying the tables.
  await (await openPostgres(url, 1)).close();
  const admin = new pg.Pool({ connectionString: url, max: 1 });
  return {
    kind: 'postgres',
    instances: 2,
    async freshDatabase() {
      // DELETE, not TRUNCATE: on tables this small it takes a millisecond instead of 150.
      await admin.query('DELETE FROM webhook_attempts; DELETE FROM webhook_deliveries; DELETE FROM credit_ledger; DELETE FROM tasks; DELETE FROM api_keys');
      return url;
    },
    async release() {
      // The next run empties the tables.
    },
    async close() {
      await admin.end();
    },
  };
}

describe('money model: SQLite', () => {
  let shared: Shared | undefined;
  beforeAll(async () => {
    shared = await createShared(sqliteFixture(), RUNS.sqlite);
  });
  afterAll(async () => {
    if (shared) await closeShared(shared);
  });

  it(
    `keeps every invariant over ${RUNS.sqlite} random interleavings`,
    checkModel(() => shared as Shared, timeoutFor(RUNS.sqlite, 1_000)),
    timeoutFor(RUNS.sqlite, 1_000),
  );
});

describe.runIf(postgresAvailable('money model: PostgreSQL'))('money model: PostgreSQL, two instances', () => {
  let shared: Shared | undefined;
  beforeAll(async () => {
    shared = await createShared(await postgresFixture(), RUNS.postgres);
  });
  afterAll(async () => {
    if (shared) await closeShared(shared);
  });

  it(
    `keeps every invariant over ${RUNS.postgres} random interleavings`,
    checkModel(() => shared as Shared, timeoutFor(RUNS.postgres, 2_000)),
    timeoutFor(RUNS.postgres, 2_000),
  );
});
