// A small GraphQL-over-HTTP client for tests: POSTs an operation and returns status and body.
import { operationText, type Operation } from './document.js';

export interface GraphqlResponse<TData = Record<string, unknown>> {
  status: number;
  headers: Headers;
  body: {
    data?: TData | null;
    errors?: { message: string; path?: string[]; extensions?: Record<string, unknown> }[];
  };
}

export async function postGraphql<TData = Record<string, unknown>>(
  url: URL | string,
  query: Operation,
  variables?: Record<string, unknown>,
  options: { key?: string | undefined; headers?: Record<string, string> } = {},
): Promise<GraphqlResponse<TData>> {
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/graphql-response+json, application/json',
      ...(options.key ? { authorization: `Bearer ${options.key}` } : {}),
      ...options.headers,
    },
    body: JSON.stringify({ query: operationText(query), variables }),
  });
  return { status: response.status, headers: response.headers, body: (await response.json()) as GraphqlResponse<TData>['body'] };
}
