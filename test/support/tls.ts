import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { tempDir } from './tmp';

let tls: { key: string; cert: string } | undefined;

/** A throwaway self-signed certificate for 127.0.0.1, made once per test file. */
export function testCertificate(): { key: string; cert: string } {
  if (tls) return tls;
  const onPath = (process.env.PATH ?? '')
    .split(delimiter)
    .some((d) => d && existsSync(join(d, 'openssl')));
  if (!onPath) {
    throw new Error(
      'openssl was not found on PATH; test servers speaking TLS need it for their certificate (apt-get install openssl; .ci/run does).',
    );
  }
  const { dir, cleanup } = tempDir('hallpass-tls-');
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
      ],
      { stdio: 'ignore' },
    );
    tls = {
      key: readFileSync(join(dir, 'key.pem'), 'utf8'),
      cert: readFileSync(join(dir, 'cert.pem'), 'utf8'),
    };
    return tls;
  } finally {
    cleanup();
  }
}
