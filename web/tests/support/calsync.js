// The calsync binary as a child process (`calsync demo`, `calsync serve`, one-shot commands),
// and its HTTP API as a user.

import { execFile, spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GiveUp } from './wait.js';

const web = fileURLToPath(new URL('../..', import.meta.url));
/** The repository's root: calsync runs there, so it serves web/dist at /app/. */
export const repo = resolve(web, '..');
export const binary = resolve(web, process.env.CALSYNC_BIN ?? '../target/debug/calsync');
export const resultsDir = join(web, 'test-results');

const env = { ...process.env, NO_COLOR: '1' };
const cannotRun = (e) => new Error(`cannot run ${binary} (build it with cargo build -p calsync): ${e.message}`);

/** The calsync API as a user: `call('GET', '/links')` → `{status, data, etag}`; throws unless 2xx. */
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

/** Runs `calsync ...args` to its end and returns what it printed; throws when it fails. */
export function runCalsync(args) {
  return new Promise((done, fail) => {
    execFile(binary, args, { cwd: repo, env, timeout: 60_000 }, (error, stdout, stderr) => {
      if (error?.code === 'ENOENT') fail(cannotRun(error));
      else if (error) fail(new Error(`calsync ${args.join(' ')} failed: ${error.message}\n${stdout}\n${stderr}`));
      else done(stdout);
    });
  });
}

/** `calsync user create <name>` on the database at `databaseUrl` → the new user's token. */
export async function createUser(databaseUrl, name) {
  const printed = await runCalsync(['--database-url', databaseUrl, 'user', 'create', name]);
  const token = printed.match(/^\s*token:\s+(\S+)/m)?.[1];
  if (!token) throw new Error(`calsync user create printed no token:\n${printed}`);
  return token;
}

/**
 * Starts `calsync ...args` in the background. The process is killed if the test process
 * exits first. `stdout` and `log` (stderr) collect what it printed.
 */
export function spawnCalsync(args) {
  const child = spawn(binary, args, { cwd: repo, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const killOnExit = () => child.kill('SIGKILL');
  process.on('exit', killOnExit);
  const proc = { child, stdout: '', log: '' };
  child.stdout.on('data', (chunk) => { proc.stdout += chunk; });
  child.stderr.on('data', (chunk) => { proc.log += chunk; });
  /** `{code, signal}` once the process has exited. */
  proc.exited = new Promise((done) => {
    child.once('error', (e) => {
      proc.error = cannotRun(e);
      done({ code: null, signal: null });
    });
    child.once('exit', (code, signal) => done({ code, signal }));
  }).then((status) => {
    process.off('exit', killOnExit);
    return status;
  });
  /** For `waitUntil` checks: throws `GiveUp` (with what it printed) once the process has ended. */
  proc.assertRunning = () => {
    if (proc.error) throw new GiveUp(proc.error.message);
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new GiveUp(`calsync ${args.join(' ')} exited (${child.exitCode ?? child.signalCode}):\n${proc.stdout}\n${proc.log}`);
    }
  };
  /**
   * SIGTERM, and SIGKILL when it has not exited after `grace` ms. Returns `{code, signal,
   * killed}`; `killed` is true when SIGTERM was not enough.
   */
  proc.stop = async (grace = 5_000) => {
    let killed = false;
    if (child.exitCode === null && child.signalCode === null && !proc.error) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => {
        killed = true;
        child.kill('SIGKILL');
      }, grace);
      await proc.exited;
      clearTimeout(timer);
    }
    return { ...(await proc.exited), killed };
  };
  return proc;
}

/** Writes `text` to test-results/<file>. */
export async function saveLog(file, text) {
  await mkdir(resultsDir, { recursive: true });
  await writeFile(join(resultsDir, file), text);
}
