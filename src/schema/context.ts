// What resolvers see. The transport half (request, socket) stays in server/; resolvers get services.
import type { Span } from '@opentelemetry/api';
import type { ApiKeys } from '../auth/api-keys.js';
import type { Usage } from '../credits/usage.js';
import type { VideoLinks } from '../videos/video-links.js';
import type { TaskPubSub } from '../tasks/pubsub.js';
import type { TaskService } from '../tasks/task-service.js';
import type { TaskWatch } from '../tasks/task-watch.js';
import type { WebhookTargetPolicy } from '../webhooks/webhook-target.js';

export interface GatewayServices {
  tasks: TaskService;
  apiKeys: ApiKeys;
  pubsub: TaskPubSub;
  watch: TaskWatch;
  usage: Usage;
  videoLinks: VideoLinks;
  /** Which webhookUrl receivers this gateway accepts (config.webhooks.targets). */
  webhookTargets: WebhookTargetPolicy;
}

export interface GatewayContext {
  /** The caller's API key id, or null when no valid key was presented. */
  apiKeyId: string | null;
  /** True when the request carried the operator's ADMIN_TOKEN. */
  isAdmin: boolean;
  /** True when credentials were presented but are not valid; such a request is refused outright. */
  credentialsRejected: boolean;
  /** Set when the client address presented too many wrong tokens lately: answered 429 with Retry-After. */
  credentialsThrottledSeconds?: number | undefined;
  services: GatewayServices;
  /**
   * Set when this operation went over the key's rate limit. Mutations answer with
   * RateLimitedError as data; other operations never reach resolvers.
   */
  rateLimited: { retryAfterSeconds: number } | null;
  /** The operation's span while traced (server/use-operation-telemetry.ts); a task created here joins its trace. */
  operationSpan?: Span | undefined;
}

/** The context of a field behind `withAuth({ apiKey: true })`. */
export type KeyedContext = GatewayContext & { apiKeyId: string };
