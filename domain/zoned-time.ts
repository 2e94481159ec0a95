/**
 * Wall-clock time in an IANA time zone, computed with Intl only: this module runs inside Temporal's
 * workflow sandbox, where Node built-ins and time-zone libraries with their own data are unavailable.
 *
 * The zone rules come from the ICU data of the Node.js that runs the code. A tzdata update that changes
 * a zone's future rules changes what these functions return for those future dates, so an instant that
 * a running workflow has already acted on should be kept in its state rather than recomputed.
 */

export interface LocalDateTime {
  year: number;
  /** 1 = January. */
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  millisecond: number;
}

const DAY_MS = 86_400_000;

// Constructing a DateTimeFormat loads the zone's rules and costs far more than formatting with it.
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(zone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(zone);
  if (formatter === undefined) {
    // Newer engines accept UTC offsets ("+05:30") as zones; they have no rules, so refuse them on
    // every Node.js version alike.
    if (!/^[A-Za-z]/.test(zone)) throw new RangeError(`"${zone}" is not an IANA time zone`);
    try {
      formatter = new Intl.DateTimeFormat('en-US', {
        timeZone: zone,
        // h23, because hour12: false renders midnight as "24" on some ICU versions.
        hourCycle: 'h23',
        // The era disambiguates years before 1 AD, which en-US prints as positive years.
        era: 'short',
        year: 'numeric',
        month: 'numeric',
        day: 'numeric',
        hour: 'numeric',
        minute: 'numeric',
        second: 'numeric',
      });
    } catch (error) {
      if (error instanceof RangeError) throw new RangeError(`"${zone}" is not an IANA time zone`);
      throw error;
    }
    formatters.set(zone, formatter);
  }
  return formatter;
}

export function isTimeZone(zone: string): boolean {
  try {
    formatterFor(zone);
    return true;
  } catch {
    return false;
  }
}

/** The wall time as if it were UTC: milliseconds since 1970-01-01T00:00 on the zone's clocks. */
function wallMillis(local: LocalDateTime): number {
  const utc = new Date(Date.UTC(2000, 0, 1, local.hour, local.minute, local.second, local.millisecond));
  // setUTCFullYear, because Date.UTC reads years 0..99 as 1900..1999.
  utc.setUTCFullYear(local.year, local.month - 1, local.day);
  return utc.getTime();
}

function wallFields(millis: number): LocalDateTime {
  const utc = new Date(millis);
  return {
    year: utc.getUTCFullYear(),
    month: utc.getUTCMonth() + 1,
    day: utc.getUTCDate(),
    hour: utc.getUTCHours(),
    minute: utc.getUTCMinutes(),
    second: utc.getUTCSeconds(),
    millisecond: utc.getUTCMilliseconds(),
  };
}

function floorMod(a: number, b: number): number {
  return ((a % b) + b) % b;
}

/** Zones whose clocks are UTC's at every instant: their wall time is the instant's, with no Intl at all. */
const UTC_ZONES = new Set(['UTC', 'Etc/UTC']);

export function toLocal(zone: string, instant: Date): LocalDateTime {
  const millis = instant.getTime();
  if (!Number.isFinite(millis)) throw new RangeError('cannot convert an invalid Date to local time');
  // Most subscriptions bill in UTC; formatting is most of a renewal's period arithmetic.
  if (UTC_ZONES.has(zone)) return wallFields(millis);
  const fields: Record<string, string> = {};
  for (const part of formatterFor(zone).formatToParts(instant)) fields[part.type] = part.value;
  const yearOfEra = Number(fields.year);
  return {
    year: fields.era === 'BC' || fields.era === 'B' ? 1 - yearOfEra : yearOfEra,
    month: Number(fields.month),
    day: Number(fields.day),
    hour: Number(fields.hour),
    minute: Number(fields.minute),
    second: Number(fields.second),
    // Every zone offset is a whole number of seconds, so the milliseconds are the instant's own.
    millisecond: floorMod(millis, 1000),
  };
}

/** How far the zone's clocks are ahead of UTC at `millis`, in milliseconds. */
function offsetAt(zone: string, millis: number): number {
  return wallMillis(toLocal(zone, new Date(millis))) - millis;
}

function isValidLocal(local: LocalDateTime): boolean {
  const integers = [local.year, local.month, local.day, local.hour, local.minute, local.second, local.millisecond];
  if (!integers.every(Number.isInteger)) return false;
  if (local.month < 1 || local.month > 12 || local.day < 1) return false;
  if (local.hour < 0 || local.hour > 23 || local.minute < 0 || local.minute > 59) return false;
  if (local.second < 0 || local.second > 59 || local.millisecond < 0 || local.millisecond > 999) return false;
  return wallFields(wallMillis(local)).day === local.day;
}

/**
 * The instant at which the zone's clocks show `local`. A wall time skipped by a clock change (a gap)
 * is moved forward by the length of the gap; a wall time shown twice (an overlap) takes the earlier
 * instant. This is Temporal's and JavaScript's "compatible" disambiguation.
 */
export function fromLocal(zone: string, local: LocalDateTime): Date {
  if (!isValidLocal(local)) throw new RangeError(`not a valid local date and time: ${JSON.stringify(local)}`);
  const wall = wallMillis(local);
  if (UTC_ZONES.has(zone)) return new Date(wall);
  // Since 1970 no zone in the tz database has changed its offset twice within two days, so the
  // offsets a day either side are the only ones that can apply to this wall time.
  const offsetBefore = offsetAt(zone, wall - DAY_MS);
  const offsetAfter = offsetAt(zone, wall + DAY_MS);
  const candidates = [wall - offsetBefore, wall - offsetAfter].filter((instant) => offsetAt(zone, instant) === wall - instant);
  if (candidates.length > 0) return new Date(Math.min(...candidates));
  // A gap: reading the wall time with the offset from before the change gives the instant the clocks
  // would have shown it had they not jumped, which the new clocks show as the wall time plus the gap.
  return new Date(wall - offsetBefore);
}
