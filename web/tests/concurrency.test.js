// Two people at once: an event changed through the API while the form had it open (the
// save is refused with 412 and the form shows the current version), and a second user who
// sees nothing of the demo user's data.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { calendarLoaded, eventById, launchBrowser, signIn } from './support/browser.js';
import { createUser } from './support/calsync.js';
import { dateIn, eventAt, startDemo } from './support/demo.js';
import { waitUntil } from './support/wait.js';

const SYNCED = { timeout: 20_000 };

/** A calsync API request that does not throw: `{status, data, etag}`. */
async function request(url, token, method, path, { body, ifMatch, contentType = 'application/json' } = {}) {
  const headers = { Authorization: `Bearer ${token}`, Accept: 'application/json' };
  if (ifMatch) headers['If-Match'] = ifMatch;
  if (body !== undefined) headers['Content-Type'] = contentType;
  const response = await fetch(`${url}/api/v1${path}`, { method, headers, body: body && JSON.stringify(body) });
  const text = await response.text();
  return { status: response.status, data: text ? JSON.parse(text) : null, etag: response.headers.get('ETag') };
}

describe('concurrency', { timeout: 240_000 }, () => {
  let demo;
  let browser;
  const pages = [];
  const today = dateIn(0);

  before(async () => {
    browser = await launchBrowser();
    demo = await startDemo('concurrency');
  });

  after(async () => {
    for (const page of pages) if (page.errors.length) console.log('page errors:', page.errors);
    await browser?.close();
    await demo?.stop();
  });

  test('someone else changed the event while the form was open: 412, the current version shown, then saved', async () => {
    const asDemo = (...args) => request(demo.url, demo.token, ...args);
    const { data: event } = await demo.api('POST', '/events', eventAt(demo.calendarId, 'Budget review', today, '11:00', '11:30',
      { description: 'Figures for Q3.' }));
    // Pushed to both providers first, so that no sync touches the event during the test.
    await waitUntil('the event is in both providers', async () =>
      (await demo.google.copyOf(event.id)) && demo.graph.copyOf(event.id), SYNCED);

    const page = await signIn(browser, demo);
    pages.push(page);
    await page.getByTestId('view-week').click();
    await calendarLoaded(page);
    await eventById(page, event.id).click();
    const dialog = page.getByTestId('event-dialog');
    await dialog.waitFor();
    assert.equal(await page.getByTestId('form-title').inputValue(), 'Budget review');

    // The other writer: a merge patch on the version the form also holds.
    const { etag } = await asDemo('GET', `/events/${event.id}`);
    const theirs = await asDemo('PATCH', `/events/${event.id}`, {
      body: { title: 'Budget review (moved to Q4)', description: 'Figures for Q4.' },
      contentType: 'application/merge-patch+json',
      ifMatch: etag,
    });
    assert.equal(theirs.status, 200, JSON.stringify(theirs.data));

    await page.getByTestId('form-title').fill('Budget review with finance');
    await page.getByTestId('form-location').fill('Room 2');
    await page.getByTestId('form-save').click();

    const message = page.getByTestId('form-message');
    await message.waitFor();
    assert.match(await message.textContent(), /changed meanwhile/);
    assert.equal(await dialog.isVisible(), true, 'the form stays open');
    assert.equal(await page.getByTestId('form-title').inputValue(), 'Budget review (moved to Q4)');
    assert.equal(await page.getByTestId('form-description').inputValue(), 'Figures for Q4.');
    assert.equal(await page.getByTestId('form-location').inputValue(), '', 'the stale form\'s location is gone');
    const stored = await asDemo('GET', `/events/${event.id}`);
    assert.equal(stored.etag, theirs.etag, 'nothing was written over the other change');
    assert.equal(stored.data.title, 'Budget review (moved to Q4)');
    assert.equal(stored.data.location ?? null, null);

    // The user makes their change again, on the current version: it is saved.
    await page.getByTestId('form-title').fill('Budget review with finance');
    await page.getByTestId('form-save').click();
    await dialog.waitFor({ state: 'hidden' });
    const saved = await asDemo('GET', `/events/${event.id}`);
    assert.equal(saved.data.title, 'Budget review with finance');
    assert.equal(saved.data.description, 'Figures for Q4.', 'the other writer\'s description survives');
    await eventById(page, event.id).filter({ hasText: 'Budget review with finance' }).waitFor();
    assert.deepEqual(page.dialogs, [], 'no dialog was opened');
  });

  /**
   * An open conflict of the demo user: an event changed here while Outlook is unreachable and
   * in Outlook meanwhile, then Outlook synced again.
   */
  async function makeConflict() {
    const { data: event } = await demo.api('POST', '/events', eventAt(demo.calendarId, 'Vendor call', today, '14:00', '14:30'));
    const outlook = await waitUntil('the event is in Outlook', () => demo.graph.copyOf(event.id), SYNCED);
    await demo.graph.addFault({ status: 503, count: 1000, path: '/v1.0/' });
    try {
      const here = await request(demo.url, demo.token, 'PATCH', `/events/${event.id}`,
        { body: { title: 'Vendor call (here)' }, contentType: 'application/merge-patch+json' });
      assert.equal(here.status, 200, JSON.stringify(here.data));
      await waitUntil('Google has the local edit', async () =>
        (await demo.google.copyOf(event.id))?.summary === 'Vendor call (here)', SYNCED);
      await demo.graph.editInOutlook(outlook.id, { subject: 'Vendor call (Outlook)' });
    } finally {
      await demo.graph.clearFaults();
    }
    const { microsoft } = await demo.links();
    await demo.api('POST', `/links/${microsoft.id}/sync`);
    await waitUntil('the demo user has an open conflict', async () =>
      (await demo.api('GET', '/conflicts?state=open')).data.conflicts.length > 0, SYNCED);
  }

  test('a second user sees nothing of the demo user\'s data', async () => {
    const bob = await createUser(demo.databaseUrl, 'bob');
    const asBob = (...args) => request(demo.url, bob, ...args);
    assert.equal((await asBob('GET', '/me')).data.name, 'bob');

    const page = await signIn(browser, { ...demo, token: bob });
    pages.push(page);
    await page.getByTestId('user-name').filter({ hasText: 'bob' }).waitFor();
    const demoPage = await signIn(browser, demo);
    pages.push(demoPage);

    // Calendar: no calendars in the legend, no events, in the month and the list view.
    await page.getByTestId('calendar-legend').getByText('No calendars yet').waitFor();
    assert.equal(await page.getByTestId('calendar-legend-item').count(), 0);
    assert.equal(await page.getByTestId('event').count(), 0);
    await page.getByTestId('view-list').click();
    await calendarLoaded(page);
    assert.equal(await page.getByTestId('event').count(), 0);

    // Accounts: none, and no links.
    await page.getByTestId('nav-accounts').click();
    await page.getByTestId('accounts-empty').waitFor();
    await page.getByTestId('links-empty').waitFor();
    assert.equal(await page.getByTestId('account-row').count(), 0);

    // Conflicts: the demo user gets one while both are signed in; once the demo user's badge
    // shows it, bob's shows nothing and bob's conflicts page is empty.
    await makeConflict();
    await demoPage.locator('[data-testid="conflicts-badge"]:not([hidden])').filter({ hasText: '1' }).waitFor(SYNCED);
    assert.equal(await page.getByTestId('conflicts-badge').isVisible(), false);
    await page.getByTestId('nav-conflicts').click();
    await page.getByTestId('conflicts-empty').waitFor();
    assert.equal(await page.getByTestId('conflict').count(), 0);
    assert.equal(await page.getByTestId('conflicts-badge').isVisible(), false);

    // The demo user's data through the API with bob's token: unknown.
    const range = `start=${dateIn(-7)}&end=${dateIn(7)}`;
    const feed = await asBob('GET', `/calendars/${demo.calendarId}/fullcalendar?${range}&timeZone=Europe%2FBerlin`);
    assert.equal(feed.status, 404, JSON.stringify(feed.data));
    const events = await asBob('GET', `/calendars/${demo.calendarId}/events?${range}`);
    assert.equal(events.status, 404, JSON.stringify(events.data));
    const { data: demoEvents } = await demo.api('GET', `/calendars/${demo.calendarId}/events?${range}`);
    const oneEvent = await asBob('GET', `/events/${demoEvents.events[0].id}`);
    assert.equal(oneEvent.status, 404, JSON.stringify(oneEvent.data));
    assert.deepEqual((await asBob('GET', '/conflicts?state=open')).data.conflicts, []);

    const fetched = await page.evaluate(() => performance.getEntriesByType('resource').map((e) => e.name));
    assert.deepEqual(fetched.filter((url) => url.includes(demo.calendarId)), [], 'bob\'s page never asked for the demo calendar');
    assert.deepEqual(page.dialogs, [], 'no dialog was opened');
    assert.deepEqual(page.errors, [], 'no script error');
  });
});
