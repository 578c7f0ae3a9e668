// The calendar page against the real demo: signing in, creating with the form, live updates
// from Google, and dragging an event to another day, each checked at both providers.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { calendarLoaded, eventById, eventByTitle, launchBrowser, signIn, snap } from './support/browser.js';
import { dateIn, eventAt, startDemo } from './support/demo.js';
import { waitUntil } from './support/wait.js';

const SYNCED = { timeout: 20_000 };

describe('calendar', { timeout: 240_000 }, () => {
  let demo;
  let browser;
  let page;
  const today = dateIn(0);

  before(async () => {
    browser = await launchBrowser();
    demo = await startDemo('calendar');
  });

  after(async () => {
    if (page?.errors.length) console.log('page errors:', page.errors);
    await browser?.close();
    await demo?.stop();
  });

  test('1. signing in with the token shows the demo events', async () => {
    page = await signIn(browser, demo);
    await eventByTitle(page, 'Stand-up').first().waitFor();
    // The kick-off is on this (Monday-based) week's Tuesday: when today is Sunday the 1st,
    // that day belongs to the month before.
    const { data } = await demo.api('GET', `/calendars/${demo.calendarId}/events?start=${dateIn(-7)}&end=${dateIn(7)}`);
    const kickOff = data.events.find((e) => e.title === 'Project kick-off').start.date_time.slice(0, 10);
    const inMonth = await page.locator(`td.fc-daygrid-day[data-date="${kickOff}"]`).count();
    if (!inMonth) await page.getByTestId('nav-prev').click();
    await eventByTitle(page, 'Project kick-off').first().waitFor();
    if (!inMonth) {
      await page.getByTestId('nav-today').click();
      await eventByTitle(page, 'Stand-up').first().waitFor();
    }
    await snap(page, 'calendar-month');
  });

  test('2. an event created with the form shows in the calendar and reaches Google and Outlook', async () => {
    await page.getByTestId('view-week').click();
    await calendarLoaded(page);
    await snap(page, 'calendar-week');
    await page.getByTestId('new-event').click();
    await page.getByTestId('event-dialog').waitFor();
    await page.getByTestId('form-title').fill('Planning poker');
    await page.getByTestId('form-start-date').fill(today);
    await page.getByTestId('form-start-time').fill('07:00');
    await page.getByTestId('form-end-date').fill(today);
    await page.getByTestId('form-end-time').fill('07:45');
    await page.getByTestId('form-location').fill('Room 4');
    await snap(page, 'event-form');
    await page.getByTestId('form-save').click();
    await page.getByTestId('event-dialog').waitFor({ state: 'hidden' });

    const shown = eventByTitle(page, 'Planning poker');
    await shown.waitFor();
    const id = await shown.getAttribute('data-event-id');

    const google = await waitUntil('the event is in Google', () => demo.google.copyOf(id), SYNCED);
    assert.equal(google.summary, 'Planning poker');
    assert.equal(google.location, 'Room 4');
    assert.equal(google.start.dateTime.slice(0, 16), `${today}T07:00`);
    const outlook = await waitUntil('the event is in Outlook', () => demo.graph.copyOf(id), SYNCED);
    assert.equal(outlook.subject, 'Planning poker');
    assert.equal(outlook.location.displayName, 'Room 4');
    assert.equal(outlook.start.dateTime.slice(0, 16), `${today}T07:00`);
  });

  test('3. an edit made in Google shows in the open page without a reload', async () => {
    const { data: event } = await demo.api('POST', '/events', eventAt(demo.calendarId, 'Coffee tasting', today, '12:00', '12:30'));
    await eventById(page, event.id).waitFor();
    const google = await waitUntil('the event is in Google', () => demo.google.copyOf(event.id), SYNCED);
    await page.evaluate(() => { window.stillTheSamePage = true; });

    await demo.google.patch(google.id, { summary: 'Coffee tasting on the roof' });

    await eventById(page, event.id).filter({ hasText: 'Coffee tasting on the roof' }).waitFor(SYNCED);
    assert.equal(await page.evaluate(() => window.stillTheSamePage), true, 'the page was reloaded');
    const badge = eventById(page, event.id).getByTestId('badge-updated');
    assert.equal(await badge.getAttribute('data-source'), 'google');
  });

  test('4. dragging an event to another day moves it at both providers', async () => {
    const { data: event } = await demo.api('POST', '/events', eventAt(demo.calendarId, 'Window cleaning', today, '06:00', '06:45'));
    await waitUntil('the event is in both providers', async () =>
      (await demo.google.copyOf(event.id)) && demo.graph.copyOf(event.id), SYNCED);

    // The day after today, or the day before when today is the last column of the week.
    const column = (date) => page.locator(`td.fc-timegrid-col[data-date="${date}"]`);
    const target = (await column(dateIn(1)).count()) ? dateIn(1) : dateIn(-1);
    const shown = eventById(page, event.id);
    await shown.scrollIntoViewIfNeeded();
    const from = await shown.boundingBox();
    const to = await column(target).boundingBox();
    const [x, y] = [from.x + from.width / 2, from.y + from.height / 2];
    await page.mouse.move(x, y);
    await page.mouse.down();
    await page.mouse.move(x + 10, y, { steps: 5 });
    await page.mouse.move(to.x + to.width / 2, y, { steps: 15 });
    await page.mouse.up();

    await waitUntil('calsync has the new date', async () =>
      (await demo.api('GET', `/events/${event.id}`)).data.start.date_time === `${target}T06:00:00`);
    await waitUntil('Google has the new date', async () =>
      (await demo.google.copyOf(event.id))?.start.dateTime.startsWith(`${target}T06:00:00`), SYNCED);
    await waitUntil('Outlook has the new date', async () =>
      (await demo.graph.copyOf(event.id))?.start.dateTime.startsWith(`${target}T06:00:00`), SYNCED);
    // Every live refetch replaces the event's element: a box read as it is swapped is null.
    await waitUntil('the event is shown in the target column', async () => {
      const box = await eventById(page, event.id).boundingBox();
      return box && box.x >= to.x && box.x < to.x + to.width;
    });
  });
});
