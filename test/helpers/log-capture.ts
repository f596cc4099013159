// A logger configured as the gateway's own (same redaction), writing into memory instead of stdout, so
// a test can read everything a gateway logged.
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { REDACTED_PATHS, type Logger } from '../../src/logger.js';

export interface LogCapture {
  logger: Logger;
  /** Every line written so far, as one string. */
  readonly text: string;
  /** The lines written so far, parsed. */
  readonly entries: Record<string, unknown>[];
}

export function createLogCapture(level = 'trace'): LogCapture {
  const chunks: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer | string, _encoding, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  const logger = pino({ name: 'kling-gateway', level, redact: { paths: REDACTED_PATHS, censor: '[redacted]' } }, destination);
  return {
    logger,
    get text() {
      return chunks.join('');
    },
    get entries() {
      return chunks
        .join('')
        .split('\n')
        .filter((line) => line.length > 0)
        .map((line) => JSON.parse(line) as Record<string, unknown>);
    },
  };
}
