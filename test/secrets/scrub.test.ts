import { randomBytes } from 'node:crypto';
import { excerptHead, keepTail, registerSecret, scrub, unionOf } from '../../src/secrets/scrub';

/** A registered secret unique to the test, of no shape scrub knows. */
function secret(prefix = ''): string {
  const value = `${prefix}${randomBytes(24).toString('hex')}`;
  registerSecret(value);
  return value;
}

/** The longest piece of `value` (at least `min` characters) that `text` contains. */
function pieceOf(value: string, text: string, min = 6): string | undefined {
  for (let length = value.length; length >= min; length--) {
    for (let at = 0; at + length <= value.length; at++) {
      const piece = value.slice(at, at + length);
      if (text.includes(piece)) return piece;
    }
  }
  return undefined;
}

describe('excerptHead', () => {
  it('scrubs before it cuts, so a secret across the cut leaves no piece', () => {
    const token = secret();
    const text = `${'x'.repeat(190)} ${token} and more`;
    expect(pieceOf(token, scrub(text.slice(0, 200)))).toBeDefined();
    expect(excerptHead(text, 200)).toBe(`${'x'.repeat(190)} [redacted`);
    expect(excerptHead(text, 205)).toBe(`${'x'.repeat(190)} [redacted] and`);
  });
});

describe('keepTail', () => {
  it('keeps text within the limit as it is', () => {
    const token = secret();
    expect(keepTail(`fine ${token}`, 500)).toBe(`fine ${token}`);
  });

  it('drops the piece of a registered secret the cut went through', () => {
    const token = secret();
    const text = `X-Session-Token: ${token}\ngiving up`;
    const tail = keepTail(text, token.length); // cuts ten characters into the token
    expect(tail).toBe('\ngiving up');
  });

  it('drops the whole piece of a secret with spaces in it, not just the word cut in two', () => {
    const phrase = secret('correct horse battery staple ');
    const tail = keepTail(`passphrase: ${phrase} rejected`, phrase.length - 10);
    expect(tail).toBe(' rejected');
  });

  it('drops a token whose recognisable prefix the cut left behind', () => {
    const text = 'Authorization: Bearer mF_9.B5f-4.1JqM/abc+def== was refused';
    const cut = text.indexOf(' mF_9');
    expect(scrub(text.slice(cut))).toContain('mF_9');
    expect(keepTail(text, text.length - cut)).toBe(' was refused');
  });

  it('drops a partial token of a known shape, up to the whitespace after it', () => {
    const text = 'slack said: xoxb-1234-5678-AbCdEfGhIjKl invalid_auth';
    const tail = keepTail(text, text.length - text.indexOf('5678'));
    expect(tail).toBe(' invalid_auth');
  });

  it('drops a private key body whose BEGIN marker was cut off, through its END marker', () => {
    const body = 'MIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj\n';
    const text = `key: -----BEGIN PRIVATE KEY-----\n${body}-----END PRIVATE KEY-----\nload failed`;
    const tail = keepTail(text, text.length - text.indexOf('BKcw'));
    expect(tail).toBe('\nload failed');
  });

  it('as a window over stderr in any chunk sizes, never keeps a piece of a secret', () => {
    const token = secret();
    const stream = Array.from({ length: 12 }, (_, i) => `attempt ${i}: token=${token} `).join('');
    for (let size = 1; size <= 97; size += 8) {
      let window = '';
      for (let at = 0; at < stream.length; at += size) {
        window = keepTail(window + stream.slice(at, at + size), 150);
      }
      expect({ size, piece: pieceOf(token, scrub(window)) }).toEqual({ size, piece: undefined });
    }
  });
});

describe('scrub', () => {
  // One text per token shape, each with its secret part: the shapes are also what lets a text
  // through untouched (a text none of them can match skips them all), so each must still bite.
  const shaped: [text: string, secretPart: string][] = [
    ['posting failed: xoxb-1234-5678-abcdefABCDEF', 'abcdefABCDEF'],
    ['socket mode: xapp-1-A0123-456-abcdef0123', 'abcdef0123'],
    ['token hpt_tok_0123456789_ABCDEFGHIJKLMNOPQRSTuvwxyz rejected', 'ABCDEFGHIJKLMNOPQRSTuvwxyz'],
    ['Authorization: Bearer abcdefgh12345678', 'abcdefgh12345678'],
    ['authorization: SSWS 00abcdefghijklmnop', '00abcdefghijklmnop'],
    ['GET https://idp/cb?access_token=sekret123&x=1 failed', 'sekret123'],
    ['body: {"client_secret": "hunter2hunter2"}', 'hunter2hunter2'],
    ['the key AKIAABCDEFGHIJKLMNOP is not valid', 'ABCDEFGHIJKLMNOP'],
    [
      'jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U',
      'dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U',
    ],
    [
      '-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA\n-----END RSA PRIVATE KEY-----',
      'MIIEpAIBAAKCAQEA',
    ],
    ['connect postgres://hallpass:s3cretpw@db:5432/hallpass refused', 's3cretpw'],
  ];

  it.each(shaped)('replaces the secret part of %j', (text, secretPart) => {
    const out = scrub(text);
    expect(out).not.toContain(secretPart);
    expect(out).toContain('[redacted]');
  });

  it('gives back a text that holds no secret as it is', () => {
    for (const text of ['expired', 'hallpass', 'INC-42: slow queries on the primary', 'a@b.c'])
      expect(scrub(text)).toBe(text);
  });

  it('finds a shape whatever the case of the text around it', () => {
    expect(scrub('AUTHORIZATION: bearer abcdefgh12345678')).not.toContain('abcdefgh12345678');
  });
});

describe('unionOf', () => {
  it('matches wherever one of its shapes would, regardless of case', () => {
    const union = unionOf([/xoxb-\w+/g, /(Bearer)\s+\w{8,}/gi]);
    expect(union.test('sent xoxb-abc')).toBe(true);
    expect(union.test('BEARER abcdefgh1')).toBe(true);
    expect(union.test('nothing here')).toBe(false);
  });

  it('refuses a shape that would mean something else inside the union', () => {
    expect(() => unionOf([/a.b/gs])).toThrow(/cannot join/);
    expect(() => unionOf([/^key/gm])).toThrow(/cannot join/);
    expect(() => unionOf([/(['"])secret\1/g])).toThrow(/cannot join/);
    expect(() => unionOf([/(?<q>['"])secret\k<q>/g])).toThrow(/cannot join/);
  });
});
