// The conflicts page: events changed on both sides, shown as base / here / remote with the
// differing fields marked, and the four ways to decide. Also the badge in the navigation.

import { api } from './api.js';
import { debounce, formatInstant, h, notify } from './dom.js';

const page = document.getElementById('page-conflicts');
const badge = document.getElementById('conflicts-badge');
const PROVIDERS = { google: 'Google', microsoft: 'Outlook', caldav: 'CalDAV' };
const REASONS = {
  both_edited: 'Changed here and at the provider',
  deleted_locally: 'Deleted here, changed at the provider',
  deleted_remotely: 'Deleted at the provider, changed here',
  first_match_differs: 'Matched when the calendar was first linked, but the two differ',
};
const FIELD_NAMES = { time: 'Time', title: 'Title', description: 'Description', location: 'Location',
  recurrence: 'Repeats', status: 'Status', transparency: 'Busy / free', visibility: 'Visibility', attendees: 'Attendees' };

/** Cards by conflict id, kept while their revision is unchanged (so a refresh keeps the radios). */
const cards = new Map();

export function setBadge(count) {
  badge.textContent = String(count);
  badge.hidden = count === 0;
}

const openConflicts = async () => (await api('GET', '/conflicts?state=open&limit=1000')).data.conflicts;

export async function countOpen() {
  setBadge((await openConflicts()).length);
}

function formatTime(t) {
  if (!t) return '';
  return t.date ?? `${t.date_time.slice(0, 16).replace('T', ' ')} (${t.time_zone})`;
}

/** A field's value as text for a human. */
function formatValue(field, value) {
  if (value === null || value === undefined || (Array.isArray(value) && !value.length)) return '—';
  if (field === 'time') return `${formatTime(value.start)} – ${formatTime(value.end)}`;
  if (field === 'recurrence') return value.join('\n');
  if (field === 'attendees') {
    return value.map((a) => `${a.name ? `${a.name} <${a.email}>` : a.email} (${a.response_status ?? 'needs_action'})`).join('\n');
  }
  return typeof value === 'string' ? value : JSON.stringify(value);
}

const differ = (d) => JSON.stringify(d.local) !== JSON.stringify(d.remote);

/** The side a field takes by default in a merge: the one that changed it, else here. */
const defaultSide = (d) => (d.remote_changed && !d.local_changed ? 'remote' : 'local');

function diffRow(c, d, pick) {
  const cell = (side, changed) => {
    const radio = pick && h('input', {
      type: 'radio', name: `merge-${c.id}-${d.field}`, value: side, checked: defaultSide(d) === side,
      'aria-label': `Take ${FIELD_NAMES[d.field] ?? d.field} from ${side === 'local' ? 'here' : 'the provider'}`,
      'data-testid': `merge-${side}-${d.field}`,
    });
    return h('td', { class: changed ? 'changed' : undefined }, radio && h('label', { class: 'pick' }, radio),
      h('span', { class: 'value' }, formatValue(d.field, d[side])));
  };
  return h('tr', { class: d.clash ? 'clash' : undefined, 'data-testid': 'diff-row', 'data-field': d.field },
    h('th', { scope: 'row' }, FIELD_NAMES[d.field] ?? d.field),
    h('td', {}, h('span', { class: 'value' }, formatValue(d.field, d.base))),
    cell('local', d.local_changed), cell('remote', d.remote_changed));
}

function card(c, ctx, message = '') {
  const remoteName = ctx.providers.get(c.link_id) ?? 'the provider';
  const both = c.local && c.remote;
  const picks = both ? c.diff.filter(differ) : [];
  const error = h('p', { class: 'error', role: 'alert', 'data-testid': 'conflict-error' }, message);
  const choose = (choice, label) => h('button', {
    type: 'button', class: choice === 'merge' ? 'primary' : undefined, 'data-testid': `resolve-${choice}`,
    onclick: () => resolve(c, choice, el, error, picks),
  }, label);
  const title = c.local?.title ?? c.remote?.title ?? c.base?.title ?? '(untitled)';
  const el = h('article', { class: 'card conflict', 'data-testid': 'conflict', 'data-conflict-id': c.id },
    h('header', { class: 'row' }, h('h2', {}, title), h('span', { class: 'spacer' }),
      h('span', { class: 'muted' }, `found ${formatInstant(c.found_at)}`)),
    h('p', { 'data-testid': 'conflict-reason' }, REASONS[c.reason] ?? c.reason,
      !c.local && ' · deleted here', !c.remote && ` · deleted at ${remoteName}`),
    h('table', { class: 'diff' },
      h('thead', {}, h('tr', {}, h('th', {}, ''), h('th', {}, 'Last agreed'), h('th', {}, 'Here (calsync)'),
        h('th', {}, `At ${remoteName}`))),
      h('tbody', {}, c.diff.map((d) => diffRow(c, d, picks.includes(d))))),
    error,
    h('div', { class: 'actions' },
      choose('keep_local', c.local ? 'Keep this version' : 'Keep it deleted'),
      choose('keep_remote', c.remote ? `Keep ${remoteName}'s version` : 'Delete it here too'),
      both && choose('merge', picks.length ? 'Merge the chosen fields' : 'Merge'),
      both && choose('keep_both', 'Keep both')));
  return el;
}

async function resolve(c, choice, el, error, picks) {
  const body = { choice, revision: c.revision };
  if (choice === 'merge') {
    body.fields = Object.fromEntries(picks.map((d) =>
      [d.field, el.querySelector(`input[name="merge-${c.id}-${d.field}"]:checked`)?.value ?? defaultSide(d)]));
  }
  for (const b of el.querySelectorAll('button')) b.disabled = true;
  try {
    await api('POST', `/conflicts/${c.id}/resolve`, { body });
    notify('Conflict resolved');
    cards.delete(c.id);
  } catch (e) {
    if (e.status !== 409) {
      error.textContent = e.message;
      for (const b of el.querySelectorAll('button')) b.disabled = false;
      return;
    }
    // Decided on an old view: show the conflict as it is now (or gone, if resolved already).
    const { data: now } = await api('GET', `/conflicts/${c.id}`);
    if (now.state === 'open') cards.set(c.id, { revision: now.revision, el: card(now, await context(), e.message) });
    else notify(e.message);
  }
  await render();
}

async function context() {
  const [links, accounts] = await Promise.all(['/links', '/accounts'].map((p) => api('GET', p)));
  const providerOf = new Map(accounts.data.accounts.map((a) => [a.id, PROVIDERS[a.provider] ?? a.provider]));
  return { providers: new Map(links.data.links.map((l) => [l.id, providerOf.get(l.account_id)])) };
}

async function render() {
  const [conflicts, ctx] = await Promise.all([openConflicts(), context()]);
  setBadge(conflicts.length);
  const shown = conflicts.map((c) => {
    const known = cards.get(c.id);
    if (known?.revision === c.revision) return known.el;
    const el = card(c, ctx);
    cards.set(c.id, { revision: c.revision, el });
    return el;
  });
  for (const id of cards.keys()) if (!conflicts.some((c) => c.id === id)) cards.delete(id);
  page.replaceChildren(h('h1', {}, 'Conflicts'), ...(shown.length ? shown
    : [h('p', { class: 'muted', 'data-testid': 'conflicts-empty' }, 'No open conflicts: everything is in sync.')]));
}

export const show = render;

/** Live notices and changes: the list again, when the page is open. */
export const refresh = debounce(() => {
  if (!page.hidden) render().catch((e) => notify(e.message, 'error'));
}, 300);
