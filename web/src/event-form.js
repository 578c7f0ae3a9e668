// The add / edit / delete dialog. Validation is the server's: its problem+json `errors[]`
// are shown next to the fields they name, and nothing is saved.

import { ask } from './dialogs.js';
import { h, notify } from './dom.js';
import { createEvent, deleteEvent, exceptionOf, loadEvent, replaceEvent } from './events.js';
import { addDays, allZones } from './time.js';

const dialog = document.getElementById('event-dialog');
const form = document.getElementById('event-form');
const f = Object.fromEntries(['title', 'all-day', 'start-date', 'start-time', 'end-date', 'end-time', 'zone',
  'recurrence', 'rrule', 'location', 'description', 'calendar', 'delete', 'cancel', 'save', 'weekly']
  .map((name) => [name, document.getElementById(`f-${name}`)]));
const heading = document.getElementById('form-heading');
const message = document.getElementById('form-message');
const recurrenceField = document.getElementById('f-recurrence-field');

const WEEKDAYS = ['SU', 'MO', 'TU', 'WE', 'TH', 'FR', 'SA'];
const dayOf = (date) => new Date(`${date}T00:00:00Z`);
const PRESETS = {
  none: () => [],
  daily: () => ['RRULE:FREQ=DAILY'],
  weekly: (date) => [`RRULE:FREQ=WEEKLY;BYDAY=${WEEKDAYS[dayOf(date).getUTCDay()]}`],
  weekdays: () => ['RRULE:FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR'],
  monthly: () => ['RRULE:FREQ=MONTHLY'],
  yearly: () => ['RRULE:FREQ=YEARLY'],
};

/**
 * What the dialog is editing: `mode` is `create` (POST), `edit` (PUT with If-Match `etag`)
 * or `exception` (POST of a new exception of a series); `base` is the full event input the
 * form fields are laid over, so fields the form does not show (attendees, status…) survive.
 */
let current = null;

/** An error path from the API (`start.time_zone`, `recurrence[0]`) → the form field showing it. */
function fieldOf(path) {
  if (/^(start|end)\.time_zone$/.test(path)) return 'time_zone';
  const head = path.split(/[.[]/)[0];
  const fields = { title: 'title', start: 'start', end: 'end', original_start: 'start', recurrence: 'recurrence',
    location: 'location', description: 'description', calendar_id: 'calendar' };
  return fields[head] ?? 'form';
}

function showErrors(errors, general = '') {
  const byField = new Map(general ? [['form', new Set([general])]] : []);
  for (const { field, message: text } of errors) {
    const key = fieldOf(field);
    if (!byField.has(key)) byField.set(key, new Set());
    byField.get(key).add(key === 'form' ? `${field}: ${text}` : text);
  }
  for (const el of form.querySelectorAll('[data-error-for]')) {
    const texts = byField.get(el.dataset.errorFor);
    el.textContent = texts ? [...texts].join(' ') : '';
    el.hidden = !texts;
    el.closest('.field')?.classList.toggle('invalid', Boolean(texts));
  }
}

function showMessage(text) {
  message.textContent = text;
  message.hidden = !text;
}

function setOptions(select, values, label = (v) => v) {
  select.replaceChildren(...values.map((v) => h('option', { value: v }, label(v))));
}

function setZone(zone) {
  if (![...f.zone.options].some((o) => o.value === zone)) f.zone.append(h('option', { value: zone }, zone));
  f.zone.value = zone;
}

function updateWeekly() {
  const date = f['start-date'].value;
  const day = Number.isNaN(dayOf(date).getTime())
    ? '' : ` on ${dayOf(date).toLocaleDateString('en', { weekday: 'long', timeZone: 'UTC' })}`;
  f.weekly.textContent = `Weekly${day}`;
}

function setRecurrence(lines, date) {
  const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
  const preset = Object.keys(PRESETS).find((k) => same(PRESETS[k](date), lines)) ?? 'custom';
  f.recurrence.value = preset;
  f.rrule.value = preset === 'custom' ? lines.join('\n') : '';
  f.rrule.hidden = preset !== 'custom';
}

function recurrenceLines() {
  if (f.recurrence.value !== 'custom') return PRESETS[f.recurrence.value](f['start-date'].value);
  return f.rrule.value.split('\n').map((l) => l.trim()).filter(Boolean)
    .map((l) => (l.toUpperCase().startsWith('FREQ=') ? `RRULE:${l}` : l));
}

function setAllDay(allDay) {
  f['all-day'].checked = allDay;
  form.classList.toggle('all-day', allDay);
}

const splitWall = (wall) => [wall.slice(0, 10), wall.slice(11, 16)];

function fill(input, zone) {
  f.title.value = input.title ?? '';
  const allDay = Boolean(input.start.date);
  setAllDay(allDay);
  const [startDate, startTime] = allDay ? [input.start.date, '09:00'] : splitWall(input.start.date_time);
  const [endDate, endTime] = allDay ? [addDays(input.end.date, -1), '10:00'] : splitWall(input.end.date_time);
  f['start-date'].value = startDate;
  f['start-time'].value = startTime;
  f['end-date'].value = endDate;
  f['end-time'].value = endTime;
  setZone(input.start.time_zone ?? zone);
  updateWeekly();
  setRecurrence(input.recurrence ?? [], startDate);
  recurrenceField.hidden = Boolean(input.recurring_event_id);
  f.location.value = input.location ?? '';
  f.description.value = input.description ?? '';
  f.calendar.value = input.calendar_id;
}

/** The form as an event input, laid over `current.base`. */
function readInput() {
  const allDay = f['all-day'].checked;
  const time = (date, clock) => (allDay ? { date }
    : { date_time: `${date}T${clock.length === 5 ? `${clock}:00` : clock}`, time_zone: f.zone.value });
  const input = {
    ...current.base,
    title: f.title.value,
    calendar_id: f.calendar.value,
    start: time(f['start-date'].value, f['start-time'].value),
    end: allDay ? { date: addDays(f['end-date'].value, 1) } : time(f['end-date'].value, f['end-time'].value),
    location: f.location.value.trim() || undefined,
    description: f.description.value || undefined,
  };
  if (!input.recurring_event_id) input.recurrence = recurrenceLines();
  return input;
}

function headingFor({ mode }, base) {
  if (mode === 'create') return 'New event';
  if (mode === 'exception' || base.recurring_event_id) return 'Edit this occurrence';
  return base.recurrence?.length ? 'Edit series' : 'Edit event';
}

async function reload(text) {
  const loaded = await loadEvent(current.id);
  Object.assign(current, { base: loaded.input, etag: loaded.etag });
  fill(current.base, f.zone.value);
  showErrors([]);
  showMessage(text);
}

async function failed(e) {
  if (e.status === 412) {
    return reload('This event changed meanwhile. Its current version is shown now: make your change again and save.');
  }
  if (e.status === 410) return showMessage('This event was deleted meanwhile.');
  showErrors(e.errors ?? [], e.errors?.length ? '' : e.message);
}

async function run(action, doneText) {
  f.save.disabled = f.delete.disabled = true;
  try {
    await action();
    dialog.close();
    notify(doneText);
    current.onSaved();
  } catch (e) {
    await failed(e).catch((again) => showErrors([], again.message));
  } finally {
    f.save.disabled = f.delete.disabled = false;
  }
}

function save(event) {
  event.preventDefault();
  showMessage('');
  const input = readInput();
  run(() => (current.mode === 'edit' ? replaceEvent(current.id, input, current.etag) : createEvent(input)), 'Saved');
}

async function remove() {
  const { mode, base, id, etag } = current;
  const occurrence = mode === 'exception' || base.recurring_event_id;
  const what = occurrence ? 'this occurrence' : base.recurrence?.length ? 'the whole series' : 'this event';
  if (!await ask(`Delete ${what}?`, base.title, [{ value: 'delete', label: 'Delete', danger: true }])) return;
  // An occurrence is removed by a cancelled exception; deleting an exception would bring the
  // series' own occurrence back.
  const cancelled = { ...base, status: 'cancelled' };
  const action = mode === 'exception' ? () => createEvent(cancelled)
    : occurrence ? () => replaceEvent(id, cancelled, etag)
      : () => deleteEvent(id, etag);
  run(action, 'Deleted');
}

/**
 * Opens the dialog for `target`: `{mode: 'create', input}`, `{mode: 'edit', id}` or
 * `{mode: 'exception', seriesId, originalStart, timesIn}`. `zone` is the calendar view's zone,
 * `onSaved` runs after a successful write.
 */
export async function openForm(target, { calendars, zone, onSaved }) {
  if (!f.zone.options.length) setOptions(f.zone, allZones());
  setOptions(f.calendar, calendars.map((c) => c.id), (id) => calendars.find((c) => c.id === id).name);
  current = { ...target, onSaved, etag: null };
  try {
    if (target.mode === 'edit') {
      const loaded = await loadEvent(target.id);
      Object.assign(current, { base: loaded.input, etag: loaded.etag });
    } else if (target.mode === 'exception') {
      const series = await loadEvent(target.seriesId);
      current.base = exceptionOf(series.input, target.seriesId, target.originalStart, target.timesIn);
    } else {
      current.base = target.input;
    }
  } catch (e) {
    notify(`Could not open the event: ${e.message}`, 'error');
    return;
  }
  fill(current.base, zone);
  heading.textContent = headingFor(target, current.base);
  f.delete.hidden = target.mode === 'create';
  showErrors([]);
  showMessage('');
  dialog.showModal();
  f.title.focus();
}

f['all-day'].addEventListener('change', () => setAllDay(f['all-day'].checked));
f['start-date'].addEventListener('change', () => {
  if (f['end-date'].value < f['start-date'].value) f['end-date'].value = f['start-date'].value;
  updateWeekly();
});
f.recurrence.addEventListener('change', () => { f.rrule.hidden = f.recurrence.value !== 'custom'; });
f.cancel.addEventListener('click', () => dialog.close());
f.delete.addEventListener('click', remove);
form.addEventListener('submit', save);
