// Operations the integration tests share, written as a client would write them. `graphql()` comes from
// codegen (test/generated): each document is checked against schema.graphql and typed.
import { graphql } from '../generated/gql.js';

export const TASK_FIELDS = graphql(`
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
`);

export const GENERATE_VIDEO = graphql(`
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
`);

export const VIDEO_TASK = graphql(`
  query VideoTask($id: ID!) {
    videoTask(id: $id) { ...TaskFields }
  }
`);

export const ME = graphql(`
  query Me {
    me { name creditBalance creditsHeld creditsUsed }
  }
`);

export const CANCEL_VIDEO_TASK = graphql(`
  mutation CancelVideoTask($id: ID!) {
    cancelVideoTask(id: $id) {
      __typename
      ... on CancelVideoTaskSuccess { task { ...TaskFields } }
      ... on Error { code message }
    }
  }
`);

export const TASK_UPDATED = graphql(`
  subscription TaskUpdated($id: ID!) {
    taskUpdated(id: $id) { ...TaskFields }
  }
`);

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
