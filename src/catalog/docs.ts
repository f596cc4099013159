// README tables rendered from the tables the gateway runs on, so the docs cannot drift from the code:
// scripts/docs-tables.ts writes them between markers and test/unit/readme-tables.test.ts checks them.
import { createPricing, DEFAULT_PRICE_TABLE, type PriceTable } from '../credits/pricing.js';
import { MODEL_CAPABILITIES, VIDEO_MODELS, type ModelCapabilities, type VideoModel, type VideoMode } from './models.js';
import { LIFECYCLE, type LifecycleRule } from '../tasks/lifecycle.js';

const NONE = '—';
const code = (text: string | number) => `\`${text}\``;

function markdownTable(header: readonly string[], rows: readonly (readonly string[])[], rightAligned: ReadonlySet<number> = new Set()): string {
  const escape = (cell: string) => cell.replaceAll('|', '\\|');
  const line = (cells: readonly string[]) => `| ${cells.map(escape).join(' | ')} |`;
  const rule = `|${header.map((_, i) => (rightAligned.has(i) ? '---:' : '---')).join('|')}|`;
  return [line(header), rule, ...rows.map(line)].join('\n');
}

/** Runs of three or more consecutive seconds collapse to a range: 3, 4, …, 15 reads "3–15". */
export function formatDurations(seconds: readonly number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < seconds.length; ) {
    let j = i;
    while (j + 1 < seconds.length && seconds[j + 1] === (seconds[j] ?? 0) + 1) j += 1;
    const first = seconds[i] ?? 0;
    const last = seconds[j] ?? 0;
    if (j - i >= 2) parts.push(`${first}–${last}`);
    else parts.push(...seconds.slice(i, j + 1).map(String));
    i = j + 1;
  }
  return parts.join(', ');
}

const modes = (list: readonly VideoMode[]) => (list.length === 0 ? NONE : list.map(code).join(', '));

export function renderCapabilityTable(capabilities: Readonly<Record<VideoModel, ModelCapabilities>> = MODEL_CAPABILITIES): string {
  const rows = VIDEO_MODELS.map((model) => {
    const c = capabilities[model];
    return [
      code(c.model),
      code(c.klingName),
      c.endpoint,
      modes(c.modes),
      formatDurations(c.durationsSeconds),
      modes(c.audioModes),
      c.camera ? `${modes(c.camera.modes)}, ${formatDurations(c.camera.durationsSeconds)} s` : NONE,
      c.cfgScale ? 'yes' : 'no',
      c.note,
    ];
  });
  return markdownTable(
    ['Model', 'Kling `model_name`', 'Kling endpoint', 'Modes', 'Durations (s)', 'Audio', 'Camera control', '`cfgScale`', 'Notes'],
    rows,
  );
}

/** Credits for 5 s, 10 s and one second, silent and with audio, exactly as generateVideo would hold them. */
export function renderPriceTable(table: PriceTable = DEFAULT_PRICE_TABLE, capabilities = MODEL_CAPABILITIES): string {
  const pricing = createPricing(table);
  const rows: string[][] = [];
  for (const model of VIDEO_MODELS) {
    const caps = capabilities[model];
    for (const mode of caps.modes) {
      const entry = table[model][mode];
      const quote = (durationSeconds: number, generateAudio: boolean) =>
        String(pricing.quote({ model, mode, durationSeconds, generateAudio }).credits);
      const audio = entry?.creditsPerSecondWithAudio !== undefined && caps.audioModes.includes(mode);
      rows.push([
        code(model),
        code(mode),
        entry ? quote(5, false) : NONE,
        entry ? quote(10, false) : NONE,
        entry ? String(entry.creditsPerSecond) : NONE,
        audio ? quote(5, true) : NONE,
        audio ? quote(10, true) : NONE,
        audio ? String(entry.creditsPerSecondWithAudio) : NONE,
        entry?.source ?? 'not priced',
      ]);
    }
  }
  return markdownTable(
    ['Model', 'Mode', '5 s', '10 s', 'Per second', '5 s with audio', '10 s with audio', 'Per second with audio', 'Source (Kling units)'],
    rows,
    new Set([2, 3, 4, 5, 6, 7]),
  );
}

export interface ConfigVariable {
  /** One variable, or a pair documented together. */
  names: readonly string[];
  meaning: string;
  /** As Markdown; what the gateway does when the variable is unset or empty. */
  default: string;
}

/** Every variable src/config/env.ts reads, in its order; a unit test holds the two lists together. */
export const CONFIG_VARIABLES: readonly ConfigVariable[] = [
  { names: ['NODE_ENV'], meaning: '`development`, `test` or `production`. `production` turns GraphiQL, introspection and the demo key off unless enabled', default: '`development`' },
  { names: ['PORT'], meaning: 'Port the gateway listens on (`0` = any free port)', default: '`4000`' },
  { names: ['HOST'], meaning: 'Address the gateway binds to', default: '`127.0.0.1`' },
  { names: ['PUBLIC_URL'], meaning: "The gateway's public base URL, https in `production` (http refuses to start); when set, each task hands Kling a callback URL under it", default: 'unset (no callbacks)' },
  { names: ['DATABASE_URL'], meaning: 'The SQLite database (a file path, a `file:` URL or `:memory:`), or a `postgres://` URL for several instances', default: '`./data/gateway.db`' },
  { names: ['VIDEO_LINK_SECRET'], meaning: 'Signs the `/videos/…` playback links (≥ 32 characters); instances behind one load balancer must share it', default: 'random per process' },
  { names: ['VIDEO_LINK_TTL_SECONDS'], meaning: 'How long a playback link stays valid, s', default: '`86400`' },
  { names: ['VIDEO_CACHE_DIR'], meaning: 'Keep a copy of each video here and serve it instead of redirecting to Kling', default: 'unset (redirect)' },
  { names: ['VIDEO_CACHE_MAX_BYTES'], meaning: 'Total size of the copies in `VIDEO_CACHE_DIR` on one instance; past it the least recently used are deleted, and a larger video is redirected, not kept', default: '`1073741824` (1 GiB)' },
  { names: ['POLL_LEASE_MS'], meaning: 'How long a claimed task stays with one instance; after a crash its tasks move on after this, ms', default: '`30000`' },
  { names: ['SUBMIT_LEASE_MS'], meaning: 'How long a submit may be in flight before another poller takes the task over, ms', default: '`60000`' },
  {
    names: ['UPSTREAM_NOT_FOUND_ANSWERS'],
    meaning: "Kling's \"not found\" ends a task (or settles a canceled or overdue one) only after this many answers in a row, by Kling's id and ours",
    default: '`3`',
  },
  {
    names: ['UPSTREAM_NOT_FOUND_WINDOW_MS'],
    meaning: 'The shortest time those not-found answers must span, ms',
    default: '`60000`',
  },
  {
    names: ['UPSTREAM_COOL_DOWN_MS'],
    meaning: 'First pause of submissions after Kling refuses the account (balance, arrears, permission, credentials); doubles per refused probe, up to 10 min',
    default: '`30000`',
  },
  { names: ['DATABASE_POOL_SIZE'], meaning: 'PostgreSQL connections per instance', default: '`10`' },
  { names: ['INSTANCE_ID'], meaning: 'Name of this instance in task leases; unset = `embedded` on SQLite, a random name on PostgreSQL', default: 'unset' },
  { names: ['REDIS_URL'], meaning: '`redis://` or `rediss://` URL for pub/sub and shared limits', default: 'unset (in-process)' },
  { names: ['KLING_ACCESS_KEY', 'KLING_SECRET_KEY'], meaning: 'Kling credentials, both or neither; neither starts the built-in simulator', default: 'unset' },
  { names: ['KLING_BASE_URL'], meaning: 'Kling API base URL', default: '`https://api-singapore.klingai.com`' },
  { names: ['KLING_CONNECT_TIMEOUT_MS'], meaning: 'Time to open a connection to Kling, ms', default: '`5000`' },
  { names: ['KLING_REQUEST_TIMEOUT_MS'], meaning: "Time for Kling's response headers, and again for its body, ms", default: '`30000`' },
  { names: ['KLING_CONNECTIONS'], meaning: 'Connections kept open to Kling (1–1024)', default: '`32`' },
  {
    names: ['KLING_WEBHOOK_SECRET'],
    meaning: "The Webhook Secret (`whsec_…`) created in Kling's console: callbacks must then carry Kling's valid Standard Webhooks signature, at most 5 min old, besides the URL token (else 401)",
    default: 'unset (the URL token alone)',
  },
  { names: ['SIMULATOR_PORT'], meaning: 'Port of `npm run simulator`', default: '`4010`' },
  { names: ['SIMULATOR_TASK_SECONDS'], meaning: 'Seconds a simulated task takes from submit to result (fractions allowed)', default: '`10`' },
  {
    names: ['SIMULATOR_IN_PRODUCTION'],
    meaning: '`true`/`false`: let `production` without Kling keys run the built-in simulator (whose fake videos are charged real credits); otherwise it refuses to start',
    default: '`false`',
  },
  { names: ['ADMIN_TOKEN'], meaning: 'Bearer token for the admin mutations, at least 16 characters', default: 'unset (admin mutations refused)' },
  { names: ['GRAPHIQL'], meaning: '`true` or `false`: serve GraphiQL on `GET /graphql`', default: 'on unless `production`' },
  {
    names: ['CORS_ORIGINS'],
    meaning: 'Comma-separated browser origins (e.g. `https://app.example.com`) that get CORS headers, with credentials, on `/graphql`; other origins get none',
    default: 'unset: every origin outside `production`, none in `production`',
  },
  {
    names: ['TRUSTED_DOCUMENTS_FILE'],
    meaning: 'JSON map of document id (`sha256:<hex>`) → operation text (codegen\'s `persisted-documents.json`); clients may send `documentId` or Apollo\'s `extensions.persistedQuery.sha256Hash` instead of the text',
    default: 'unset',
  },
  { names: ['TRUSTED_DOCUMENTS_ONLY'], meaning: '`true`: refuse every operation not in `TRUSTED_DOCUMENTS_FILE` (the admin token excepted)', default: '`false`' },
  { names: ['INTROSPECTION'], meaning: '`true` or `false`: allow schema introspection', default: 'on unless `production`' },
  { names: ['LOG_LEVEL'], meaning: '`fatal`, `error`, `warn`, `info`, `debug`, `trace` or `silent`', default: '`info`' },
  { names: ['LOG_PRETTY'], meaning: '`true`/`false`: human-readable log lines (pino-pretty) instead of JSON', default: 'on when `development` and stdout is a terminal' },
  { names: ['METRICS'], meaning: '`true`/`false`: serve Prometheus metrics on `GET /metrics` (in `production` only with `METRICS_TOKEN` set)', default: '`true`' },
  {
    names: ['METRICS_TOKEN'],
    meaning: 'When set (at least 16 characters), `/metrics` needs `Authorization: Bearer <token>`. Required in `production`: without it `/metrics` answers 404 and a warning is logged at start',
    default: 'unset (no token needed outside `production`)',
  },
  {
    names: ['OTEL_EXPORTER_OTLP_ENDPOINT'],
    meaning:
      'OpenTelemetry collector base URL (OTLP/HTTP, e.g. `http://otel-collector:4318`): set = traces of every operation and task job are exported to `<url>/v1/traces` (see [Tracing](#tracing)). The exporter reads the other standard `OTEL_EXPORTER_OTLP_*` variables (headers, timeout, compression) itself, the batch processor `OTEL_BSP_*`, and `OTEL_SERVICE_NAME` / `OTEL_RESOURCE_ATTRIBUTES` name the service (default `kling-gateway`)',
    default: 'unset (no tracing, no cost)',
  },
  { names: ['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'], meaning: 'Full URL for traces, used as it is; wins over `OTEL_EXPORTER_OTLP_ENDPOINT`', default: 'unset' },
  {
    names: ['OTEL_TRACES_SAMPLER'],
    meaning:
      'Which traces are kept: `parentbased_traceidratio`, `traceidratio`, `always_on`, `always_off`, `parentbased_always_on` or `parentbased_always_off`. Parent-based samplers follow an incoming `traceparent` header, and a task\'s later spans always follow the operation that created it',
    default: '`parentbased_traceidratio`',
  },
  { names: ['OTEL_TRACES_SAMPLER_ARG'], meaning: 'Share of new traces the ratio samplers keep, `0` to `1`', default: '`1`' },
  { names: ['OTEL_SDK_DISABLED'], meaning: '`true`: no tracing even with an endpoint set', default: '`false`' },
  { names: ['SHUTDOWN_GRACE_MS'], meaning: 'On SIGTERM/SIGINT, how long requests in flight may take to finish before the remaining connections are closed, ms', default: '`10000`' },
  { names: ['PRICES_FILE'], meaning: 'JSON file of price entries merged over the default price table (same shape)', default: 'unset' },
  { names: ['POLL_FIRST_DELAY_MS'], meaning: "Delay before a submitted task's first status check, ms", default: '`2000`' },
  { names: ['POLL_MAX_INTERVAL_MS'], meaning: 'Longest interval between status checks of one task, ms', default: '`15000`' },
  { names: ['POLL_REQUESTS_PER_SECOND'], meaning: 'Status queries to Kling per second, at most', default: '`20`' },
  { names: ['POLL_CONCURRENCY'], meaning: 'Status queries to Kling in flight at once', default: '`8`' },
  { names: ['TASK_DEADLINE_SECONDS'], meaning: 'A task not finished this long after creation ends `TIMED_OUT`: refunded if Kling never took it, charged if Kling holds it (Kling bills it)', default: '`3600`' },
  { names: ['KEY_MAX_ACTIVE_TASKS'], meaning: 'Tasks one key may have at Kling at once; more wait in `QUEUED`', default: '`20`' },
  {
    names: ['WEBHOOK_TIMEOUT_MS'],
    meaning:
      'Time for one webhook delivery attempt, connect to last byte, ms. A receiver host that fails 5 times in a row (no answer, 5xx, 429) is skipped for 30 s, its deliveries rescheduled without counting attempts; keys take turns for the 8 deliveries in flight',
    default: '`5000`',
  },
  { names: ['WEBHOOK_MAX_AGE_SECONDS'], meaning: 'A webhook delivery still failing this long after its event is given up, s', default: '`86400`' },
  {
    names: ['WEBHOOK_ALLOWED_HOSTS'],
    meaning:
      'Comma-separated `host` or `host:port` entries (IPv6 in brackets) that webhooks may reach although they are private, local or on another port, e.g. `hooks.svc.cluster.local:8080`. A `host` entry covers ports 80 and 443. These skip the address, name, port and https-only checks (see [Webhook targets](#webhook-targets))',
    default: 'unset (public hosts on ports 80/443 only)',
  },
  { names: ['DEMO_KEY'], meaning: '`true`/`false` (or `1`/`0`, `yes`/`no`): create and print a `demo` key with 1,000 credits when `npm start` creates the database', default: '`true` (never in `production`)' },
  { names: ['DEMO_PAGE'], meaning: '`true` or `false`: serve the demo page (`GET /`), a browser form for `generateVideo` with live progress', default: 'on unless `production`' },
  { names: ['MAX_BODY_BYTES'], meaning: 'Largest HTTP request body accepted, bytes', default: '`65536`' },
  { names: ['MAX_DEPTH'], meaning: 'Deepest field nesting an operation may have', default: '`12`' },
  { names: ['MAX_COST'], meaning: 'Highest computed cost an operation may have', default: '`5000`' },
  { names: ['MAX_ALIASES'], meaning: 'Most aliases in one operation', default: '`15`' },
  { names: ['MAX_TOKENS'], meaning: 'Most tokens in one operation document', default: '`2000`' },
  { names: ['MAX_DIRECTIVES'], meaning: 'Most directives in one operation', default: '`20`' },
  { names: ['RATE_LIMIT_POINTS'], meaning: 'Points each key may spend per window; an operation costs one per root field, aliases included', default: '`600`' },
  { names: ['RATE_LIMIT_WINDOW_SECONDS'], meaning: 'Length of the rate-limit window, s', default: '`60`' },
  { names: ['WS_MAX_PAYLOAD_BYTES'], meaning: 'Largest WebSocket message accepted, bytes', default: '`65536`' },
  { names: ['WS_MAX_CONNECTIONS_PER_KEY'], meaning: 'Open streams one key may hold per instance: WebSocket connections, SSE subscriptions and MCP calls waiting for a task, counted together', default: '`20`' },
  { names: ['WS_MAX_SUBSCRIPTIONS_PER_CONNECTION'], meaning: 'Subscriptions one WebSocket connection may carry', default: '`50`' },
  { names: ['WS_CONNECTION_INIT_TIMEOUT_MS'], meaning: 'Time a new WebSocket has to send `connection_init`, ms', default: '`3000`' },
  { names: ['WS_KEEP_ALIVE_MS'], meaning: 'Interval of keep-alive pings on WebSockets, ms', default: '`12000`' },
  { names: ['HTTP_HEADERS_TIMEOUT_MS'], meaning: 'Time a connection has to send a whole request head, ms; slower connections are closed', default: '`10000`' },
  { names: ['HTTP_REQUEST_TIMEOUT_MS'], meaning: 'Time a connection has to send a whole request, head and body, ms (responses such as SSE streams are not bound by it)', default: '`30000`' },
];

export function renderConfigTable(variables: readonly ConfigVariable[] = CONFIG_VARIABLES): string {
  return markdownTable(
    ['Variable', 'Meaning', 'Default'],
    variables.map((v) => [v.names.map(code).join(', '), v.meaning, v.default]),
  );
}

/** Every status change a task can make, from the lifecycle table itself. */
export function renderLifecycleTable(lifecycle: Readonly<Record<string, LifecycleRule>> = LIFECYCLE): string {
  return markdownTable(
    ['Event', 'From', 'To', 'Credits', 'When'],
    Object.entries(lifecycle).map(([event, rule]) => [
      code(event),
      rule.from.map(code).join(', ') + (rule.guard === 'never-sent' ? ' (never sent¹)' : ''),
      code(rule.to),
      rule.settle ?? '—',
      rule.why,
    ]),
  );
}

/** The README parts between `<!-- BEGIN name -->` and `<!-- END name -->`, and what belongs there. */
export const README_SECTIONS = {
  capabilities: renderCapabilityTable,
  prices: renderPriceTable,
  configuration: renderConfigTable,
  lifecycle: renderLifecycleTable,
} as const satisfies Record<string, () => string>;
export type ReadmeSection = keyof typeof README_SECTIONS;

const markers = (name: string) => ({ begin: `<!-- BEGIN ${name} -->`, end: `<!-- END ${name} -->` });

/** The text between a section's markers, without the blank lines around it; undefined if the markers are missing. */
export function readmeSection(readme: string, name: string): string | undefined {
  const { begin, end } = markers(name);
  const from = readme.indexOf(begin);
  const to = readme.indexOf(end, from);
  if (from === -1 || to === -1) return undefined;
  return readme.slice(from + begin.length, to).trim();
}

/** Replaces one section's body; throws when its markers are missing, so a renamed heading is noticed. */
export function replaceReadmeSection(readme: string, name: string, body: string): string {
  const { begin, end } = markers(name);
  const from = readme.indexOf(begin);
  const to = readme.indexOf(end, from);
  if (from === -1 || to === -1) throw new Error(`README.md has no "${begin}" … "${end}" markers.`);
  return `${readme.slice(0, from + begin.length)}\n${body}\n${readme.slice(to)}`;
}
