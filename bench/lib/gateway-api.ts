// The few gateway operations benches need for setup: fund a key, submit a task. Plain fetch, one
// request at a time; the load itself goes through autocannon or the bench's own pools.

interface GraphqlBody<T> {
  data?: T | null;
  errors?: { message: string }[];
}

export async function graphql<T>(url: string, token: string, query: string, variables: Record<string, unknown> = {}): Promise<T> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as GraphqlBody<T>;
  if (!body.data || body.errors) throw new Error(`HTTP ${response.status}: ${JSON.stringify(body)}`);
  return body.data;
}

const CREATE_API_KEY = /* GraphQL */ `
  mutation CreateApiKey($name: String!, $credits: Int!) {
    createApiKey(name: $name, credits: $credits) { key account { id } }
  }
`;

/** A new key holding `credits`, created with the ADMIN_TOKEN. */
export async function createApiKey(url: string, adminToken: string, name: string, credits: number) {
  const { createApiKey: created } = await graphql<{ createApiKey: { key: string; account: { id: string } } }>(
    url,
    adminToken,
    CREATE_API_KEY,
    { name, credits },
  );
  return { key: created.key, id: created.account.id };
}

export const GENERATE_VIDEO = /* GraphQL */ `
  mutation GenerateVideo($input: GenerateVideoInput!) {
    generateVideo(input: $input) {
      __typename
      ... on GenerateVideoSuccess { task { id credits } }
      ... on Error { code message }
    }
  }
`;

export interface GenerateVideoData {
  generateVideo: { __typename: string; task?: { id: string; credits: number }; code?: string };
}

/** KLING_V1, standard mode, 5 s: the cheapest task in the price table. */
export function cheapestInput(prompt: string) {
  return { prompt, model: 'KLING_V1' };
}

/** Submits one task; resolves with its id, or with the refusal's code. */
export async function submitTask(url: string, key: string, prompt: string): Promise<{ id: string } | { refused: string }> {
  const { generateVideo } = await graphql<GenerateVideoData>(url, key, GENERATE_VIDEO, { input: cheapestInput(prompt) });
  return generateVideo.task ? { id: generateVideo.task.id } : { refused: generateVideo.code ?? generateVideo.__typename };
}
