import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import { tempDir } from './tmp';
import { testCertificate } from './tls';

const run = promisify(execFile);

export const SUFFIX = 'dc=example,dc=org';
export const PEOPLE = `ou=people,${SUFFIX}`;
export const GROUPS = `ou=groups,${SUFFIX}`;
/** The groups Hallpass hands out: the service account may change their members, nothing else. */
export const JIT_GROUPS = `ou=jit,${GROUPS}`;

/** A DN and its password. */
export interface Account {
  dn: string;
  password: string;
}

/** A throwaway OpenLDAP server on 127.0.0.1, for the ldap-group provider and directory tests. */
export interface TestSlapd {
  /** ldap:// (plain, with StartTLS offered). */
  url: string;
  /** ldaps:// (TLS from the first byte). */
  ldapsUrl: string;
  /** The self-signed certificate both listeners present (CN and SAN 127.0.0.1). */
  caFile: string;
  /** The rootdn: not bound by the ACL, for the tests' own fixtures. */
  manager: Account;
  /** `cn=hallpass`: exactly the rights docs/providers.md recommends. */
  service: Account;
  /** `cn=auditor`: may read what the service account reads, and write nothing. */
  auditor: Account;
  /** SIGSTOP: the server keeps its sockets open and answers nothing until thaw(). */
  freeze(): void;
  thaw(): void;
  stop(): Promise<void>;
}

const MISSING = [
  "OpenLDAP's slapd and slapadd were not found in /usr/sbin or on PATH.",
  'The ldap-group provider and the LDAP directory are tested against a real server:',
  'install it (apt-get install slapd ldap-utils; .ci/run does).',
].join(' ');

function findProgram(name: string): string {
  const dirs = ['/usr/sbin', '/usr/local/sbin', ...(process.env.PATH ?? '').split(delimiter)];
  const found = dirs.filter(Boolean).find((dir) => existsSync(join(dir, name)));
  if (!found) throw new Error(MISSING);
  return join(found, name);
}

/** Debian builds every backend as a module; other builds link mdb in. */
function mdbModuleDir(): string | undefined {
  return ['/usr/lib/ldap', '/usr/lib64/openldap', '/usr/lib/openldap'].find((dir) =>
    existsSync(join(dir, 'back_mdb.la')),
  );
}

function schemaDir(): string {
  const dir = ['/etc/ldap/schema', '/etc/openldap/schema'].find((d) =>
    existsSync(join(d, 'nis.ldif')),
  );
  if (!dir) throw new Error(`OpenLDAP's schema files (nis.ldif) were not found. ${MISSING}`);
  return dir;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * The rules docs/providers.md asks for (`by * break` hands everyone else on to the rules after),
 * plus a read-only `auditor` to show what a bind without write rights gets. The first and last
 * rules stand for a directory's own: binds may check passwords, nothing else is granted.
 */
function accessRules(service: string, auditor: string): string[] {
  const reader = `by dn.exact="${auditor}" read`;
  return [
    'to attrs=userPassword by anonymous auth by * none',
    `to dn.subtree="${JIT_GROUPS}" attrs=member,uniqueMember,memberUid by dn.exact="${service}" write ${reader} by * break`,
    `to dn.subtree="${GROUPS}" attrs=entry,objectClass,member,uniqueMember,memberUid by dn.exact="${service}" read ${reader} by * break`,
    `to dn.subtree="${PEOPLE}" attrs=entry,objectClass,uid,mail by dn.exact="${service}" read ${reader} by * break`,
    'to * by * none',
  ];
}

function configLdif(dir: string, schemas: string, manager: Account, acl: string[]): string {
  const moduleDir = mdbModuleDir();
  return [
    `dn: cn=config
objectClass: olcGlobal
cn: config
olcPidFile: ${join(dir, 'slapd.pid')}
olcLogLevel: none
olcTLSCertificateFile: ${join(dir, 'cert.pem')}
olcTLSCertificateKeyFile: ${join(dir, 'key.pem')}`,
    ...(moduleDir
      ? [
          `dn: cn=module{0},cn=config
objectClass: olcModuleList
cn: module{0}
olcModulePath: ${moduleDir}
olcModuleLoad: back_mdb`,
        ]
      : []),
    `dn: cn=schema,cn=config
objectClass: olcSchemaConfig
cn: schema`,
    ['core', 'cosine', 'inetorgperson', 'nis']
      .map((name) => `include: file://${join(schemas, `${name}.ldif`)}`)
      .join('\n\n'),
    `dn: olcDatabase={-1}frontend,cn=config
objectClass: olcDatabaseConfig
objectClass: olcFrontendConfig
olcDatabase: {-1}frontend`,
    `dn: olcDatabase={0}config,cn=config
objectClass: olcDatabaseConfig
olcDatabase: {0}config
olcAccess: {0}to * by * none`,
    // A small size limit for searches that do not page (Active Directory's is 1000), so a lookup
    // that does not page through results fails here instead of in a large directory.
    `dn: olcDatabase={1}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {1}mdb
olcDbDirectory: ${join(dir, 'data')}
olcSuffix: ${SUFFIX}
olcRootDN: ${manager.dn}
olcRootPW: ${manager.password}
olcSizeLimit: size.soft=5 size.hard=5 size.prtotal=unlimited
${acl.map((rule, i) => `olcAccess: {${i}}${rule}`).join('\n')}`,
  ].join('\n\n');
}

function baseLdif(service: Account, auditor: Account): string {
  const ou = (dn: string, name: string) =>
    `dn: ${dn}\nobjectClass: organizationalUnit\nou: ${name}`;
  const account = ({ dn, password }: Account, cn: string) =>
    `dn: ${dn}\nobjectClass: applicationProcess\nobjectClass: simpleSecurityObject\ncn: ${cn}\nuserPassword: ${password}`;
  return [
    `dn: ${SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\ndc: example\no: Example`,
    ou(PEOPLE, 'people'),
    ou(GROUPS, 'groups'),
    ou(JIT_GROUPS, 'jit'),
    ou(`ou=services,${SUFFIX}`, 'services'),
    account(service, 'hallpass'),
    account(auditor, 'auditor'),
  ].join('\n\n');
}

async function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * Starts slapd with a cn=config generated here (mdb, the core/cosine/inetorgperson/nis schemas,
 * the ACL above), the base tree, the two service accounts and `entries` (LDIF) loaded with
 * slapadd. slapd runs in the foreground as whoever runs the tests; unlike initdb it accepts root.
 */
export async function startSlapd(entries = ''): Promise<TestSlapd> {
  const slapd = findProgram('slapd');
  const slapadd = findProgram('slapadd');
  const schemas = schemaDir();
  const { dir, cleanup } = tempDir('hallpass-slapd-');
  const configDir = join(dir, 'slapd.d');
  mkdirSync(configDir);
  mkdirSync(join(dir, 'data'));
  const secret = () => randomBytes(12).toString('hex');
  const manager = { dn: `cn=manager,${SUFFIX}`, password: secret() };
  const service = { dn: `cn=hallpass,ou=services,${SUFFIX}`, password: secret() };
  const auditor = { dn: `cn=auditor,ou=services,${SUFFIX}`, password: secret() };
  writeFileSync(
    join(dir, 'config.ldif'),
    configLdif(dir, schemas, manager, accessRules(service.dn, auditor.dn)),
  );
  writeFileSync(join(dir, 'data.ldif'), `${baseLdif(service, auditor)}\n\n${entries}\n`);

  let child: ChildProcess | undefined;
  let output = '';
  try {
    const { key, cert } = testCertificate();
    writeFileSync(join(dir, 'key.pem'), key);
    writeFileSync(join(dir, 'cert.pem'), cert);
    await run(slapadd, ['-n0', '-F', configDir, '-l', join(dir, 'config.ldif')]);
    await run(slapadd, ['-n1', '-F', configDir, '-l', join(dir, 'data.ldif')]);
    const [port, tlsPort] = [await freePort(), await freePort()];
    const urls = `ldap://127.0.0.1:${port}/ ldaps://127.0.0.1:${tlsPort}/`;
    const started = spawn(slapd, ['-d', '0', '-F', configDir, '-h', urls], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = started;
    started.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    started.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const deadline = Date.now() + 15_000;
    while (!(await listening(port)) || !(await listening(tlsPort))) {
      if (started.exitCode !== null) throw new Error(`slapd exited with ${started.exitCode}`);
      if (Date.now() > deadline) throw new Error('slapd did not listen within 15s');
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    return {
      url: `ldap://127.0.0.1:${port}`,
      ldapsUrl: `ldaps://127.0.0.1:${tlsPort}`,
      caFile: join(dir, 'cert.pem'),
      manager,
      service,
      auditor,
      freeze: () => started.kill('SIGSTOP'),
      thaw: () => started.kill('SIGCONT'),
      async stop() {
        try {
          await stopProcess(started);
        } finally {
          cleanup();
        }
      },
    };
  } catch (err) {
    if (child) await stopProcess(child);
    cleanup();
    throw new Error(
      `could not start a test slapd: ${(err as Error).message}\n${output.slice(-2000)}`,
    );
  }
}

/** SIGTERM (after SIGCONT, should it be frozen), then SIGKILL if it has not exited in 5s. */
async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGCONT');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}
