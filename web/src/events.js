// Events in calsync's model: reading and writing them, exceptions of a series, and the
// start/end of what FullCalendar shows.

import { api } from './api.js';
import { DAY, HOUR, addDays, instantOf, parseWall, wallString } from './time.js';

/** The fields of an event that PUT and POST take (an EventView minus its metadata). */
const INPUT_FIELDS = [
  'calendar_id', 'title', 'description', 'location', 'start', 'end', 'recurrence',
  'recurring_event_id', 'original_start', 'status', 'transparency', 'visibility', 'attendees', 'color',
];

const contentOf = (view) => Object.fromEntries(INPUT_FIELDS.filter((k) => view[k] != null).map((k) => [k, view[k]]));

const path = (id) => `/events/${encodeURIComponent(id)}`;

/** `{id, input, etag}`: the stored event, its content as an input, and its ETag (= version). */
export async function loadEvent(id) {
  const { data, etag } = await api('GET', path(id));
  return { id, input: contentOf(data), etag };
}

export const createEvent = (input) => api('POST', '/events', { body: input });

export const replaceEvent = (id, input, etag) => api('PUT', path(id), { body: input, headers: { 'If-Match': etag } });

export const deleteEvent = (id, etag) => api('DELETE', path(id), { headers: { 'If-Match': etag } });

/** A JSON merge patch of the times only; null removes the keys the other kind of time uses. */
export function moveEvent(id, { start, end }, etag) {
  const time = (t) => ({ date: t.date ?? null, date_time: t.date_time ?? null, time_zone: t.time_zone ?? null });
  return api('PATCH', path(id), {
    body: { start: time(start), end: time(end) },
    contentType: 'application/merge-patch+json',
    headers: { 'If-Match': etag },
  });
}

/** The ETag of the version FullCalendar showed, to refuse writes over a newer one. */
export const shownVersion = (fcEvent) => `"${fcEvent.extendedProps.version}"`;

/**
 * The input of an exception replacing one occurrence of a series: the series' content with
 * the times `timesIn(zone)` gives in the series' zone. `originalStart` is the feed's
 * `extendedProps.original_start` (a date, or an RFC 3339 instant), given back in that zone.
 */
export function exceptionOf(series, seriesId, originalStart, timesIn) {
  const { recurrence: _rules, ...content } = series;
  const zone = series.start.time_zone ?? 'UTC';
  const original = /^\d{4}-\d{2}-\d{2}$/.test(originalStart)
    ? { date: originalStart }
    : { date_time: wallString(Date.parse(originalStart), zone), time_zone: zone };
  return { ...content, ...timesIn(zone), recurring_event_id: seriesId, original_start: original };
}

/** Where FullCalendar shows `fcEvent` now, as calsync times: dates, or wall times in `zone`. */
export function timesOf(fcEvent, zone) {
  if (fcEvent.allDay) {
    const start = fcEvent.startStr.slice(0, 10);
    return { start: { date: start }, end: { date: fcEvent.end ? fcEvent.endStr.slice(0, 10) : addDays(start, 1) } };
  }
  const end = fcEvent.end ?? new Date(fcEvent.start.getTime() + HOUR);
  return {
    start: { date_time: wallString(fcEvent.start, zone), time_zone: zone },
    end: { date_time: wallString(end, zone), time_zone: zone },
  };
}

/** A start or end moved by `ms` (whole days for all-day dates), in its own zone. */
export function shift(time, ms) {
  if (time.date) return { date: addDays(time.date, Math.round(ms / DAY)) };
  const moved = instantOf(parseWall(time.date_time), time.time_zone) + ms;
  return { date_time: wallString(moved, time.time_zone), time_zone: time.time_zone };
}
