// Builds web/dist/: index.html, app.css, the modules of src/ and FullCalendar's global
// bundle, side by side (the server serves the folder at /app/). Every JavaScript file is
// parsed first (node --check), so a syntax error fails the build.

import { spawnSync } from 'node:child_process';
import { copyFile, mkdir, readdir, rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

const here = (path) => fileURLToPath(new URL(path, import.meta.url));
const modules = (await readdir(here('src'))).filter((name) => name.endsWith('.js')).sort();

function check() {
  for (const file of ['build.mjs', ...modules.map((name) => `src/${name}`)]) {
    const result = spawnSync(process.execPath, ['--check', here(file)], { stdio: 'inherit' });
    if (result.status !== 0) process.exit(1);
  }
  console.log(`${modules.length + 1} files parse`);
}

async function build() {
  await rm(here('dist'), { recursive: true, force: true });
  await mkdir(here('dist'));
  const files = [
    ['index.html', 'index.html'],
    ['app.css', 'app.css'],
    ['node_modules/fullcalendar/index.global.min.js', 'fullcalendar.global.min.js'],
    ['node_modules/fullcalendar/LICENSE.md', 'fullcalendar-LICENSE.md'],
    ...modules.map((name) => [`src/${name}`, name]),
  ];
  for (const [from, to] of files) await copyFile(here(from), here(`dist/${to}`));
  console.log(`dist/: ${files.map(([, to]) => to).join(', ')}`);
}

check();
await build();
