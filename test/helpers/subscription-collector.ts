// Collects the payloads of one subscription, whatever the transport, so tests can await a payload
// or the end of the operation instead of sleeping.

export interface GraphqlPayload<TData> {
  data?: TData | null;
  errors?: readonly { message: string; path?: readonly (string | number)[]; extensions?: Record<string, unknown> }[];
}

export interface SubscriptionOutcome<TData> {
  /** Every `next` payload, in arrival order. */
  results: GraphqlPayload<TData>[];
  /**
   * `complete`: the server completed the operation. `error`: the server rejected or failed it, or the
   * connection ended before a completion. `aborted`: the client gave up on it.
   */
  end: 'complete' | 'error' | 'aborted';
  /** What the transport reported with an `error` end: GraphQL errors, a close event, a status... */
  error?: unknown;
}

export interface CollectedSubscription<TData> {
  /** The payloads received so far; the array grows as more arrive. */
  readonly results: GraphqlPayload<TData>[];
  /** Settles once the operation ended, however it ended; never rejects. */
  readonly done: Promise<SubscriptionOutcome<TData>>;
  /**
   * The first payload, received already or later, that `match` accepts. Rejects when the operation
   * ends without one, so a test fails with the payloads it got instead of waiting for its timeout.
   */
  until(match: (payload: GraphqlPayload<TData>) => boolean): Promise<GraphqlPayload<TData>>;
}

interface Waiter<TData> {
  match: (payload: GraphqlPayload<TData>) => boolean;
  resolve: (payload: GraphqlPayload<TData>) => void;
  reject: (error: Error) => void;
}

export function createCollector<TData>() {
  const results: GraphqlPayload<TData>[] = [];
  const waiters = new Set<Waiter<TData>>();
  let outcome: SubscriptionOutcome<TData> | undefined;
  let settle: (outcome: SubscriptionOutcome<TData>) => void = () => undefined;
  const done = new Promise<SubscriptionOutcome<TData>>((resolve) => {
    settle = resolve;
  });

  const describe = (o: SubscriptionOutcome<TData>) =>
    `the subscription ended (${o.end}) without a matching payload; got ${JSON.stringify(o.results)}` +
    (o.error === undefined ? '' : `; error: ${JSON.stringify(o.error, Object.getOwnPropertyNames(o.error ?? {}))}`);

  const collected: CollectedSubscription<TData> = {
    results,
    done,
    until(match) {
      const found = results.find(match);
      if (found) return Promise.resolve(found);
      if (outcome) return Promise.reject(new Error(describe(outcome)));
      return new Promise((resolve, reject) => waiters.add({ match, resolve, reject }));
    },
  };

  return {
    collected,
    push(payload: GraphqlPayload<TData>) {
      if (outcome) return;
      results.push(payload);
      for (const waiter of waiters) {
        if (waiter.match(payload)) {
          waiters.delete(waiter);
          waiter.resolve(payload);
        }
      }
    },
    finish(end: SubscriptionOutcome<TData>['end'], error?: unknown) {
      if (outcome) return;
      outcome = error === undefined ? { results, end } : { results, end, error };
      for (const waiter of waiters) waiter.reject(new Error(describe(outcome)));
      waiters.clear();
      settle(outcome);
    },
  };
}
