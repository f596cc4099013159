/* eslint-disable */
import * as types from './graphql.js';
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';

/**
 * Map of all GraphQL operations in the project.
 *
 * This map has several performance disadvantages:
 * 1. It is not tree-shakeable, so it will include all operations in the project.
 * 2. It is not minifiable, so the string of a GraphQL query will be multiple times inside the bundle.
 * 3. It does not support dead code elimination, so it will add unused operations.
 *
 * Therefore it is highly recommended to use the babel or swc plugin for production.
 * Learn more about it here: https://the-guild.dev/graphql/codegen/plugins/presets/preset-client#reducing-bundle-size
 */
type Documents = {
    "\n  fragment TaskFields on VideoTask {\n    id\n    status\n    prompt\n    model\n    mode\n    durationSeconds\n    generateAudio\n    credits\n    creditsCharged\n    queuePosition\n    failure { code message retryable }\n    videos { id url durationSeconds }\n    createdAt\n    updatedAt\n    completedAt\n  }\n": typeof types.TaskFieldsFragmentDoc,
    "\n  mutation GenerateVideo($input: GenerateVideoInput!) {\n    generateVideo(input: $input) {\n      __typename\n      ... on GenerateVideoSuccess { task { ...TaskFields } }\n      ... on Error { code message }\n      ... on ValidationError { issues { path message } }\n      ... on InsufficientCreditsError { required available }\n      ... on UpstreamError { retryable taskId }\n    }\n  }\n": typeof types.GenerateVideoDocument,
    "\n  query VideoTask($id: ID!) {\n    videoTask(id: $id) { ...TaskFields }\n  }\n": typeof types.VideoTaskDocument,
    "\n  query Me {\n    me { name creditBalance creditsHeld creditsUsed }\n  }\n": typeof types.MeDocument,
    "\n  mutation CancelVideoTask($id: ID!) {\n    cancelVideoTask(id: $id) {\n      __typename\n      ... on CancelVideoTaskSuccess { task { ...TaskFields } }\n      ... on Error { code message }\n    }\n  }\n": typeof types.CancelVideoTaskDocument,
    "\n  subscription TaskUpdated($id: ID!) {\n    taskUpdated(id: $id) { ...TaskFields }\n  }\n": typeof types.TaskUpdatedDocument,
};
const documents: Documents = {
    "\n  fragment TaskFields on VideoTask {\n    id\n    status\n    prompt\n    model\n    mode\n    durationSeconds\n    generateAudio\n    credits\n    creditsCharged\n    queuePosition\n    failure { code message retryable }\n    videos { id url durationSeconds }\n    createdAt\n    updatedAt\n    completedAt\n  }\n": types.TaskFieldsFragmentDoc,
    "\n  mutation GenerateVideo($input: GenerateVideoInput!) {\n    generateVideo(input: $input) {\n      __typename\n      ... on GenerateVideoSuccess { task { ...TaskFields } }\n      ... on Error { code message }\n      ... on ValidationError { issues { path message } }\n      ... on InsufficientCreditsError { required available }\n      ... on UpstreamError { retryable taskId }\n    }\n  }\n": types.GenerateVideoDocument,
    "\n  query VideoTask($id: ID!) {\n    videoTask(id: $id) { ...TaskFields }\n  }\n": types.VideoTaskDocument,
    "\n  query Me {\n    me { name creditBalance creditsHeld creditsUsed }\n  }\n": types.MeDocument,
    "\n  mutation CancelVideoTask($id: ID!) {\n    cancelVideoTask(id: $id) {\n      __typename\n      ... on CancelVideoTaskSuccess { task { ...TaskFields } }\n      ... on Error { code message }\n    }\n  }\n": types.CancelVideoTaskDocument,
    "\n  subscription TaskUpdated($id: ID!) {\n    taskUpdated(id: $id) { ...TaskFields }\n  }\n": types.TaskUpdatedDocument,
};

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 *
 *
 * @example
 * ```ts
 * const query = graphql(`query GetUser($id: ID!) { user(id: $id) { name } }`);
 * ```
 *
 * The query argument is unknown!
 * Please regenerate the types.
 */
export function graphql(source: string): unknown;

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  fragment TaskFields on VideoTask {\n    id\n    status\n    prompt\n    model\n    mode\n    durationSeconds\n    generateAudio\n    credits\n    creditsCharged\n    queuePosition\n    failure { code message retryable }\n    videos { id url durationSeconds }\n    createdAt\n    updatedAt\n    completedAt\n  }\n"): (typeof documents)["\n  fragment TaskFields on VideoTask {\n    id\n    status\n    prompt\n    model\n    mode\n    durationSeconds\n    generateAudio\n    credits\n    creditsCharged\n    queuePosition\n    failure { code message retryable }\n    videos { id url durationSeconds }\n    createdAt\n    updatedAt\n    completedAt\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation GenerateVideo($input: GenerateVideoInput!) {\n    generateVideo(input: $input) {\n      __typename\n      ... on GenerateVideoSuccess { task { ...TaskFields } }\n      ... on Error { code message }\n      ... on ValidationError { issues { path message } }\n      ... on InsufficientCreditsError { required available }\n      ... on UpstreamError { retryable taskId }\n    }\n  }\n"): (typeof documents)["\n  mutation GenerateVideo($input: GenerateVideoInput!) {\n    generateVideo(input: $input) {\n      __typename\n      ... on GenerateVideoSuccess { task { ...TaskFields } }\n      ... on Error { code message }\n      ... on ValidationError { issues { path message } }\n      ... on InsufficientCreditsError { required available }\n      ... on UpstreamError { retryable taskId }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query VideoTask($id: ID!) {\n    videoTask(id: $id) { ...TaskFields }\n  }\n"): (typeof documents)["\n  query VideoTask($id: ID!) {\n    videoTask(id: $id) { ...TaskFields }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Me {\n    me { name creditBalance creditsHeld creditsUsed }\n  }\n"): (typeof documents)["\n  query Me {\n    me { name creditBalance creditsHeld creditsUsed }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation CancelVideoTask($id: ID!) {\n    cancelVideoTask(id: $id) {\n      __typename\n      ... on CancelVideoTaskSuccess { task { ...TaskFields } }\n      ... on Error { code message }\n    }\n  }\n"): (typeof documents)["\n  mutation CancelVideoTask($id: ID!) {\n    cancelVideoTask(id: $id) {\n      __typename\n      ... on CancelVideoTaskSuccess { task { ...TaskFields } }\n      ... on Error { code message }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  subscription TaskUpdated($id: ID!) {\n    taskUpdated(id: $id) { ...TaskFields }\n  }\n"): (typeof documents)["\n  subscription TaskUpdated($id: ID!) {\n    taskUpdated(id: $id) { ...TaskFields }\n  }\n"];

export function graphql(source: string) {
  return (documents as any)[source] ?? {};
}

export type DocumentType<TDocumentNode extends DocumentNode<any, any>> = TDocumentNode extends DocumentNode<  infer TType,  any>  ? TType  : never;