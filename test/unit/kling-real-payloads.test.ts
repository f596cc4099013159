// The client's parser against what Kling really sends (kling-api.md §5, §7, §8, §13 and kling-payloads.md).
// Fixtures are written from those captures, not from our simulator: where the two differ, Kling wins.
// Parts the captures cut ("…") are filled with made-up values of the same form; everything else is verbatim.
import { describe, expect, it } from 'vitest';
import {
  isDuplicateExternalIdRefusal,
  isNotFoundAnswer,
  loadKlingTask,
  loadKlingTaskList,
  parseKlingResponse,
  readTaskOrAbsent,
  type KlingRequestKind,
} from '../../src/kling/envelope.js';
import { KlingApiError } from '../../src/kling/errors.js';
import type { KlingTask } from '../../src/kling/types.js';

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

/** A whole answer as the client reads a create or a single-task query: envelope first, then the task. */
function readAnswer(httpStatus: number, body: unknown, requestKind: KlingRequestKind = 'read'): KlingTask {
  return loadKlingTask(parseKlingResponse(httpStatus, JSON.stringify(body), requestKind), requestKind);
}

/** The classified error for an answer that is not a success. */
function errorOf(httpStatus: number, body: unknown, requestKind: KlingRequestKind = 'read'): KlingApiError {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  return caught(() => parseKlingResponse(httpStatus, text, requestKind));
}

const UUID_REQUEST_ID = '0e748220-9934-49a8-aec6-f204b7047b56';
const OLD_ID = 'CjI17WevH1IAAAAAAHmgsw'; // 2025-02: task_id and request_id were base64-like

// CAP-A (2025-11-27): create, then processing, then succeed 229 s later.
const CAP_A_CREATED = 1764235825029;
const CAP_A_CREATE = {
  code: 0,
  message: 'SUCCEED',
  request_id: UUID_REQUEST_ID,
  data: { task_id: '822953089408827433', task_status: 'submitted', task_info: {}, created_at: CAP_A_CREATED, updated_at: CAP_A_CREATED },
};
const CAP_A_PROCESSING = {
  code: 0,
  message: 'SUCCEED',
  request_id: '8dde5a2b-d74d-4c95-bcd4-a95ea452046c',
  data: {
    task_id: '822953089408827433',
    task_status: 'processing',
    task_info: {},
    task_result: {},
    task_status_msg: '',
    created_at: CAP_A_CREATED,
    updated_at: 1764235834382,
  },
};
const CAP_A_URL =
  'https://v16-kling-fdl.klingai.com/bs2/upload-ylab-stunt-sgp/muse/820893480699428916/VIDEO/20251127/da060d4e-5b1c-4f7a-9d2e-097cc75a9987.mp4' +
  '?cacheKey=ChtzZWN1cml0eS5rbGluZy5tZXRhX2VuY3J5cHQSsAE&x-kcdn-pid=112781&ksSecret=b8137a0c6e2f4d1e9a5b3c7d8e9f0a1b&ksTime=694fa816';
const CAP_A_SUCCEED = {
  code: 0,
  message: 'SUCCEED',
  request_id: '2bbcea36-c008-4aaa-86dd-520a09708755',
  data: {
    task_id: '822953089408827433',
    task_status: 'succeed',
    task_info: {},
    task_result: { videos: [{ id: '822953089593376815', url: CAP_A_URL, duration: '5.1' }] },
    task_status_msg: '',
    created_at: CAP_A_CREATED,
    updated_at: 1764236054436,
  },
};

// CAP-B (2025-12-12): a real callback, the bare task object. Expires = updated_at / 1000 + 30 days.
const CAP_B_URL =
  'https://v15-kling-fdl.klingai.com/bs2/upload-ylab-stunt-sgp/muse/828300247523786832/VIDEO/20251212/99e0c1f2-7a3b-4c5d-8e9f-0a1b2c3d48de.mp4' +
  '?cacheKey=ChtzZWN1cml0eS5rbGluZy5tZXRhX2VuY3J5cHQSsAE&x-kcdn-pid=112781&Expires=1768112080' +
  '&Signature=Yx3kQm2Lp0aZ9~Vb7Nc5Xd1-We3Rf6Tg8Uh0Ij2Kl4Mn6Op8Qr0St2Uv4Wx6Yz8_&Key-Pair-Id=K1FG4T7LWJK0FU';
const CAP_B_CALLBACK =
  '{"task_id":"828338674605228111","task_status":"succeed","task_info":{},"task_result":{"images":[],"videos":[{"id":"828338674655576157",' +
  `"url":"${CAP_B_URL}","duration":"5.1"}],"audios":[]},"task_status_msg":"","created_at":1765519848595,"updated_at":1765520080995}`;

const RISK_CONTROL = 'Failure to pass the risk control system';

describe('create answers', () => {
  it('reads the real 2025-11 create: 18-digit task_id, task_info {}, no task_status_msg', () => {
    expect(readAnswer(200, CAP_A_CREATE, 'create')).toEqual({
      taskId: '822953089408827433',
      status: 'submitted',
      statusMessage: '',
      externalTaskId: undefined,
      createdAt: CAP_A_CREATED,
      updatedAt: CAP_A_CREATED,
      videos: [],
      finalUnitDeduction: undefined,
    });
  });

  it('reads our external_task_id echoed in task_info', () => {
    const body = {
      code: 0,
      message: 'SUCCEED',
      request_id: 'c0656403-1e6e-4b7e-b8f8-2cdd2595f2b9',
      data: {
        task_id: '867283741759111202',
        task_status: 'submitted',
        task_info: { external_task_id: 'my-job-1' },
        created_at: 1774805076166,
        updated_at: 1774805076166,
      },
    };
    expect(readAnswer(200, body, 'create')).toMatchObject({ taskId: '867283741759111202', externalTaskId: 'my-job-1' });
  });

  it('reads the 2025-02 create: base64-like task_id and request_id, no task_info at all', () => {
    const body = `{"code":0,"message":"SUCCEED","request_id":"${OLD_ID}","data":{"task_id":"${OLD_ID}","task_status":"submitted","created_at":1739744384259,"updated_at":1739744384259}}`;
    const task = loadKlingTask(parseKlingResponse(200, body, 'create'), 'create');
    expect(task).toMatchObject({ taskId: OLD_ID, status: 'submitted', externalTaskId: undefined, createdAt: 1739744384259 });
  });

  it('keeps an 18-digit task_id exactly: it is a string on the wire, beyond a double', () => {
    expect(readAnswer(200, CAP_A_CREATE, 'create').taskId).toBe('822953089408827433');
    expect(Number('822953089408827433').toString()).not.toBe('822953089408827433');
  });
});

describe('queries while submitted or processing', () => {
  it('reads the real processing answer: task_result {}, task_status_msg ""', () => {
    expect(readAnswer(200, CAP_A_PROCESSING)).toEqual({
      taskId: '822953089408827433',
      status: 'processing',
      statusMessage: '',
      externalTaskId: undefined,
      createdAt: CAP_A_CREATED,
      updatedAt: 1764235834382,
      videos: [],
      finalUnitDeduction: undefined,
    });
  });

  const { task_info: _omitted, ...withoutTaskInfo } = CAP_A_PROCESSING.data;
  it.each([
    { shape: 'task_info {}', data: CAP_A_PROCESSING.data, externalTaskId: undefined },
    { shape: 'task_info absent', data: withoutTaskInfo, externalTaskId: undefined },
    { shape: 'task_info null', data: { ...withoutTaskInfo, task_info: null }, externalTaskId: undefined },
    { shape: 'task_info {external_task_id}', data: { ...withoutTaskInfo, task_info: { external_task_id: 'gw-7' } }, externalTaskId: 'gw-7' },
    { shape: 'external_task_id ""', data: { ...withoutTaskInfo, task_info: { external_task_id: '' } }, externalTaskId: undefined },
    { shape: 'external_task_id null', data: { ...withoutTaskInfo, task_info: { external_task_id: null } }, externalTaskId: undefined },
    {
      shape: 'task_info with parent_video and more',
      data: { ...withoutTaskInfo, task_info: { external_task_id: 'gw-8', parent_video: { id: '1', url: 'u', duration: '5' }, extra: 1 } },
      externalTaskId: 'gw-8',
    },
  ])('reads $shape', ({ data, externalTaskId }) => {
    const task = readAnswer(200, { ...CAP_A_PROCESSING, data });
    expect(task).toMatchObject({ status: 'processing', statusMessage: '', videos: [] });
    expect(task.externalTaskId).toBe(externalTaskId);
  });

  it('reads a submitted query that nulls or omits every optional field', () => {
    const data = {
      task_id: '822953089408827433',
      task_status: 'submitted',
      task_status_msg: null,
      task_info: null,
      task_result: null,
      final_unit_deduction: null,
      final_balance_deduction: null,
      watermark_info: null,
      created_at: CAP_A_CREATED,
      updated_at: CAP_A_CREATED,
    };
    expect(readAnswer(200, { code: 0, message: 'SUCCEED', request_id: null, data })).toMatchObject({
      status: 'submitted',
      statusMessage: '',
      externalTaskId: undefined,
      videos: [],
      finalUnitDeduction: undefined,
    });
  });

  it('ignores unknown fields in the envelope, the task, task_info, task_result and the videos', () => {
    const body = {
      ...CAP_A_SUCCEED,
      trace_id: 'abc',
      data: {
        ...CAP_A_SUCCEED.data,
        model_name: 'kling-v2-6',
        watermark_info: { enabled: false },
        something_new: { nested: [1, 2] },
        task_info: { external_task_id: 'gw-9', origin: 'api' },
        task_result: {
          videos: [{ id: '822953089593376815', url: CAP_A_URL, duration: '5.1', cover_url: 'https://x/c.jpg', size: 1 }],
          images: [],
          audios: [],
          elements: [],
        },
      },
    };
    expect(readAnswer(200, body)).toMatchObject({ status: 'succeed', externalTaskId: 'gw-9', videos: [{ durationSeconds: 5.1 }] });
  });
});

describe('succeeded tasks', () => {
  it('reads the real 2025-11 success: decimal-string duration, numeric-string id, signed CDN URL kept verbatim', () => {
    expect(readAnswer(200, CAP_A_SUCCEED)).toEqual({
      taskId: '822953089408827433',
      status: 'succeed',
      statusMessage: '',
      externalTaskId: undefined,
      createdAt: CAP_A_CREATED,
      updatedAt: 1764236054436,
      videos: [{ id: '822953089593376815', url: CAP_A_URL, durationSeconds: 5.1 }],
      finalUnitDeduction: undefined,
    });
  });

  it('reads the 2025-02 success: UUID video id, cdn.klingai.com URL, no task_info', () => {
    const url = `https://cdn.klingai.com/bs2/upload-kling-api/5739745938/image2video/${OLD_ID}-0_raw_video_1.mp4`;
    const body = {
      code: 0,
      message: 'SUCCEED',
      request_id: OLD_ID,
      data: {
        task_id: OLD_ID,
        task_status: 'succeed',
        task_status_msg: '',
        task_result: { videos: [{ id: '28444a6c-b923-4d7c-be2c-e0898ea73dc0', url, duration: '5.1' }] },
        created_at: 1739744384259,
        updated_at: 1739744610000,
      },
    };
    expect(readAnswer(200, body).videos).toEqual([{ id: '28444a6c-b923-4d7c-be2c-e0898ea73dc0', url, durationSeconds: 5.1 }]);
  });

  it('reads a 2026 success with watermark_url, watermark_info and both deductions', () => {
    const watermarkUrl = CAP_B_URL.replace('.mp4?', '_watermark.mp4?');
    const body = {
      code: 0,
      message: 'SUCCEED',
      request_id: UUID_REQUEST_ID,
      data: {
        task_id: '867283741759111202',
        task_status: 'succeed',
        task_status_msg: '',
        task_info: { external_task_id: 'gw-2026' },
        task_result: { videos: [{ id: '867283741902157313', url: CAP_B_URL, watermark_url: watermarkUrl, duration: '10.1' }] },
        watermark_info: { enabled: true },
        final_unit_deduction: '3.2',
        final_balance_deduction: { quota: '0.448', list_price: '0.56' },
        created_at: 1774805076166,
        updated_at: 1774805308166,
      },
    };
    const task = readAnswer(200, body);
    expect(task).toMatchObject({ externalTaskId: 'gw-2026', finalUnitDeduction: '3.2' });
    expect(task.videos).toEqual([{ id: '867283741902157313', url: CAP_B_URL, durationSeconds: 10.1 }]);
    expect(new URL(task.videos[0]?.url ?? '').searchParams.get('Key-Pair-Id')).toBe('K1FG4T7LWJK0FU');
  });

  it.each([
    { duration: '5.1', seconds: 5.1 },
    { duration: '5.041', seconds: 5.041 },
    { duration: '14.7', seconds: 14.7 },
    { duration: '10', seconds: 10 },
    { duration: 5.1, seconds: 5.1 },
  ])('reads duration $duration as $seconds s', ({ duration, seconds }) => {
    const url = 'https://v2-kling.kechuangai.com/bs2/upload-ylab-stunt/ai_portal/1758000000/abc.mp4?x-kcdn-pid=112452';
    const data = { ...CAP_A_SUCCEED.data, task_result: { videos: [{ id: '1', url, duration }] } };
    expect(readAnswer(200, { ...CAP_A_SUCCEED, data }).videos).toEqual([{ id: '1', url, durationSeconds: seconds }]);
  });

  it.each([
    { value: '1.01', expected: '1.01' },
    { value: '3.2', expected: '3.2' },
    { value: '10', expected: '10' },
    { value: 10, expected: '10' },
    { value: '', expected: undefined },
  ])('reads final_unit_deduction $value as $expected', ({ value, expected }) => {
    const data = { ...CAP_A_SUCCEED.data, final_unit_deduction: value };
    expect(readAnswer(200, { ...CAP_A_SUCCEED, data }).finalUnitDeduction).toBe(expected);
  });
});

describe('failed tasks (HTTP 200, code 0, message SUCCEED)', () => {
  it('reads the content-safety failure exactly as Kling sends it on query', () => {
    const body = {
      code: 0,
      message: 'SUCCEED',
      request_id: '5b0e4a9c-7f31-4c8e-9a51-2d6f0b8c1e47',
      data: {
        task_id: '867283741759111202',
        task_status: 'failed',
        task_status_msg: RISK_CONTROL,
        task_info: {},
        task_result: {},
        created_at: 1774805076166,
        updated_at: 1774805139021,
      },
    };
    expect(readAnswer(200, body)).toEqual({
      taskId: '867283741759111202',
      status: 'failed',
      statusMessage: RISK_CONTROL,
      externalTaskId: undefined,
      createdAt: 1774805076166,
      updatedAt: 1774805139021,
      videos: [],
      finalUnitDeduction: undefined,
    });
  });

  it('reads the real 2025-12 failure body, keys in Kling’s order, 1.65 s after creation', () => {
    const body =
      '{"code": 0, "data": {"task_id": "833446756190412805", "task_info": {}, "created_at": 1766737710125, "updated_at": 1766737711775, ' +
      '"task_result": {}, "task_status": "failed", "task_status_msg": "Image pixel is invalid"}, "message": "SUCCEED", ' +
      '"request_id": "ace7625a-3e18-49aa-abc4-5d0c2e9f7b31"}';
    expect(loadKlingTask(parseKlingResponse(200, body, 'read'))).toMatchObject({
      taskId: '833446756190412805',
      status: 'failed',
      statusMessage: 'Image pixel is invalid',
      videos: [],
    });
  });

  it.each([
    RISK_CONTROL,
    'Image pixel is invalid',
    'The resolution or aspect ratio of the input image is invalid. Please ensure it meets the required specifications.',
  ])('keeps the failure sentence %j verbatim', (reason) => {
    const data = { ...CAP_A_PROCESSING.data, task_status: 'failed', task_status_msg: reason };
    expect(readAnswer(200, { ...CAP_A_PROCESSING, data }).statusMessage).toBe(reason);
  });
});

describe('callbacks (bare task object, no envelope)', () => {
  it('reads the real 2025-12 callback with images: [] and audios: []', () => {
    expect(loadKlingTask(JSON.parse(CAP_B_CALLBACK))).toEqual({
      taskId: '828338674605228111',
      status: 'succeed',
      statusMessage: '',
      externalTaskId: undefined,
      createdAt: 1765519848595,
      updatedAt: 1765520080995,
      videos: [{ id: '828338674655576157', url: CAP_B_URL, durationSeconds: 5.1 }],
      finalUnitDeduction: undefined,
    });
    // The capture is self-consistent: the signed URL expires exactly 30 days after completion.
    expect(Number(new URL(CAP_B_URL).searchParams.get('Expires'))).toBe(Math.floor(1765520080995 / 1000) + 30 * 86_400);
  });

  it('reads the 2026 callback with final_unit_deduction and final_balance_deduction', () => {
    const body = {
      ...(JSON.parse(CAP_B_CALLBACK) as Record<string, unknown>),
      task_info: { external_task_id: 'gw-cb-1', parent_video: null },
      final_unit_deduction: '3.2',
      final_balance_deduction: { quota: '0.448', list_price: '0.56' },
    };
    expect(loadKlingTask(body)).toMatchObject({ taskId: '828338674605228111', externalTaskId: 'gw-cb-1', finalUnitDeduction: '3.2' });
  });

  it.each([0.56, 'n/a', [], { quota: {} }])('ignores an unexpected final_balance_deduction %j rather than refusing the task', (odd) => {
    const body = { ...(JSON.parse(CAP_B_CALLBACK) as Record<string, unknown>), final_balance_deduction: odd };
    expect(loadKlingTask(body).status).toBe('succeed');
  });

  it('reads a failure callback with the risk-control sentence', () => {
    const body = {
      task_id: '828338674605228112',
      task_status: 'failed',
      task_status_msg: RISK_CONTROL,
      task_info: { external_task_id: 'gw-cb-2' },
      task_result: { images: [], videos: [], audios: [] },
      final_unit_deduction: '0',
      created_at: 1765519848595,
      updated_at: 1765519900000,
    };
    expect(loadKlingTask(body)).toMatchObject({ status: 'failed', statusMessage: RISK_CONTROL, videos: [], finalUnitDeduction: '0' });
  });

  it('refuses an envelope-wrapped callback (a third-party doc’s shape, not Kling’s)', () => {
    const wrapped = { code: 0, message: 'SUCCEED', request_id: UUID_REQUEST_ID, data: JSON.parse(CAP_B_CALLBACK) as unknown };
    expect(caught(() => loadKlingTask(wrapped)).kind).toBe('protocol');
  });
});

describe('error envelopes', () => {
  const DOC_1303 = { code: 1303, message: 'parallel task over resource pack limit', request_id: '9984d27b-a408-4073-ae28-17ca6a13622d' };

  it.each([
    { code: 1102, httpStatus: 429, message: 'Account balance not enough', kind: 'insufficient_balance', retryable: false, ambiguousOnCreate: false },
    { code: 1303, httpStatus: 429, message: 'parallel task over resource pack limit', kind: 'concurrency_limited', retryable: true, ambiguousOnCreate: false },
    { code: 1100, httpStatus: 429, message: 'Account exception', kind: 'account', retryable: false, ambiguousOnCreate: false },
    { code: 1101, httpStatus: 429, message: 'Account in arrears (postpaid)', kind: 'account', retryable: false, ambiguousOnCreate: false },
    {
      code: 1103,
      httpStatus: 403,
      message: 'Unauthorized access to requested resource, such as API/model',
      kind: 'permission',
      retryable: false,
      ambiguousOnCreate: false,
    },
    { code: 5000, httpStatus: 500, message: 'Server internal error', kind: 'server_error', retryable: true, ambiguousOnCreate: true },
    { code: 5001, httpStatus: 503, message: 'Server temporarily unavailable', kind: 'unavailable', retryable: true, ambiguousOnCreate: false },
    { code: 5002, httpStatus: 504, message: 'Server internal timeout', kind: 'timeout', retryable: true, ambiguousOnCreate: true },
  ])('classifies HTTP $httpStatus / $code as $kind', ({ code, httpStatus, message, kind, retryable, ambiguousOnCreate }) => {
    const body = { code, message, request_id: UUID_REQUEST_ID };
    const onCreate = errorOf(httpStatus, body, 'create');
    expect(onCreate).toMatchObject({ kind, retryable, klingCode: code, httpStatus, requestId: UUID_REQUEST_ID, ambiguous: ambiguousOnCreate });
    expect(onCreate.message).toContain(message);
    expect(errorOf(httpStatus, body, 'read')).toMatchObject({ kind, retryable, klingCode: code, ambiguous: false });
    expect(isNotFoundAnswer(onCreate)).toBe(false);
    expect(isDuplicateExternalIdRefusal(onCreate)).toBe(false);
  });

  it('reads the documented 1303 body verbatim', () => {
    expect(errorOf(429, DOC_1303, 'create')).toMatchObject({
      kind: 'concurrency_limited',
      retryable: true,
      klingCode: 1303,
      requestId: '9984d27b-a408-4073-ae28-17ca6a13622d',
      ambiguous: false,
    });
  });

  it('classifies a 1102 body reduced to its code, and a base64-like request_id', () => {
    expect(errorOf(429, '{"code":1102}', 'create')).toMatchObject({ kind: 'insufficient_balance', retryable: false, klingCode: 1102 });
    expect(errorOf(429, { code: 1102, message: 'Account balance not enough', request_id: OLD_ID }).requestId).toBe(OLD_ID);
  });

  it('classifies a refusal sent under HTTP 200 by its code', () => {
    expect(errorOf(200, { code: 1102, message: 'Account balance not enough', request_id: UUID_REQUEST_ID }, 'create')).toMatchObject({
      kind: 'insufficient_balance',
      httpStatus: 200,
    });
  });

  it('reads a 1201 for a duplicate external_task_id as a refusal of that kind', () => {
    const error = errorOf(400, { code: 1201, message: 'external_task_id already exists', request_id: UUID_REQUEST_ID }, 'create');
    expect(error).toMatchObject({ kind: 'invalid_params', retryable: false, klingCode: 1201, ambiguous: false });
    expect(isDuplicateExternalIdRefusal(error)).toBe(true);
  });

  it('reads 404/1203 for an unknown task as not found', () => {
    const error = errorOf(404, { code: 1203, message: 'The requested resource does not exist', request_id: UUID_REQUEST_ID });
    expect(error).toMatchObject({ kind: 'not_found', retryable: false, klingCode: 1203, httpStatus: 404 });
    expect(isNotFoundAnswer(error)).toBe(true);
  });

  const NGINX_502 =
    '<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n';

  it('reads an HTML 502 from a load balancer as a retryable outage, ambiguous only for a create', () => {
    const read = errorOf(502, NGINX_502, 'read');
    expect(read).toMatchObject({ kind: 'server_error', retryable: true, klingCode: undefined, httpStatus: 502, ambiguous: false });
    expect(errorOf(502, NGINX_502, 'create')).toMatchObject({ kind: 'server_error', retryable: true, ambiguous: true });
    expect(errorOf(504, '', 'create')).toMatchObject({ kind: 'server_error', retryable: true, ambiguous: true });
    expect(isNotFoundAnswer(read)).toBe(false);
  });

  it('reads an HTML 429 from a proxy as throttling, not a protocol change, and never ambiguous', () => {
    const html = '<html><body><h1>429 Too Many Requests</h1></body></html>';
    expect(errorOf(429, html, 'create')).toMatchObject({ kind: 'rate_limited', retryable: true, ambiguous: false });
  });

  it('does not read an HTML 404 from a proxy as "Kling does not know the task"', () => {
    const error = errorOf(404, '<html><body>404 Not Found</body></html>', 'read');
    expect(error).toMatchObject({ kind: 'protocol', klingCode: undefined });
    expect(isNotFoundAnswer(error)).toBe(false);
  });
});

describe('list pages', () => {
  it('reads a page of mixed tasks in Kling’s order', () => {
    const page = {
      code: 0,
      message: 'SUCCEED',
      request_id: UUID_REQUEST_ID,
      data: [
        CAP_A_SUCCEED.data,
        JSON.parse(CAP_B_CALLBACK) as unknown,
        { ...CAP_A_PROCESSING.data, task_id: '833446756190412805', task_status: 'failed', task_status_msg: RISK_CONTROL },
        { task_id: OLD_ID, task_status: 'submitted', created_at: 1739744384259, updated_at: 1739744384259 },
      ],
    };
    const tasks = loadKlingTaskList(parseKlingResponse(200, JSON.stringify(page), 'read'));
    expect(tasks.map((task) => [task.taskId, task.status])).toEqual([
      ['822953089408827433', 'succeed'],
      ['828338674605228111', 'succeed'],
      ['833446756190412805', 'failed'],
      [OLD_ID, 'submitted'],
    ]);
    expect(tasks[2]?.statusMessage).toBe(RISK_CONTROL);
  });

  it('reads an empty page as [] or null', () => {
    expect(loadKlingTaskList([])).toEqual([]);
    expect(loadKlingTaskList(parseKlingResponse(200, JSON.stringify({ code: 0, message: 'SUCCEED', data: null }), 'read'))).toEqual([]);
  });

  it('fails the whole page on one task with an unknown status', () => {
    const page = [CAP_A_PROCESSING.data, { ...CAP_A_PROCESSING.data, task_id: '2', task_status: 'succeeded' }];
    expect(caught(() => loadKlingTaskList(page)).kind).toBe('protocol');
  });
});

describe('what stays strict', () => {
  it.each([
    { what: 'the new-standard "succeeded"', data: { ...CAP_A_PROCESSING.data, task_status: 'succeeded' } },
    { what: 'an unknown status', data: { ...CAP_A_PROCESSING.data, task_status: 'queued' } },
    { what: 'a missing status', data: { ...CAP_A_PROCESSING.data, task_status: undefined } },
    { what: 'a new-standard task object', data: { id: '867283741759111202', status: 'succeeded', message: '', create_time: 1, update_time: 2 } },
    { what: 'a task_id sent as a number', data: { ...CAP_A_PROCESSING.data, task_id: Number('822953089408827433') } },
    { what: 'an empty task_id', data: { ...CAP_A_PROCESSING.data, task_id: '' } },
    { what: 'created_at as a string', data: { ...CAP_A_PROCESSING.data, created_at: '1764235825029' } },
    { what: 'a video without url', data: { ...CAP_A_SUCCEED.data, task_result: { videos: [{ id: '1', duration: '5.1' }] } } },
    { what: 'an unreadable duration', data: { ...CAP_A_SUCCEED.data, task_result: { videos: [{ id: '1', url: 'u', duration: 'five' }] } } },
  ])('rejects $what as a protocol error', ({ data }) => {
    expect(caught(() => loadKlingTask(data))).toMatchObject({ kind: 'protocol', retryable: false });
  });

  it('marks an unreadable task answering a create as ambiguous: code 0 means it was created', () => {
    const body = { ...CAP_A_CREATE, data: { ...CAP_A_CREATE.data, task_status: 'queued' } };
    expect(caught(() => readAnswer(200, body, 'create')).ambiguous).toBe(true);
  });
});

describe('readTaskOrAbsent', () => {
  it.each([
    { what: 'null', data: null },
    { what: 'undefined', data: undefined },
    { what: '""', data: '' },
    { what: '{}', data: {} },
    { what: '[]', data: [] },
    { what: '[{}]', data: [{}] },
    { what: 'an object without task_id', data: { task_info: {}, task_result: {} } },
    { what: 'an object with null id and status', data: { task_id: null, task_status: null, created_at: 0 } },
  ])('returns null for $what', ({ data }) => {
    expect(readTaskOrAbsent(data)).toBeNull();
  });

  it('returns null for a successful answer without data', () => {
    for (const body of [{ code: 0, message: 'SUCCEED', request_id: UUID_REQUEST_ID }, { ...CAP_A_CREATE, data: null }, { ...CAP_A_CREATE, data: {} }]) {
      expect(readTaskOrAbsent(parseKlingResponse(200, JSON.stringify(body), 'read'))).toBeNull();
    }
  });

  it('returns the task for a task, or for a one-element array holding it', () => {
    const expected = readAnswer(200, CAP_A_SUCCEED);
    expect(readTaskOrAbsent(CAP_A_SUCCEED.data)).toEqual(expected);
    expect(readTaskOrAbsent([CAP_A_SUCCEED.data])).toEqual(expected);
    expect(readTaskOrAbsent(JSON.parse(CAP_B_CALLBACK))).toMatchObject({ taskId: '828338674605228111' });
  });

  it.each([
    { what: 'two tasks', data: [CAP_A_SUCCEED.data, CAP_A_PROCESSING.data] },
    { what: 'a nested array', data: [[CAP_A_SUCCEED.data]] },
    { what: 'a status without task_id', data: { task_status: 'succeed', created_at: 1, updated_at: 2 } },
    { what: 'a new-standard task', data: { id: '867283741759111202', status: 'succeeded' } },
    { what: 'an unknown status', data: { ...CAP_A_PROCESSING.data, task_status: 'succeeded' } },
    { what: 'a number', data: 42 },
    { what: 'a string', data: 'task' },
  ])('throws a protocol error for $what: unreadable is not absent', ({ data }) => {
    expect(caught(() => readTaskOrAbsent(data))).toMatchObject({ kind: 'protocol', ambiguous: false });
  });
});

describe('isNotFoundAnswer (single-task reads)', () => {
  it.each([
    { httpStatus: 404, code: 1203, message: 'The requested resource does not exist' },
    { httpStatus: 404, code: 1203, message: '' },
    { httpStatus: 200, code: 1203, message: 'task not found' },
    { httpStatus: 400, code: 1201, message: 'Invalid parameters, such as incorrect key or illegal value' },
    { httpStatus: 400, code: 1201, message: 'task_id not found' },
    { httpStatus: 400, code: 1201, message: '任务不存在' },
    { httpStatus: 400, code: 1200, message: 'Task does not exist' },
    { httpStatus: 400, code: 1200, message: "task doesn't exist" },
    { httpStatus: 404, code: 1204, message: 'Something new' },
    { httpStatus: 400, code: 4004, message: 'No such task' },
    { httpStatus: 200, code: 40_400, message: 'task not exists' },
  ])('is true for HTTP $httpStatus / $code $message', ({ httpStatus, code, message }) => {
    expect(isNotFoundAnswer(errorOf(httpStatus, { code, message, request_id: UUID_REQUEST_ID }))).toBe(true);
  });

  it.each([
    { httpStatus: 404, code: 1202, message: 'The requested method is invalid' },
    { httpStatus: 400, code: 1200, message: 'Invalid request parameters' },
    { httpStatus: 400, code: 4000, message: 'Bad request' },
    { httpStatus: 401, code: 1002, message: 'Authorization is invalid' },
    { httpStatus: 403, code: 1103, message: 'Resource not found for this account' },
    { httpStatus: 429, code: 1303, message: 'parallel task over resource pack limit' },
    { httpStatus: 400, code: 1301, message: 'Content not found acceptable' },
    { httpStatus: 500, code: 5000, message: 'task not found in cache' },
    { httpStatus: 500, code: 5999, message: 'task not found' },
  ])('is false for HTTP $httpStatus / $code $message', ({ httpStatus, code, message }) => {
    expect(isNotFoundAnswer(errorOf(httpStatus, { code, message, request_id: UUID_REQUEST_ID }))).toBe(false);
  });

  it('is false for transport failures, which carry no business code', () => {
    expect(isNotFoundAnswer(new KlingApiError('Connection to Kling failed: reset', { kind: 'network', retryable: true }))).toBe(false);
    expect(isNotFoundAnswer(new KlingApiError('gone', { kind: 'not_found', retryable: false, httpStatus: 404 }))).toBe(false);
  });
});

describe('isDuplicateExternalIdRefusal (creates)', () => {
  it.each([
    { httpStatus: 400, code: 1201, message: 'external_task_id "gw-1" already exists' },
    { httpStatus: 400, code: 1201, message: 'Duplicate external_task_id' },
    { httpStatus: 400, code: 1201, message: 'external task id exists' },
    { httpStatus: 400, code: 1201, message: 'external_task_id must be unique within a single user account' },
    { httpStatus: 400, code: 1201, message: 'Invalid external_task_id' },
    { httpStatus: 400, code: 1201, message: 'externalTaskId has been used' },
    { httpStatus: 400, code: 1201, message: '外部任务ID已存在' },
    { httpStatus: 400, code: 1200, message: 'Task already exists' },
    { httpStatus: 400, code: 1201, message: 'This external_task_id has already been used' },
    { httpStatus: 400, code: 1201, message: 'task already submitted' },
    { httpStatus: 400, code: 1200, message: 'Repeated request' },
    { httpStatus: 200, code: 1201, message: 'external_task_id already exists' },
    { httpStatus: 409, code: 1205, message: 'Conflict' },
    { httpStatus: 400, code: 4090, message: 'the task with this external_task_id exist' },
  ])('is true for HTTP $httpStatus / $code $message', ({ httpStatus, code, message }) => {
    expect(isDuplicateExternalIdRefusal(errorOf(httpStatus, { code, message, request_id: UUID_REQUEST_ID }, 'create'))).toBe(true);
  });

  it.each([
    { httpStatus: 400, code: 1201, message: 'duration "7" is not supported by kling-v2-6; use one of "5", "10"' },
    { httpStatus: 400, code: 1201, message: 'duration must be one of "5", "10"' },
    { httpStatus: 400, code: 1201, message: 'Invalid parameters, such as incorrect key or illegal value' },
    { httpStatus: 400, code: 1201, message: 'Voice id not found' },
    { httpStatus: 400, code: 1201, message: 'model does not exist' },
    { httpStatus: 400, code: 1201, message: 'external_task_id must be a non-empty string' },
    { httpStatus: 400, code: 1201, message: 'external_task_id is too long' },
    { httpStatus: 400, code: 1201, message: '' },
    { httpStatus: 404, code: 1203, message: 'The requested resource does not exist, such as the model' },
    { httpStatus: 400, code: 1201, message: 'The model kling-v1 has already been discontinued' },
    { httpStatus: 429, code: 1102, message: 'Account balance not enough' },
    { httpStatus: 429, code: 1303, message: 'parallel task over resource pack limit' },
    { httpStatus: 400, code: 1301, message: 'Content already flagged' },
    { httpStatus: 401, code: 1002, message: 'Authorization is invalid' },
    { httpStatus: 500, code: 5000, message: "Duplicate entry 'gw-1' for key 'external_task_id'" },
  ])('is false for HTTP $httpStatus / $code $message', ({ httpStatus, code, message }) => {
    expect(isDuplicateExternalIdRefusal(errorOf(httpStatus, { code, message, request_id: UUID_REQUEST_ID }, 'create'))).toBe(false);
  });

  it('is false for an unreadable answer and for transport failures', () => {
    expect(isDuplicateExternalIdRefusal(errorOf(400, '<html>duplicate</html>', 'create'))).toBe(false);
    expect(isDuplicateExternalIdRefusal(new KlingApiError('already exists', { kind: 'network', retryable: true }))).toBe(false);
  });
});
