// Time zone arithmetic with the browser's Intl: wall times in named zones, and the
// FullCalendar plugin that lets the calendar display any IANA zone.

const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;

const formatters = new Map();

function formatter(zone) {
  if (!formatters.has(zone)) {
    formatters.set(zone, new Intl.DateTimeFormat('en-US', {
      timeZone: zone, hourCycle: 'h23',
      year: 'numeric', month: '2-digit', day: '2-digit',
      hour: '2-digit', minute: '2-digit', second: '2-digit',
    }));
  }
  return formatters.get(zone);
}

/** The wall time in `zone` at instant `ms`: [year, month (0-11), day, hour, minute, second, ms]. */
function wallArray(ms, zone) {
  const p = {};
  for (const { type, value } of formatter(zone).formatToParts(ms)) p[type] = Number(value);
  return [p.year, p.month - 1, p.day, p.hour % 24, p.minute, p.second, ((ms % 1000) + 1000) % 1000];
}

const offsetAt = (ms, zone) => Date.UTC(...wallArray(ms, zone)) - ms;

/**
 * The instant of a wall time in `zone`, resolved as RFC 5545 does: a repeated time (DST
 * fold) takes the first, a skipped time (DST gap) moves forward by the gap.
 */
export function instantOf(array, zone) {
  const wall = Date.UTC(...array);
  const before = offsetAt(wall - DAY, zone);
  const valid = [wall - before, wall - offsetAt(wall + DAY, zone)].filter((t) => offsetAt(t, zone) === wall - t);
  return valid.length ? Math.min(...valid) : wall - before;
}

const pad = (n, width = 2) => String(n).padStart(width, '0');

/** `YYYY-MM-DDTHH:MM:SS`, the wall time in `zone` at `when` (a Date or epoch ms). */
export function wallString(when, zone) {
  const [y, mo, d, h, mi, s] = wallArray(Number(when), zone);
  return `${pad(y, 4)}-${pad(mo + 1)}-${pad(d)}T${pad(h)}:${pad(mi)}:${pad(s)}`;
}

/** `YYYY-MM-DDTHH:MM[:SS]` → the array `instantOf` takes. */
export function parseWall(text) {
  const [date, time = '00:00:00'] = text.split('T');
  const [y, mo, d] = date.split('-').map(Number);
  const [h, mi, s = 0] = time.split(':').map(Number);
  return [y, mo - 1, d, h, mi, s, 0];
}

/** A `YYYY-MM-DD` date moved by `days`; anything else is returned unchanged. */
export function addDays(date, days) {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(date ?? '')) return date;
  return new Date(Date.parse(`${date}T00:00:00Z`) + days * DAY).toISOString().slice(0, 10);
}

export const browserZone = () => Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';

/** Every zone the browser knows, UTC first. */
export function allZones() {
  const known = typeof Intl.supportedValuesOf === 'function' ? Intl.supportedValuesOf('timeZone') : [];
  return [...new Set(['UTC', ...known])];
}

/** FullCalendar's hook for named time zones, answered with Intl (no moment or luxon). */
export function zonePlugin(createPlugin) {
  class IntlZone {
    constructor(name) { this.timeZoneName = name; }
    offsetForArray(array) { return (Date.UTC(...array) - instantOf(array, this.timeZoneName)) / MINUTE; }
    timestampToArray(ms) { return wallArray(ms, this.timeZoneName); }
  }
  return createPlugin({ name: 'calsync-intl-zones', namedTimeZonedImpl: IntlZone });
}
