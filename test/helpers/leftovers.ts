// Every fixture registers its disposal here; afterAll drains the list even when a test forgot to.
import { afterAll } from 'vitest';

const leftovers: (() => Promise<void> | void)[] = [];

afterAll(async () => {
  while (leftovers.length > 0) await leftovers.pop()?.();
});

export function onTeardown(dispose: () => Promise<void> | void) {
  leftovers.push(dispose);
}
