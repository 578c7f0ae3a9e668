// Starts `calsync demo` (a fresh SQLite file, in-process Google and Outlook emulators, a
// demo user linked to both), reads what it prints, and talks to its API.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { calsyncApi, saveLog, spawnCalsync } from './calsync.js';
import { GoogleEmulator, GraphEmulator } from './providers.js';
import { waitUntil } from './wait.js';

export { calsyncApi, resultsDir } from './calsync.js';

/** What the demo prints, line by line: the key each pattern fills. */
const PRINTED = {
  url: /calsync demo is running at (\S+)/,
  token: /^\s*token:\s+(\S+)/,
  calendarId: /^\s*calendar:\s+(\S+)/,
  google: /^\s*Google:\s+(\S+)/,
  outlook: /^\s*Outlook:\s+(\S+)/,
};

/**
 * Starts the demo and waits until both links finished their first sync. `name` labels the
 * demo's log (test-results/demo-<name>.log, written at `stop()`).
 */
export async function startDemo(name) {
  const dir = await mkdtemp(join(tmpdir(), 'calsync-web-test-'));
  const databaseFile = join(dir, 'demo.db');
  const proc = spawnCalsync(['demo', '--listen', '127.0.0.1:0', '--database-file', databaseFile]);

  let printed;
  try {
    printed = await waitUntil('the demo printed its address and token', async () => {
      proc.assertRunning();
      const found = {};
      for (const line of proc.stdout.split('\n')) {
        for (const [key, pattern] of Object.entries(PRINTED)) {
          const match = line.match(pattern);
          if (match) found[key] = match[1];
        }
      }
      return Object.keys(PRINTED).every((key) => found[key]) && found;
    }, { timeout: 60_000, interval: 50 });
  } catch (e) {
    await proc.stop();
    await rm(dir, { recursive: true, force: true });
    throw e;
  }

  const api = calsyncApi(printed.url, printed.token);
  const demo = {
    ...printed,
    api,
    /** The demo's database, for other calsync commands on it (e.g. `user create`). */
    databaseUrl: `sqlite://${databaseFile}`,
    /** The demo's links by provider: `{google: link, microsoft: link}`. */
    async links() {
      const [{ data: links }, { data: accounts }] = await Promise.all([api('GET', '/links'), api('GET', '/accounts')]);
      const provider = new Map(accounts.accounts.map((a) => [a.id, a.provider]));
      return Object.fromEntries(links.links.map((l) => [provider.get(l.account_id), l]));
    },
    async stop() {
      await proc.stop();
      await saveLog(`demo-${name}.log`, proc.log);
      await rm(dir, { recursive: true, force: true });
    },
  };

  try {
    demo.google = await GoogleEmulator.connect(new URL(printed.google).origin);
    demo.graph = await GraphEmulator.connect(new URL(printed.outlook).origin);
    // Both links imported and pushed the demo's events: the tests start from a calm state.
    await waitUntil('both links have finished their first sync', async () => {
      proc.assertRunning();
      const links = Object.values(await demo.links());
      const statuses = await Promise.all(links.map((l) => api('GET', `/links/${l.id}/status`)));
      return links.length === 2 && statuses.every(({ data: s }) =>
        s.state === 'active' && s.last_push_at && s.outbox_depth === 0 && s.linked_events > 0);
    }, { timeout: 60_000 });
  } catch (e) {
    await demo.stop();
    throw e;
  }
  return demo;
}

/** An event for the demo calendar at `date` (YYYY-MM-DD), `from`–`to` (HH:MM) in Berlin. */
export function eventAt(calendarId, title, date, from, to, extra = {}) {
  const at = (time) => ({ date_time: `${date}T${time}:00`, time_zone: ZONE });
  return { calendar_id: calendarId, title, start: at(from), end: at(to), ...extra };
}

/** The demo's zone, also the browser's in these tests. */
export const ZONE = 'Europe/Berlin';

/** Today (or `days` from it) in the demo's zone, as YYYY-MM-DD. */
export function dateIn(days = 0) {
  const today = new Intl.DateTimeFormat('en-CA', { timeZone: ZONE }).format(new Date());
  return new Date(Date.parse(`${today}T00:00:00Z`) + days * 86_400_000).toISOString().slice(0, 10);
}
