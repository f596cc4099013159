// The one place that reads the environment. loadConfig is pure so tests call it with a literal object.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { z } from 'zod';
import { parseAllowedHosts } from '../webhooks/webhook-target.js';

/** Kling's global (international) endpoint, kling-api.md section 1. */
export const KLING_GLOBAL_BASE_URL = 'https://api-singapore.klingai.com';

const emptyAsUndefined = (value: unknown) => (value === '' ? undefined : value);
const optionalString = z.preprocess(emptyAsUndefined, z.string().optional());
const int = (fallback: number, min: number, max = Number.MAX_SAFE_INTEGER) =>
  z.preprocess(emptyAsUndefined, z.coerce.number().int().min(min).max(max).default(fallback));
const seconds = (fallback: number, min: number) =>
  z.preprocess(emptyAsUndefined, z.coerce.number().min(min).default(fallback));
const bool = (fallback: boolean) =>
  z.preprocess(
    emptyAsUndefined,
    z
      .enum(['true', 'false', '1', '0', 'yes', 'no'])
      .transform((v) => v === 'true' || v === '1' || v === 'yes')
      .optional(),
  ).transform((v) => v ?? fallback);
/** Like bool, but unset stays undefined so the caller can pick a default from elsewhere. */
const optionalBool = z.preprocess(
  emptyAsUndefined,
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'])
    .transform((v) => v === 'true' || v === '1' || v === 'yes')
    .optional(),
);

const envSchema = z
  .object({
    NODE_ENV: z.preprocess(emptyAsUndefined, z.enum(['development', 'production', 'test']).default('development')),
    PORT: int(4000, 0, 65535),
    HOST: z.preprocess(emptyAsUndefined, z.string().default('127.0.0.1')),
    PUBLIC_URL: z.preprocess(emptyAsUndefined, z.url({ protocol: /^https?$/ }).optional()),
    DATABASE_URL: z.preprocess(emptyAsUndefined, z.string().default('./data/gateway.db')),
    DATABASE_POOL_SIZE: int(10, 1, 1000),
    INSTANCE_ID: z.preprocess(emptyAsUndefined, z.string().regex(/^[\w.:-]{1,100}$/).optional()),
    REDIS_URL: z.preprocess(emptyAsUndefined, z.url({ protocol: /^rediss?$/ }).optional()),
    KLING_ACCESS_KEY: optionalString,
    KLING_SECRET_KEY: optionalString,
    KLING_BASE_URL: z.preprocess(emptyAsUndefined, z.url({ protocol: /^https?$/ }).default(KLING_GLOBAL_BASE_URL)),
    KLING_CONNECT_TIMEOUT_MS: int(5_000, 1),
    KLING_REQUEST_TIMEOUT_MS: int(30_000, 1),
    KLING_CONNECTIONS: int(32, 1, 1024),
    KLING_WEBHOOK_SECRET: z.preprocess(
      emptyAsUndefined,
      z
        .string()
        .regex(/^(whsec_)?[A-Za-z0-9+/]{22,}={0,2}$/, "must be the Webhook Secret from Kling's console: whsec_ followed by base64 (at least 16 bytes)")
        .optional(),
    ),
    SIMULATOR_PORT: int(4010, 0, 65535),
    SIMULATOR_TASK_SECONDS: seconds(10, 0),
    SIMULATOR_IN_PRODUCTION: bool(false),
    ADMIN_TOKEN: z.preprocess(emptyAsUndefined, z.string().min(16, 'must be at least 16 characters').optional()),
    GRAPHIQL: z.preprocess(emptyAsUndefined, z.enum(['true', 'false']).optional()),
    INTROSPECTION: z.preprocess(emptyAsUndefined, z.enum(['true', 'false']).optional()),
    LOG_LEVEL: z.preprocess(
      emptyAsUndefined,
      z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    ),
    LOG_PRETTY: optionalBool,
    METRICS: bool(true),
    METRICS_TOKEN: z.preprocess(emptyAsUndefined, z.string().min(16, 'must be at least 16 characters').optional()),
    SHUTDOWN_GRACE_MS: int(10_000, 0),
    // The standard OpenTelemetry names (opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables).
    OTEL_SDK_DISABLED: bool(false),
    OTEL_EXPORTER_OTLP_ENDPOINT: z.preprocess(emptyAsUndefined, z.url({ protocol: /^https?$/ }).optional()),
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: z.preprocess(emptyAsUndefined, z.url({ protocol: /^https?$/ }).optional()),
    OTEL_TRACES_SAMPLER: z.preprocess(
      emptyAsUndefined,
      z
        .enum(['always_on', 'always_off', 'traceidratio', 'parentbased_always_on', 'parentbased_always_off', 'parentbased_traceidratio'])
        .default('parentbased_traceidratio'),
    ),
    OTEL_TRACES_SAMPLER_ARG: z.preprocess(emptyAsUndefined, z.coerce.number().min(0).max(1).default(1)),
    PRICES_FILE: optionalString,
    POLL_FIRST_DELAY_MS: int(2_000, 0),
    POLL_MAX_INTERVAL_MS: int(15_000, 1),
    POLL_REQUESTS_PER_SECOND: int(20, 1),
    POLL_CONCURRENCY: int(8, 1, 1024),
    POLL_LEASE_MS: int(30_000, 100),
    VIDEO_LINK_SECRET: z.preprocess(emptyAsUndefined, z.string().min(32, 'must be at least 32 characters').optional()),
    VIDEO_LINK_TTL_SECONDS: int(86_400, 60),
    VIDEO_CACHE_DIR: optionalString,
    VIDEO_CACHE_MAX_BYTES: int(1_073_741_824, 1),
    TRUSTED_DOCUMENTS_FILE: optionalString,
    TRUSTED_DOCUMENTS_ONLY: bool(false),
    SUBMIT_LEASE_MS: int(60_000, 100),
    UPSTREAM_NOT_FOUND_ANSWERS: int(3, 1, 100),
    UPSTREAM_NOT_FOUND_WINDOW_MS: int(60_000, 0),
    UPSTREAM_COOL_DOWN_MS: int(30_000, 10),
    TASK_DEADLINE_SECONDS: int(3_600, 1),
    KEY_MAX_ACTIVE_TASKS: int(20, 1),
    WEBHOOK_TIMEOUT_MS: int(5_000, 1),
    WEBHOOK_MAX_AGE_SECONDS: int(86_400, 1),
    WEBHOOK_ALLOWED_HOSTS: z.preprocess(emptyAsUndefined, z.string().optional()).transform((value, ctx) => {
      const { hosts, problems } = parseAllowedHosts(value ?? '');
      for (const problem of problems) ctx.addIssue({ code: 'custom', message: problem });
      return hosts;
    }),
    CORS_ORIGINS: z.preprocess(emptyAsUndefined, z.string().optional()).transform((value, ctx) => {
      if (value === undefined) return undefined;
      const origins = value.split(',').map((origin) => origin.trim()).filter((origin) => origin.length > 0);
      for (const origin of origins) {
        let parsed: URL | undefined;
        try {
          parsed = new URL(origin);
        } catch {
          parsed = undefined;
        }
        if (!parsed || !/^https?:$/.test(parsed.protocol) || parsed.origin !== origin) {
          ctx.addIssue({ code: 'custom', message: `"${origin}" is not an origin such as https://app.example.com (scheme, host, optional port; no path or trailing slash)` });
        }
      }
      return origins;
    }),
    DEMO_KEY: bool(true),
    DEMO_PAGE: z.preprocess(emptyAsUndefined, z.enum(['true', 'false']).optional()),
    MAX_BODY_BYTES: int(65_536, 1_024),
    MAX_DEPTH: int(12, 1),
    MAX_COST: int(5_000, 1),
    MAX_ALIASES: int(15, 1),
    MAX_TOKENS: int(2_000, 10),
    MAX_DIRECTIVES: int(20, 1),
    RATE_LIMIT_POINTS: int(600, 1),
    RATE_LIMIT_WINDOW_SECONDS: int(60, 1),
    WS_MAX_PAYLOAD_BYTES: int(65_536, 1_024),
    WS_MAX_CONNECTIONS_PER_KEY: int(20, 1),
    WS_MAX_SUBSCRIPTIONS_PER_CONNECTION: int(50, 1),
    WS_CONNECTION_INIT_TIMEOUT_MS: int(3_000, 100),
    WS_KEEP_ALIVE_MS: int(12_000, 0),
    HTTP_HEADERS_TIMEOUT_MS: int(10_000, 100),
    HTTP_REQUEST_TIMEOUT_MS: int(30_000, 100),
  });

/** Rules across variables; checked on the raw values so they are reported alongside any field error. */
function crossFieldProblems(env: Record<string, string | undefined>): string[] {
  const trusted =
    env['TRUSTED_DOCUMENTS_ONLY'] === 'true' && !env['TRUSTED_DOCUMENTS_FILE']
      ? ['TRUSTED_DOCUMENTS_ONLY: needs TRUSTED_DOCUMENTS_FILE, the operations that may run']
      : [];
  return [...klingKeyProblems(env), ...publicUrlProblems(env), ...trusted];
}

function klingKeyProblems(env: Record<string, string | undefined>): string[] {
  const access = env['KLING_ACCESS_KEY'] || undefined;
  const secret = env['KLING_SECRET_KEY'] || undefined;
  if ((access === undefined) === (secret === undefined)) return [];
  const missing = access === undefined ? 'KLING_ACCESS_KEY' : 'KLING_SECRET_KEY';
  return [`${missing}: set both KLING_ACCESS_KEY and KLING_SECRET_KEY, or neither (neither starts the simulator)`];
}

/**
 * Kling posts each task's callback token and result to PUBLIC_URL, and playback links start with it:
 * in production it must be https, loopback included (Kling cannot reach a loopback address anyway).
 */
function publicUrlProblems(env: Record<string, string | undefined>): string[] {
  const url = env['PUBLIC_URL'];
  if (env['NODE_ENV'] !== 'production' || !url || !URL.canParse(url) || new URL(url).protocol !== 'http:') return [];
  return ['PUBLIC_URL: must be https:// in production (callback tokens and playback links would travel in clear text); leave it unset to run without callbacks'];
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

export function loadConfig(env: Record<string, string | undefined> = process.env) {
  const parsed = envSchema.safeParse(env);
  const problems = [
    ...(parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.') || '(env)'}: ${i.message}`)),
    ...crossFieldProblems(env),
  ];
  if (!parsed.success || problems.length > 0) throw new ConfigError(problems);
  const e = parsed.data;
  const production = e.NODE_ENV === 'production';
  return {
    env: e.NODE_ENV,
    production,
    http: {
      host: e.HOST,
      port: e.PORT,
      publicUrl: e.PUBLIC_URL,
      /** A connection that has not sent a whole request head by then is closed (slow-header clients). */
      headersTimeoutMs: Math.min(e.HTTP_HEADERS_TIMEOUT_MS, e.HTTP_REQUEST_TIMEOUT_MS),
      /** A connection that has not sent a whole request (head and body) by then is closed; responses (SSE, MCP waits) are not bound by it. */
      requestTimeoutMs: e.HTTP_REQUEST_TIMEOUT_MS,
    },
    db: { url: e.DATABASE_URL, poolSize: e.DATABASE_POOL_SIZE },
    /**
     * Owner name in task leases. One process owns an embedded database, so a restart takes its
     * tasks back at once; on PostgreSQL each instance needs a name of its own.
     */
    videos: {
      /** Signs playback links; unset = random per process, so set it when several instances serve links. */
      linkSecret: e.VIDEO_LINK_SECRET,
      linkTtlMs: e.VIDEO_LINK_TTL_SECONDS * 1000,
      cacheDir: e.VIDEO_CACHE_DIR,
      /** Total size of the local copies; past it the least recently used are deleted. */
      cacheMaxBytes: e.VIDEO_CACHE_MAX_BYTES,
    },
    instanceId:
      e.INSTANCE_ID ??
      (/^postgres(ql)?:\/\//.test(e.DATABASE_URL) ? `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}` : 'embedded'),
    redis: { url: e.REDIS_URL },
    kling: {
      baseUrl: e.KLING_BASE_URL,
      /** Both set = the real Kling; both unset = main.ts starts the simulator and fills these in. */
      credentials:
        e.KLING_ACCESS_KEY !== undefined && e.KLING_SECRET_KEY !== undefined
          ? { accessKey: e.KLING_ACCESS_KEY, secretKey: e.KLING_SECRET_KEY }
          : undefined,
      connectTimeoutMs: e.KLING_CONNECT_TIMEOUT_MS,
      requestTimeoutMs: e.KLING_REQUEST_TIMEOUT_MS,
      connections: e.KLING_CONNECTIONS,
      /** Kling's Webhook Secret (`whsec_…`): when set, callbacks need its valid signature as well as the URL token. */
      webhookSecret: e.KLING_WEBHOOK_SECRET,
    },
    /** `inProduction`: whether main.ts may start the simulator when NODE_ENV=production has no Kling keys. */
    simulator: { port: e.SIMULATOR_PORT, taskSeconds: e.SIMULATOR_TASK_SECONDS, inProduction: e.SIMULATOR_IN_PRODUCTION },
    poll: {
      firstDelayMs: e.POLL_FIRST_DELAY_MS,
      maxIntervalMs: e.POLL_MAX_INTERVAL_MS,
      requestsPerSecond: e.POLL_REQUESTS_PER_SECOND,
      concurrency: e.POLL_CONCURRENCY,
      /** How long a claimed task stays this instance's without being looked at; a dead instance's tasks move on after it. */
      leaseMs: e.POLL_LEASE_MS,
      /** How long a submit may be in flight before another poller takes the task over (looking it up at Kling first). */
      submitLeaseMs: e.SUBMIT_LEASE_MS,
    },
    tasks: { deadlineSeconds: e.TASK_DEADLINE_SECONDS, maxActivePerKey: e.KEY_MAX_ACTIVE_TASKS },
    upstream: {
      /** Kling's "not found" ends a task only after this many answers in a row, spread over the window. */
      notFound: { answers: e.UPSTREAM_NOT_FOUND_ANSWERS, windowMs: e.UPSTREAM_NOT_FOUND_WINDOW_MS },
      /** First pause of submissions after Kling refuses the account (balance, arrears, permission); doubles per refused probe. */
      coolDownMs: e.UPSTREAM_COOL_DOWN_MS,
    },
    webhooks: {
      /** One delivery attempt, connect to last byte. */
      timeoutMs: e.WEBHOOK_TIMEOUT_MS,
      /** A delivery still failing this long after its event is given up. */
      maxAgeSeconds: e.WEBHOOK_MAX_AGE_SECONDS,
      /**
       * Which receivers webhooks may go to (webhooks/webhook-target.ts): public hosts on ports 80/443,
       * https only in production, plus the operator's WEBHOOK_ALLOWED_HOSTS.
       */
      targets: { allowedHosts: e.WEBHOOK_ALLOWED_HOSTS, httpsOnly: production },
    },
    credits: { pricesFile: e.PRICES_FILE },
    admin: { token: e.ADMIN_TOKEN },
    graphql: {
      graphiql: e.GRAPHIQL === undefined ? !production : e.GRAPHIQL === 'true',
      introspection: e.INTROSPECTION === undefined ? !production : e.INTROSPECTION === 'true',
      /**
       * Which browser origins get CORS headers (with credentials) on /graphql: CORS_ORIGINS when set;
       * unset, every origin outside production (as a development convenience) and none in production.
       */
      cors: e.CORS_ORIGINS !== undefined ? { origins: e.CORS_ORIGINS } : production ? { origins: [] } : ('any' as const),
      /** Operations clients may send by id (server/trusted-documents.ts); `only` refuses every other operation but the admin's. */
      trustedDocuments: { file: e.TRUSTED_DOCUMENTS_FILE, only: e.TRUSTED_DOCUMENTS_ONLY },
    },
    log: {
      level: e.LOG_LEVEL,
      /** Unset: pretty when NODE_ENV is development and stdout is a terminal (main.ts decides). */
      pretty: e.LOG_PRETTY,
    },
    /**
     * Prometheus metrics on `GET /metrics`; with a token, scrapes must send it as a bearer token.
     * Production requires the token: without METRICS_TOKEN no metrics are kept or served (404), as
     * with METRICS=false, and `withheldForToken` says so for a warning at start.
     */
    metrics: {
      enabled: e.METRICS && (!production || e.METRICS_TOKEN !== undefined),
      token: e.METRICS_TOKEN,
      withheldForToken: e.METRICS && production && e.METRICS_TOKEN === undefined,
    },
    /**
     * OpenTelemetry traces, sent over OTLP/HTTP to `url` (telemetry/tracing.ts). Without an endpoint (or
     * with OTEL_SDK_DISABLED) no tracer provider is built at all. A per-signal endpoint is used as
     * it is; the general one gets the signal's path appended, as the specification says.
     */
    tracing: {
      url: e.OTEL_SDK_DISABLED
        ? undefined
        : (e.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ??
          (e.OTEL_EXPORTER_OTLP_ENDPOINT === undefined ? undefined : `${e.OTEL_EXPORTER_OTLP_ENDPOINT.replace(/\/+$/, '')}/v1/traces`)),
      sampler: e.OTEL_TRACES_SAMPLER,
      /** The share of new traces kept by the ratio samplers, 0 to 1. */
      ratio: e.OTEL_TRACES_SAMPLER_ARG,
    },
    shutdown: {
      /** How long a shutdown waits for requests in flight before it closes the sockets that are left, ms. */
      graceMs: e.SHUTDOWN_GRACE_MS,
    },
    limits: {
      maxBodyBytes: e.MAX_BODY_BYTES,
      maxDepth: e.MAX_DEPTH,
      maxCost: e.MAX_COST,
      maxAliases: e.MAX_ALIASES,
      maxTokens: e.MAX_TOKENS,
      maxDirectives: e.MAX_DIRECTIVES,
      /** Each operation costs one point per root field (aliases count), per key, per window. */
      rateLimitPoints: e.RATE_LIMIT_POINTS,
      rateLimitWindowSeconds: e.RATE_LIMIT_WINDOW_SECONDS,
    },
    ws: {
      maxPayloadBytes: e.WS_MAX_PAYLOAD_BYTES,
      maxConnectionsPerKey: e.WS_MAX_CONNECTIONS_PER_KEY,
      maxSubscriptionsPerConnection: e.WS_MAX_SUBSCRIPTIONS_PER_CONNECTION,
      connectionInitTimeoutMs: e.WS_CONNECTION_INIT_TIMEOUT_MS,
      keepAliveMs: e.WS_KEEP_ALIVE_MS,
    },
    demoKey: e.DEMO_KEY && !production,
    /** Serve the demo page on `GET /`; production may turn it on, since it holds no secrets of its own. */
    demoPage: e.DEMO_PAGE === undefined ? !production : e.DEMO_PAGE === 'true',
  };
}

export type Config = ReturnType<typeof loadConfig>;
