// Starts `calsync demo` (a fresh SQLite file, in-process Google and Outlook emulators, a
// demo user linked to both), reads what it prints, and talks to its API.

import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GoogleEmulator, GraphEmulator } from './providers.js';
import { waitUntil } from './wait.js';

const web = fileURLToPath(new URL('../..', import.meta.url));
const repo = resolve(web, '..');
const binary = resolve(web, process.env.CALSYNC_BIN ?? '../target/debug/calsync');
export const resultsDir = join(web, 'test-results');

/** What the demo prints, line by line: the key each pattern fills. */
const PRINTED = {
  url: /calsync demo is running at (\S+)/,
  token: /^\s*token:\s+(\S+)/,
  calendarId: /^\s*calendar:\s+(\S+)/,
  google: /^\s*Google:\s+(\S+)/,
  outlook: /^\s*Outlook:\s+(\S+)/,
};

/** The calsync API as the demo user: `call('GET', '/links')` → `{status, data, etag}`; throws unless 2xx. */
export function calsyncApi(url, token) {
  return async function call(method, path, body) {
    const init = { method, headers: { Authorization: `Bearer ${token}` } };
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    const response = await fetch(`${url}/api/v1${path}`, init);
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} ${path} → ${response.status}: ${text}`);
    return { status: response.status, data: text ? JSON.parse(text) : null, etag: response.headers.get('ETag') };
  };
}

/**
 * Starts the demo and waits until both links finished their first sync. `name` labels the
 * demo's log (test-results/demo-<name>.log, written at `stop()`).
 */
export async function startDemo(name) {
  const dir = await mkdtemp(join(tmpdir(), 'calsync-web-test-'));
  const child = spawn(binary, ['demo', '--listen', '127.0.0.1:0', '--database-file', join(dir, 'demo.db')], {
    cwd: repo,
    env: { ...process.env, NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const killOnExit = () => child.kill('SIGKILL');
  process.on('exit', killOnExit);
  let log = '';
  child.stderr.on('data', (chunk) => { log += chunk; });

  let timer;
  const printed = await new Promise((done, fail) => {
    const found = {};
    let out = '';
    timer = setTimeout(() => fail(new Error(`the demo printed no address within 60 s:\n${out}\n${log}`)), 60_000);
    child.on('error', (e) => fail(new Error(`cannot run ${binary} (build it with cargo build -p calsync): ${e.message}`)));
    child.on('exit', (code) => fail(new Error(`the demo exited (${code}) before it was ready:\n${out}\n${log}`)));
    child.stdout.on('data', (chunk) => {
      out += chunk;
      for (const line of out.split('\n')) {
        for (const [key, pattern] of Object.entries(PRINTED)) {
          const match = line.match(pattern);
          if (match) found[key] = match[1];
        }
      }
      if (Object.keys(PRINTED).every((key) => found[key])) done(found);
    });
  }).finally(() => clearTimeout(timer)).catch(async (e) => {
    child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
    throw e;
  });

  const api = calsyncApi(printed.url, printed.token);
  const demo = {
    ...printed,
    api,
    /** The demo's links by provider: `{google: link, microsoft: link}`. */
    async links() {
      const [{ data: links }, { data: accounts }] = await Promise.all([api('GET', '/links'), api('GET', '/accounts')]);
      const provider = new Map(accounts.accounts.map((a) => [a.id, a.provider]));
      return Object.fromEntries(links.links.map((l) => [provider.get(l.account_id), l]));
    },
    async stop() {
      process.off('exit', killOnExit);
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((done) => child.once('exit', done));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(timer);
      }
      await mkdir(resultsDir, { recursive: true });
      await writeFile(join(resultsDir, `demo-${name}.log`), log);
      await rm(dir, { recursive: true, force: true });
    },
  };

  try {
    demo.google = await GoogleEmulator.connect(new URL(printed.google).origin);
    demo.graph = await GraphEmulator.connect(new URL(printed.outlook).origin);
    // Both links imported and pushed the demo's events: the tests start from a calm state.
    await waitUntil('both links have finished their first sync', async () => {
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
