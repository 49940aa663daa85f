import {
  extractTicket,
  parseExtendArgs,
  parseIdArgs,
  parseRequestArgs,
  splitSubcommand,
  takeWords,
} from '../../src/slack/command-parser';

describe('the /jit text parser', () => {
  it.each([
    ['', { name: '', rest: '' }],
    ['   ', { name: '', rest: '' }],
    ['LIST', { name: 'list', rest: '' }],
    [
      '  request  prod-db 1h  two  spaces\nand a line',
      { name: 'request', rest: 'prod-db 1h  two  spaces\nand a line' },
    ],
  ])('splits %j', (text, expected) => {
    expect(splitSubcommand(text)).toEqual(expected);
  });

  it('takes words and keeps the rest as typed', () => {
    expect(takeWords('a  b c  d', 2)).toEqual({ words: ['a', 'b'], rest: 'c  d' });
    expect(takeWords('a', 3)).toEqual({ words: ['a'], rest: '' });
  });

  it.each([
    ['fix things ticket:OPS-1', { text: 'fix things', ticket: 'OPS-1' }],
    ['ticket:OPS-1 fix things', { text: 'fix things', ticket: 'OPS-1' }],
    ['fix Ticket:OPS-1 things', { text: 'fix things', ticket: 'OPS-1' }],
    ['no ticket here', { text: 'no ticket here' }],
    ['myticket:X is not one', { text: 'myticket:X is not one' }],
  ])('extracts the ticket from %j', (text, expected) => {
    expect(extractTicket(text)).toEqual(expected);
  });

  it.each([
    [
      'prod-db 1h from 14:00 fixing the queue',
      { startAt: '14:00', justification: 'fixing the queue' },
    ],
    [
      'prod-db 1h FROM 2026-11-03 09:30 fixing it ticket:A-1',
      { startAt: '2026-11-03 09:30', justification: 'fixing it', ticket: 'A-1' },
    ],
    ['prod-db 1h fixing it from 14:00', { justification: 'fixing it from 14:00' }],
  ])('takes a later start right after the duration: %j', (text, expected) => {
    const parsed = parseRequestArgs(text);
    expect(parsed).toEqual({
      ok: true,
      value: { resourceId: 'prod-db', duration: '1h', ticket: undefined, ...expected },
    });
  });

  it('asks for the time when `from` has none', () => {
    expect(parseRequestArgs('prod-db 1h from')).toEqual({
      ok: false,
      problem: 'Say when the access should start (`from 14:00`).',
    });
  });

  it('parses request arguments and names what is missing', () => {
    expect(parseRequestArgs('prod-db 2h why not ticket:A-1')).toEqual({
      ok: true,
      value: { resourceId: 'prod-db', duration: '2h', justification: 'why not', ticket: 'A-1' },
    });
    expect(parseRequestArgs('')).toEqual({ ok: false, problem: 'Say which resource you need.' });
    expect(parseRequestArgs('prod-db')).toMatchObject({ ok: false });
    expect(parseRequestArgs('prod-db 2h ticket:A-1')).toEqual({
      ok: false,
      problem: 'Say why you need it (the justification).',
    });
  });

  it('parses extend and id arguments', () => {
    expect(parseExtendArgs('gr_1 1h more work')).toEqual({
      ok: true,
      value: { grantId: 'gr_1', duration: '1h', reason: 'more work' },
    });
    expect(parseExtendArgs('gr_1 1h')).toMatchObject({ ok: false });
    expect(parseIdArgs('req_1 because', 'request')).toEqual({
      ok: true,
      value: { id: 'req_1', note: 'because' },
    });
    expect(parseIdArgs('', 'request')).toMatchObject({ ok: false });
  });
});
