import { existsSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfig } from '../../src/config/load';
import { loadProviders } from '../../src/providers/registry';
import type { Provider } from '../../src/providers/types';
import { tempDir } from '../support/tmp';
import { callContext, providerContract } from './contract';

const FIXTURES = join(__dirname, '..', 'fixtures');
const TARGET = { access: 'vpn:prod' };

function configWith(file: string): string {
  return `
requests: { approverChannel: CAPPROVALS }
providers:
  ledger:
    type: module
    module: ./adapters/file-grants.js
    file: ${file}
    timeout: 5s
resources:
  - id: prod-vpn
    name: Production VPN
    provider: ledger
    target: { access: 'vpn:prod' }
    maxDuration: 1h
    approvalsRequired: 0
`;
}

async function ledger(file: string): Promise<Provider<typeof TARGET>> {
  const providers = await loadProviders(parseConfig(configWith(file), {}), { configDir: FIXTURES });
  return providers.get('ledger')!.provider as Provider<typeof TARGET>;
}

const grantLines = (file: string, grantId: string) =>
  existsSync(file)
    ? readFileSync(file, 'utf8')
        .split('\n')
        .filter((line) => line.startsWith(`${grantId}\t`))
    : [];

providerContract('module (file-grants.js)', async () => {
  const { dir, cleanup } = tempDir('hallpass-module-');
  const file = join(dir, 'grants.tsv');
  return {
    provider: await ledger(file),
    target: TARGET,
    held: async (ctx) => grantLines(file, ctx.grantId).length,
    expiryHeld: async (ctx) => {
      const [line] = grantLines(file, ctx.grantId);
      return line === undefined ? null : new Date(line.split('\t')[3]!);
    },
    stalled: async () => {
      writeFileSync(`${file}.lock`, '');
      return { provider: await ledger(file), release: async () => unlinkSync(`${file}.lock`) };
    },
    stop: async () => cleanup(),
  };
});

describe('a module adapter loaded by relative path', () => {
  let dir: string;
  let cleanup: () => void;

  beforeEach(() => {
    ({ dir, cleanup } = tempDir('hallpass-module-'));
  });
  afterEach(() => cleanup());

  it('is validated, created and bound to its resources like a built-in one', async () => {
    const providers = await loadProviders(parseConfig(configWith(join(dir, 'g.tsv')), {}), {
      configDir: FIXTURES,
    });
    const bound = providers.forResource('prod-vpn');
    expect(bound).toMatchObject({
      name: 'ledger',
      type: 'module',
      timeoutMs: 5_000,
      target: TARGET,
      guarantees: { enforcesExpiry: false, endsOpenSessions: true, isolation: 'per-grant' },
    });
    await providers.closeAll();
  });

  it('writes one line per grant, moves its expiry on a re-grant and removes it on revoke', async () => {
    const file = join(dir, 'grants.tsv');
    const provider = await ledger(file);
    const ctx = callContext(TARGET, { user: { slackId: 'UALICE' } });
    await provider.grant(ctx);
    const later = new Date(ctx.expiresAt.getTime() + 3_600_000);
    await provider.grant({ ...ctx, state: undefined, expiresAt: later });
    expect(grantLines(file, ctx.grantId)).toEqual([
      `${ctx.grantId}\tUALICE\tvpn:prod\t${later.toISOString()}`,
    ]);
    await provider.revoke(ctx);
    expect(grantLines(file, ctx.grantId)).toEqual([]);
    expect(existsSync(`${file}.lock`)).toBe(false);
  });
});
