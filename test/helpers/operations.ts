// Operations the integration tests share, written as a client would write them.

export const TASK_FIELDS = /* GraphQL */ `
  fragment TaskFields on VideoTask {
    id
    status
    prompt
    model
    mode
    durationSeconds
    generateAudio
    credits
    creditsCharged
    queuePosition
    failure { code message retryable }
    videos { id url durationSeconds }
    createdAt
    updatedAt
    completedAt
  }
`;

export const GENERATE_VIDEO = /* GraphQL */ `
  mutation GenerateVideo($input: GenerateVideoInput!) {
    generateVideo(input: $input) {
      __typename
      ... on GenerateVideoSuccess { task { ...TaskFields } }
      ... on Error { code message }
      ... on ValidationError { issues { path message } }
      ... on InsufficientCreditsError { required available }
      ... on UpstreamError { retryable taskId }
    }
  }
  ${TASK_FIELDS}
`;

export const VIDEO_TASK = /* GraphQL */ `
  query VideoTask($id: ID!) {
    videoTask(id: $id) { ...TaskFields }
  }
  ${TASK_FIELDS}
`;

export const ME = /* GraphQL */ `
  query Me {
    me { name creditBalance creditsHeld creditsUsed }
  }
`;

export const CANCEL_VIDEO_TASK = /* GraphQL */ `
  mutation CancelVideoTask($id: ID!) {
    cancelVideoTask(id: $id) {
      __typename
      ... on CancelVideoTaskSuccess { task { ...TaskFields } }
      ... on Error { code message }
    }
  }
  ${TASK_FIELDS}
`;

export const TASK_UPDATED = /* GraphQL */ `
  subscription TaskUpdated($id: ID!) {
    taskUpdated(id: $id) { ...TaskFields }
  }
  ${TASK_FIELDS}
`;

export interface TaskFields {
  id: string;
  status: string;
  prompt: string;
  model: string;
  mode: string;
  durationSeconds: number;
  generateAudio: boolean;
  credits: number;
  creditsCharged: number;
  queuePosition: number | null;
  failure: { code: string; message: string; retryable: boolean } | null;
  videos: { id: string; url: string; durationSeconds: number }[];
  createdAt: string;
  updatedAt: string;
  completedAt: string | null;
}

export interface GenerateVideoData {
  generateVideo: {
    __typename: string;
    task?: TaskFields;
    code?: string;
    message?: string;
    issues?: { path: string[]; message: string }[];
    required?: number;
    available?: number;
    retryable?: boolean;
    taskId?: string | null;
  };
}

export interface MeData {
  me: { name: string; creditBalance: number; creditsHeld: number; creditsUsed: number };
}
