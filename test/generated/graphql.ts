/* eslint-disable */
/** Internal type. DO NOT USE DIRECTLY. */
type Exact<T extends { [key: string]: unknown }> = { [K in keyof T]: T[K] };
/** Internal type. DO NOT USE DIRECTLY. */
export type Incremental<T> = T | { [P in keyof T]?: P extends ' $fragmentName' | '__typename' ? T[P] : never };
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';
export type AspectRatio =
  | 'RATIO_1_1'
  | 'RATIO_9_16'
  | 'RATIO_16_9';

/** Each value -10..10. SIMPLE takes exactly one non-zero value. */
export type CameraConfigInput = {
  /** Move along x: negative left, positive right. */
  horizontal?: number | null | undefined;
  /** Rotate about the vertical axis. */
  pan?: number | null | undefined;
  /** Rotate about the lens axis. */
  roll?: number | null | undefined;
  /** Rotate about the horizontal axis. */
  tilt?: number | null | undefined;
  /** Move along y: negative down, positive up. */
  vertical?: number | null | undefined;
  /** Negative narrows the view, positive widens it. */
  zoom?: number | null | undefined;
};

/** config is required for SIMPLE and must be absent for the presets. */
export type CameraControlInput = {
  config?: CameraConfigInput | null | undefined;
  type: CameraMovement;
};

export type CameraMovement =
  | 'DOWN_BACK'
  | 'FORWARD_UP'
  | 'LEFT_TURN_FORWARD'
  | 'RIGHT_TURN_FORWARD'
  | 'SIMPLE';

export type ErrorCode =
  | 'FORBIDDEN'
  | 'IDEMPOTENCY_CONFLICT'
  | 'INSUFFICIENT_CREDITS'
  | 'NOT_FOUND'
  | 'RATE_LIMITED'
  | 'UNAUTHENTICATED'
  | 'UPSTREAM_ERROR'
  | 'VALIDATION_FAILED';

export type FailureCode =
  | 'CONTENT_POLICY'
  | 'INVALID_INPUT'
  | 'TIMEOUT'
  | 'UPSTREAM_ERROR'
  | 'UPSTREAM_TASK_LOST'
  | 'UPSTREAM_UNAVAILABLE';

export type GenerateVideoInput = {
  /** Default RATIO_16_9. */
  aspectRatio?: AspectRatio | null | undefined;
  cameraControl?: CameraControlInput | null | undefined;
  /** 0..1, where the model supports it. */
  cfgScale?: number | null | undefined;
  /** Default 5; see `models` for what each model takes. */
  durationSeconds?: number | null | undefined;
  /** Only where the model supports it (see `models`). */
  generateAudio?: boolean | null | undefined;
  /** The same key with the same input returns the same task and never charges twice. */
  idempotencyKey?: string | null | undefined;
  /** Default STANDARD. */
  mode?: VideoMode | null | undefined;
  /** Default KLING_V2_MASTER. */
  model?: VideoModel | null | undefined;
  /** What to keep out of the video; up to 2500 characters. */
  negativePrompt?: string | null | undefined;
  /** 1 to 2500 characters after trimming. */
  prompt: string;
  /** http(s) URL notified, signed, on terminal states. */
  webhookUrl?: string | null | undefined;
};

export type TaskStatus =
  | 'CANCELED'
  | 'FAILED'
  | 'PROCESSING'
  | 'QUEUED'
  | 'SUBMITTED'
  | 'SUCCEEDED'
  | 'TIMED_OUT';

export type VideoMode =
  | 'PROFESSIONAL'
  | 'STANDARD';

export type VideoModel =
  | 'KLING_V1'
  | 'KLING_V1_6'
  | 'KLING_V2_1_MASTER'
  | 'KLING_V2_5_TURBO'
  | 'KLING_V2_6'
  | 'KLING_V2_MASTER'
  | 'KLING_V3'
  | 'KLING_V3_OMNI'
  | 'KLING_VIDEO_O1';

export type TaskFieldsFragment = { id: string, status: TaskStatus, prompt: string, model: VideoModel, mode: VideoMode, durationSeconds: number, generateAudio: boolean, credits: number, creditsCharged: number, queuePosition: number | null, createdAt: string, updatedAt: string, completedAt: string | null, failure: { code: FailureCode, message: string, retryable: boolean } | null, videos: Array<{ id: string, url: string, durationSeconds: number }> };

export type GenerateVideoMutationVariables = Exact<{
  input: GenerateVideoInput;
}>;


export type GenerateVideoMutation = { generateVideo:
    | { __typename: 'GenerateVideoSuccess', task: { id: string, status: TaskStatus, prompt: string, model: VideoModel, mode: VideoMode, durationSeconds: number, generateAudio: boolean, credits: number, creditsCharged: number, queuePosition: number | null, createdAt: string, updatedAt: string, completedAt: string | null, failure: { code: FailureCode, message: string, retryable: boolean } | null, videos: Array<{ id: string, url: string, durationSeconds: number }> } }
    | { __typename: 'IdempotencyConflictError', code: ErrorCode, message: string }
    | { __typename: 'InsufficientCreditsError', code: ErrorCode, message: string, required: number, available: number }
    | { __typename: 'RateLimitedError', code: ErrorCode, message: string }
    | { __typename: 'UpstreamError', code: ErrorCode, message: string, retryable: boolean, taskId: string | null }
    | { __typename: 'ValidationError', code: ErrorCode, message: string, issues: Array<{ path: Array<string>, message: string }> }
   };

export type VideoTaskQueryVariables = Exact<{
  id: string | number;
}>;


export type VideoTaskQuery = { videoTask: { id: string, status: TaskStatus, prompt: string, model: VideoModel, mode: VideoMode, durationSeconds: number, generateAudio: boolean, credits: number, creditsCharged: number, queuePosition: number | null, createdAt: string, updatedAt: string, completedAt: string | null, failure: { code: FailureCode, message: string, retryable: boolean } | null, videos: Array<{ id: string, url: string, durationSeconds: number }> } | null };

export type MeQueryVariables = Exact<{ [key: string]: never; }>;


export type MeQuery = { me: { name: string, creditBalance: number, creditsHeld: number, creditsUsed: number } };

export type CancelVideoTaskMutationVariables = Exact<{
  id: string | number;
}>;


export type CancelVideoTaskMutation = { cancelVideoTask:
    | { __typename: 'CancelVideoTaskSuccess', task: { id: string, status: TaskStatus, prompt: string, model: VideoModel, mode: VideoMode, durationSeconds: number, generateAudio: boolean, credits: number, creditsCharged: number, queuePosition: number | null, createdAt: string, updatedAt: string, completedAt: string | null, failure: { code: FailureCode, message: string, retryable: boolean } | null, videos: Array<{ id: string, url: string, durationSeconds: number }> } }
    | { __typename: 'NotFoundError', code: ErrorCode, message: string }
   };

export type TaskUpdatedSubscriptionVariables = Exact<{
  id: string | number;
}>;


export type TaskUpdatedSubscription = { taskUpdated: { id: string, status: TaskStatus, prompt: string, model: VideoModel, mode: VideoMode, durationSeconds: number, generateAudio: boolean, credits: number, creditsCharged: number, queuePosition: number | null, createdAt: string, updatedAt: string, completedAt: string | null, failure: { code: FailureCode, message: string, retryable: boolean } | null, videos: Array<{ id: string, url: string, durationSeconds: number }> } };

export const TaskFieldsFragmentDoc = {"kind":"Document","definitions":[{"kind":"FragmentDefinition","name":{"kind":"Name","value":"TaskFields"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"VideoTask"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"prompt"}},{"kind":"Field","name":{"kind":"Name","value":"model"}},{"kind":"Field","name":{"kind":"Name","value":"mode"}},{"kind":"Field","name":{"kind":"Name","value":"durationSeconds"}},{"kind":"Field","name":{"kind":"Name","value":"generateAudio"}},{"kind":"Field","name":{"kind":"Name","value":"credits"}},{"kind":"Field","name":{"kind":"Name","value":"creditsCharged"}},{"kind":"Field","name":{"kind":"Name","value":"queuePosition"}},{"kind":"Field","name":{"kind":"Name","value":"failure"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"code"}},{"kind":"Field","name":{"kind":"Name","value":"message"}},{"kind":"Field","name":{"kind":"Name","value":"retryable"}}]}},{"kind":"Field","name":{"kind":"Name","value":"videos"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"url"}},{"kind":"Field","name":{"kind":"Name","value":"durationSeconds"}}]}},{"kind":"Field","name":{"kind":"Name","value":"createdAt"}},{"kind":"Field","name":{"kind":"Name","value":"updatedAt"}},{"kind":"Field","name":{"kind":"Name","value":"completedAt"}}]}}]} as unknown as DocumentNode<TaskFieldsFragment, unknown>;
export const GenerateVideoDocument = {"__meta__":{"hash":"sha256:a4cc7764e95384c902f111f72bc84ec9f81da7f5e6f91406d98f61d7c9f4315f"},"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"GenerateVideo"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"input"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"GenerateVideoInput"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"generateVideo"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"input"},"value":{"kind":"Variable","name":{"kind":"Name","value":"input"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"__typename"}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"GenerateVideoSuccess"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"task"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"TaskFields"}}]}}]}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Error"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"code"}},{"kind":"Field","name":{"kind":"Name","value":"message"}}]}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"ValidationError"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"issues"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"path"}},{"kind":"Field","name":{"kind":"Name","value":"message"}}]}}]}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"InsufficientCreditsError"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"required"}},{"kind":"Field","name":{"kind":"Name","value":"available"}}]}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"UpstreamError"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"retryable"}},{"kind":"Field","name":{"kind":"Name","value":"taskId"}}]}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"TaskFields"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"VideoTask"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"prompt"}},{"kind":"Field","name":{"kind":"Name","value":"model"}},{"kind":"Field","name":{"kind":"Name","value":"mode"}},{"kind":"Field","name":{"kind":"Name","value":"durationSeconds"}},{"kind":"Field","name":{"kind":"Name","value":"generateAudio"}},{"kind":"Field","name":{"kind":"Name","value":"credits"}},{"kind":"Field","name":{"kind":"Name","value":"creditsCharged"}},{"kind":"Field","name":{"kind":"Name","value":"queuePosition"}},{"kind":"Field","name":{"kind":"Name","value":"failure"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"code"}},{"kind":"Field","name":{"kind":"Name","value":"message"}},{"kind":"Field","name":{"kind":"Name","value":"retryable"}}]}},{"kind":"Field","name":{"kind":"Name","value":"videos"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"url"}},{"kind":"Field","name":{"kind":"Name","value":"durationSeconds"}}]}},{"kind":"Field","name":{"kind":"Name","value":"createdAt"}},{"kind":"Field","name":{"kind":"Name","value":"updatedAt"}},{"kind":"Field","name":{"kind":"Name","value":"completedAt"}}]}}]} as unknown as DocumentNode<GenerateVideoMutation, GenerateVideoMutationVariables>;
export const VideoTaskDocument = {"__meta__":{"hash":"sha256:cb06cde0ad744b7963f66374df2951887aae16be7a06bd491aa6718919d06f7f"},"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"VideoTask"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"id"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"videoTask"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"id"},"value":{"kind":"Variable","name":{"kind":"Name","value":"id"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"TaskFields"}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"TaskFields"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"VideoTask"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"prompt"}},{"kind":"Field","name":{"kind":"Name","value":"model"}},{"kind":"Field","name":{"kind":"Name","value":"mode"}},{"kind":"Field","name":{"kind":"Name","value":"durationSeconds"}},{"kind":"Field","name":{"kind":"Name","value":"generateAudio"}},{"kind":"Field","name":{"kind":"Name","value":"credits"}},{"kind":"Field","name":{"kind":"Name","value":"creditsCharged"}},{"kind":"Field","name":{"kind":"Name","value":"queuePosition"}},{"kind":"Field","name":{"kind":"Name","value":"failure"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"code"}},{"kind":"Field","name":{"kind":"Name","value":"message"}},{"kind":"Field","name":{"kind":"Name","value":"retryable"}}]}},{"kind":"Field","name":{"kind":"Name","value":"videos"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"url"}},{"kind":"Field","name":{"kind":"Name","value":"durationSeconds"}}]}},{"kind":"Field","name":{"kind":"Name","value":"createdAt"}},{"kind":"Field","name":{"kind":"Name","value":"updatedAt"}},{"kind":"Field","name":{"kind":"Name","value":"completedAt"}}]}}]} as unknown as DocumentNode<VideoTaskQuery, VideoTaskQueryVariables>;
export const MeDocument = {"__meta__":{"hash":"sha256:cffc9a670a11c7a0c02a857567bce9ec60e9370dde8844818405f26221de93a9"},"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"Me"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"me"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"creditBalance"}},{"kind":"Field","name":{"kind":"Name","value":"creditsHeld"}},{"kind":"Field","name":{"kind":"Name","value":"creditsUsed"}}]}}]}}]} as unknown as DocumentNode<MeQuery, MeQueryVariables>;
export const CancelVideoTaskDocument = {"__meta__":{"hash":"sha256:a4a560ec91445d04d992f78e3c7f049152c68f6e3c24c8dd3bdb762b399e3c1e"},"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"CancelVideoTask"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"id"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"cancelVideoTask"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"id"},"value":{"kind":"Variable","name":{"kind":"Name","value":"id"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"__typename"}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"CancelVideoTaskSuccess"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"task"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"TaskFields"}}]}}]}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Error"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"code"}},{"kind":"Field","name":{"kind":"Name","value":"message"}}]}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"TaskFields"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"VideoTask"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"prompt"}},{"kind":"Field","name":{"kind":"Name","value":"model"}},{"kind":"Field","name":{"kind":"Name","value":"mode"}},{"kind":"Field","name":{"kind":"Name","value":"durationSeconds"}},{"kind":"Field","name":{"kind":"Name","value":"generateAudio"}},{"kind":"Field","name":{"kind":"Name","value":"credits"}},{"kind":"Field","name":{"kind":"Name","value":"creditsCharged"}},{"kind":"Field","name":{"kind":"Name","value":"queuePosition"}},{"kind":"Field","name":{"kind":"Name","value":"failure"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"code"}},{"kind":"Field","name":{"kind":"Name","value":"message"}},{"kind":"Field","name":{"kind":"Name","value":"retryable"}}]}},{"kind":"Field","name":{"kind":"Name","value":"videos"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"url"}},{"kind":"Field","name":{"kind":"Name","value":"durationSeconds"}}]}},{"kind":"Field","name":{"kind":"Name","value":"createdAt"}},{"kind":"Field","name":{"kind":"Name","value":"updatedAt"}},{"kind":"Field","name":{"kind":"Name","value":"completedAt"}}]}}]} as unknown as DocumentNode<CancelVideoTaskMutation, CancelVideoTaskMutationVariables>;
export const TaskUpdatedDocument = {"__meta__":{"hash":"sha256:0fcd90e6f097ce147690dd745dc647d7a029cdb2767adb226294fdf6ed68a936"},"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"subscription","name":{"kind":"Name","value":"TaskUpdated"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"id"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"taskUpdated"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"id"},"value":{"kind":"Variable","name":{"kind":"Name","value":"id"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"TaskFields"}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"TaskFields"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"VideoTask"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"prompt"}},{"kind":"Field","name":{"kind":"Name","value":"model"}},{"kind":"Field","name":{"kind":"Name","value":"mode"}},{"kind":"Field","name":{"kind":"Name","value":"durationSeconds"}},{"kind":"Field","name":{"kind":"Name","value":"generateAudio"}},{"kind":"Field","name":{"kind":"Name","value":"credits"}},{"kind":"Field","name":{"kind":"Name","value":"creditsCharged"}},{"kind":"Field","name":{"kind":"Name","value":"queuePosition"}},{"kind":"Field","name":{"kind":"Name","value":"failure"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"code"}},{"kind":"Field","name":{"kind":"Name","value":"message"}},{"kind":"Field","name":{"kind":"Name","value":"retryable"}}]}},{"kind":"Field","name":{"kind":"Name","value":"videos"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"url"}},{"kind":"Field","name":{"kind":"Name","value":"durationSeconds"}}]}},{"kind":"Field","name":{"kind":"Name","value":"createdAt"}},{"kind":"Field","name":{"kind":"Name","value":"updatedAt"}},{"kind":"Field","name":{"kind":"Name","value":"completedAt"}}]}}]} as unknown as DocumentNode<TaskUpdatedSubscription, TaskUpdatedSubscriptionVariables>;