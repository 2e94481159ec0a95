import type { Logger as TemporalLogger, LogLevel as TemporalLevel, LogMetadata } from '@temporalio/common';
import type { LogLevel } from '../config/env';
import type { Logger } from './logger';

const LEVELS: Record<TemporalLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = { TRACE: 'trace', DEBUG: 'debug', INFO: 'info', WARN: 'warn', ERROR: 'error' };

/**
 * The Temporal Runtime's logger, written as pino lines. The SDK calls it for its own lines and for
 * workflow and activity code's `log` (from @temporalio/workflow and @temporalio/activity), with
 * workflowId, runId, workflowType and taskQueue (and activityId, activityType, attempt for
 * activities) in the metadata: they become fields of the line, as the request id is on the API's.
 */
export class PinoTemporalLogger implements TemporalLogger {
  constructor(private readonly pino: Logger) {}

  log(level: TemporalLevel, message: string, meta?: LogMetadata): void {
    // The SDK's timestamp rides under a symbol key, which JSON leaves out; pino stamps its own. An
    // activity's task token is an opaque credential for completing it, of no use to a reader.
    // Activities name their workflow's run workflowRunId; one name for both lets a single query
    // (runId = ...) find a run's workflow and activity lines together.
    const fields: LogMetadata = { ...meta };
    delete fields.taskToken;
    if (fields.workflowRunId !== undefined) {
      fields.runId ??= fields.workflowRunId;
      delete fields.workflowRunId;
    }
    this.pino[LEVELS[level] ?? 'info'](fields, message);
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
 * What the SDK's Rust core forwards to that logger: its warnings and errors, its info lines too when
 * LOG_LEVEL asks for debug or more (they are about polling and connections, noise otherwise).
 */
export function coreLogFilter(level: LogLevel): { core: TemporalLevel; other: TemporalLevel } {
  return { core: level === 'debug' || level === 'trace' ? 'INFO' : 'WARN', other: 'ERROR' };
}
