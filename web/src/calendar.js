// The calendar page: FullCalendar fed by calsync's FullCalendar feed, one event source per
// calendar, in a chosen time zone; click to edit, select to create, drag to move.

import { api, withQuery } from './api.js';
import { askScope } from './dialogs.js';
import { debounce, h, notify } from './dom.js';
import { openForm } from './event-form.js';
import { createEvent, exceptionOf, loadEvent, moveEvent, shift, shownVersion, timesOf } from './events.js';
import { HOUR, browserZone, zonePlugin } from './time.js';

const { Calendar, createPlugin } = globalThis.FullCalendar;

const page = document.getElementById('page-calendar');
const container = document.getElementById('calendar');
const title = document.getElementById('calendar-title');
const legend = document.getElementById('calendar-legend');
const zoneSelect = document.getElementById('display-zone');
const viewButtons = [...page.querySelectorAll('[data-view]')];

const ZONE_KEY = 'calsync.zone';
const COMMON_ZONES = ['America/Los_Angeles', 'America/New_York', 'Europe/London', 'Europe/Berlin',
  'Asia/Kolkata', 'Asia/Tokyo', 'Australia/Sydney'];

const SOURCES = { local: ['L', 'calsync'], google: ['G', 'Google'], microsoft: ['O', 'Outlook'], caldav: ['C', 'CalDAV'] };
const SYNC_STATES = {
  pending: ['…', 'Waiting to be synced'],
  conflict: ['!', 'Changed on both sides: decide on the Conflicts page'],
  error: ['×', 'The provider refused this event: see Accounts'],
};

let fc = null;
let calendars = [];
let zone = localStorage.getItem(ZONE_KEY) || browserZone();

/** Refetches every source, at most once per 150 ms burst of changes. */
export const refresh = debounce(() => fc?.refetchEvents(), 150);

const formContext = () => ({ calendars, zone, onSaved: refresh });

function feedSource(calendar) {
  return {
    id: calendar.id,
    color: calendar.color,
    events(info, success, failure) {
      const path = withQuery(`/calendars/${encodeURIComponent(calendar.id)}/fullcalendar`,
        { start: info.startStr, end: info.endStr, timeZone: info.timeZone });
      // groupId is dropped so that dragging one occurrence does not drag the whole series
      // along: the app asks "this event or the whole series" after the drop instead.
      api('GET', path).then(({ data }) => success(data.map(({ groupId: _series, ...event }) => event)), failure);
    },
  };
}

function badge(kind, letterAndName, extra, attrs) {
  const [letter, name] = letterAndName;
  return h('span', { class: `badge ${kind}`, title: `${extra}${name}`, ...attrs }, letter);
}

/** Event content built from DOM nodes: titles are text, never markup. */
function renderEvent({ event, timeText, view }) {
  const p = event.extendedProps;
  const source = SOURCES[p.source] ?? ['?', p.source];
  const updated = p.updated_at_source !== p.source && (SOURCES[p.updated_at_source] ?? ['?', p.updated_at_source]);
  const sync = SYNC_STATES[p.sync];
  const node = h('div', {
    class: 'ev', title: event.title, 'data-testid': 'event', 'data-event-id': p.event_id,
    'data-series-id': p.series_id, 'data-sync': p.sync ?? 'synced',
  },
  h('span', { class: 'badges' },
    badge(`source-${p.source}`, source, 'From ', { 'data-testid': 'badge-source', 'data-source': p.source }),
    updated && badge(`source-${p.updated_at_source} updated`, [`✎${updated[0]}`, updated[1]], 'Last changed in ',
      { 'data-testid': 'badge-updated', 'data-source': p.updated_at_source }),
    sync && badge(`sync-${p.sync}`, sync, '', { 'data-testid': 'badge-sync', 'data-sync': p.sync })),
  !view.type.startsWith('list') && timeText && h('span', { class: 'ev-time' }, timeText),
  h('span', { class: 'ev-title' }, event.title));
  return { domNodes: [node] };
}

async function clicked({ event, jsEvent }) {
  jsEvent.preventDefault();
  const p = event.extendedProps;
  if (!p.series_id) return openForm({ mode: 'edit', id: p.event_id }, formContext());
  const scope = await askScope(event.title, 'Edit');
  if (scope === 'series') openForm({ mode: 'edit', id: p.series_id }, formContext());
  else if (scope === 'this' && p.event_id !== p.series_id) openForm({ mode: 'edit', id: p.event_id }, formContext());
  else if (scope === 'this') {
    openForm({ mode: 'exception', seriesId: p.series_id, originalStart: p.original_start,
      timesIn: (seriesZone) => timesOf(event, seriesZone) }, formContext());
  }
}

function create(times) {
  if (!calendars.length) return notify('There is no calendar to add events to yet.', 'error');
  openForm({ mode: 'create', input: { calendar_id: calendars[0].id, title: '', ...times } }, formContext());
}

function selected(selection) {
  fc.unselect();
  create(timesOf(selection, zone));
}

/** Saves a drag or resize: the event itself, one occurrence (an exception) or the series. */
async function saveMove(event, oldEvent, scope) {
  const p = event.extendedProps;
  if (scope === 'series') {
    if (event.allDay !== oldEvent.allDay) throw new Error('a whole series changes between all-day and timed in its form');
    const series = await loadEvent(p.series_id);
    const startDelta = event.start - oldEvent.start;
    const endDelta = event.end && oldEvent.end ? event.end - oldEvent.end : startDelta;
    const times = { start: shift(series.input.start, startDelta), end: shift(series.input.end, endDelta) };
    return moveEvent(p.series_id, times, series.etag);
  }
  if (scope === 'this' && p.event_id === p.series_id) {
    const series = await loadEvent(p.series_id);
    return createEvent(exceptionOf(series.input, p.series_id, p.original_start, (z) => timesOf(event, z)));
  }
  const { input } = await loadEvent(p.event_id);
  return moveEvent(p.event_id, timesOf(event, input.start.time_zone ?? zone), shownVersion(event));
}

async function moved({ event, oldEvent, revert }) {
  const scope = event.extendedProps.series_id ? await askScope(event.title, 'Move') : 'event';
  if (!scope) return revert();
  try {
    await saveMove(event, oldEvent, scope);
    notify('Moved');
  } catch (e) {
    revert();
    notify(e.status === 412 ? 'This event changed meanwhile; it is shown as it is now.' : `Not moved: ${e.message}`, 'error');
  }
  refresh();
}

function fillZones() {
  const zones = [...new Set([browserZone(), 'UTC', ...calendars.map((c) => c.time_zone).filter(Boolean), ...COMMON_ZONES, zone])];
  zoneSelect.replaceChildren(...zones.map((z) => h('option', { value: z },
    z === browserZone() ? `${z} (this browser)` : z)));
  zoneSelect.value = zone;
}

function fillLegend() {
  legend.replaceChildren(...calendars.map((c) => {
    const swatch = h('span', { class: 'swatch' });
    swatch.style.background = c.color ?? '';
    return h('li', { 'data-testid': 'calendar-legend-item', 'data-calendar-id': c.id }, swatch, c.name);
  }));
  if (!calendars.length) legend.append(h('li', { class: 'muted' }, 'No calendars yet: create one with POST /api/v1/calendars.'));
}

/** Reads the user's calendars again and gives each its event source. */
async function loadCalendars() {
  calendars = (await api('GET', '/calendars')).data.calendars;
  for (const source of fc.getEventSources()) source.remove();
  for (const calendar of calendars) fc.addEventSource(feedSource(calendar));
  // Without a source FullCalendar fetches nothing and never calls `loading`: say it is done.
  if (!calendars.length) container.dataset.loading = 'false';
  fillZones();
  fillLegend();
}

function setZone(next) {
  zone = next;
  localStorage.setItem(ZONE_KEY, zone);
  fc.setOption('timeZone', zone);
  fc.refetchEvents();
}

async function init() {
  fc = new Calendar(container, {
    plugins: [zonePlugin(createPlugin)],
    timeZone: zone,
    initialView: 'dayGridMonth',
    headerToolbar: false,
    height: '100%',
    editable: true,
    selectable: true,
    selectMirror: true,
    dayMaxEvents: true,
    nowIndicator: true,
    eventDisplay: 'block',
    eventContent: renderEvent,
    eventClick: clicked,
    select: selected,
    eventDrop: moved,
    eventResize: moved,
    eventSourceFailure(error) {
      notify(`Could not load events: ${error.message}`, 'error');
      if (error.status === 404) loadCalendars();
    },
    loading(isLoading) {
      container.dataset.loading = String(isLoading);
    },
    datesSet({ view }) {
      title.textContent = view.title;
      for (const b of viewButtons) b.setAttribute('aria-pressed', String(b.dataset.view === view.type));
    },
  });
  fc.render();
  await loadCalendars();
  for (const b of viewButtons) b.addEventListener('click', () => fc.changeView(b.dataset.view));
  for (const b of page.querySelectorAll('[data-nav]')) b.addEventListener('click', () => fc[b.dataset.nav]());
  zoneSelect.addEventListener('change', () => setZone(zoneSelect.value));
  document.getElementById('new-event').addEventListener('click', () => {
    const start = Math.ceil(Date.now() / HOUR) * HOUR;
    create(timesOf({ allDay: false, start: new Date(start), end: new Date(start + HOUR) }, zone));
  });
}

/** Called when the page is shown. */
export async function show() {
  if (fc) fc.updateSize();
  else await init();
}

/** A change from the live stream: refetch (debounced); an unknown calendar means new sources. */
export function changed(change) {
  if (fc && !calendars.some((c) => c.id === change.calendar_id)) loadCalendars();
  else refresh();
}
