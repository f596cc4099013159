import { describe, expect, it } from 'vitest';
import { checkCreateBody, type AcceptedCreate } from '../../src/kling/simulator/create-rules.js';
import { planTimes, renderTask, statusAt, type SimTask } from '../../src/kling/simulator/lifecycle.js';
import { createMinHeap } from '../../src/kling/simulator/min-heap.js';
import { createTaskStore } from '../../src/kling/simulator/task-store.js';

function accepted(fields: Record<string, unknown> = {}): AcceptedCreate {
  const check = checkCreateBody('text2video', { prompt: 'a cat', ...fields });
  if (!check.ok) throw new Error(check.message);
  return check.value;
}

function makeTask(index: number, createdAt: number, durationMs: number, fields: Record<string, unknown> = {}): SimTask {
  return {
    taskId: String(800_000_000_000_000_000n + BigInt(index)),
    videoId: String(index),
    endpoint: 'text2video',
    account: 'acct',
    request: accepted(fields),
    failureMessage: undefined,
    ...planTimes({ createdAt, durationMs, failureMessage: undefined }),
  };
}

describe('simulator lifecycle', () => {
  it('derives the status from timestamps alone', () => {
    const task = makeTask(1, 1000, 10_000);
    expect([1000, 1999, 2000, 10_999, 11_000].map((now) => statusAt(task, now))).toEqual([
      'submitted',
      'submitted',
      'processing',
      'processing',
      'succeed',
    ]);
    const failed = { ...task, failureMessage: 'nope' };
    expect(renderTask(failed, 11_000, 'http://sim', 'query')).toMatchObject({ task_status: 'failed', task_status_msg: 'nope', task_result: {} });
    expect(renderTask(task, 11_000, 'http://sim', 'callback')).toMatchObject({ task_result: { images: [], audios: [] } });
  });
});

describe('simulator task store', () => {
  it('holds 10,000 open tasks with cheap reads, pages and concurrency counts', () => {
    const store = createTaskStore();
    const total = 10_000;
    const started = performance.now();
    for (let index = 0; index < total; index++) {
      store.add(makeTask(index, index, 60_000 + index, { external_task_id: `ext-${index}` }));
      store.openCount('acct', 'kling-v1', index);
    }
    expect(store.size).toBe(total);
    expect(store.openCount('acct', 'kling-v1', total)).toBe(total);
    expect(store.openCount('acct', 'kling-v1', 60_000 + 2 * 4999 + 1)).toBe(total - 5000);
    expect(store.list('acct', 'text2video', 1, 2).map((task) => task.request.externalTaskId)).toEqual(['ext-9999', 'ext-9998']);
    expect(store.list('acct', 'text2video', 20, 500).at(-1)?.request.externalTaskId).toBe('ext-0');
    expect(store.find('acct', 'text2video', 'ext-1234')?.taskId).toBe(String(800_000_000_000_000_000n + 1234n));
    expect(store.find('other', 'text2video', 'ext-1234')).toBeUndefined();
    // Linear work per task would take seconds here; the indexes keep it to milliseconds.
    expect(performance.now() - started).toBeLessThan(2000);
  });

  it('forgets a task everywhere', () => {
    const store = createTaskStore();
    const task = makeTask(1, 0, 1000, { external_task_id: 'gone' });
    store.add(task);
    store.add(makeTask(2, 0, 1000));
    expect(store.delete(task.taskId)).toBe(true);
    expect(store.find('acct', 'text2video', 'gone')).toBeUndefined();
    expect(store.hasExternalId('acct', 'gone')).toBe(false);
    expect(store.list('acct', 'text2video', 1, 30)).toHaveLength(1);
    expect(store.openCount('acct', 'kling-v1', 0)).toBe(1);
  });
});

describe('simulator min-heap', () => {
  it('pops in key order', () => {
    const heap = createMinHeap<number>((value) => value);
    const values = Array.from({ length: 200 }, (_, index) => (index * 7919) % 211);
    for (const value of values) heap.push(value);
    const popped: number[] = [];
    for (let value = heap.pop(); value !== undefined; value = heap.pop()) popped.push(value);
    expect(popped).toEqual([...values].sort((a, b) => a - b));
  });
});
