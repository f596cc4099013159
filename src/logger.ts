// Structured logs. Credentials are redacted wherever they might appear in a logged object.
import { pino, type Logger } from 'pino';

export const REDACTED_PATHS = [
  'req.headers.authorization',
  'headers.authorization',
  'authorization',
  'connectionParams.authorization',
  'secretKey',
  'kling.credentials.secretKey',
  'adminToken',
  'admin.token',
  'key',
];

export function createLogger(options: { level: string; name?: string }): Logger {
  return pino({ name: options.name ?? 'kling-gateway', level: options.level, redact: { paths: REDACTED_PATHS, censor: '[redacted]' } });
}

export type { Logger };
