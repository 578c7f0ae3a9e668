// A conflict made on purpose: the same event edited here while Outlook is unreachable and in
// Outlook meanwhile, then decided on the conflicts page with a merge.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { calendarLoaded, eventById, launchBrowser, signIn, snap } from './support/browser.js';
import { dateIn, eventAt, startDemo } from './support/demo.js';
import { waitUntil } from './support/wait.js';

const SYNCED = { timeout: 20_000 };

describe('conflicts', { timeout: 240_000 }, () => {
  let demo;
  let browser;
  let page;

  before(async () => {
    browser = await launchBrowser();
    demo = await startDemo('conflicts');
    page = await signIn(browser, demo);
  });

  after(async () => {
    if (page?.errors.length) console.log('page errors:', page.errors);
    await demo?.graph.clearFaults().catch(() => {});
    await browser?.close();
    await demo?.stop();
  });

  test('5. an event changed here and in Outlook is merged on the conflicts page', async () => {
    const { data: event } = await demo.api('POST', '/events', eventAt(demo.calendarId, 'Contract review', dateIn(0), '15:00', '16:00',
      { description: 'First draft.', location: 'Room 5' }));
    const outlook = await waitUntil('the event is in Outlook', () => demo.graph.copyOf(event.id), SYNCED);
    await waitUntil('the event is in Google', () => demo.google.copyOf(event.id), SYNCED);

    // Outlook is unreachable for calsync: the local edit cannot be pushed there.
    await demo.graph.addFault({ status: 503, count: 1000, path: '/v1.0/' });

    await page.getByTestId('view-week').click();
    await calendarLoaded(page);
    await eventById(page, event.id).click();
    await page.getByTestId('event-dialog').waitFor();
    await page.getByTestId('form-title').fill('Contract review (here)');
    await page.getByTestId('form-description').fill('Bring the signed copy.');
    await page.getByTestId('form-save').click();
    await page.getByTestId('event-dialog').waitFor({ state: 'hidden' });
    await waitUntil('Google has the local edit', async () =>
      (await demo.google.copyOf(event.id))?.summary === 'Contract review (here)', SYNCED);

    // Meanwhile someone edits the same event in Outlook (the control API is never faulted).
    await demo.graph.editInOutlook(outlook.id, { subject: 'Contract review (Outlook)', location: { displayName: 'Room 7' } });
    await demo.graph.clearFaults();

    await page.getByTestId('nav-accounts').click();
    const outlookLink = page.getByTestId('link-row').filter({ hasText: 'Outlook' });
    await outlookLink.getByTestId('link-sync').click();
    await page.locator('[data-testid="conflicts-badge"]:not([hidden])').filter({ hasText: '1' }).waitFor(SYNCED);
    await outlookLink.getByTestId('link-conflicts').waitFor(SYNCED);
    await snap(page, 'accounts');

    await page.getByTestId('nav-conflicts').click();
    const conflict = page.getByTestId('conflict');
    await conflict.waitFor();
    const changed = await conflict.getByTestId('diff-row').evaluateAll((rows) => rows.map((r) => r.dataset.field));
    for (const field of ['title', 'description', 'location']) assert.ok(changed.includes(field), `the diff shows ${field}`);
    await conflict.getByTestId('merge-remote-title').check();
    await snap(page, 'conflicts');
    await conflict.getByTestId('resolve-merge').click();
    await page.getByTestId('conflicts-empty').waitFor();
    await page.getByTestId('conflicts-badge').waitFor({ state: 'hidden' });

    // The merge: Outlook's title and location, the description written here.
    const merged = { title: 'Contract review (Outlook)', description: 'Bring the signed copy.', location: 'Room 7' };
    const { data: local } = await demo.api('GET', `/events/${event.id}`);
    assert.deepEqual({ title: local.title, description: local.description, location: local.location }, merged);
    await waitUntil('Google shows the merged event', async () => {
      const g = await demo.google.copyOf(event.id);
      return g?.summary === merged.title && g.description === merged.description && g.location === merged.location;
    }, SYNCED);
    await waitUntil('Outlook shows the merged event', async () => {
      const o = await demo.graph.copyOf(event.id);
      return o?.subject === merged.title && o.body.content.includes(merged.description) && o.location.displayName === merged.location;
    }, SYNCED);
  });
});
