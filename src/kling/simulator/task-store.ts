// Every task the simulator knows, indexed for the reads Kling serves: by id, by the caller's
// external id, newest-first pages, and open tasks per model for the concurrency limit.
import type { KlingEndpoint } from '../types.js';
import { isOpenAt, type SimTask } from './lifecycle.js';
import { createMinHeap, type MinHeap } from './min-heap.js';

const keyOf = (...parts: string[]): string => parts.join('\u0000');

export function createTaskStore() {
  const byId = new Map<string, SimTask>();
  /** account + external id -> task id; external ids are unique per account (kling-api.md section 4). */
  const byExternalId = new Map<string, string>();
  /** account + endpoint -> tasks in creation order, so a page is a slice from the end. */
  const lists = new Map<string, SimTask[]>();
  /** account + model -> open tasks by end time; popping ended ones leaves the count of open slots. */
  const open = new Map<string, MinHeap<SimTask>>();

  function openHeap(account: string, modelName: string): MinHeap<SimTask> {
    const key = keyOf(account, modelName);
    let heap = open.get(key);
    if (heap === undefined) {
      heap = createMinHeap<SimTask>((task) => task.finishedAt);
      open.set(key, heap);
    }
    return heap;
  }

  return {
    get size(): number {
      return byId.size;
    },

    add(task: SimTask): void {
      byId.set(task.taskId, task);
      if (task.request.externalTaskId !== undefined) {
        byExternalId.set(keyOf(task.account, task.request.externalTaskId), task.taskId);
      }
      const listKey = keyOf(task.account, task.endpoint);
      const list = lists.get(listKey);
      if (list === undefined) lists.set(listKey, [task]);
      else list.push(task);
      openHeap(task.account, task.request.modelName).push(task);
    },

    /** Any account's task; for the placeholder video and for tests. */
    get(taskId: string): SimTask | undefined {
      return byId.get(taskId);
    },

    /** Kling's single-task query: `id` may be the task_id or the caller's external_task_id. */
    find(account: string, endpoint: KlingEndpoint, id: string): SimTask | undefined {
      const direct = byId.get(id);
      if (direct?.account === account && direct.endpoint === endpoint) return direct;
      const viaExternal = byExternalId.get(keyOf(account, id));
      const task = viaExternal === undefined ? undefined : byId.get(viaExternal);
      return task?.endpoint === endpoint ? task : undefined;
    },

    hasExternalId(account: string, externalTaskId: string): boolean {
      return byExternalId.has(keyOf(account, externalTaskId));
    },

    /** Newest first; `pageNum` counts from 1. */
    list(account: string, endpoint: KlingEndpoint, pageNum: number, pageSize: number): SimTask[] {
      const list = lists.get(keyOf(account, endpoint)) ?? [];
      const end = list.length - (pageNum - 1) * pageSize;
      const start = Math.max(0, end - pageSize);
      return end <= 0 ? [] : list.slice(start, end).reverse();
    },

    /** Tasks still in submitted/processing for this account and model at `now`. */
    openCount(account: string, modelName: string, now: number): number {
      const heap = openHeap(account, modelName);
      for (let top = heap.peek(); top !== undefined && !isOpenAt(top, now); top = heap.peek()) heap.pop();
      return heap.size;
    },

    /** Forgets a task everywhere; O(n) in the account's tasks, which is fine for a test-only event. */
    delete(taskId: string): boolean {
      const task = byId.get(taskId);
      if (task === undefined) return false;
      byId.delete(taskId);
      if (task.request.externalTaskId !== undefined) byExternalId.delete(keyOf(task.account, task.request.externalTaskId));
      const list = lists.get(keyOf(task.account, task.endpoint));
      const index = list?.indexOf(task) ?? -1;
      if (index >= 0) list?.splice(index, 1);
      open.get(keyOf(task.account, task.request.modelName))?.retain((other) => other !== task);
      return true;
    },
  };
}

export type TaskStore = ReturnType<typeof createTaskStore>;
