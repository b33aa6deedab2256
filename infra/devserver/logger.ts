/** A minimal leveled logger writing one JSON object per line to stderr. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Structured logger used by the dev server. */
export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

/** Creates a logger that prints records at or above `level` (use 'error' for quiet embedding). */
export function createLogger(level: LogLevel, write: (line: string) => void = (l) => process.stderr.write(l)): Logger {
  const log =
    (at: LogLevel) =>
    (msg: string, fields?: Record<string, unknown>): void => {
      if (ORDER[at] < ORDER[level]) return;
      write(`${JSON.stringify({ level: at, ts: new Date().toISOString(), msg, ...fields })}\n`);
    };
  return { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
}
