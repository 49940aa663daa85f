import { Sealer } from '../../src/secrets/seal';

describe('sealing secrets at rest', () => {
  const sealer = new Sealer('signing-secret-for-tests');

  it('round-trips and never shows the plaintext', () => {
    const sealed = sealer.seal('password=hunter2');
    expect(sealed).not.toContain('hunter2');
    expect(sealer.open(sealed)).toBe('password=hunter2');
    expect(sealer.seal('password=hunter2')).not.toBe(sealed);
  });

  it('refuses a tampered value and a value sealed under another key', () => {
    const sealed = sealer.seal('x');
    const parts = sealed.split('.');
    const tampered = [...parts.slice(0, 3), Buffer.from('y').toString('base64')].join('.');
    expect(() => sealer.open(tampered)).toThrow();
    expect(() => new Sealer('another-secret').open(sealed)).toThrow();
    expect(() => sealer.open('garbage')).toThrow('not a sealed value');
  });
});
