import { runCli } from './run';

/**
 * `hallpass request` sends HALLPASS_TOKEN (an API token, or a CI ID token) with every call and
 * gets the grant's credentials back the same way: as everywhere Hallpass sends a secret, plain
 * http is refused except to a loopback address, before anything is sent.
 */
describe('hallpass request over plain http', () => {
  const ask = (url: string) =>
    runCli(['request', 'prod-deploy', '15m', '--reason', 'deploy build 1234567'], {
      HALLPASS_URL: url,
      HALLPASS_TOKEN: 'hpt_tok_0123456789_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ',
    });

  it('is refused to a host across the network, naming the address', async () => {
    expect(await ask('http://hallpass.corp.example:3000')).toMatchObject({
      code: 2,
      stderr: expect.stringContaining(
        'request: HALLPASS_URL must be https (plain http only to a loopback address), not http://hallpass.corp.example:3000',
      ),
    });
  });

  it('goes on to call a loopback address (nothing listens here: the call itself fails)', async () => {
    const result = await ask('http://127.0.0.1:9');
    expect(result.code).not.toBe(2);
    expect(result.stderr).not.toContain('must be https');
  });
});
