// GraphQL over SSE as yoga serves it (distinct connections): POST the operation with
// `accept: text/event-stream` and read `event: next` / `event: complete` messages off the stream.
import { operationText, type Operation } from './document.js';
import { onTeardown } from './leftovers.js';
import { createCollector, type CollectedSubscription } from './subscription-collector.js';

export interface SseSubscription<TData> extends CollectedSubscription<TData> {
  /** The HTTP answer's status and content type, once the headers arrived. */
  readonly response: Promise<{ status: number; contentType: string }>;
  /** Drops the connection, as a browser tab that goes away would. */
  abort(): void;
}

interface SseMessage {
  event: string;
  data: string;
}

/** Splits a text/event-stream into messages; comment lines (keep-alives) and ids are skipped. */
async function* readMessages(body: ReadableStream<Uint8Array>): AsyncGenerator<SseMessage> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true }).replace(/\r\n?/g, '\n');
      let end = buffer.indexOf('\n\n');
      while (end !== -1) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        end = buffer.indexOf('\n\n');
        let event = 'message';
        const data: string[] = [];
        for (const line of block.split('\n')) {
          const colon = line.indexOf(':');
          if (colon === 0) continue;
          const field = colon === -1 ? line : line.slice(0, colon);
          const text = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
          if (field === 'event') event = text;
          else if (field === 'data') data.push(text);
        }
        if (data.length > 0 || event !== 'message') yield { event, data: data.join('\n') };
      }
    }
  } finally {
    // Leaving early (after `complete`, or on abort) closes the connection instead of draining it.
    await reader.cancel().catch(() => undefined);
  }
}

export function subscribeSse<TData = Record<string, unknown>>(
  url: URL | string,
  operation: Operation,
  variables?: Record<string, unknown>,
  options: { key?: string | undefined } = {},
): SseSubscription<TData> {
  const collector = createCollector<TData>();
  const controller = new AbortController();
  let onResponse: (response: { status: number; contentType: string }) => void = () => undefined;
  const response = new Promise<{ status: number; contentType: string }>((resolve) => {
    onResponse = resolve;
  });

  const run = async () => {
    const answer = await fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'text/event-stream',
        ...(options.key === undefined ? {} : { authorization: `Bearer ${options.key}` }),
      },
      body: JSON.stringify(variables === undefined ? { query: operationText(operation) } : { query: operationText(operation), variables }),
      signal: controller.signal,
    });
    const contentType = answer.headers.get('content-type') ?? '';
    onResponse({ status: answer.status, contentType });
    if (!contentType.startsWith('text/event-stream') || answer.body === null) {
      // Refused before streaming (e.g. 401): the body is a plain GraphQL result.
      collector.finish('error', { status: answer.status, body: await answer.text() });
      return;
    }
    for await (const message of readMessages(answer.body)) {
      if (message.event === 'next') collector.push(JSON.parse(message.data) as Parameters<typeof collector.push>[0]);
      else if (message.event === 'complete') {
        collector.finish('complete');
        return;
      }
    }
    collector.finish('error', new Error('the event stream ended without a complete event'));
  };

  run().catch((error: unknown) => {
    collector.finish(controller.signal.aborted ? 'aborted' : 'error', error);
  });
  onTeardown(() => controller.abort());

  return {
    ...collector.collected,
    response,
    abort() {
      collector.finish('aborted');
      controller.abort();
    },
  };
}
