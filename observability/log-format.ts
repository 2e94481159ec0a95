/** Fields every line has, shown another way (time, level) or not at all on a terminal. */
const FRAME = new Set(['level', 'time', 'pid', 'hostname', 'name', 'msg']);

const field = (value: unknown): string => {
  if (typeof value === 'string') return /\s|"/.test(value) ? JSON.stringify(value) : value;
  return JSON.stringify(value);
};

/**
 * A JSON log line as a person reads it in a terminal (`npm start`): time, level, message, then the
 * other fields as key=value; an error's stack on the lines below. Anything that is not one of our
 * JSON lines (a crash before the logger exists) is passed through as it is.
 */
export function readableLogLine(line: string): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  if (typeof entry !== 'object' || entry === null || typeof entry.msg !== 'string' || typeof entry.level !== 'string') return line;
  const time = typeof entry.time === 'string' ? entry.time.slice(11, 19) : '';
  let stack = '';
  const fields = Object.entries(entry)
    .filter(([key]) => !FRAME.has(key))
    .map(([key, value]) => {
      const error = value as { message?: unknown; stack?: unknown } | null;
      if ((key === 'err' || key === 'error') && error && typeof error === 'object' && typeof error.message === 'string') {
        if (typeof error.stack === 'string') stack = `\n${error.stack}`;
        return `${key}=${field(error.message)}`;
      }
      return `${key}=${field(value)}`;
    });
  return `${time} ${entry.level.toUpperCase().padEnd(5)} ${entry.msg}${fields.length ? `  ${fields.join(' ')}` : ''}${stack}`;
}
