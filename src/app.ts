// The composition root: builds every part from config, wires them, and owns start and stop.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { RateLimiterMemory, RateLimiterRedis, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { createApiKeys } from './auth/api-keys.js';
import { systemClock, type Clock } from './clock.js';
import type { Config } from './config/env.js';
import { createPricing, DEFAULT_PRICE_TABLE, loadPriceTable } from './credits/pricing.js';
import { createUsage } from './credits/usage.js';
import { openDatabase } from './db/connection.js';
import { createStore } from './db/store.js';
import { createKlingClient } from './kling/client.js';
import type { KlingClient } from './kling/types.js';
import { createLogger, type Logger } from './logger.js';
import { createMcpToolServer } from './mcp/mcp-server.js';
import { createGatewayMetrics } from './metrics/gateway-metrics.js';
import { instrumentKlingClient } from './metrics/instrument-kling-client.js';
import { createMetricsRoute } from './metrics/metrics-route.js';
import { createMcpRoute } from './mcp/mcp-route.js';
import { createRedisConnections } from './redis/redis-connections.js';
import { schema } from './schema/index.js';
import { createCallerResolver } from './server/caller.js';
import { createGatewayHttpServer } from './server/http.js';
import { createKeyStreams } from './server/key-streams.js';
import { createOperationDrain } from './server/operation-drain.js';
import { loadTrustedDocuments } from './server/trusted-documents.js';
import { createGatewayYoga } from './server/yoga.js';
import { createKlingCallbackHandler } from './tasks/kling-callback.js';
import { createKlingCallbackVerifier } from './tasks/kling-callback-signature.js';
import { createPoller } from './tasks/poller.js';
import { createTaskPubSub, type TaskEventTarget } from './tasks/pubsub.js';
import { createRateBudget, type RateBudget } from './tasks/rate-budget.js';
import { createSubmitter } from './tasks/submitter.js';
import { createTaskService } from './tasks/task-service.js';
import { createTaskTransitions } from './tasks/transitions.js';
import { createUpstreamHealth } from './tasks/upstream-health.js';
import { createTaskWatch } from './tasks/task-watch.js';
import { createTracing } from './telemetry/tracing.js';
import { createVideoAccess } from './videos/video-access.js';
import { createVideoLinks } from './videos/video-links.js';
import type { WebhookLookup } from './webhooks/webhook-connector.js';
import { createWebhookSender, type WebhookSenderTuning } from './webhooks/webhook-sender.js';

export interface GatewayOverrides {
  /** Tests drive time with a manual clock. */
  clock?: Clock;
  logger?: Logger;
  /** Scale-out passes a Redis-backed event target. */
  eventTarget?: TaskEventTarget;
  /** A ready Kling client instead of one built from config. */
  kling?: KlingClient;
  /** Tests shorten the webhook retry schedule and listen for attempts. */
  webhooks?: WebhookSenderTuning;
  /** Resolves webhook receiver names instead of the OS resolver; tests map a name onto loopback. */
  webhookLookup?: WebhookLookup;
  /** Scale-out passes a limiter whose counters live in Redis. */
  rateLimiter?: RateLimiterAbstract;
  /** Tests hold upstream requests back with a budget whose clock they steer. */
  upstreamBudget?: RateBudget;
  /**
   * Where spans go instead of the OTLP exporter; tests pass an in-memory exporter's processor. Used
   * only when tracing is on (OTEL_EXPORTER_OTLP_ENDPOINT), as the exporter would be.
   */
  spanProcessor?: SpanProcessor;
}

export async function createGateway(config: Config, overrides: GatewayOverrides = {}) {
  const clock = overrides.clock ?? systemClock;
  const logger = overrides.logger ?? createLogger({ level: config.log.level });
  const credentials = config.kling.credentials;
  if (!overrides.kling && !credentials) {
    throw new Error('Kling credentials are missing: set KLING_ACCESS_KEY and KLING_SECRET_KEY, or start the simulator.');
  }

  const database = await openDatabase(config.db, (error) => logger.warn({ err: error }, 'an idle database connection failed'));
  const store = createStore(database.dialect);
  // With REDIS_URL, task events and rate-limit counters are shared by every instance.
  const redis = config.redis.url ? createRedisConnections(config.redis.url, logger.child({ component: 'redis' })) : undefined;
  const pricing = createPricing(
    config.credits.pricesFile ? loadPriceTable(JSON.parse(readFileSync(config.credits.pricesFile, 'utf8'))) : DEFAULT_PRICE_TABLE,
  );
  const metrics = config.metrics.enabled ? createGatewayMetrics({ store, clock }) : undefined;
  const tracing = createTracing({ config: config.tracing, instanceId: config.instanceId, logger, spanProcessor: overrides.spanProcessor });
  const { jobSpans } = tracing;
  if (config.metrics.withheldForToken) {
    logger.warn('METRICS_TOKEN is not set, so NODE_ENV=production serves no /metrics: set METRICS_TOKEN to scrape, or METRICS=false');
  }
  const upstream =
    overrides.kling ??
    createKlingClient({
      baseUrl: config.kling.baseUrl,
      accessKey: credentials?.accessKey ?? '',
      secretKey: credentials?.secretKey ?? '',
      clock,
      logger: logger.child({ component: 'kling' }),
      timeouts: {
        connectMs: config.kling.connectTimeoutMs,
        headersMs: config.kling.requestTimeoutMs,
        bodyMs: config.kling.requestTimeoutMs,
      },
      connections: config.kling.connections,
      retry: { maxAttempts: 3, baseMs: 200, maxMs: 5_000 },
      userAgent: `kling-gateway (${config.instanceId})`,
    });
  const kling = metrics ? instrumentKlingClient(upstream, metrics) : upstream;
  const pubsub = createTaskPubSub({
    read: (taskId) => store.getTask(taskId),
    eventTarget: overrides.eventTarget ?? redis?.eventTarget,
    onReadError: (error, taskId) => logger.warn({ err: error, taskId }, 'cannot read a changed task for its subscribers'),
  });
  const apiKeys = createApiKeys({ store, clock });
  // Each key's WebSockets, SSE subscriptions and MCP waits: capped together, and ended when the key is
  // revoked here or (through Redis) on another instance.
  const keyStreams = createKeyStreams({ maxPerKey: config.ws.maxConnectionsPerKey });
  apiKeys.onRevoked((keyId) => keyStreams.revoked(keyId));
  if (redis) {
    apiKeys.broadcastRevocations((keyId) => redis.publishRevocation(keyId));
    redis.onRevocation((keyId) => apiKeys.revokedElsewhere(keyId));
  }
  // Late-bound: the task service tells the poller about queued tasks, and the poller uses the service.
  let wakePoller: () => void = () => undefined;
  const webhooks = createWebhookSender({
    store,
    clock,
    logger: logger.child({ component: 'webhooks' }),
    timeoutMs: config.webhooks.timeoutMs,
    maxAgeSeconds: config.webhooks.maxAgeSeconds,
    targets: config.webhooks.targets,
    lookup: overrides.webhookLookup,
    jobSpans,
    ...overrides.webhooks,
  });
  const health = createUpstreamHealth({
    clock,
    logger: logger.child({ component: 'upstream' }),
    coolDownMs: config.upstream.coolDownMs,
    onChange: (paused) => metrics?.upstreamPaused(paused),
  });
  const transitions = createTaskTransitions({
    store,
    pubsub,
    clock,
    onQueued: () => wakePoller(),
    onWebhookQueued: () => webhooks.wake(),
    onApplied: (event) => metrics?.taskEvent(event),
    jobSpans,
  });
  const submitter = createSubmitter({
    store,
    kling,
    transitions,
    health,
    clock,
    logger: logger.child({ component: 'tasks' }),
    absence: config.upstream.notFound,
    firstCheckDelayMs: config.poll.firstDelayMs,
    maxRetryDelayMs: config.poll.submitLeaseMs,
    callbackBaseUrl: config.http.publicUrl,
    jobSpans,
  });
  const tasks = createTaskService({
    store,
    pricing,
    transitions,
    submitter,
    health,
    clock,
    deadlineSeconds: config.tasks.deadlineSeconds,
    maxActivePerKey: config.tasks.maxActivePerKey,
    submitLeaseMs: config.poll.submitLeaseMs,
    instanceId: config.instanceId,
    onQueued: () => wakePoller(),
  });
  // One request rate toward Kling for the poller's status queries and the playback links' renewals.
  const upstreamBudget = overrides.upstreamBudget ?? createRateBudget({ clock, perSecond: config.poll.requestsPerSecond });
  const poller = createPoller({
    store,
    kling,
    transitions,
    submitter,
    health,
    absence: config.upstream.notFound,
    budget: upstreamBudget,
    clock,
    logger: logger.child({ component: 'poller' }),
    firstDelayMs: config.poll.firstDelayMs,
    maxIntervalMs: config.poll.maxIntervalMs,
    concurrency: config.poll.concurrency,
    maxActivePerKey: config.tasks.maxActivePerKey,
    owner: config.instanceId,
    leaseMs: config.poll.leaseMs,
    submitLeaseMs: config.poll.submitLeaseMs,
    jobSpans,
  });
  wakePoller = () => poller.wake();
  const onKlingCallback = createKlingCallbackHandler({
    store,
    transitions,
    clock,
    schedule: { firstDelayMs: config.poll.firstDelayMs, maxIntervalMs: config.poll.maxIntervalMs },
  });
  const watch = createTaskWatch({ store, pubsub, resync: redis?.resync });
  // Links start with PUBLIC_URL, else with the address this instance listens on.
  let listeningOrigin = `http://${config.http.host}:${config.http.port}`;
  const videoLinks = createVideoLinks({
    secret: config.videos.linkSecret ?? randomBytes(32).toString('base64url'),
    clock,
    baseUrl: () => config.http.publicUrl ?? listeningOrigin,
    ttlMs: config.videos.linkTtlMs,
  });
  const onVideo = createVideoAccess({
    store,
    kling,
    budget: upstreamBudget,
    apiKeys,
    links: videoLinks,
    clock,
    logger: logger.child({ component: 'videos' }),
    cacheDir: config.videos.cacheDir,
    cacheMaxBytes: config.videos.cacheMaxBytes,
  });
  // Wrong tokens are counted per client address in each process (caller.ts), not in Redis.
  const resolveCaller = createCallerResolver({ apiKeys, adminToken: config.admin.token });
  const rateLimiter =
    overrides.rateLimiter ??
    (redis
      ? new RateLimiterRedis({
          storeClient: redis.client,
          keyPrefix: 'kling-gateway:rate',
          points: config.limits.rateLimitPoints,
          duration: config.limits.rateLimitWindowSeconds,
          // While Redis is unreachable each instance keeps counting on its own rather than failing requests.
          insuranceLimiter: new RateLimiterMemory({
            points: config.limits.rateLimitPoints,
            duration: config.limits.rateLimitWindowSeconds,
          }),
        })
      : new RateLimiterMemory({ points: config.limits.rateLimitPoints, duration: config.limits.rateLimitWindowSeconds }));
  const drain = createOperationDrain();
  const trustedDocuments = config.graphql.trustedDocuments.file
    ? { documents: loadTrustedDocuments(config.graphql.trustedDocuments.file, schema), only: config.graphql.trustedDocuments.only }
    : undefined;
  const yoga = createGatewayYoga({
    schema,
    services: { tasks, apiKeys, pubsub, watch, usage: createUsage({ store }), videoLinks, webhookTargets: config.webhooks.targets },
    resolveCaller,
    logger,
    graphiql: config.graphql.graphiql,
    introspection: config.graphql.introspection,
    production: config.production,
    cors: config.graphql.cors,
    limits: config.limits,
    rateLimiter,
    metrics,
    tracer: tracing.tracer,
    drain,
    keyStreams,
    trustedDocuments,
  });
  const mcp = createMcpRoute({
    resolveCaller,
    createServer: createMcpToolServer({
      tasks,
      watch,
      clock,
      videoLinks,
      webhookTargets: config.webhooks.targets,
      logger: logger.child({ component: 'mcp' }),
      keyStreams,
    }),
    logger,
    maxBodyBytes: config.limits.maxBodyBytes,
    // One budget per key, whichever door the calls come through: every MCP request costs a point.
    rateLimiter,
  });
  const http = createGatewayHttpServer({
    yoga,
    resolveCaller,
    host: config.http.host,
    port: config.http.port,
    maxBodyBytes: config.limits.maxBodyBytes,
    ws: config.ws,
    trustedDocuments,
    keyStreams,
    timeouts: { headersMs: config.http.headersTimeoutMs, requestMs: config.http.requestTimeoutMs },
    onKlingCallback,
    verifyKlingCallback:
      config.kling.webhookSecret === undefined ? undefined : createKlingCallbackVerifier({ secret: config.kling.webhookSecret, clock }),
    demoPage: config.demoPage,
    onVideo,
    onMcp: mcp,
    onMetrics: metrics
      ? createMetricsRoute({ registry: metrics.registry, token: config.metrics.token, logger: logger.child({ component: 'metrics' }) })
      : undefined,
    drain,
    shutdownGraceMs: config.shutdown.graceMs,
    logger: logger.child({ component: 'readiness' }),
    readiness: [
      { name: 'database', check: () => database.dialect.ping() },
      ...(redis ? [{ name: 'pubsub', check: () => redis.ping() }] : []),
      // Kling refusing our account (balance, arrears, permission) makes this instance unable to take work.
      { name: 'upstream', check: () => health.check() },
    ],
  });

  let stopping: Promise<void> | undefined;
  return {
    config,
    logger,
    store,
    database,
    apiKeys,
    tasks,
    transitions,
    pubsub,
    health,
    kling,
    poller,
    /** The handler behind `POST /kling/callback/<taskId>/<token>`. */
    onKlingCallback,
    webhooks,
    /** The tracer (undefined when tracing is off) and the provider's shutdown. */
    tracing,
    /** Starts listening, polling and sending webhooks; resolves with the GraphQL endpoint URL. */
    async start() {
      const url = await http.listen();
      listeningOrigin = url.origin;
      poller.start();
      webhooks.start();
      return url;
    },
    get url() {
      return http.url;
    },
    /**
     * Shuts down without losing work; idempotent. First the door: no new connections, requests or
     * operations, while those in flight finish within the grace period. Then the background loops,
     * whose database writes complete and whose cut-short upstream calls are picked up again on the next
     * start (leases, the webhook outbox). The connections they all share close last.
     */
    stop(): Promise<void> {
      stopping ??= (async () => {
        await http.close();
        await Promise.all([poller.stop(), webhooks.stop()]);
        // After everything that makes spans; exports what is still batched.
        await tracing.shutdown();
        if (!overrides.kling) await kling.close();
        await redis?.close();
        await database.close();
      })();
      return stopping;
    },
  };
}

export type Gateway = Awaited<ReturnType<typeof createGateway>>;
