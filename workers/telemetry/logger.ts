/**
 * The worker's logger, installed as the Temporal SDK's Runtime logger so that everything goes through it: the SDK's
 * core and worker lines, workflow logs (`log` from `@temporalio/workflow`, through the SDK's logger sink) and
 * activity logs (`Context.current().log`). In `json` format each line is one object with `ts`, `level`, `msg` and,
 * for workflow and activity lines, `workflowId`, `runId`, and for steps `step` and `attempt`
 * (`./log-attributes.ts` adds the step); `text` keeps the SDK's default human lines.
 */
import { DefaultLogger, type LogLevel, type LogMetadata, type Logger } from '@temporalio/worker';

import type { TelemetryConfig } from './config';

const SEVERITY: Record<LogLevel, number> = { TRACE: 0, DEBUG: 1, INFO: 2, WARN: 3, ERROR: 4 };

/** Warnings the CLI commands report themselves, in one line instead of a stack trace (text format only). */
const REPORTED_BY_COMMAND = new Set(['Activity failed', 'Workflow failed']);

/** Metadata keys renamed in JSON lines, so that a workflow's and an activity's lines say the same thing. */
const RENAMED: Record<string, string> = { workflowRunId: 'runId' };
/** Metadata never written: the activity task token is an opaque server credential of the attempt. */
const DROPPED = new Set(['taskToken']);

/** A JSON-safe copy of a metadata value (errors with their name, message, stack; bigints as strings). */
function plain(value: unknown): unknown {
  if (value instanceof Error) {
    return { name: value.name, message: value.message, ...(value.stack === undefined ? {} : { stack: value.stack }) };
  }
  if (typeof value === 'bigint') return value.toString();
  return value;
}

/** One JSON log line (without the newline). */
export function jsonLogLine(level: LogLevel, message: string, meta: LogMetadata = {}, time: Date = new Date()): string {
  const fields: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(meta)) {
    if (DROPPED.has(key) || value === undefined) continue;
    fields[RENAMED[key] ?? key] = plain(value);
  }
  return JSON.stringify(
    { ts: time.toISOString(), level: level.toLowerCase(), msg: message, ...fields },
    (_key, value: unknown) => plain(value),
  );
}

/** Options of {@link createWorkerLogger}. */
export interface WorkerLoggerOptions {
  /** Where JSON lines go (one call per line, newline included); stderr by default. */
  write?: (line: string) => void;
}

/** A JSON-lines logger at a level. */
class JsonLogger implements Logger {
  constructor(
    private readonly level: LogLevel,
    private readonly write: (line: string) => void,
  ) {}

  log(level: LogLevel, message: string, meta?: LogMetadata): void {
    if (SEVERITY[level] < SEVERITY[this.level]) return;
    this.write(`${jsonLogLine(level, message, meta)}\n`);
  }
  trace(message: string, meta?: LogMetadata): void {
    this.log('TRACE', message, meta);
  }
  debug(message: string, meta?: LogMetadata): void {
    this.log('DEBUG', message, meta);
  }
  info(message: string, meta?: LogMetadata): void {
    this.log('INFO', message, meta);
  }
  warn(message: string, meta?: LogMetadata): void {
    this.log('WARN', message, meta);
  }
  error(message: string, meta?: LogMetadata): void {
    this.log('ERROR', message, meta);
  }
}

/**
 * The logger `config.log` asks for. `text` is the SDK's {@link DefaultLogger} (what `mloe worker` always printed),
 * minus the "Activity failed" and "Workflow failed" warnings the commands report themselves; `json` writes every line.
 */
export function createWorkerLogger(config: TelemetryConfig['log'], options: WorkerLoggerOptions = {}): Logger {
  const level = config.level.toUpperCase() as LogLevel;
  if (config.format === 'json') {
    return new JsonLogger(level, options.write ?? ((line) => process.stderr.write(line)));
  }
  const fallback = new DefaultLogger(level);
  return new DefaultLogger(level, (entry) => {
    if (!REPORTED_BY_COMMAND.has(entry.message)) fallback.log(entry.level, entry.message, entry.meta);
  });
}
