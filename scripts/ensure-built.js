// `npm start` right after `npm ci`: compile once if dist/ is missing or older than src/.
// A built copy (dist/ without src/, as the Docker image has) needs nothing more than
// `npm ci --omit=dev`: there is nothing to compile, and the compiler is a dev dependency.
const { execFileSync } = require('node:child_process');
const { existsSync, readdirSync, statSync } = require('node:fs');
const { join } = require('node:path');

const root = join(__dirname, '..');
const entry = join(root, 'dist', 'main.js');
const sources = join(root, 'src');

function newest(dir) {
  let latest = 0;
  for (const name of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, name.name);
    latest = Math.max(latest, name.isDirectory() ? newest(path) : statSync(path).mtimeMs);
  }
  return latest;
}

function compiler() {
  try {
    return require.resolve('typescript/bin/tsc');
  } catch {
    return undefined;
  }
}

const built = existsSync(entry);
const stale = existsSync(sources) && (!built || statSync(entry).mtimeMs < newest(sources));
if (stale) {
  const tsc = compiler();
  if (!tsc && built) {
    console.error(
      'hallpass: src/ is newer than dist/, but typescript is not installed (npm ci --omit=dev); running dist/ as built',
    );
  } else if (!tsc) {
    console.error(
      'hallpass: dist/ is not built and typescript is not installed: run `npm ci` (with dev dependencies), then `npm run build`',
    );
    process.exit(1);
  } else {
    console.error('hallpass: building (dist/ is missing or out of date)…');
    execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], {
      cwd: root,
      stdio: 'inherit',
    });
  }
}
