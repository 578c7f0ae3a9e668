// The safety brake against a mass deletion in Google: the link pauses and asks on the
// accounts page, nothing is deleted here meanwhile, and Reject puts the events back in Google.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { launchBrowser, signIn, snap } from './support/browser.js';
import { startDemo } from './support/demo.js';
import { GoogleEmulator } from './support/providers.js';
import { waitUntil } from './support/wait.js';

const SYNCED = { timeout: 20_000 };
/** More than the link's default limits allow at once: 20 deletions, or 20 % of its events. */
const WIPED = 22;

describe('safety brake', { timeout: 180_000 }, () => {
  let demo;
  let browser;
  let page;

  before(async () => {
    browser = await launchBrowser();
    demo = await startDemo('brakes');
    page = await signIn(browser, demo);
  });

  after(async () => {
    if (page?.errors.length) console.log('page errors:', page.errors);
    await demo?.google.clearFaults().catch(() => {});
    await browser?.close();
    await demo?.stop();
  });

  /** Which of calsync's events `ids` are live in Google right now. */
  async function inGoogle(ids) {
    const live = new Set((await demo.google.events()).map(GoogleEmulator.calsyncId));
    return ids.filter((id) => live.has(id));
  }

  /** Which of calsync's events `ids` are gone here (GET /events/{id} fails or says cancelled). */
  async function goneHere(ids) {
    const gone = await Promise.all(ids.map((id) => demo.api('GET', `/events/${id}`).then(
      ({ data }) => data.status === 'cancelled', () => true)));
    return ids.filter((_, i) => gone[i]);
  }

  test('8. a mass deletion in Google pauses the link, and rejecting it restores the events there', async () => {
    const { google: link } = await demo.links();
    // Copies of calsync's single events (a series would take its exceptions along).
    const copies = (await demo.google.events()).filter((e) => GoogleEmulator.calsyncId(e) && !e.recurrence && !e.recurringEventId);
    assert.ok(copies.length >= WIPED, `the demo has ${copies.length} single events in Google`);
    const wiped = copies.slice(0, WIPED);
    const ids = wiped.map(GoogleEmulator.calsyncId);

    // The user deletes them in Google with their own token. The brake judges each pull, and
    // calsync pulls shortly after every push notification: on a slow machine a pull could fall
    // between the deletions and take a few at a time, under the limits. So calsync's reads
    // fail while the user deletes, and the next pull sees the whole wipe.
    await demo.google.addFault({ status: 503, method: 'GET', path: '/events', count: 100_000 });
    try {
      for (const e of wiped) await demo.google.delete(e.id);
    } finally {
      await demo.google.clearFaults();
    }
    assert.deepEqual(await inGoogle(ids), [], 'the events are deleted in Google');

    await page.getByTestId('nav-accounts').click();
    const row = page.locator(`[data-testid="link-row"][data-link-id="${link.id}"]`);
    await row.getByTestId('link-sync').click();
    await page.locator(`[data-testid="link-row"][data-link-id="${link.id}"][data-state="paused"]`).waitFor(SYNCED);

    const { data: paused } = await demo.api('GET', `/links/${link.id}/status`);
    assert.equal(paused.state, 'paused');
    assert.equal(paused.brake_kind, 'pull');
    assert.match(paused.brake ?? '', new RegExp(`\\b${WIPED}\\b`), 'the reason counts the deletions');
    await row.getByTestId('link-status').filter({ hasText: paused.brake }).waitFor();
    await row.getByTestId('link-confirm').waitFor();
    await row.getByTestId('link-reject').waitFor();
    assert.deepEqual(await goneHere(ids), [], 'nothing is deleted here while the user is asked');
    await snap(page, 'accounts-brake');

    await row.getByTestId('link-reject').click();
    await page.locator(`[data-testid="link-row"][data-link-id="${link.id}"][data-state="active"]`).waitFor(SYNCED);
    await waitUntil('the deleted events are back in Google', async () => (await inGoogle(ids)).length === ids.length, SYNCED);
    const { data: active } = await demo.api('GET', `/links/${link.id}/status`);
    assert.equal(active.state, 'active');
    assert.equal(active.brake, null);
    assert.equal(active.brake_kind, null);
    assert.equal(await row.getByTestId('link-reject').count(), 0, 'no question left on the page');
    assert.deepEqual(await goneHere(ids), [], 'the events are still here');
  });
});
