import { describe, expect, it } from 'vitest';
import { loadKlingTask, loadKlingTaskList, parseKlingResponse, toKlingTask } from '../../src/kling/envelope.js';
import { KLING_CODES, KlingApiError } from '../../src/kling/errors.js';
import type { WireTask } from '../../src/kling/wire.js';

const requestId = 'c0656403-1e6e-4b7e-b8f8-2cdd2595f2b9';

function envelope(code: number, message: string, data?: unknown): string {
  return JSON.stringify({ code, message, request_id: requestId, ...(data === undefined ? {} : { data }) });
}

/** Runs `fn`, which must throw a KlingApiError, and returns it. */
function caught(fn: () => unknown): KlingApiError {
  try {
    fn();
  } catch (error) {
    if (error instanceof KlingApiError) return error;
    throw error;
  }
  throw new Error('expected a KlingApiError');
}

const wireTask = {
  task_id: '867283741759111202',
  task_status: 'submitted',
  task_info: { external_task_id: 'my-job-1' },
  created_at: 1774805076166,
  updated_at: 1774805076166,
} satisfies WireTask;

describe('parseKlingResponse', () => {
  it('returns data for code 0', () => {
    expect(parseKlingResponse(200, envelope(0, 'SUCCEED', wireTask), 'create')).toEqual(wireTask);
  });

  const table = Object.entries(KLING_CODES).map(([code, info]) => ({ code: Number(code), ...info }));

  it.each(table)('classifies code $code as $kind (HTTP $httpStatus, retryable $retryable)', ({ code, httpStatus, kind, retryable, message }) => {
    const error = caught(() => parseKlingResponse(httpStatus, envelope(code, message), 'read'));
    expect(error).toMatchObject({ kind, retryable, klingCode: code, httpStatus, requestId, ambiguous: false });
    expect(error.message).toContain(message);
  });

  it.each([
    { code: 5000, ambiguous: true },
    { code: 5001, ambiguous: false },
    { code: 5002, ambiguous: true },
    { code: 1303, ambiguous: false },
    { code: 1301, ambiguous: false },
  ])('marks a create answered with $code ambiguous: $ambiguous', ({ code, ambiguous }) => {
    const info = KLING_CODES[code];
    if (info === undefined) throw new Error(`no table row for ${code}`);
    const error = caught(() => parseKlingResponse(info.httpStatus, envelope(code, info.message), 'create'));
    expect(error.ambiguous).toBe(ambiguous);
  });

  it('treats a non-zero code under HTTP 200 as an error', () => {
    const error = caught(() => parseKlingResponse(200, envelope(1301, 'Content security policy triggered'), 'create'));
    expect(error).toMatchObject({ kind: 'content_policy', retryable: false, klingCode: 1301, httpStatus: 200 });
  });

  it.each([
    { httpStatus: 401, kind: 'auth', retryable: false },
    { httpStatus: 404, kind: 'not_found', retryable: false },
    { httpStatus: 400, kind: 'invalid_params', retryable: false },
    { httpStatus: 429, kind: 'rate_limited', retryable: true },
    { httpStatus: 500, kind: 'server_error', retryable: true },
    { httpStatus: 503, kind: 'unavailable', retryable: true },
    { httpStatus: 200, kind: 'protocol', retryable: false },
  ])('classifies an unknown code under HTTP $httpStatus as $kind', ({ httpStatus, kind, retryable }) => {
    const error = caught(() => parseKlingResponse(httpStatus, envelope(9999, 'something new'), 'read'));
    expect(error).toMatchObject({ kind, retryable, klingCode: 9999, httpStatus });
  });

  it('reports a non-JSON body as a protocol error', () => {
    const error = caught(() => parseKlingResponse(200, '<html>hello</html>', 'read'));
    expect(error).toMatchObject({ kind: 'protocol', retryable: false, klingCode: undefined, ambiguous: false });
  });

  it('reports a body without a code as a protocol error', () => {
    const error = caught(() => parseKlingResponse(400, JSON.stringify({ message: 'bad' }), 'read'));
    expect(error).toMatchObject({ kind: 'protocol', retryable: false });
  });

  it('treats an unreadable 2xx to a create as ambiguous: the task may exist', () => {
    expect(caught(() => parseKlingResponse(200, 'not json', 'create')).ambiguous).toBe(true);
  });

  it('reports a 5xx without a readable body as a retryable server error', () => {
    const read = caught(() => parseKlingResponse(502, '<html>Bad Gateway</html>', 'read'));
    expect(read).toMatchObject({ kind: 'server_error', retryable: true, httpStatus: 502, ambiguous: false });
    expect(caught(() => parseKlingResponse(502, '', 'create')).ambiguous).toBe(true);
  });

  it('reports code 0 under an error status as a protocol error', () => {
    expect(caught(() => parseKlingResponse(400, envelope(0, 'SUCCEED', wireTask), 'read'))).toMatchObject({ kind: 'protocol' });
  });
});

describe('loadKlingTask', () => {
  it('converts the create answer (no task_status_msg, no result)', () => {
    expect(loadKlingTask(wireTask)).toEqual({
      taskId: '867283741759111202',
      status: 'submitted',
      statusMessage: '',
      externalTaskId: 'my-job-1',
      createdAt: 1774805076166,
      updatedAt: 1774805076166,
      videos: [],
      finalUnitDeduction: undefined,
    });
  });

  it('converts a finished task: duration string to number, task_info {} to no external id', () => {
    const task = loadKlingTask({
      ...wireTask,
      task_status: 'succeed',
      task_status_msg: '',
      task_info: {},
      updated_at: 1774805308166,
      task_result: { videos: [{ id: '101', url: 'https://cdn.example/v.mp4', duration: '5.1' }], images: [] },
      final_unit_deduction: '1.5',
    });
    expect(task).toMatchObject({
      status: 'succeed',
      externalTaskId: undefined,
      videos: [{ id: '101', url: 'https://cdn.example/v.mp4', durationSeconds: 5.1 }],
      finalUnitDeduction: '1.5',
    });
  });

  it('reads a failed task as failed although the envelope says SUCCEED', () => {
    const body = envelope(0, 'SUCCEED', {
      ...wireTask,
      task_status: 'failed',
      task_status_msg: 'Content security policy triggered',
      task_result: {},
    });
    const task = loadKlingTask(parseKlingResponse(200, body, 'read'));
    expect(task).toMatchObject({ status: 'failed', statusMessage: 'Content security policy triggered', videos: [] });
  });

  it.each(['succeeded', 'queued', 'PROCESSING', ''])('rejects the unknown status %j as a protocol error', (status) => {
    const error = caught(() => loadKlingTask({ ...wireTask, task_status: status }));
    expect(error).toMatchObject({ kind: 'protocol', retryable: false });
    expect(error.message).toContain('unknown status');
  });

  it('marks an unreadable task answering a create as ambiguous', () => {
    expect(caught(() => loadKlingTask({ ...wireTask, task_status: 'queued' }, 'create')).ambiguous).toBe(true);
  });

  it('rejects a malformed task object and an unreadable video duration', () => {
    expect(caught(() => loadKlingTask({ task_id: 1 })).kind).toBe('protocol');
    const badDuration = { ...wireTask, task_status: 'succeed', task_result: { videos: [{ id: '1', url: 'u', duration: 'five' }] } };
    expect(caught(() => toKlingTask(badDuration)).kind).toBe('protocol');
  });

  it('loads a list page and rejects a page that is not an array', () => {
    expect(loadKlingTaskList([wireTask, { ...wireTask, task_id: '2' }]).map((task) => task.taskId)).toEqual(['867283741759111202', '2']);
    expect(caught(() => loadKlingTaskList({ tasks: [] })).kind).toBe('protocol');
  });
});
