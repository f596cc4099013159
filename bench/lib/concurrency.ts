// A fixed number of workers over an index range: the shape of every "N things, C at a time" in the benches.

/** Runs `task(0) … task(count - 1)` with at most `concurrency` in flight; rejects on the first failure. */
export async function forEachConcurrently(count: number, concurrency: number, task: (index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
}
