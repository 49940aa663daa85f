import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../support/tmp';

const UNIT = join(__dirname, '..', '..', 'deploy', 'hallpass.service');
const analyzer = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' });
const available = analyzer.status === 0;

describe('deploy/hallpass.service', () => {
  const text = readFileSync(UNIT, 'utf8');

  it('starts the compiled bot directly, with its state and secrets outside the checkout', () => {
    expect(text).toMatch(/^ExecStart=\/usr\/bin\/node \/opt\/hallpass\/dist\/main\.js$/m);
    expect(text).toMatch(/^Environment=HALLPASS_DB=\/var\/lib\/hallpass\/hallpass\.db$/m);
    expect(text).toMatch(/^StateDirectory=hallpass$/m);
    expect(text).toMatch(/^EnvironmentFile=\/etc\/hallpass\/env$/m);
    expect(text).toMatch(/^DynamicUser=yes$/m);
    expect(text).toMatch(/^KillSignal=SIGTERM$/m);
  });

  (available ? it : it.skip)(
    available
      ? 'passes systemd-analyze verify'
      : 'passes systemd-analyze verify (skipped: systemd-analyze is not installed here; apt-get install systemd)',
    () => {
      const tmp = tempDir();
      try {
        // verify checks that ExecStart's program exists: where Node lives on this machine.
        const node = existsSync('/usr/bin/node') ? '/usr/bin/node' : process.execPath;
        const unit = join(tmp.dir, 'hallpass.service');
        writeFileSync(unit, text.replace('ExecStart=/usr/bin/node', `ExecStart=${node}`));
        const result = spawnSync('systemd-analyze', ['verify', unit], { encoding: 'utf8' });
        expect({ status: result.status, stderr: result.stderr }).toEqual({ status: 0, stderr: '' });
      } finally {
        tmp.cleanup();
      }
    },
  );
});
