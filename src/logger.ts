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
  // Per-key webhook signing secrets (auth/api-keys.ts), wherever an object carrying one is logged.
  'webhookSecret',
  '*.webhookSecret',
];

export interface LoggerOptions {
  level: string;
  name?: string;
  /**
   * Human-readable lines through pino-pretty, for a developer's terminal. pino-pretty is loaded only
   * when this is on, so production (JSON lines) never touches it.
   * @default false
   */
  pretty?: boolean;
}

export function createLogger(options: LoggerOptions): Logger {
  return pino({
    name: options.name ?? 'kling-gateway',
    level: options.level,
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    ...(options.pretty
      ? { transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } } }
      : {}),
  });
}

export type { Logger };
