import pino, { type DestinationStream, type Logger } from 'pino';
import type { LogLevel } from '../config/env';
import { logContext } from './log-context';

export type { Logger };

/**
 * JSON log lines, one per line on stdout, as log collectors read them. Errors go under `err` with
 * their stack (pino's serializer); Temporal's own lines put theirs under `error`, serialized the same.
 * `name` says which process wrote the line (api, worker); a line written while an API request or an
 * activity runs carries its request id, or its workflowId, runId and activity (./log-context.ts).
 */
export function createLogger(options: { name?: string; level?: LogLevel } = {}, destination?: DestinationStream): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      ...(options.name ? { name: options.name } : {}),
      serializers: { err: pino.stdSerializers.err, error: pino.stdSerializers.err },
      // ISO times read at a glance and sort as text; the level as its name, not pino's number.
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      // The request or activity the line was written for; a field the call names itself wins.
      mixin: logContext,
    },
    destination ?? pino.destination({ dest: 1, sync: true }),
  );
}

/**
 * The process's logger, for code with no logger handed to it (stores, services, the usage writer).
 * The API and the worker set its name and level from config/env.ts at start; until then, and in tests,
 * it writes warnings and errors only.
 */
export const logger: Logger = createLogger({ level: 'warn' });

/** What the entry points call once the configuration is read: every later line carries the process name. */
export function configureProcessLogger(name: string, level: LogLevel): Logger {
  logger.level = level;
  logger.setBindings({ name });
  return logger;
}

/**
 * Lines that say the process is up (listening, polling) are written whatever LOG_LEVEL is: `npm start`
 * and supervisors wait for them, and an operator who asked for warnings only still sees the start.
 */
export function lifecycleLogger(parent: Logger): Logger {
  return parent.isLevelEnabled('info') ? parent : parent.child({}, { level: 'info' });
}
