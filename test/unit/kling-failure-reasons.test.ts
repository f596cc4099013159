// Kling's failure reasons as it really sends them (kling-api.md section 13), not as our simulator words them.
import { describe, expect, it } from 'vitest';
import { failureFromKlingMessage } from '../../src/tasks/failure-reasons.js';

describe('failureFromKlingMessage', () => {
  it("reads Kling's bare risk-control text as a content-policy refusal that a retry cannot fix", () => {
    expect(failureFromKlingMessage('Failure to pass the risk control system')).toEqual({
      code: 'CONTENT_POLICY',
      message: 'Failure to pass the risk control system',
      retryable: false,
    });
  });

  it.each([
    'Image pixel is invalid',
    'The resolution or aspect ratio of the input image is invalid. Please ensure it meets the required specifications.',
  ])('reads "%s" as invalid input, not as a retryable upstream error', (message) => {
    expect(failureFromKlingMessage(message)).toEqual({ code: 'INVALID_INPUT', message, retryable: false });
  });

  it.each(['Content security policy triggered', 'The prompt contains sensitive words'])('reads "%s" as a content-policy refusal', (message) => {
    expect(failureFromKlingMessage(message)).toMatchObject({ code: 'CONTENT_POLICY', retryable: false });
  });

  it('leaves a generation error retryable and gives an empty reason a message', () => {
    expect(failureFromKlingMessage('Video generation failed due to an internal error, please try again')).toMatchObject({
      code: 'UPSTREAM_ERROR',
      retryable: true,
    });
    expect(failureFromKlingMessage('')).toEqual({ code: 'UPSTREAM_ERROR', message: 'Kling could not generate the video.', retryable: true });
  });
});
