// A real HTTP server speaking Kling's legacy protocol (kling-api.md section 12), faults included.
// Tests, benchmarks and `npm start` without Kling keys talk to it exactly as to Kling.
import { randomInt } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { systemClock, type Clock } from '../../clock.js';
import { KLING_ENDPOINTS, type KlingEndpoint } from '../types.js';
import { createSimulatorAuth, type KlingSimulatorKey } from './auth.js';
import { createCallbackSender, createTransitionScheduler } from './callbacks.js';
import { checkCreateBody, type UnsupportedOptionPolicy } from './create-rules.js';
import { readJsonBody, sendError, sendSuccess } from './envelope.js';
import { createFaultInjector, type CreateDice, type KlingSimulatorFaults } from './faults.js';
import { callbackTimes, planTimes, renderTask, type SimTask } from './lifecycle.js';
import { servePlaceholderVideo } from './placeholder-video.js';
import { createTaskStore } from './task-store.js';

export type { KlingSimulatorKey } from './auth.js';
export type { FaultCode, KlingSimulatorFaults } from './faults.js';

/** The key pair `npm run simulator` and `npm start` (without Kling keys) accept by default. */
export const DEFAULT_SIMULATOR_KEY: KlingSimulatorKey = { accessKey: 'sim-access-key', secretKey: 'sim-secret-key' };

/** Prompt markers with a fixed effect (api.md, "The simulator"). */
export const REJECT_MARKER = '[[reject]]';
export const FAIL_MARKER = '[[fail]]';

/** Kling's moderation failure, word for word as a query shows it (kling-api.md section 13). */
const CONTENT_SAFETY_MESSAGE = 'Failure to pass the risk control system';
const GENERATION_FAILED_MESSAGE = 'Video generation failed due to an internal error, please try again';

export interface KlingSimulatorOptions {
  /** Key pairs whose JWTs are accepted. @default [DEFAULT_SIMULATOR_KEY] */
  keys?: readonly KlingSimulatorKey[];
  /** Static API keys accepted as the Bearer value (Kling's 2026 alternative to JWTs). @default [] */
  apiKeys?: readonly string[];
  /** @default '127.0.0.1' */
  host?: string;
  /** 0 picks a free port. @default 0 */
  port?: number;
  /** Base of the video links, when clients reach the simulator by another address. @default the listening URL */
  publicUrl?: string;
  /** Time for task ages, JWT exp/nbf, rate windows and callbacks; tests pass a manual clock. @default systemClock */
  clock?: Clock;
  /** Seconds from submit to the terminal state; fractions allowed. @default 10 */
  taskSeconds?: number;
  /** Open (submitted/processing) tasks allowed per account and model; over it answers 429/1303. @default unlimited */
  concurrencyLimit?: number;
  /** Units each account starts with; a create that does not fit answers 429/1102. @default unlimited */
  balanceUnits?: number;
  /** Requests allowed per account in each fixed window of the clock; over it answers 429/1302. @default unlimited */
  rateLimit?: { requests: number; windowMs: number };
  /** camera_control or sound "on" where the model lacks them: Kling's behaviour is undocumented. @default 'reject' */
  unsupportedOptions?: UnsupportedOptionPolicy;
  /** Skew allowed on JWT exp/nbf, in seconds. @default 0 */
  clockToleranceSeconds?: number;
  /** Seed of the fault dice; the same seed and requests give the same outcomes. @default 1 */
  seed?: number;
  /** @default no faults */
  faults?: KlingSimulatorFaults;
  /** Timeout of one callback POST, in ms. @default 10_000 */
  callbackTimeoutMs?: number;
  /** Standard Webhooks secret (`whsec_...`) that signs callbacks, or several during a rotation; unsigned without it. @default none */
  webhookSecret?: string | readonly string[];
  /** @default silent */
  log?: (message: string) => void;
  /**
   * How a query for a task the account does not have is answered. Kling documents none (kling-api.md
   * section 13), so a client must survive each: 404/1203, 400/1201, or HTTP 200 with empty `data`.
   * @default 'code-1203'
   */
  notFoundAnswer?: NotFoundAnswer;
  /**
   * A new task stays invisible to queries (by either id) for this long after its create, as a
   * replicated store may show it late; creates still see it (a duplicate external id is refused).
   * @default 0
   */
  lookupLagMs?: number;
}

export const NOT_FOUND_ANSWERS = ['code-1203', 'code-1201', 'empty-data'] as const;
export type NotFoundAnswer = (typeof NOT_FOUND_ANSWERS)[number];

export type KlingSimulatorRouteKind = 'create' | 'get' | 'list' | 'video' | 'unknown';

export interface KlingSimulatorStats {
  /** HTTP requests received, by route kind, and in total. */
  requests: Record<KlingSimulatorRouteKind | 'total', number>;
  /** Creates that stored a task, including those answered by a dropped connection or a 5002. */
  createsAccepted: number;
  /** Accepted creates answered by destroying the connection (`dropAfterAcceptRate`). */
  createsDropped: number;
  /** Accepted creates answered 504/5002 (`timeoutAfterAcceptRate`). */
  createsTimedOut: number;
  /** Distinct tasks created per external_task_id; above 1 means a client made a duplicate upstream task. */
  tasksPerExternalId: Map<string, number>;
  /** Single-task queries per task_id (per the requested id when no task matched). */
  getsPerTaskId: Map<string, number>;
  /** Per task_id, which User-Agents queried it: tells which gateway instance polled a task. */
  getClientsPerTaskId: Map<string, Set<string>>;
  /** Every Kling code answered on the API routes, 0 included. */
  answersByCode: Map<number, number>;
  /** Error answers that came from fault injection, per code. */
  injectedErrors: Map<number, number>;
  callbacks: { sent: number; delivered: number; failed: number };
}

type Route =
  | { kind: 'create' | 'list'; endpoint: KlingEndpoint }
  | { kind: 'get'; endpoint: KlingEndpoint; id: string }
  | { kind: 'video' }
  | { kind: 'unknown' };

function isEndpoint(value: string | undefined): value is KlingEndpoint {
  return (KLING_ENDPOINTS as readonly (string | undefined)[]).includes(value);
}

/** A malformed escape cannot name any task, so it is kept as sent and simply finds nothing. */
function decodePathSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

function matchRoute(method: string, pathname: string): Route {
  const parts = pathname.split('/').filter((part) => part !== '');
  if (parts[0] === 'v1' && parts[1] === 'videos' && isEndpoint(parts[2])) {
    const endpoint = parts[2];
    if (parts.length === 3 && method === 'POST') return { kind: 'create', endpoint };
    if (parts.length === 3 && method === 'GET') return { kind: 'list', endpoint };
    const id = parts[3];
    if (parts.length === 4 && method === 'GET' && id !== undefined) return { kind: 'get', endpoint, id: decodePathSegment(id) };
  }
  if (parts[0] === 'videos' && parts.length === 3 && parts[2]?.endsWith('.mp4') === true && (method === 'GET' || method === 'HEAD')) {
    return { kind: 'video' };
  }
  return { kind: 'unknown' };
}

function emptyStats(): KlingSimulatorStats {
  return {
    requests: { total: 0, create: 0, get: 0, list: 0, video: 0, unknown: 0 },
    createsAccepted: 0,
    createsDropped: 0,
    createsTimedOut: 0,
    tasksPerExternalId: new Map(),
    getsPerTaskId: new Map(),
    getClientsPerTaskId: new Map(),
    answersByCode: new Map(),
    injectedErrors: new Map(),
    callbacks: { sent: 0, delivered: 0, failed: 0 },
  };
}

const increment = <K>(map: Map<K, number>, key: K): void => {
  map.set(key, (map.get(key) ?? 0) + 1);
};

function parsePageParam(raw: string | null, name: string, fallback: number, max: number): number | string {
  if (raw === null || raw === '') return fallback;
  const value = Number(raw);
  return /^\d+$/.test(raw) && value >= 1 && value <= max ? value : `${name} must be an integer between 1 and ${max}`;
}

/**
 * Kling's task ids are 18-digit numeric strings. A random prefix keeps two simulator runs from
 * reusing ids against the same gateway database; the counter keeps them unique within a run.
 */
function createIdSource(): () => string {
  let next = 800_000_000_000_000_000n + BigInt(randomInt(0, 100_000_000)) * 1_000_000_000n;
  return () => (next++).toString();
}

export function createKlingSimulator(options: KlingSimulatorOptions = {}) {
  const clock = options.clock ?? systemClock;
  const log = options.log ?? (() => undefined);
  const taskMs = (options.taskSeconds ?? 10) * 1000;
  if (!Number.isFinite(taskMs) || taskMs < 0) throw new TypeError('taskSeconds must be a non-negative number');
  const policy = options.unsupportedOptions ?? 'reject';
  const keys = options.keys ?? [DEFAULT_SIMULATOR_KEY];

  const stats = emptyStats();
  const store = createTaskStore();
  const faults = createFaultInjector(options.seed ?? 1, options.faults);
  const auth = createSimulatorAuth({ keys, apiKeys: options.apiKeys, clock, clockToleranceSeconds: options.clockToleranceSeconds });
  const nextTaskId = createIdSource();
  const nextVideoId = createIdSource();
  const balances = new Map<string, number>();
  let startingBalance = options.balanceUnits;
  const rateWindows = new Map<string, { start: number; count: number }>();
  // Aborts latency sleeps on stop so no handler outlives the server.
  const stopping = new AbortController();

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      log(`simulator error on ${req.method ?? '?'} ${req.url ?? '?'}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      if (res.headersSent) res.destroy();
      else answerError(res, 5000);
    });
  });

  let baseUrl: string | undefined;
  let started: Promise<string> | undefined;
  let stopped: Promise<void> | undefined;

  const linkBase = (): string => options.publicUrl ?? baseUrl ?? '';

  const sender = createCallbackSender({
    clock,
    timeoutMs: options.callbackTimeoutMs ?? 10_000,
    webhookSecret: options.webhookSecret,
    log,
    onResult: (delivered) => {
      if (delivered) stats.callbacks.delivered++;
      else stats.callbacks.failed++;
    },
  });

  const scheduler = createTransitionScheduler({
    clock,
    log,
    onDue: ({ at, taskId }) => {
      const task = store.get(taskId);
      if (task?.request.callbackUrl === undefined) return;
      stats.callbacks.sent++;
      // Rendered at the transition's own time, so a late tick still reports `processing` first.
      sender.send(taskId, task.request.callbackUrl, renderTask(task, at, linkBase(), 'callback'));
    },
  });

  function answerError(res: ServerResponse, code: number, message?: string): void {
    increment(stats.answersByCode, code);
    sendError(res, code, message);
  }

  let notFoundAnswer: NotFoundAnswer = options.notFoundAnswer ?? 'code-1203';
  let lookupLagMs = options.lookupLagMs ?? 0;
  const visible = (task: SimTask) => clock.now() >= task.createdAt + lookupLagMs;

  function answerNotFound(res: ServerResponse, id: string): void {
    if (notFoundAnswer === 'empty-data') answerSuccess(res, null);
    else if (notFoundAnswer === 'code-1201') answerError(res, 1201, `task_id ${id} is invalid`);
    else answerError(res, 1203, `task ${id} does not exist`);
  }

  function answerSuccess(res: ServerResponse, data: unknown): void {
    increment(stats.answersByCode, 0);
    sendSuccess(res, data);
  }

  function withinRateLimit(account: string): boolean {
    const limit = options.rateLimit;
    if (limit === undefined) return true;
    const now = clock.now();
    const window = rateWindows.get(account);
    if (window === undefined || now - window.start >= limit.windowMs) {
      rateWindows.set(account, { start: now, count: 1 });
      return true;
    }
    window.count++;
    return window.count <= limit.requests;
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    const url = new URL(req.url ?? '/', 'http://simulator');
    const route = matchRoute(method, url.pathname);
    stats.requests.total++;
    stats.requests[route.kind]++;
    if (options.log !== undefined) log(`${method} ${url.pathname}${url.search}`);

    if (route.kind === 'video') {
      servePlaceholderVideo(req, res);
      return;
    }
    if (route.kind === 'unknown') {
      answerError(res, 1202, `no route for ${method} ${url.pathname}`);
      return;
    }

    // Dice first, so the sequence depends only on the order of API requests.
    const dice = faults.request();
    const createDice = route.kind === 'create' ? faults.create() : undefined;
    if (dice.latencyMs > 0) {
      try {
        await delay(dice.latencyMs, undefined, { signal: stopping.signal });
      } catch {
        res.destroy();
        return;
      }
    }
    if (dice.errorCode !== undefined) {
      increment(stats.injectedErrors, dice.errorCode);
      answerError(res, dice.errorCode);
      return;
    }

    const authResult = await auth.authenticate(req.headers.authorization);
    if (!authResult.ok) {
      answerError(res, authResult.code);
      return;
    }
    const { account } = authResult;
    if (!withinRateLimit(account)) {
      answerError(res, 1302);
      return;
    }

    if (route.kind === 'create' && createDice !== undefined) await handleCreate(req, res, account, route.endpoint, createDice);
    else if (route.kind === 'get') handleGet(res, account, route.endpoint, route.id, req.headers['user-agent'] ?? '');
    else if (route.kind === 'list') handleList(res, account, route.endpoint, url.searchParams);
  }

  async function handleCreate(req: IncomingMessage, res: ServerResponse, account: string, endpoint: KlingEndpoint, createDice: CreateDice): Promise<void> {
    const body = await readJsonBody(req);
    if (!body.ok) {
      answerError(res, 1200, body.message);
      return;
    }
    const check = checkCreateBody(endpoint, body.value, policy);
    if (!check.ok) {
      answerError(res, check.code, check.message);
      return;
    }
    const request = check.value;
    if (request.prompt.includes(REJECT_MARKER)) {
      answerError(res, 1301);
      return;
    }
    const externalId = request.externalTaskId;
    if (externalId !== undefined && store.hasExternalId(account, externalId)) {
      answerError(res, 1201, `external_task_id "${externalId}" already exists`);
      return;
    }
    const now = clock.now();
    if (options.concurrencyLimit !== undefined && store.openCount(account, request.modelName, now) >= options.concurrencyLimit) {
      answerError(res, 1303);
      return;
    }
    const failureMessage = request.prompt.includes(FAIL_MARKER)
      ? CONTENT_SAFETY_MESSAGE
      : createDice.fail
        ? GENERATION_FAILED_MESSAGE
        : undefined;
    if (startingBalance !== undefined) {
      const remaining = balances.get(account) ?? startingBalance;
      if (remaining < request.units) {
        answerError(res, 1102);
        return;
      }
      // Whether Kling bills failed tasks is unconfirmed; charging successes only matches the "0" deduction they report.
      if (failureMessage === undefined) balances.set(account, remaining - request.units);
    }

    const task: SimTask = {
      taskId: nextTaskId(),
      videoId: nextVideoId(),
      endpoint,
      account,
      request,
      failureMessage,
      ...planTimes({ createdAt: now, durationMs: createDice.slowMs ?? taskMs, failureMessage }),
    };
    store.add(task);
    stats.createsAccepted++;
    if (externalId !== undefined) increment(stats.tasksPerExternalId, externalId);
    if (request.callbackUrl !== undefined) {
      for (const at of callbackTimes(task)) scheduler.schedule({ at, taskId: task.taskId });
    }

    if (createDice.afterAccept === 'drop') {
      stats.createsDropped++;
      // The ambiguous case: the task exists but the client never hears so.
      res.socket?.destroy();
      return;
    }
    if (createDice.afterAccept === 'timeout') {
      stats.createsTimedOut++;
      answerError(res, 5002);
      return;
    }
    answerSuccess(res, renderTask(task, now, linkBase(), 'create'));
  }

  function handleGet(res: ServerResponse, account: string, endpoint: KlingEndpoint, id: string, userAgent: string): void {
    const task = store.find(account, endpoint, id);
    increment(stats.getsPerTaskId, task?.taskId ?? id);
    const clients = stats.getClientsPerTaskId.get(task?.taskId ?? id) ?? new Set<string>();
    clients.add(userAgent);
    stats.getClientsPerTaskId.set(task?.taskId ?? id, clients);
    if (task === undefined || !visible(task)) {
      answerNotFound(res, id);
      return;
    }
    answerSuccess(res, renderTask(task, clock.now(), linkBase(), 'query'));
  }

  function handleList(res: ServerResponse, account: string, endpoint: KlingEndpoint, params: URLSearchParams): void {
    const now = clock.now();
    // Some clients look a task up on the list path by external id (kling-api.md section 3).
    const externalId = params.get('external_task_id');
    if (externalId !== null) {
      const task = store.find(account, endpoint, externalId);
      const matches = task?.request.externalTaskId === externalId && visible(task) ? [task] : [];
      answerSuccess(res, matches.map((match) => renderTask(match, now, linkBase(), 'query')));
      return;
    }
    const pageNum = parsePageParam(params.get('pageNum'), 'pageNum', 1, 1000);
    const pageSize = parsePageParam(params.get('pageSize'), 'pageSize', 30, 500);
    if (typeof pageNum === 'string' || typeof pageSize === 'string') {
      answerError(res, 1201, typeof pageNum === 'string' ? pageNum : (pageSize as string));
      return;
    }
    const page = store.list(account, endpoint, pageNum, pageSize);
    answerSuccess(res, page.map((task) => renderTask(task, now, linkBase(), 'query')));
  }

  async function shutdown(): Promise<void> {
    stopping.abort();
    await scheduler.stop();
    await sender.close();
    if (!server.listening) return;
    await new Promise<void>((resolve) => {
      server.close(() => {
        resolve();
      });
      // Keep-alive sockets would hold close() open until they time out.
      server.closeAllConnections();
    });
  }

  return {
    /** Listens and resolves with the base URL, e.g. `http://127.0.0.1:41234`. */
    start(): Promise<string> {
      if (stopped !== undefined) return Promise.reject(new Error('the simulator was stopped and cannot start again'));
      started ??= new Promise<string>((resolve, reject) => {
        server.once('error', reject);
        server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
          server.off('error', reject);
          const address = server.address() as AddressInfo;
          const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
          baseUrl = `http://${host}:${address.port}`;
          scheduler.start();
          resolve(baseUrl);
        });
      });
      return started;
    },

    /** Closes the server and every open socket, stops the scheduler and pending callbacks. Idempotent. */
    stop(): Promise<void> {
      stopped ??= shutdown();
      return stopped;
    },

    /** The base URL; throws before start() has resolved. */
    get url(): string {
      if (baseUrl === undefined) throw new Error('the simulator has not started');
      return baseUrl;
    },

    /** Live counters; read them at any time, clear them with resetStats(). */
    stats,

    resetStats(): void {
      Object.assign(stats, emptyStats());
    },

    /** Replaces the fault settings from the next request on; the dice sequence continues. */
    setFaults(next: KlingSimulatorFaults): void {
      faults.set(next);
    },

    get faults(): KlingSimulatorFaults {
      return faults.faults;
    },

    /** Sets every account's remaining units (undefined: unlimited); 0 makes creates answer 429/1102. */
    setBalance(units: number | undefined): void {
      balances.clear();
      startingBalance = units;
    },

    /** Changes how unknown tasks are answered and how late new tasks show, from the next request on. */
    setLookups(next: { notFoundAnswer?: NotFoundAnswer; lookupLagMs?: number }): void {
      notFoundAnswer = next.notFoundAnswer ?? notFoundAnswer;
      lookupLagMs = next.lookupLagMs ?? lookupLagMs;
    },

    /** Makes the simulator forget a task, as if upstream lost it; later queries answer as for an unknown task. */
    forgetTask(taskId: string): boolean {
      return store.delete(taskId);
    },

    /** How a query would show the task now, whatever its account; for tests that look behind the API. */
    peekTask(taskId: string): Record<string, unknown> | undefined {
      const task = store.get(taskId);
      return task === undefined ? undefined : renderTask(task, clock.now(), linkBase(), 'query');
    },

    get taskCount(): number {
      return store.size;
    },

    /** Resolves once every callback already due has been delivered or has failed. */
    flushCallbacks(): Promise<void> {
      return sender.flush();
    },

    /** The key pairs whose tokens are accepted. */
    keys,
  };
}

export type KlingSimulator = ReturnType<typeof createKlingSimulator>;
