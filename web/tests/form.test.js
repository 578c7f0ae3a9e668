// The event form with bad input: errors next to their fields and nothing saved; and a title
// that looks like markup, shown as text.

import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { calendarLoaded, eventById, eventByTitle, launchBrowser, signIn } from './support/browser.js';
import { dateIn, startDemo } from './support/demo.js';

describe('event form', { timeout: 240_000 }, () => {
  let demo;
  let browser;
  let page;
  const today = dateIn(0);

  before(async () => {
    browser = await launchBrowser();
    demo = await startDemo('form');
    page = await signIn(browser, demo);
    await page.getByTestId('view-week').click();
    await calendarLoaded(page);
  });

  after(async () => {
    await browser?.close();
    await demo?.stop();
  });

  beforeEach(async () => {
    if (await page.getByTestId('event-dialog').isVisible()) await page.getByTestId('form-cancel').click();
  });

  /** Opens "New event" and fills it in; `times` are [start date, time, end date, time]. */
  async function fillNewEvent(title, [startDate, startTime, endDate, endTime]) {
    await page.getByTestId('new-event').click();
    await page.getByTestId('event-dialog').waitFor();
    await page.getByTestId('form-title').fill(title);
    await page.getByTestId('form-start-date').fill(startDate);
    await page.getByTestId('form-start-time').fill(startTime);
    await page.getByTestId('form-end-date').fill(endDate);
    await page.getByTestId('form-end-time').fill(endTime);
  }

  /** The demo calendar's stored events titled `title`, from yesterday to the day after tomorrow. */
  async function stored(title) {
    const { data } = await demo.api('GET', `/calendars/${demo.calendarId}/events?start=${dateIn(-1)}&end=${dateIn(2)}`);
    return data.events.filter((e) => e.title === title);
  }

  test('6a. an end before the start is refused next to the end field, and nothing is saved', async () => {
    await fillNewEvent('Backwards meeting', [today, '14:00', today, '13:00']);
    await page.getByTestId('form-save').click();
    const error = page.getByTestId('error-end');
    await error.waitFor();
    assert.match(await error.textContent(), /must be after start/);
    assert.equal(await page.getByTestId('error-title').isVisible(), false);
    assert.equal(await page.getByTestId('event-dialog').isVisible(), true, 'the form stays open');
    assert.deepEqual(await stored('Backwards meeting'), []);
  });

  test('6b. a title over 1,024 characters is refused next to the title field, and nothing is saved', async () => {
    const title = 'x'.repeat(1025);
    await fillNewEvent(title, [today, '14:00', today, '15:00']);
    await page.getByTestId('form-save').click();
    await page.getByTestId('error-title').waitFor();
    assert.equal(await page.getByTestId('error-end').isVisible(), false);
    assert.deepEqual(await stored(title), []);
  });

  test('6c. a title that looks like markup is shown as text', async () => {
    const title = '<img src=x onerror=alert(1)>';
    await fillNewEvent(title, [today, '16:00', today, '16:30']);
    await page.getByTestId('form-save').click();
    await page.getByTestId('event-dialog').waitFor({ state: 'hidden' });

    const [event] = await stored(title);
    const shown = eventById(page, event.id);
    await shown.waitFor();
    assert.equal(await page.locator('img[src="x"]').count(), 0, 'no <img> element was made');
    assert.equal(await shown.locator('.ev-title').textContent(), title);
    await eventByTitle(page, title).waitFor();
    await page.getByTestId('view-list').click();
    await calendarLoaded(page);
    await page.getByText(title, { exact: true }).first().waitFor();
    assert.equal(await page.locator('img[src="x"]').count(), 0, 'no <img> element in the list view either');
    assert.deepEqual(page.dialogs, [], 'no dialog was opened');
    assert.deepEqual(page.errors, [], 'no script error');
  });
});
