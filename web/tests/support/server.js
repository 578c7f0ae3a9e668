// `calsync serve` on a database of its own that outlives the process (unlike the demo's,
// which is recreated on every start): a user made with `calsync user create`, no providers,
// the server started, stopped and started again on the same port.

import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { calsyncApi, createUser, saveLog, spawnCalsync } from './calsync.js';
import { waitUntil } from './wait.js';

/** A TCP port nothing listens on right now (the OS picks it; it is released at once). */
export function freePort() {
  return new Promise((done, fail) => {
    const probe = createServer();
    probe.once('error', fail);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => done(port));
    });
  });
}

/**
 * A database in a temporary folder with the user `user`, and `calsync serve` for it on a
 * free port (not started yet: `await server.start()`). `url`, `token` and `api` are those of
 * the user, as for the demo. `name` labels the log (test-results/serve-<name>.log, written
 * at `close()`, every run of the server in it).
 */
export async function serverWithUser(name, user = 'alice') {
  const dir = await mkdtemp(join(tmpdir(), 'calsync-web-test-'));
  const database = `sqlite://${join(dir, 'cs.db')}`;
  let token;
  try {
    token = await createUser(database, user);
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let proc = null;
  let log = '';

  return {
    url,
    token,
    api: calsyncApi(url, token),
    /** Whether the server process is running. */
    get running() {
      return proc !== null;
    },
    /** Starts `calsync serve` and waits until it answers /healthz. */
    async start() {
      if (proc) throw new Error('the server is already running');
      proc = spawnCalsync(['--database-url', database, 'serve', '--listen', `127.0.0.1:${port}`]);
      try {
        await waitUntil(`calsync serve answers on port ${port}`, async () => {
          proc.assertRunning();
          return (await fetch(`${url}/healthz`)).ok;
        }, { timeout: 30_000, interval: 50 });
      } catch (e) {
        await this.stop();
        throw e;
      }
    },
    /** SIGTERM, then waits for the exit: `{code, signal, killed}` (killed: SIGTERM was not enough). */
    async stop() {
      if (!proc) return null;
      const exit = await proc.stop();
      log += `${proc.log}--- calsync serve stopped: ${JSON.stringify(exit)}\n`;
      proc = null;
      return exit;
    },
    async close() {
      await this.stop();
      await saveLog(`serve-${name}.log`, log);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
