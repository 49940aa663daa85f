import { ConfigError, parseConfig } from '../../src/config/load';
import { scrub } from '../../src/secrets/scrub';

/**
 * The password of every URL in `providers` is registered as a secret, decoded. A password holding
 * a bare `%` (`50%off`, written raw or coming from `${PG_URL}`) is no escape: it must neither stop
 * the configuration from loading with an error that names no key, nor go unregistered.
 */
describe('a provider URL whose password holds a bare %', () => {
  const yaml = (url: string) => `
requests: { approverChannel: CAPPROVALS }
providers:
  db: { type: postgres, url: '${url}' }
resources:
  - { id: prod-db, name: Production database, provider: db, maxDuration: 1h, approvers: { users: [ULEAD] } }
`;

  it('either loads (the password then registered) or is a ConfigError naming the key', () => {
    let thrown: unknown;
    try {
      parseConfig(yaml('postgres://admin:50%off-secret@db.internal/app'), {});
    } catch (err) {
      thrown = err;
    }
    if (thrown === undefined) {
      expect(scrub('password is 50%off-secret')).not.toContain('50%off-secret');
    } else {
      expect(thrown).toBeInstanceOf(ConfigError);
      expect((thrown as Error).message).toMatch(/providers\.db/);
    }
  });
});
