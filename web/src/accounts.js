// The accounts page: connected Google / Outlook accounts, their calendars, and the links
// that sync one of them with a calsync calendar, each with its live status.

import { api, withQuery } from './api.js';
import { ask } from './dialogs.js';
import { debounce, formatInstant, h, notify } from './dom.js';

const page = document.getElementById('page-accounts');
const PROVIDERS = { google: 'Google', microsoft: 'Outlook' };
const IMPORT_POLL = 3000;

/** What the page shows; the remote calendar lists are cached while the page stays open. */
let state = { accounts: [], links: [], calendars: [] };
const remote = new Map();
const linksBox = h('div', { class: 'links' });
let pollTimer;

const providerName = (provider) => PROVIDERS[provider] ?? provider;
const enc = encodeURIComponent;

/** Sends the browser to the provider's consent screen; it comes back to /app/#/accounts. */
async function connect(provider, loginHint) {
  try {
    const body = loginHint?.includes('@') ? { login_hint: loginHint } : {};
    const { data } = await api('POST', `/accounts/${provider}/connect`, { body });
    location.assign(data.authorization_url);
  } catch (e) {
    notify(`Could not connect ${providerName(provider)}: ${e.message}`, 'error');
  }
}

/** Runs `action`, tells the user, and shows the page as it is now. */
async function act(action, doneText) {
  try {
    await action();
    notify(doneText);
  } catch (e) {
    notify(e.message, 'error');
  }
  await render().catch((e) => notify(e.message, 'error'));
}

const linkAction = (link, what, doneText) => () => act(() => api('POST', `/links/${enc(link.id)}/${what}`), doneText);

async function disconnect(account) {
  const choice = await ask(`Disconnect ${account.remote_user}?`,
    'Its links end and calsync forgets the grant. Events already imported can stay or go.', [
      { value: 'keep', label: 'Disconnect, keep events' },
      { value: 'remove', label: 'Disconnect and remove imported events', danger: true },
    ]);
  if (!choice) return;
  act(() => api('DELETE', withQuery(`/accounts/${enc(account.id)}`, { remove_events: choice === 'remove' })), 'Disconnected');
}

async function unlink(link) {
  const choice = await ask('Unlink this calendar?', 'Syncing stops. Nothing is deleted at the provider.', [
    { value: 'keep', label: 'Unlink, keep events' },
    { value: 'remove', label: 'Unlink and remove imported events', danger: true },
  ]);
  if (!choice) return;
  act(() => api('DELETE', withQuery(`/links/${enc(link.id)}`, { remove_events: choice === 'remove' })), 'Unlinked');
}

function remoteCalendarRow(account, rc) {
  const link = state.links.find((l) => l.account_id === account.id && l.remote_calendar_id === rc.id);
  const linkedTo = link && state.calendars.find((c) => c.id === link.calendar_id);
  const select = h('select', { 'aria-label': `calsync calendar for ${rc.name}`, 'data-testid': 'link-calendar' },
    h('option', { value: '' }, 'Choose a calsync calendar…'),
    state.calendars.map((c) => h('option', { value: c.id }, c.name)));
  const linkIt = () => {
    if (!select.value) return notify('Choose the calsync calendar to link it with.', 'error');
    act(() => api('POST', '/links', {
      body: { account_id: account.id, calendar_id: select.value, remote_calendar_id: rc.id },
    }), 'Linked: the import starts now');
  };
  return h('li', { class: 'remote-calendar', 'data-testid': 'remote-calendar-row', 'data-remote-calendar-id': rc.id },
    h('span', { class: 'name' }, rc.name),
    rc.primary && h('span', { class: 'tag' }, 'primary'),
    !rc.writable && h('span', { class: 'tag' }, 'read-only'),
    rc.time_zone && h('span', { class: 'muted' }, rc.time_zone),
    h('span', { class: 'spacer' }),
    link
      ? h('span', { class: 'muted', 'data-testid': 'remote-calendar-linked' }, `linked with ${linkedTo?.name ?? link.calendar_id}`)
      : [select, h('button', { type: 'button', onclick: linkIt, 'data-testid': 'link-button' }, 'Link')]);
}

/** The account's calendars at the provider, fetched once per visit of the page. */
function remoteCalendars(account) {
  const list = h('ul', { class: 'remote-calendars', 'data-testid': 'remote-calendars' }, h('li', { class: 'muted' }, 'Loading calendars…'));
  if (!remote.has(account.id)) {
    remote.set(account.id, api('GET', `/accounts/${enc(account.id)}/calendars`).then(({ data }) => data.calendars));
  }
  remote.get(account.id).then(
    (calendars) => list.replaceChildren(...calendars.map((rc) => remoteCalendarRow(account, rc))),
    (e) => {
      remote.delete(account.id);
      list.replaceChildren(h('li', { class: 'error', 'data-testid': 'remote-calendars-error' }, e.message));
    });
  return list;
}

function accountRow(account) {
  return h('li', { class: 'card', 'data-testid': 'account-row', 'data-account-id': account.id, 'data-state': account.state },
    h('div', { class: 'row' },
      h('strong', {}, providerName(account.provider)), h('span', {}, account.remote_user),
      h('span', { class: `state state-${account.state}`, 'data-testid': 'account-state' }, account.state.replace('_', ' ')),
      h('span', { class: 'spacer' }),
      account.state === 'needs_reauth' && h('button', {
        type: 'button', class: 'primary', 'data-testid': 'account-reconnect',
        onclick: () => connect(account.provider, account.remote_user),
      }, 'Reconnect'),
      h('button', { type: 'button', 'data-testid': 'account-disconnect', onclick: () => disconnect(account) }, 'Disconnect')),
    account.last_error && h('p', { class: 'error', 'data-testid': 'account-error' }, account.last_error),
    account.state === 'active' && remoteCalendars(account));
}

/** The sentence (and buttons) for a link's status. */
function statusLine(link, status, account) {
  switch (status.state) {
    case 'importing':
      return [`Importing… ${status.listing_read ?? 0} events read so far`];
    case 'active':
      return [`Active · ${status.linked_events} events · last pulled ${formatInstant(status.last_pull_at)}`,
        status.outbox_depth > 0 && ` · ${status.outbox_depth} changes waiting to be pushed`];
    case 'paused': {
      // A mass change held back asks confirm/reject; a conflict pause waits for the conflicts.
      const held = status.brake_kind === 'pull' || status.brake_kind === 'push';
      return [`Paused: ${status.brake ?? 'waiting'}`,
        held && h('button', { type: 'button', class: 'primary', 'data-testid': 'link-confirm', onclick: linkAction(link, 'confirm', 'Confirmed') }, 'Confirm'),
        held && h('button', { type: 'button', 'data-testid': 'link-reject', onclick: linkAction(link, 'reject', 'Rejected: it is undone at the provider') }, 'Reject'),
        status.brake_kind === 'conflict' && h('a', { href: '#/conflicts', 'data-testid': 'link-conflicts' }, 'Decide the conflicts')];
    }
    case 'needs_reauth':
      return ['The account must be connected again',
        h('button', { type: 'button', class: 'primary', 'data-testid': 'link-reconnect',
          onclick: () => connect(account?.provider, account?.remote_user) }, 'Reconnect')];
    case 'error':
      return [`Error: ${status.last_error ?? 'unknown'}`];
    default:
      return [status.state];
  }
}

/** The remote calendar's id, replaced by its name once the account's calendar list is in. */
function remoteName(link) {
  const span = h('span', { 'data-testid': 'link-remote-calendar' }, link.remote_calendar_id);
  remote.get(link.account_id)?.then((calendars) => {
    const rc = calendars.find((c) => c.id === link.remote_calendar_id);
    if (rc) span.textContent = rc.name;
  }, () => {});
  return span;
}

function linkRow(link, status) {
  const account = state.accounts.find((a) => a.id === link.account_id);
  const local = state.calendars.find((c) => c.id === link.calendar_id);
  return h('li', { class: 'card', 'data-testid': 'link-row', 'data-link-id': link.id, 'data-state': status.state },
    h('div', { class: 'row' },
      h('strong', {}, local?.name ?? link.calendar_id), h('span', {}, '⇄'),
      remoteName(link),
      h('span', { class: 'muted' }, `${providerName(account?.provider)} · ${account?.remote_user ?? '?'}`),
      h('span', { class: 'spacer' }),
      h('button', { type: 'button', 'data-testid': 'link-sync', onclick: linkAction(link, 'sync', 'Sync requested') }, 'Sync now'),
      h('button', { type: 'button', 'data-testid': 'link-unlink', onclick: () => unlink(link) }, 'Unlink')),
    h('p', { class: `status state-${status.state}`, 'data-testid': 'link-status' }, statusLine(link, status, account)),
    status.state !== 'error' && status.last_error && h('p', { class: 'error', 'data-testid': 'link-error' },
      `Last error (${formatInstant(status.last_error_at)}): ${status.last_error}`),
    status.conflicts > 0 && h('p', {}, h('a', { href: '#/conflicts', 'data-testid': 'link-conflicts' },
      `${status.conflicts} conflict${status.conflicts === 1 ? '' : 's'} waiting for a decision`)),
    status.parked > 0 && h('details', { 'data-testid': 'link-parked' },
      h('summary', {}, `${status.parked} event${status.parked === 1 ? '' : 's'} the provider refused`),
      h('ul', {}, status.parked_events.map((p) => h('li', {}, `${p.event_id}: ${p.error ?? 'no reason given'}`)))));
}

/** Reads the links' statuses and shows them; polls while one is importing. */
async function renderStatuses() {
  clearTimeout(pollTimer);
  const statuses = await Promise.all(state.links.map((l) => api('GET', `/links/${enc(l.id)}/status`)
    .then(({ data }) => data, (e) => ({ state: 'error', last_error: e.message }))));
  linksBox.replaceChildren(state.links.length
    ? h('ul', { class: 'cards', 'data-testid': 'link-list' }, state.links.map((l, i) => linkRow(l, statuses[i])))
    : h('p', { class: 'muted', 'data-testid': 'links-empty' }, 'No calendar is linked yet.'));
  if (!page.hidden && statuses.some((s) => s.state === 'importing')) pollTimer = setTimeout(refresh, IMPORT_POLL);
}

async function render() {
  const [accounts, links, calendars] = await Promise.all(['/accounts', '/links', '/calendars'].map((p) => api('GET', p)));
  state = { accounts: accounts.data.accounts, links: links.data.links, calendars: calendars.data.calendars };
  page.replaceChildren(
    h('div', { class: 'toolbar' },
      h('h1', {}, 'Accounts'), h('span', { class: 'spacer' }),
      Object.entries(PROVIDERS).map(([provider, name]) => h('button', {
        type: 'button', class: 'primary', 'data-testid': `connect-${provider}`, onclick: () => connect(provider),
      }, `Connect ${name}`))),
    state.accounts.length
      ? h('ul', { class: 'cards', 'data-testid': 'account-list' }, state.accounts.map(accountRow))
      : h('p', { class: 'muted', 'data-testid': 'accounts-empty' }, 'No account is connected yet.'),
    h('h2', {}, 'Links'),
    linksBox);
  await renderStatuses();
}

/** Called when the page is shown: everything afresh, the providers' calendar lists too. */
export function show() {
  remote.clear();
  return render();
}

/** Live notices (conflicts, brakes) and changes: the statuses again, all of it when accounts or links changed. */
export const refresh = debounce(async () => {
  if (page.hidden) return;
  try {
    const [accounts, links] = await Promise.all(['/accounts', '/links'].map((p) => api('GET', p)));
    const same = JSON.stringify([accounts.data.accounts, links.data.links]) === JSON.stringify([state.accounts, state.links]);
    await (same ? renderStatuses() : render());
  } catch (e) {
    notify(e.message, 'error');
  }
}, 300);
