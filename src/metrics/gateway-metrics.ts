// Prometheus metrics of one gateway, in a registry of its own so several gateways in one process (tests)
// never share series. Gauges that mirror the database are read from it on each scrape.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Clock } from '../clock.js';
import type { Store } from '../db/store.js';
import { TASK_STATUSES } from '../tasks/status.js';

export const METRIC_PREFIX = 'kling_gateway_';

/** How a subscription reaches its client. */
export type SubscriptionTransport = 'ws' | 'sse';

export interface FinishedOperation {
  /** The operation's name as the client sent it; null for an anonymous operation. */
  name: string | null;
  /**
   * Whether the caller presented a valid API key or the admin token. Only their operations are
   * counted by name; anyone else's count as `anonymous`, so the internet cannot choose label values.
   */
  authenticated: boolean;
  /** `query`, `mutation`, `subscription`, or `unknown` when the document did not parse. */
  type: string;
  /** `ok`, or the first error code of the result. */
  outcome: string;
  /** Left out for subscriptions: how long a stream stayed open says nothing about latency. */
  durationMs?: number | undefined;
}

export interface GatewayMetricsOptions {
  store: Store;
  clock: Clock;
  /**
   * Also collect prom-client's default process metrics (CPU, memory, event loop lag, GC).
   * @default true
   */
  processMetrics?: boolean;
  /**
   * Distinct operation names kept as label values. Clients choose the names, so past this many the
   * rest count as `other` instead of growing the series without bound.
   * @default 200
   */
  maxOperationNames?: number;
}

/** The longest operation name kept as a label value; longer ones count as `other`. */
export const MAX_OPERATION_NAME_LABEL = 64;

/**
 * A name fit to be a label value: short, and only letters, digits and `_` (every GraphQL name is
 * made of these, but an `operationName` parameter that names no operation in the document can hold
 * anything). The length is checked first, so a 60 KB name costs nothing.
 */
const isLabelName = (name: string) => name.length <= MAX_OPERATION_NAME_LABEL && /^[A-Za-z0-9_]+$/.test(name);

/** One database read shared by every gauge that asks for it during the same scrape. */
function perScrape<T>(load: () => Promise<T>): () => Promise<T> {
  let pending: Promise<T> | undefined;
  return () =>
    (pending ??= load().finally(() => {
      pending = undefined;
    }));
}

export function createGatewayMetrics(options: GatewayMetricsOptions) {
  const { store, clock, processMetrics = true, maxOperationNames = 200 } = options;
  const registry = new Registry();
  // Unprefixed, as dashboards for Node processes expect (process_cpu_seconds_total, nodejs_heap_size_used_bytes, …).
  if (processMetrics) collectDefaultMetrics({ register: registry });
  const registers = [registry];

  const operations = new Counter({
    name: `${METRIC_PREFIX}graphql_operations_total`,
    help: 'GraphQL operations by name, type and outcome (ok or the first error code).',
    labelNames: ['operation_name', 'operation_type', 'outcome'] as const,
    registers,
  });
  const operationDuration = new Histogram({
    name: `${METRIC_PREFIX}graphql_operation_duration_seconds`,
    help: 'Time from parsing a query or mutation to its result.',
    labelNames: ['operation_name', 'operation_type'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers,
  });
  const subscriptions = new Gauge({
    name: `${METRIC_PREFIX}graphql_subscriptions_open`,
    help: 'Subscriptions currently streaming, by transport.',
    labelNames: ['transport'] as const,
    registers,
  });
  const upstreamCalls = new Counter({
    name: `${METRIC_PREFIX}upstream_requests_total`,
    help: 'Calls to the Kling API by client operation and outcome (ok, not_found, aborted or the error kind); retries inside one call count once.',
    labelNames: ['operation', 'outcome'] as const,
    registers,
  });
  const upstreamDuration = new Histogram({
    name: `${METRIC_PREFIX}upstream_request_duration_seconds`,
    help: 'Duration of calls to the Kling API, retries included.',
    labelNames: ['operation'] as const,
    buckets: [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers,
  });
  for (const transport of ['ws', 'sse'] as const) subscriptions.set({ transport }, 0);
  const upstreamPaused = new Gauge({
    name: `${METRIC_PREFIX}upstream_paused`,
    help: '1 while Kling refuses this account (balance, arrears, permission, credentials) and submissions wait, else 0.',
    registers,
  });
  upstreamPaused.set(0);
  const upstreamPauses = new Counter({
    name: `${METRIC_PREFIX}upstream_pauses_total`,
    help: 'Times submissions paused because Kling refused this account.',
    registers,
  });
  const taskEvents = new Counter({
    name: `${METRIC_PREFIX}task_events_total`,
    help: 'Lifecycle events applied to tasks (see the lifecycle table in the README).',
    labelNames: ['event'] as const,
    registers,
  });

  const creditTotals = perScrape(() => store.creditTotals());
  new Gauge({
    name: `${METRIC_PREFIX}tasks`,
    help: 'Tasks in the database by status.',
    labelNames: ['status'] as const,
    registers,
    async collect() {
      const counts = await store.countTasksByStatus();
      for (const status of TASK_STATUSES) this.set({ status }, counts[status] ?? 0);
    },
  });
  new Gauge({
    name: `${METRIC_PREFIX}poller_lag_seconds`,
    help: 'How long the most overdue open task has been waiting for its next check (0 when none is overdue).',
    registers,
    async collect() {
      const due = await store.nextDueAt();
      this.set(due === null ? 0 : Math.max(0, clock.now() - due) / 1000);
    },
  });
  new Gauge({
    name: `${METRIC_PREFIX}credits_held`,
    help: 'Credits currently held for open tasks, over all keys.',
    registers,
    async collect() {
      this.set((await creditTotals()).held);
    },
  });
  new Gauge({
    name: `${METRIC_PREFIX}credits_charged`,
    help: 'Credits charged for finished tasks since the database was created, over all keys.',
    registers,
    async collect() {
      this.set((await creditTotals()).charged);
    },
  });

  const knownNames = new Set<string>();
  const nameLabel = (name: string | null, authenticated: boolean) => {
    if (name === null || !authenticated) return 'anonymous';
    if (!isLabelName(name)) return 'other';
    if (knownNames.has(name)) return name;
    if (knownNames.size >= maxOperationNames) return 'other';
    knownNames.add(name);
    return name;
  };

  // prom-client hashes a label object on every inc/observe; each operation's series are looked up once.
  // Bounded: names by maxOperationNames (and each to MAX_OPERATION_NAME_LABEL characters), types and
  // outcomes (error codes) are fixed sets.
  const series = new Map<string, { count: ReturnType<typeof operations.labels>; duration: ReturnType<typeof operationDuration.labels> }>();
  const seriesOf = (name: string, type: string, outcome: string) => {
    const id = `${name}\u0000${type}\u0000${outcome}`;
    let found = series.get(id);
    if (!found) {
      found = {
        count: operations.labels({ operation_name: name, operation_type: type, outcome }),
        duration: operationDuration.labels({ operation_name: name, operation_type: type }),
      };
      series.set(id, found);
    }
    return found;
  };

  return {
    registry,
    operationFinished({ name, authenticated, type, outcome, durationMs }: FinishedOperation) {
      const series = seriesOf(nameLabel(name, authenticated), type, outcome);
      series.count.inc();
      if (durationMs !== undefined) series.duration.observe(durationMs / 1000);
    },
    subscriptionOpened(transport: SubscriptionTransport) {
      subscriptions.inc({ transport });
    },
    subscriptionClosed(transport: SubscriptionTransport) {
      subscriptions.dec({ transport });
    },
    upstreamPaused(paused: boolean) {
      upstreamPaused.set(paused ? 1 : 0);
      if (paused) upstreamPauses.inc();
    },
    /** `event` comes from the lifecycle table: a fixed set of label values. */
    taskEvent(event: string) {
      taskEvents.inc({ event });
    },
    upstreamCallFinished(operation: string, outcome: string, durationMs: number) {
      upstreamCalls.inc({ operation, outcome });
      upstreamDuration.observe({ operation }, durationMs / 1000);
    },
  };
}

export type GatewayMetrics = ReturnType<typeof createGatewayMetrics>;
