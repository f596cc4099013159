// The MCP tools: the same validation, pricing, submit and live view as the GraphQL API, in the
// vocabulary of the seed tool `kling_generate_video`. One server is built per request and caller.
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { z } from 'zod';
import type { Clock } from '../clock.js';
import {
  IdempotencyConflictError,
  InsufficientCreditsError,
  isGatewayError,
  RateLimitedError,
  UpstreamError,
} from '../errors.js';
import type { Logger } from '../logger.js';
import { tooManyStreamsMessage, type KeyStreams } from '../server/key-streams.js';
import { checkGenerateInput, type GenerateRequest } from '../tasks/input.js';
import type { TaskService } from '../tasks/task-service.js';
import type { TaskWatch } from '../tasks/task-watch.js';
import type { VideoLinks } from '../videos/video-links.js';
import type { WebhookTargetPolicy } from '../webhooks/webhook-target.js';
import { KLING_MODE } from '../tasks/kling-mapping.js';
import {
  estimateOutputShape,
  estimateText,
  taskOutputShape,
  taskText,
  toTaskOutput,
  type EstimateOutput,
  type TaskOutput,
} from './task-output.js';
import {
  estimateInputShape,
  generateInputShape,
  inToolTerms,
  klingNameOf,
  toGenerateInputRaw,
  toToolIssues,
  type EstimateArgs,
  type ToolIssue,
} from './tool-input.js';
import { createTaskWaiter } from './wait-for-task.js';

/** The version of this tool surface, reported to clients; bump it when a tool's input or output changes. */
export const MCP_TOOLS_VERSION = '1.0.0';

export interface McpToolServerDeps {
  tasks: TaskService;
  watch: TaskWatch;
  clock: Clock;
  logger: Logger;
  /**
   * When given, each tool call costs one point of it. The gateway (app.ts) leaves it out: its MCP
   * route charges every request, whatever the method, before it gets here.
   */
  rateLimiter?: RateLimiterAbstract | undefined;
  /** Signs the gateway's own playback links for finished videos. */
  videoLinks?: VideoLinks | undefined;
  /** Which callback_url receivers are accepted (config.webhooks.targets); the GraphQL API applies the same. */
  webhookTargets?: WebhookTargetPolicy | undefined;
  /** A call that waits for its task holds one of its key's streams; revoking the key ends the wait. */
  keyStreams?: KeyStreams | undefined;
}

const toolError = (text: string): CallToolResult => ({ content: [{ type: 'text', text }], isError: true });

function invalidInput(issues: readonly ToolIssue[]): CallToolResult {
  const lines = issues.map((i) => `- ${i.field}: ${i.message}`);
  return toolError(['Invalid input; no task was created and nothing was charged.', ...lines].join('\n'));
}

/** What a client may be told about an expected error; anything else is logged and masked. */
function gatewayErrorText(error: unknown): string | null {
  if (error instanceof InsufficientCreditsError) {
    return (
      `Not enough credits: this task costs ${error.required} and the key has ${error.available} available. ` +
      'No task was created. A shorter duration, std mode or no audio costs less; kling_estimate_cost prices an input.'
    );
  }
  if (error instanceof IdempotencyConflictError) {
    return `${inToolTerms(error.message)} Use a new idempotency_key for a different input; nothing was charged.`;
  }
  if (error instanceof UpstreamError) {
    const retry = error.retryable ? 'Trying again later may work.' : 'Change the input before trying again.';
    return `${error.message} ${retry} Nothing was charged.`;
  }
  if (isGatewayError(error)) return inToolTerms(error.message);
  return null;
}

function taskResult(output: TaskOutput): CallToolResult {
  return { content: [{ type: 'text', text: taskText(output) }], structuredContent: output };
}

export function createMcpToolServer(deps: McpToolServerDeps) {
  const { tasks, logger } = deps;
  const waitForTask = createTaskWaiter(deps);
  const links = deps.videoLinks;
  const playbackUrl = links ? (taskId: string, n: number) => links.link(taskId, n) : undefined;

  // The price of the defaults, for the descriptions; read once, since an operator may override the table.
  let defaultPrice: { request: GenerateRequest; credits: number } | undefined;
  const priceOfDefaults = () => {
    if (!defaultPrice) {
      const checked = checkGenerateInput({ prompt: 'price of the defaults' });
      if (!checked.ok) throw new Error('The default input breaks the rules.');
      defaultPrice = { request: checked.value, credits: tasks.quote(checked.value).credits };
    }
    return defaultPrice;
  };

  /** Runs a tool body for a key: rate limit first, then expected errors as tool errors, the rest masked. */
  async function run(apiKeyId: string, tool: string, body: () => Promise<CallToolResult>): Promise<CallToolResult> {
    try {
      await deps.rateLimiter?.consume(apiKeyId, 1);
    } catch (rejection) {
      if (!(rejection instanceof RateLimiterRes)) throw rejection;
      return toolError(new RateLimitedError(Math.max(1, Math.ceil(rejection.msBeforeNext / 1000))).message);
    }
    try {
      return await body();
    } catch (error) {
      const text = gatewayErrorText(error);
      if (text !== null) return toolError(text);
      logger.error({ err: error, tool }, 'MCP tool failed');
      return toolError('Unexpected error.');
    }
  }

  const priceNote = () => {
    const { request, credits } = priceOfDefaults();
    return (
      `Costs credits from your API key: the price is held when the task is submitted and charged only if it succeeds; ` +
      `a task that fails, is refused or times out costs nothing. The defaults (${klingNameOf(request.model)}, ` +
      `${KLING_MODE[request.mode]}, ${request.durationSeconds} s) cost ${credits} credits; pro mode, longer videos and audio cost more. ` +
      'kling_estimate_cost gives the exact price for free.'
    );
  };

  return function createServerFor(apiKeyId: string): McpServer {
    const server = new McpServer(
      { name: 'kling-gateway', version: MCP_TOOLS_VERSION },
      {
        instructions:
          'Text-to-video with Kling through the kling-gateway. kling_generate_video submits a video (optionally waiting for it), ' +
          'kling_get_video_task follows a task by its task_id, kling_estimate_cost prices an input without charging. ' +
          'Prices are in credits of your API key.',
      },
    );

    server.registerTool(
      'kling_generate_video',
      {
        title: 'Generate a video from text (Kling)',
        description: [
          'Generate an AI video from a text prompt with Kling: describe the scene, motion, style and mood. ' +
            'Choose model, mode, aspect ratio and duration; no reference images needed.',
          'Returns the task_id, its state (QUEUED, SUBMITTED, PROCESSING, then SUCCEEDED, FAILED, CANCELED or TIMED_OUT), ' +
            'the credits it costs and, once SUCCEEDED, the video URLs. Generation takes one to several minutes: ' +
            'pass timeout (seconds) to wait for the result in this call; otherwise, or if it is not ready in time, ' +
            'call kling_get_video_task with the task_id.',
          priceNote(),
          'Invalid input is refused with the field to change, before anything is charged. ' +
            'Pass idempotency_key to retry safely without a second task or charge.',
        ].join('\n\n'),
        inputSchema: generateInputShape,
        outputSchema: taskOutputShape,
        annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
      },
      (args, extra) =>
        run(apiKeyId, 'kling_generate_video', async () => {
          const mapped = toGenerateInputRaw(args);
          if (!mapped.ok) return invalidInput(mapped.issues);
          const checked = checkGenerateInput(mapped.raw, deps.webhookTargets);
          if (!checked.ok) return invalidInput(toToolIssues(checked.issues));
          const timeoutSeconds = args.timeout ?? 0;
          // A waiting call is a stream like an SSE subscription: the slot is taken before anything is submitted.
          const revoked = new AbortController();
          const release = timeoutSeconds > 0 ? deps.keyStreams?.acquire(apiKeyId, () => revoked.abort()) : undefined;
          if (release === null) {
            return toolError(`${tooManyStreamsMessage(deps.keyStreams?.maxPerKey ?? 0)} No task was created and nothing was charged; call again without timeout, or later.`);
          }
          try {
            const submitted = await tasks.submit(apiKeyId, checked.value);
            if (timeoutSeconds <= 0) return taskResult(toTaskOutput(submitted, { playbackUrl }));

            const progressToken = extra._meta?.progressToken;
            let progress = 0;
            const { task, finished } = await waitForTask(apiKeyId, submitted, {
              timeoutMs: timeoutSeconds * 1000,
              signal: AbortSignal.any([extra.signal, revoked.signal]),
              // Lets a client that asked for progress keep its request timeout from expiring while it waits.
              onUpdate: (update) => {
                if (progressToken === undefined) return;
                progress += 1;
                extra
                  .sendNotification({
                    method: 'notifications/progress',
                    params: { progressToken, progress, message: `Task ${update.id}: ${update.status}` },
                  })
                  .catch(() => undefined);
              },
            });
            return taskResult(toTaskOutput(task, finished ? { playbackUrl } : { waitedSeconds: timeoutSeconds, playbackUrl }));
          } finally {
            release?.();
          }
        }),
    );

    server.registerTool(
      'kling_get_video_task',
      {
        title: 'Get a Kling video task',
        description:
          'Look up a task made by kling_generate_video with this API key: its state, the video URLs once SUCCEEDED, ' +
          'the failure reason if it FAILED, its price and what was charged. Free. ' +
          'While the state is QUEUED, SUBMITTED or PROCESSING, call again later (every 10 to 30 seconds is plenty).',
        inputSchema: { task_id: z.string().min(1).describe('The task_id kling_generate_video returned.') },
        outputSchema: taskOutputShape,
        annotations: { readOnlyHint: true, openWorldHint: false },
      },
      ({ task_id }) =>
        run(apiKeyId, 'kling_get_video_task', async () => {
          // Another key's task reads exactly like an unknown id.
          const task = await tasks.find(apiKeyId, task_id);
          if (!task) return toolError(`Task ${task_id} not found. Pass a task_id that kling_generate_video returned for this API key.`);
          return taskResult(toTaskOutput(task, { playbackUrl }));
        }),
    );

    server.registerTool(
      'kling_estimate_cost',
      {
        title: 'Estimate the cost of a Kling video',
        description:
          'Price an input for kling_generate_video in credits, without creating a task or charging anything. ' +
          'Takes the same fields (timeout, callback_url and idempotency_key do not matter here) and checks them the same way, ' +
          'so an input it accepts is one kling_generate_video accepts. ' +
          'Returns credits, the rate per second, and the model, mode, duration and audio it priced (defaults filled in).',
        inputSchema: estimateInputShape,
        outputSchema: estimateOutputShape,
        annotations: { readOnlyHint: true, openWorldHint: false },
      },
      (args: EstimateArgs) =>
        run(apiKeyId, 'kling_estimate_cost', async () => {
          const mapped = toGenerateInputRaw(args);
          if (!mapped.ok) return invalidInput(mapped.issues);
          const checked = checkGenerateInput(mapped.raw, deps.webhookTargets);
          if (!checked.ok) return invalidInput(toToolIssues(checked.issues));
          const request = checked.value;
          const quote = tasks.quote(request);
          const output: EstimateOutput = {
            credits: quote.credits,
            credits_per_second: quote.creditsPerSecond,
            model: klingNameOf(request.model),
            mode: KLING_MODE[request.mode],
            duration: request.durationSeconds,
            generate_audio: request.generateAudio,
          };
          return { content: [{ type: 'text', text: estimateText(output) }], structuredContent: output };
        }),
    );

    return server;
  };
}

export type McpToolServerFactory = ReturnType<typeof createMcpToolServer>;
