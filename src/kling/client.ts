// The gateway's only door to Kling: signs, sends over a keep-alive undici pool, judges every answer through
// envelope.ts, and retries only where a retry cannot turn one of our tasks into two at Kling.
import { Pool } from 'undici';
import { computeBackoffMs, retryAfterMs } from '../backoff.js';
import { systemClock, type Clock } from '../clock.js';
import { loadKlingTask, loadKlingTaskList, parseKlingResponse, readTaskOrAbsent, type KlingRequestKind } from './envelope.js';
import { isDuplicateExternalIdRefusal, isNotFoundAnswer } from './refusals.js';
import { KlingApiError, isKlingApiError } from './errors.js';
import { createKlingTokenSigner } from './jwt.js';
import type {
  KlingCallOptions,
  KlingClient,
  KlingCreateTaskRequest,
  KlingEndpoint,
  KlingListOptions,
  KlingTask,
} from './types.js';
import { taskPath, type WireCreateTaskBody } from './wire.js';

/** The subset of a pino logger the client uses; details never include the token or the secret key. */
export interface KlingClientLogger {
  debug(details: Record<string, unknown>, message: string): void;
  warn(details: Record<string, unknown>, message: string): void;
}

export interface KlingClientTimeouts {
  /** TCP (and TLS) connect, in milliseconds. A connect timeout is safe to retry: nothing was sent. */
  connectMs: number;
  /**
   * From the request being sent to the end of the response headers, in milliseconds. undici checks it
   * on a coarse timer (ticks of about half a second), so values under a second fire late.
   */
  headersMs: number;
  /** Longest silence between two chunks of the response body, in milliseconds; same coarse timer. */
  bodyMs: number;
}

export interface KlingRetryOptions {
  /** Sends per call, the first included; at least 1. A re-sign after 1003/1004 does not count. */
  maxAttempts: number;
  /** Backoff window of the first retry, in milliseconds (full jitter, see backoff.ts). */
  baseMs: number;
  /** Longest wait between two sends, in milliseconds; also caps a server's Retry-After. */
  maxMs: number;
}

export interface KlingClientOptions {
  /** Scheme and host, optionally a path prefix, e.g. `https://api-singapore.klingai.com`. */
  baseUrl: string;
  accessKey: string;
  /** Never logged. */
  secretKey: string;
  /** @default systemClock */
  clock?: Clock;
  /** @default a logger that drops everything */
  logger?: KlingClientLogger;
  timeouts: KlingClientTimeouts;
  /** Keep-alive connections the pool may open to Kling at once. */
  connections: number;
  retry: KlingRetryOptions;
  /**
   * Uniform source in [0, 1) for backoff jitter.
   * @default Math.random
   */
  random?: () => number;
  /**
   * Sent as User-Agent, so Kling's side (and the simulator's stats) can tell instances apart.
   * @default 'kling-gateway'
   */
  userAgent?: string;
}

const silentLogger: KlingClientLogger = { debug: () => undefined, warn: () => undefined };

/** Error codes that say the request was never sent, so even a create is safe to repeat. */
const NOT_SENT_CODES: ReadonlySet<string> = new Set([
  'UND_ERR_CONNECT_TIMEOUT',
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

/** The pool was closed by us: retrying cannot help and nothing went out. */
const CLOSED_CODES: ReadonlySet<string> = new Set(['UND_ERR_CLOSED', 'UND_ERR_DESTROYED']);

const TIMEOUT_CODES: ReadonlySet<string> = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

// A function rather than an inline check: TypeScript would otherwise keep `aborted` narrowed across an await.
const isAborted = (signal: AbortSignal | undefined): boolean => signal?.aborted === true;

function errorCode(error: unknown): string | undefined {
  if (typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string') {
    return error.code;
  }
  return undefined;
}

/** Maps our request to Kling's body, setting only what the caller gave so Kling's own defaults apply. */
export function toWireCreateTaskBody(request: KlingCreateTaskRequest): WireCreateTaskBody {
  const body: WireCreateTaskBody = {
    model_name: request.modelName,
    prompt: request.prompt,
    external_task_id: request.externalTaskId,
  };
  if (request.negativePrompt !== undefined) body.negative_prompt = request.negativePrompt;
  if (request.cfgScale !== undefined) body.cfg_scale = request.cfgScale;
  if (request.mode !== undefined) body.mode = request.mode;
  if (request.aspectRatio !== undefined) body.aspect_ratio = request.aspectRatio;
  // Kling types duration as a string ("5"), not a number.
  if (request.durationSeconds !== undefined) body.duration = String(request.durationSeconds);
  if (request.cameraControl !== undefined) {
    const { type, config } = request.cameraControl;
    body.camera_control = config === undefined ? { type } : { type, config: { ...config } };
  }
  if (request.sound !== undefined) body.sound = request.sound;
  if (request.callbackUrl !== undefined) body.callback_url = request.callbackUrl;
  return body;
}

/** Same error, but telling the caller the task may exist and must be looked up before any resend. */
function asAmbiguous(error: KlingApiError): KlingApiError {
  if (error.ambiguous) return error;
  return new KlingApiError(error.message, {
    kind: error.kind,
    retryable: error.retryable,
    klingCode: error.klingCode,
    httpStatus: error.httpStatus,
    requestId: error.requestId,
    ambiguous: true,
    cause: error.cause ?? error,
  });
}

/** 1003/1004: the token, not the request, was refused; a freshly signed one may pass. */
const isStaleToken = (error: KlingApiError) => error.klingCode === 1003 || error.klingCode === 1004;

/**
 * 1303 (concurrency limit) is left to the caller on a create: a slot frees only when one of our running
 * tasks ends, minutes away, so backing off for seconds here would hold the request open and then fail
 * anyway. The gateway queues the task instead. Reads never take a slot, so they do retry a 1303.
 */
const isRetryableCreate = (error: KlingApiError) => error.retryable && error.kind !== 'concurrency_limited';

/** Kling's own "we are in trouble" codes: retry no sooner than a second later, and look a create up first. */
const SERVER_TROUBLE_CODES: ReadonlySet<number> = new Set([5000, 5001, 5002]);
const SERVER_TROUBLE_MIN_WAIT_MS = 1_000;
const isServerTrouble = (error: KlingApiError) => error.klingCode !== undefined && SERVER_TROUBLE_CODES.has(error.klingCode);

type Outcome =
  | { ok: true; data: unknown }
  | { ok: false; error: KlingApiError; retryAfterMs: number | undefined; token: string };

export function createKlingClient(options: KlingClientOptions): KlingClient {
  const {
    baseUrl,
    accessKey,
    secretKey,
    clock = systemClock,
    logger = silentLogger,
    timeouts,
    connections,
    retry,
    random = Math.random,
  } = options;
  if (!(retry.maxAttempts >= 1)) throw new RangeError(`retry.maxAttempts must be >= 1, got ${retry.maxAttempts}`);

  const url = new URL(baseUrl);
  const pathPrefix = url.pathname.replace(/\/+$/, '');
  const pool = new Pool(url.origin, {
    connections,
    connect: { timeout: timeouts.connectMs },
    headersTimeout: timeouts.headersMs,
    bodyTimeout: timeouts.bodyMs,
  });
  const signer = createKlingTokenSigner({ accessKey, secretKey, clock });
  let closing: Promise<void> | undefined;

  function abortedError(signal: AbortSignal | undefined, ambiguous: boolean): KlingApiError {
    return new KlingApiError('Kling request aborted', {
      kind: 'network',
      retryable: false,
      ambiguous,
      cause: signal?.reason,
    });
  }

  function transportError(error: unknown, requestKind: KlingRequestKind): KlingApiError {
    const code = errorCode(error);
    const reason = error instanceof Error ? error.message : String(error);
    if (code !== undefined && CLOSED_CODES.has(code)) {
      return new KlingApiError(`Kling client is closed: ${reason}`, { kind: 'network', retryable: false, cause: error });
    }
    if (code !== undefined && NOT_SENT_CODES.has(code)) {
      return new KlingApiError(`Could not reach Kling: ${reason}`, { kind: 'network', retryable: true, cause: error });
    }
    // From here on the request may have reached Kling: a create must be looked up before it is sent again.
    const ambiguous = requestKind === 'create';
    if (code !== undefined && TIMEOUT_CODES.has(code)) {
      return new KlingApiError(`Kling did not answer in time: ${reason}`, { kind: 'timeout', retryable: true, ambiguous, cause: error });
    }
    return new KlingApiError(`Connection to Kling failed: ${reason}`, { kind: 'network', retryable: true, ambiguous, cause: error });
  }

  /** One HTTP exchange. Throws only when aborted; every other failure comes back classified. */
  async function attemptOnce(
    method: 'GET' | 'POST',
    path: string,
    body: string | undefined,
    requestKind: KlingRequestKind,
    signal: AbortSignal | undefined,
  ): Promise<Outcome> {
    // Already aborted: nothing goes out, so not even a create is in doubt.
    if (isAborted(signal)) throw abortedError(signal, false);
    const token = await signer.token();
    let response: { statusCode: number; retryAfter: string | string[] | undefined; bodyText: string };
    try {
      const answer = await pool.request({
        method,
        path: pathPrefix + path,
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': 'application/json',
          accept: 'application/json',
          'user-agent': options.userAgent ?? 'kling-gateway',
        },
        body,
        signal,
      });
      response = { statusCode: answer.statusCode, retryAfter: answer.headers['retry-after'], bodyText: await answer.body.text() };
    } catch (error) {
      // Aborting a create mid-flight leaves it as uncertain as a timeout does.
      if (isAborted(signal)) throw abortedError(signal, requestKind === 'create');
      return { ok: false, error: transportError(error, requestKind), retryAfterMs: undefined, token };
    }
    try {
      return { ok: true, data: parseKlingResponse(response.statusCode, response.bodyText, requestKind) };
    } catch (error) {
      if (!isKlingApiError(error)) throw error;
      return { ok: false, error, retryAfterMs: retryAfterMs(response.retryAfter, clock.now()), token };
    }
  }

  async function pause(
    retryIndex: number,
    outcome: { error: KlingApiError; retryAfterMs: number | undefined },
    context: Record<string, unknown>,
    signal: AbortSignal | undefined,
    ambiguousIfAborted: boolean,
  ): Promise<void> {
    let delayMs = computeBackoffMs(retryIndex, { baseMs: retry.baseMs, maxMs: retry.maxMs, random });
    // Kling asks for at least a second before retrying after its own 5000/5001/5002.
    if (isServerTrouble(outcome.error)) delayMs = Math.max(delayMs, SERVER_TROUBLE_MIN_WAIT_MS);
    // A server that names a wait knows better than our jitter, up to the cap we promised our own callers.
    if (outcome.retryAfterMs !== undefined) delayMs = Math.max(delayMs, Math.min(outcome.retryAfterMs, retry.maxMs));
    const { error } = outcome;
    logger.warn(
      {
        ...context,
        kind: error.kind,
        klingCode: error.klingCode,
        httpStatus: error.httpStatus,
        requestId: error.requestId,
        ambiguous: error.ambiguous,
        delayMs,
      },
      'Kling call failed; retrying',
    );
    try {
      await clock.sleep(delayMs, signal);
    } catch (error) {
      if (isAborted(signal)) throw abortedError(signal, ambiguousIfAborted);
      throw error;
    }
  }

  /** GET with bounded retries: a read changes nothing at Kling, so any transient failure may be repeated. */
  async function read(path: string, signal: AbortSignal | undefined): Promise<unknown> {
    let resigned = false;
    for (let attempt = 1; ; attempt += 1) {
      const outcome = await attemptOnce('GET', path, undefined, 'read', signal);
      if (outcome.ok) return outcome.data;
      const { error } = outcome;
      if (isStaleToken(error)) {
        // A second refusal of a fresh token means clock skew, which waiting does not fix.
        if (resigned) throw error;
        resigned = true;
        signer.invalidate(outcome.token);
        attempt -= 1;
        continue;
      }
      if (!error.retryable || attempt >= retry.maxAttempts) throw error;
      await pause(attempt - 1, outcome, { method: 'GET', path, attempt }, signal, false);
    }
  }

  /**
   * One task, or null when Kling says it does not know it. Kling documents no such answer, so each
   * plausible shape counts: 404/1203, 400/1201, or success with empty data. The caller decides what a
   * not-found means: one never ends a task (see tasks/absence.ts).
   */
  async function readTaskOrNull(path: string, signal: AbortSignal | undefined): Promise<KlingTask | null> {
    let data: unknown;
    try {
      data = await read(path, signal);
    } catch (error) {
      if (isKlingApiError(error) && (error.kind === 'not_found' || isNotFoundAnswer(error))) return null;
      throw error;
    }
    return readTaskOrAbsent(data);
  }

  /** Our task at Kling by our own id, before a resend or after a duplicate refusal. */
  async function lookUp(request: KlingCreateTaskRequest, signal: AbortSignal | undefined): Promise<KlingTask | null> {
    try {
      return await client.findTaskByExternalId(request.endpoint, request.externalTaskId, { signal });
    } catch (error) {
      // Without an answer we cannot tell whether resending would create a second task, so we stop here.
      throw isKlingApiError(error) ? asAmbiguous(error) : error;
    }
  }

  const client = {
    async createTask(request: KlingCreateTaskRequest, callOptions?: KlingCallOptions): Promise<KlingTask> {
      const signal = callOptions?.signal;
      const path = taskPath(request.endpoint);
      const body = JSON.stringify(toWireCreateTaskBody(request));
      let resigned = false;
      // Some earlier send may have created the task; sticky, because a task can appear after a lookup missed it.
      let mayExist = false;
      // ...and no lookup has looked since that send.
      let mustLookUp = false;

      for (let attempt = 1; ; attempt += 1) {
        if (mustLookUp) {
          const found = await lookUp(request, signal);
          if (found !== null) {
            logger.debug({ externalTaskId: request.externalTaskId, taskId: found.taskId, attempt }, 'Kling task found after ambiguous create');
            return found;
          }
          mustLookUp = false;
        }

        let outcome: Outcome;
        try {
          outcome = await attemptOnce('POST', path, body, 'create', signal);
        } catch (error) {
          throw mayExist && isKlingApiError(error) ? asAmbiguous(error) : error;
        }
        if (outcome.ok) return loadKlingTask(outcome.data, 'create');
        const { error } = outcome;
        if (error.ambiguous) {
          mayExist = true;
          mustLookUp = true;
        }
        if (isStaleToken(error)) {
          // A second refusal of a fresh token means clock skew, which waiting does not fix.
          if (resigned) throw mayExist ? asAmbiguous(error) : error;
          // Auth is checked before anything is created, so this resend is always safe.
          resigned = true;
          signer.invalidate(outcome.token);
          attempt -= 1;
          continue;
        }
        if (isDuplicateExternalIdRefusal(error)) {
          // Our external id exists at Kling, so the task does: an earlier send (ours, or one whose answer
          // was lost) created it. Adopt it; if it cannot be read back yet, the caller must look again later.
          const found = await lookUp(request, signal);
          if (found !== null) return found;
          throw asAmbiguous(error);
        }
        if (isServerTrouble(error)) mustLookUp = true;
        if (!isRetryableCreate(error) || attempt >= retry.maxAttempts) throw mayExist ? asAmbiguous(error) : error;
        await pause(attempt - 1, outcome, { method: 'POST', path, attempt, externalTaskId: request.externalTaskId }, signal, mayExist);
      }
    },

    async getTask(endpoint: KlingEndpoint, taskId: string, callOptions?: KlingCallOptions): Promise<KlingTask | null> {
      return readTaskOrNull(`${taskPath(endpoint)}/${encodeURIComponent(taskId)}`, callOptions?.signal);
    },

    // Kling's query path takes the external_task_id in place of the task_id (kling-api.md section 3).
    async findTaskByExternalId(
      endpoint: KlingEndpoint,
      externalTaskId: string,
      callOptions?: KlingCallOptions,
    ): Promise<KlingTask | null> {
      return readTaskOrNull(`${taskPath(endpoint)}/${encodeURIComponent(externalTaskId)}`, callOptions?.signal);
    },

    async listTasks(endpoint: KlingEndpoint, list: KlingListOptions = {}, callOptions?: KlingCallOptions): Promise<KlingTask[]> {
      const query = new URLSearchParams();
      if (list.pageNum !== undefined) query.set('pageNum', String(list.pageNum));
      if (list.pageSize !== undefined) query.set('pageSize', String(list.pageSize));
      const search = query.size > 0 ? `?${query.toString()}` : '';
      return loadKlingTaskList(await read(`${taskPath(endpoint)}${search}`, callOptions?.signal));
    },

    /** Closes the pool after in-flight requests finish; safe to call more than once. */
    async close(): Promise<void> {
      closing ??= pool.close();
      await closing;
    },
  } satisfies KlingClient;

  return client;
}
