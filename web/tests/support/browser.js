// Debian's Chromium driven by playwright-core, the app signed in, and screenshots.

import { copyFile, mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';
import { ZONE, resultsDir } from './demo.js';

const docsDir = resolve(resultsDir, '../../docs/screenshots');
/** The screenshots `UPDATE_SCREENSHOTS=1` also copies into docs/screenshots/. */
const PUBLISHED = new Set(['calendar-month', 'calendar-week', 'event-form', 'accounts', 'conflicts']);

export async function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    // Root in a container has no user namespaces for Chromium's sandbox.
    args: ['--no-sandbox'],
  });
}

/**
 * A page of the app, signed in as the demo user (or any `{url, token}`), in the demo's zone.
 * `page.dialogs` and `page.errors` collect every alert/confirm and uncaught script error.
 */
export async function signIn(browser, demo) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, timezoneId: ZONE, locale: 'en-US' });
  context.setDefaultTimeout(15_000);
  const page = await context.newPage();
  page.dialogs = [];
  page.errors = [];
  page.on('dialog', (dialog) => {
    page.dialogs.push(dialog.message());
    dialog.dismiss().catch(() => {});
  });
  page.on('pageerror', (error) => page.errors.push(error.message));
  await page.goto(`${demo.url}/app/`);
  await page.getByTestId('login-token').fill(demo.token);
  await page.getByTestId('login-submit').click();
  await page.getByTestId('calendar-page').waitFor();
  await calendarLoaded(page);
  await page.locator('[data-testid="live-status"][data-state="live"]').waitFor();
  return page;
}

/** Waits until FullCalendar has fetched the visible range. */
export async function calendarLoaded(page) {
  await page.locator('[data-testid="calendar"][data-loading="false"]').waitFor({ state: 'attached' });
}

/** The calendar's event element(s) of calsync event `id`. */
export const eventById = (page, id) => page.locator(`[data-testid="event"][data-event-id="${id}"]`);

/** The calendar's event element(s) titled exactly `title`. */
export const eventByTitle = (page, title) =>
  page.getByTestId('event').filter({ has: page.locator('.ev-title').getByText(title, { exact: true }) });

/** Saves test-results/<name>.png; with UPDATE_SCREENSHOTS=1 also docs/screenshots/<name>.png. */
export async function snap(page, name) {
  await mkdir(resultsDir, { recursive: true });
  const file = join(resultsDir, `${name}.png`);
  await page.screenshot({ path: file });
  if (process.env.UPDATE_SCREENSHOTS === '1' && PUBLISHED.has(name)) {
    await mkdir(docsDir, { recursive: true });
    await copyFile(file, join(docsDir, `${name}.png`));
  }
}
