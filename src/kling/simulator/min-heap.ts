/**
 * A binary min-heap ordered by a numeric key. The simulator keeps upcoming transition times and
 * concurrency-slot release times in heaps so that 10,000 open tasks cost O(log n) per operation.
 */
export function createMinHeap<T>(keyOf: (item: T) => number) {
  const items: T[] = [];

  const key = (index: number): number => keyOf(items[index] as T);

  function swap(a: number, b: number): void {
    const item = items[a] as T;
    items[a] = items[b] as T;
    items[b] = item;
  }

  function siftUp(start: number): void {
    let index = start;
    while (index > 0) {
      const parent = (index - 1) >> 1;
      if (key(parent) <= key(index)) return;
      swap(parent, index);
      index = parent;
    }
  }

  function siftDown(start: number): void {
    let index = start;
    for (;;) {
      const left = index * 2 + 1;
      const right = left + 1;
      let smallest = index;
      if (left < items.length && key(left) < key(smallest)) smallest = left;
      if (right < items.length && key(right) < key(smallest)) smallest = right;
      if (smallest === index) return;
      swap(index, smallest);
      index = smallest;
    }
  }

  return {
    get size(): number {
      return items.length;
    },
    peek(): T | undefined {
      return items[0];
    },
    push(item: T): void {
      items.push(item);
      siftUp(items.length - 1);
    },
    pop(): T | undefined {
      const top = items[0];
      const last = items.pop();
      if (items.length > 0 && last !== undefined) {
        items[0] = last;
        siftDown(0);
      }
      return top;
    },
    /** Drops every item failing `keep`; O(n), for rare events such as forgetting a task. */
    retain(keep: (item: T) => boolean): void {
      const kept = items.filter(keep);
      items.length = 0;
      for (const item of kept) {
        items.push(item);
        siftUp(items.length - 1);
      }
    },
    clear(): void {
      items.length = 0;
    },
  };
}

export type MinHeap<T> = ReturnType<typeof createMinHeap<T>>;
