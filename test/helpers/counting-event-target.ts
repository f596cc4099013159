// A real EventTarget, handed to the gateway as its pub/sub event target (overrides.eventTarget), that
// keeps count of the listeners per event type: a test sees when the server side of a subscription
// stops listening.

export class CountingEventTarget extends EventTarget {
  private readonly listeners = new Map<string, Set<unknown>>();

  override addEventListener(...args: Parameters<EventTarget['addEventListener']>): void {
    super.addEventListener(...args);
    const [type, listener] = args;
    if (listener === null) return;
    const set = this.listeners.get(type) ?? new Set();
    set.add(listener);
    this.listeners.set(type, set);
  }

  override removeEventListener(...args: Parameters<EventTarget['removeEventListener']>): void {
    super.removeEventListener(...args);
    const [type, listener] = args;
    this.listeners.get(type)?.delete(listener);
  }

  /** Listeners of one task's updates, i.e. live `taskUpdated` iterators on the server. */
  listenersOfTask(taskId: string): number {
    return this.listeners.get(`task:updated:${taskId}`)?.size ?? 0;
  }
}
