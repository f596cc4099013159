// GraphQL over HTTP: a response in application/graphql-response+json without a `data` entry (the
// request failed before execution) MUST NOT be 2xx. yoga picks 4xx for the errors it knows (parse,
// validation, those carrying extensions.http) and 200 for any other; this makes the rest 400, or 500
// for a masked internal error. application/json keeps 200, as the spec asks of that media type.
import { isAsyncIterable, type Plugin } from 'graphql-yoga';

const GRAPHQL_RESPONSE = 'application/graphql-response+json';

interface ProcessedResult {
  data?: unknown;
  errors?: readonly { extensions?: Record<string, unknown> }[];
}

export function useGraphqlResponseStatus(): Plugin {
  /** The single result each request's response was made from. */
  const results = new WeakMap<Request, ProcessedResult>();
  return {
    onResultProcess({ request, result }) {
      if (!isAsyncIterable(result) && !Array.isArray(result)) results.set(request, result as ProcessedResult);
    },
    onResponse(payload) {
      const { request, response, fetchAPI } = payload;
      const result = results.get(request);
      if (!result || response.status !== 200 || 'data' in result || !result.errors?.length) return;
      if (!response.headers.get('content-type')?.startsWith(GRAPHQL_RESPONSE)) return;
      const internal = result.errors.some((error) => error.extensions?.['code'] === 'INTERNAL_SERVER_ERROR');
      payload.setResponse(new fetchAPI.Response(response.body, { status: internal ? 500 : 400, headers: response.headers }));
    },
  };
}
