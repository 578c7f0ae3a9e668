// The live stream across a server restart: `calsync serve` on a database that outlives it
// (the demo's is recreated on every start) is stopped and started again on the same port
// while the page stays open; the page reconnects and shows new changes without a reload.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { calendarLoaded, eventById, launchBrowser, signIn } from './support/browser.js';
import { ZONE, dateIn, eventAt } from './support/demo.js';
import { serverWithUser } from './support/server.js';

/** The app's reconnect backoff doubles up to 30 s: enough for any attempt to come round. */
const RECONNECTED = { timeout: 40_000 };

describe('reconnecting', { timeout: 120_000 }, () => {
  let server;
  let browser;
  let page;
  let calendar;

  before(async () => {
    browser = await launchBrowser();
    server = await serverWithUser('reconnect');
    await server.start();
    ({ data: calendar } = await server.api('POST', '/calendars', { name: 'Home', time_zone: ZONE }));
  });

  after(async () => {
    if (page?.errors.length) console.log('page errors:', page.errors);
    await browser?.close();
    await server?.close();
  });

  test('7. the page reconnects after the server restarts and shows new events live', async () => {
    page = await signIn(browser, server);
    await page.evaluate(() => { window.stillTheSamePage = true; });
    const live = page.locator('[data-testid="live-status"][data-state="live"]');
    const notLive = page.locator('[data-testid="live-status"]:not([data-state="live"])');

    const exit = await server.stop();
    assert.deepEqual(exit, { code: 0, signal: null, killed: false }, 'calsync serve exits cleanly on SIGTERM');
    await notLive.waitFor();
    assert.equal(await notLive.getAttribute('data-state'), 'reconnecting');

    // On every (re)connect the app refetches what it shows: wait for that, so that the event
    // below can only arrive through the change stream.
    const refetched = page.waitForResponse((r) => r.url().includes(`/calendars/${calendar.id}/fullcalendar`) && r.ok(),
      RECONNECTED);
    await server.start();
    await live.waitFor(RECONNECTED);
    await refetched;
    await calendarLoaded(page);

    const { data: event } = await server.api('POST', '/events', eventAt(calendar.id, 'After the restart', dateIn(0), '10:00', '10:30'));
    await eventById(page, event.id).filter({ hasText: 'After the restart' }).waitFor();
    assert.equal(await page.evaluate(() => window.stillTheSamePage), true, 'the page was reloaded');
    assert.equal(await page.getByTestId('login-token').isVisible(), false, 'still signed in');
  });
});
