import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../support/tmp';
import { runCli } from './run';

/**
 * `policy check` where secrets are not set (CI, a laptop) warns about an unset `${VAR}` rather
 * than failing, including where a provider validates the value (the postgres provider's admin
 * URL, written `url: ${PG_ADMIN_URL}` because it holds the admin password).
 */
describe('policy check with a provider URL taken from an unset ${VAR}', () => {
  const tmp = tempDir();
  afterAll(() => tmp.cleanup());

  it('warns about the unset variable and passes, as for any other unset secret', async () => {
    const file = join(tmp.dir, 'pg.yml');
    writeFileSync(
      file,
      `requests: { approverChannel: CAPPROVALS }
providers:
  pg: { type: postgres, url: '\${PG_ADMIN_URL}' }
resources:
  - { id: prod-db, name: Production database, provider: pg, maxDuration: 1h, approvers: { users: [ULEAD] }, target: { roles: [analytics_ro] } }
`,
    );
    // The same file is fine once the variable is set: only its absence differs.
    const withSecret = await runCli(['policy', 'check', file], {
      HALLPASS_DB: join(tmp.dir, 'none.db'),
      PG_ADMIN_URL: 'postgres://hallpass_admin:pw@db.internal:5432/app',
    });
    expect(withSecret).toEqual({ code: 0, stdout: 'ok: 1 resources, 1 providers\n', stderr: '' });

    const without = await runCli(['policy', 'check', file], {
      HALLPASS_DB: join(tmp.dir, 'none.db'),
    });
    expect(without).toEqual({
      code: 0,
      stdout: 'ok: 1 resources, 1 providers\n',
      stderr:
        'warning: environment variable PG_ADMIN_URL is not set here; the bot will not start without it\n',
    });
  });
});
