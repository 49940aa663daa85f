// Before `npm test`: the tests run real servers from Debian's packages (a throwaway PostgreSQL
// for the store and the postgres provider, OpenLDAP's slapd for the ldap-group provider, openssl
// for their certificates). Installs what is missing when it can (root with apt-get), otherwise
// names exactly what to install and stops, so a run never fails half-way for a missing binary.
const { execFileSync } = require('node:child_process');
const { existsSync, readdirSync, writeFileSync, rmSync, chmodSync } = require('node:fs');
const { delimiter, join } = require('node:path');

const onPath = (name) =>
  (process.env.PATH ?? '').split(delimiter).some((dir) => dir && existsSync(join(dir, name)));

const postgresServer = () =>
  (existsSync('/usr/lib/postgresql') &&
    readdirSync('/usr/lib/postgresql').some((v) =>
      existsSync(join('/usr/lib/postgresql', v, 'bin', 'pg_ctl')),
    )) ||
  onPath('pg_ctl');

/** Each Debian package the tests need, and how to tell it is there. */
const NEEDED = [
  { pkg: 'postgresql', present: postgresServer },
  { pkg: 'slapd', present: () => existsSync('/usr/sbin/slapd') || onPath('slapd') },
  { pkg: 'ldap-utils', present: () => onPath('ldapadd') },
  { pkg: 'openssl', present: () => onPath('openssl') },
];

const missing = NEEDED.filter((n) => !n.present()).map((n) => n.pkg);
if (missing.length === 0) process.exit(0);

const command = `apt-get install -y --no-install-recommends ${missing.join(' ')}`;
const canInstall = process.getuid?.() === 0 && onPath('apt-get');
if (!canInstall) {
  console.error(
    `hallpass tests need Debian packages that are not installed: ${missing.join(', ')}.\n` +
      `Install them (as root) with:\n  apt-get update && ${command}\n` +
      'Nothing needs to be running: the tests start and stop their own servers on 127.0.0.1.',
  );
  process.exit(1);
}

console.error(`hallpass: installing ${missing.join(', ')} for the tests…`);
const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
const run = (file, args, input) =>
  execFileSync(file, args, {
    env,
    stdio: [input === undefined ? 'ignore' : 'pipe', 'inherit', 'inherit'],
    input,
  });
// The tests configure and start their own servers: the packages must neither set up a default
// directory nor start a service while they are installed.
run('debconf-set-selections', [], 'slapd slapd/no_configuration boolean true\n');
const policy = '/usr/sbin/policy-rc.d';
const blockStarts = !existsSync(policy);
if (blockStarts) {
  writeFileSync(policy, '#!/bin/sh\nexit 101\n');
  chmodSync(policy, 0o755);
}
try {
  run('apt-get', ['update', '-q']);
  run('apt-get', ['install', '-y', '-q', '--no-install-recommends', ...missing]);
} finally {
  if (blockStarts) rmSync(policy, { force: true });
}
