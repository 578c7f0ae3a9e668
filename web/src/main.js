// The app shell: sign-in, hash routing between the three pages, the live stream and the
// conflicts badge.

import * as accounts from './accounts.js';
import * as calendar from './calendar.js';
import * as conflicts from './conflicts.js';
import { notify } from './dom.js';
import { startLive } from './live.js';
import { logout, start } from './session.js';

const pages = {
  calendar: { module: calendar, section: document.getElementById('page-calendar') },
  accounts: { module: accounts, section: document.getElementById('page-accounts') },
  conflicts: { module: conflicts, section: document.getElementById('page-conflicts') },
};

/** `#/accounts` → the accounts page; anything unknown → the calendar. */
function route() {
  const name = location.hash.replace(/^#\/?/, '').split('/')[0];
  const current = pages[name] ? name : 'calendar';
  for (const [key, { section }] of Object.entries(pages)) section.hidden = key !== current;
  for (const link of document.querySelectorAll('nav [data-route]')) {
    if (link.dataset.route === current) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  Promise.resolve(pages[current].module.show()).catch((e) => notify(e.message, 'error'));
}

function ready(user) {
  document.getElementById('app').hidden = false;
  document.getElementById('user-name').textContent = user.name;
  document.getElementById('logout').addEventListener('click', () => logout());
  window.addEventListener('hashchange', route);
  route();
  startLive({
    onOpen() {
      calendar.refresh();
      accounts.refresh();
      conflicts.refresh();
      conflicts.countOpen().catch(() => {});
    },
    onChange(change) {
      calendar.changed(change);
      accounts.refresh();
      conflicts.refresh();
    },
    onNotice(notice) {
      conflicts.setBadge(notice.open_conflicts);
      accounts.refresh();
      conflicts.refresh();
    },
    onDenied: () => logout(true),
  });
}

start(ready);
