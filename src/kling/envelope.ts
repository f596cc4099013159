// The one place Kling's answers are judged (kling-api.md sections 5 and 7): success, which error, and
// whether a create may have happened anyway. Every response of every call goes through parseKlingResponse.
import { KLING_CODES, KlingApiError, type KlingErrorKind } from './errors.js';
import { formatKlingError } from './refusals.js';
import { KLING_TASK_STATUSES, type KlingTask, type KlingTaskStatus } from './types.js';
import { wireEnvelopeSchema, wireTaskSchema, type WireTask } from './wire.js';

// The wording-based predicates live in refusals.ts; re-exported so callers judge answers from one module.
export { isDuplicateExternalIdRefusal, isNotFoundAnswer, readKlingMessage } from './refusals.js';

/**
 * What the request was. Only a `create` can be ambiguous: a read that failed changed nothing, while a
 * create that failed without a clear "no" may have produced a task at Kling.
 */
export type KlingRequestKind = 'create' | 'read';

interface Classification {
  kind: KlingErrorKind;
  retryable: boolean;
}

/** Codes after which Kling may have created the task although it answered with an error. */
const MAYBE_APPLIED_CODES: ReadonlySet<number> = new Set([5000, 5002]);

/**
 * For codes missing from Kling's table: the HTTP status is the only hint left. 5xx and 429 stay retryable
 * because those statuses mean "not now" everywhere; a 2xx with a non-zero code says nothing we can act on.
 */
function classifyByStatus(httpStatus: number): Classification {
  if (httpStatus === 401) return { kind: 'auth', retryable: false };
  if (httpStatus === 403) return { kind: 'permission', retryable: false };
  if (httpStatus === 404) return { kind: 'not_found', retryable: false };
  if (httpStatus === 408) return { kind: 'timeout', retryable: true };
  if (httpStatus === 429) return { kind: 'rate_limited', retryable: true };
  if (httpStatus >= 400 && httpStatus < 500) return { kind: 'invalid_params', retryable: false };
  if (httpStatus === 503) return { kind: 'unavailable', retryable: true };
  if (httpStatus === 504) return { kind: 'timeout', retryable: true };
  if (httpStatus >= 500) return { kind: 'server_error', retryable: true };
  return { kind: 'protocol', retryable: false };
}

const isSuccessStatus = (httpStatus: number) => httpStatus >= 200 && httpStatus < 300;

/**
 * An answer we cannot read. After a create that reached Kling's application (2xx) or died inside it (5xx),
 * the task may exist, so the caller must look before sending again.
 */
function unreadable(httpStatus: number, requestKind: KlingRequestKind, reason: string, cause?: unknown): KlingApiError {
  const mayHaveApplied = requestKind === 'create' && (isSuccessStatus(httpStatus) || httpStatus >= 500);
  if (httpStatus >= 500) {
    // A gateway or load balancer in front of Kling answers 5xx with HTML; it is an outage, not a protocol change.
    return new KlingApiError(`Kling answered HTTP ${httpStatus} without a readable envelope: ${reason}`, {
      kind: 'server_error',
      retryable: true,
      httpStatus,
      ambiguous: mayHaveApplied,
      cause,
    });
  }
  if (httpStatus === 429) {
    // A proxy throttling in front of Kling: the request went no further, so it is "not now", not a protocol change.
    return new KlingApiError(`Kling answered HTTP 429 without a readable envelope: ${reason}`, {
      kind: 'rate_limited',
      retryable: true,
      httpStatus,
      cause,
    });
  }
  return new KlingApiError(`Kling answered HTTP ${httpStatus} without a readable envelope: ${reason}`, {
    kind: 'protocol',
    retryable: false,
    httpStatus,
    ambiguous: mayHaveApplied,
    cause,
  });
}

/**
 * Unwraps Kling's `{code, message, request_id, data}` envelope and returns `data`, or throws a classified
 * `KlingApiError`. `code` decides, not the HTTP status: a non-zero code under HTTP 200 is still an error.
 * The envelope `message` is ignored on success; it says "SUCCEED" even for a task that failed.
 */
export function parseKlingResponse(httpStatus: number, bodyText: string, requestKind: KlingRequestKind): unknown {
  let json: unknown;
  try {
    json = JSON.parse(bodyText);
  } catch (error) {
    throw unreadable(httpStatus, requestKind, 'body is not JSON', error);
  }
  const parsed = wireEnvelopeSchema.safeParse(json);
  if (!parsed.success) {
    throw unreadable(httpStatus, requestKind, 'no code/message envelope', parsed.error);
  }
  const { code, data } = parsed.data;
  const message = parsed.data.message ?? '';
  const requestId = parsed.data.request_id;

  if (code === 0) {
    if (isSuccessStatus(httpStatus)) return data;
    // Success code under an error status: neither half can be trusted, so only the status class decides retrying.
    throw new KlingApiError(`Kling answered HTTP ${httpStatus} with code 0`, {
      kind: 'protocol',
      retryable: httpStatus >= 500,
      httpStatus,
      requestId,
      ambiguous: requestKind === 'create' && httpStatus >= 500,
    });
  }

  const known = KLING_CODES[code];
  const { kind, retryable } = known ?? classifyByStatus(httpStatus);
  const mayHaveApplied = known !== undefined ? MAYBE_APPLIED_CODES.has(code) : httpStatus >= 500;
  throw new KlingApiError(formatKlingError(code, message), {
    kind,
    retryable,
    klingCode: code,
    httpStatus,
    requestId,
    ambiguous: requestKind === 'create' && mayHaveApplied,
  });
}

export function isKlingTaskStatus(value: string): value is KlingTaskStatus {
  return (KLING_TASK_STATUSES as readonly string[]).includes(value);
}

function protocolError(message: string, requestKind: KlingRequestKind, cause?: unknown): KlingApiError {
  // A create answered with code 0 did create the task, even if we cannot read it back.
  return new KlingApiError(message, { kind: 'protocol', retryable: false, ambiguous: requestKind === 'create', cause });
}

/**
 * Converts a wire task to the gateway's shape. An unknown `task_status` is a protocol error: reading it as
 * "processing" would keep polling a task whose meaning we no longer know, possibly forever.
 */
export function toKlingTask(wire: WireTask, requestKind: KlingRequestKind = 'read'): KlingTask {
  if (!isKlingTaskStatus(wire.task_status)) {
    throw protocolError(`Kling task ${wire.task_id} has unknown status "${wire.task_status}"`, requestKind);
  }
  const videos = (wire.task_result?.videos ?? []).map((video) => {
    const durationSeconds = Number(video.duration);
    if ((typeof video.duration === 'string' && video.duration.trim() === '') || !Number.isFinite(durationSeconds)) {
      throw protocolError(`Kling video ${video.id} has unreadable duration "${String(video.duration)}"`, requestKind);
    }
    return { id: video.id, url: video.url, durationSeconds };
  });
  const externalTaskId = wire.task_info?.external_task_id;
  const deduction = wire.final_unit_deduction;
  return {
    taskId: wire.task_id,
    status: wire.task_status,
    statusMessage: wire.task_status_msg ?? '',
    externalTaskId: externalTaskId === '' ? undefined : externalTaskId,
    createdAt: wire.created_at,
    updatedAt: wire.updated_at,
    videos,
    finalUnitDeduction: deduction === undefined || deduction === '' ? undefined : String(deduction),
  };
}

/** Validates one task object from a response's `data` (or a callback body) and converts it. */
export function loadKlingTask(data: unknown, requestKind: KlingRequestKind = 'read'): KlingTask {
  const parsed = wireTaskSchema.safeParse(data);
  if (!parsed.success) {
    throw protocolError(`Kling task object is malformed: ${parsed.error.message}`, requestKind, parsed.error);
  }
  return toKlingTask(parsed.data, requestKind);
}

/** Validates the `data` array of a list response. One unreadable task fails the page rather than vanishing from it. */
export function loadKlingTaskList(data: unknown): KlingTask[] {
  // A page past the end may come back as `null` rather than `[]`.
  if (data === null || data === undefined) return [];
  if (!Array.isArray(data)) throw protocolError('Kling task list is not an array', 'read');
  return data.map((item) => loadKlingTask(item, 'read'));
}

const isBlank = (value: unknown): boolean => value === undefined || value === null || value === '';

/**
 * True for an object that names no task: no task id and no status. One that carries a status (or the
 * new-standard `id`/`status`) is a task we cannot read, not an absent one.
 */
function namesNoTask(data: object): boolean {
  const fields = data as Record<string, unknown>;
  return ['task_id', 'task_status', 'id', 'status'].every((key) => isBlank(fields[key]));
}

/**
 * Reads the `data` of a successful single-task query (by task_id or external_task_id). Kling documents no
 * answer for an unknown id (§13), and HTTP 200 with an empty `data` is one plausible form of it: `null`,
 * absent, `""`, `{}`, `[]`, or an object with neither a task id nor a status all return `null`. A
 * one-element array is that element. Anything else must be a readable task, else it is a protocol error
 * (more than one task included): a shape we cannot read must never pass for "Kling does not know this task".
 */
export function readTaskOrAbsent(data: unknown): KlingTask | null {
  if (isBlank(data)) return null;
  if (Array.isArray(data)) {
    if (data.length === 0) return null;
    const [only] = data as unknown[];
    if (data.length > 1 || Array.isArray(only)) {
      throw protocolError(`Kling answered a single-task query with an array of ${data.length}`, 'read');
    }
    return readTaskOrAbsent(only);
  }
  if (typeof data === 'object' && data !== null && namesNoTask(data)) return null;
  return loadKlingTask(data, 'read');
}
