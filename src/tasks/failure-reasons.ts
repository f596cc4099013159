// Kling's reason for a failed task is free text (kling-api.md section 13): the first rule whose words
// match decides the failure users see. Rules as data, checked against Kling's real wording in tests.
import type { FailureCode, TaskFailure } from './status.js';

interface ReasonRule {
  words: RegExp;
  code: FailureCode;
  retryable: boolean;
}

export const FAILURE_REASON_RULES: readonly ReasonRule[] = [
  // Kling's moderation text is the bare "Failure to pass the risk control system" (a public SDK maps it to 1301).
  { words: /risk control|safety|security|policy|sensitive|moderat|inappropriate|violat/i, code: 'CONTENT_POLICY', retryable: false },
  // "Image pixel is invalid", "The resolution or aspect ratio of the input image is invalid": the same input fails again.
  { words: /\binvalid\b|not supported|unsupported/i, code: 'INVALID_INPUT', retryable: false },
];

export function failureFromKlingMessage(message: string): TaskFailure {
  const rule = FAILURE_REASON_RULES.find((candidate) => candidate.words.test(message));
  if (rule) return { code: rule.code, message: message || 'Kling refused the content.', retryable: rule.retryable };
  return { code: 'UPSTREAM_ERROR', message: message || 'Kling could not generate the video.', retryable: true };
}
