import { USAGE } from '../../src/cli/usage';
import { runCli } from './run';

describe('hallpass help', () => {
  it.each([['help'], ['--help'], ['-h']])('%s prints the usage and exits 0', async (word) => {
    expect(await runCli([word], {})).toEqual({ code: 0, stdout: USAGE, stderr: '' });
  });

  it('shows a group’s commands for `<group> --help` and `<command> -h`, exit 0', async () => {
    const group = await runCli(['audit', '--help'], {});
    expect(group.code).toBe(0);
    expect(group.stdout.split('\n').slice(0, 2)).toEqual(['Usage: hallpass audit …', '']);
    expect(group.stdout).toMatch(/^ {2}audit verify /m);
    expect(group.stdout).toMatch(/^ {2}audit show <grant-id\|request-id>/m);
    expect(group.stdout).not.toMatch(/grants list|policy check/);
    const command = await runCli(['grants', 'revoke', '-h'], {});
    expect(command.code).toBe(0);
    // A command's continuation line comes with it.
    expect(command.stdout).toContain('break-glass: end a grant when Slack is unreachable');
  });

  it('lists the subcommands of a group given alone, as a usage error', async () => {
    const result = await runCli(['audit'], {});
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    const lines = result.stderr.trimEnd().split('\n');
    expect(lines[0]).toBe('hallpass audit needs a subcommand:');
    expect(lines.slice(2).map((l) => l.trim().split(/\s+/).slice(0, 2).join(' '))).toEqual([
      'audit verify',
      'audit verify',
      'audit export',
      'every audit',
      'audit show',
      'audit reset-checkpoint',
      'after a',
    ]);
  });

  it('prints the usage on stderr with exit 2 for nothing or an unknown command', async () => {
    expect(await runCli([], {})).toEqual({ code: 2, stdout: '', stderr: USAGE });
    expect(await runCli(['audit', 'frobnicate'], {})).toEqual({
      code: 2,
      stdout: '',
      stderr: `hallpass: unknown command "audit frobnicate"\n${USAGE}`,
    });
  });
});
