import { destination, pino, type Logger as PinoLogger, type DestinationStream } from 'pino';

export type Logger = PinoLogger;

export interface LoggerOptions {
  level: string;
  name: string;
  /** Defaults to stdout; tests and the SSE log stream pass their own. */
  destination?: DestinationStream;
}

/** The one root logger a CLI creates and passes down (STYLE §5). Secrets are redacted. */
export function createLogger(opts: LoggerOptions): Logger {
  return pino(
    {
      name: opts.name,
      level: opts.level,
      base: { pid: process.pid },
      redact: { paths: ['token', 'join_token', 'api_token', '*.token', '*.join_token', '*.api_token'], censor: '[redacted]' },
    },
    opts.destination ?? destination({ fd: 1, sync: false }),
  );
}

/** A logger that drops everything: for unit tests and library use. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
