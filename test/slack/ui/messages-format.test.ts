import fc from 'fast-check';
import {
  escapeAndFit,
  escapeMrkdwn,
  formatTime,
  mention,
  splitText,
  truncate,
} from '../../../src/slack/ui/format';
import { blockKitProblems, LIMITS, viewProblems } from '../../../src/slack/ui/limits';

const T0 = Date.UTC(2026, 10, 2, 9, 0, 0);
const lone = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

describe('text helpers', () => {
  it('truncate keeps short text and cuts long text to the limit with an ellipsis', () => {
    expect(truncate('short', 10)).toBe('short');
    expect(truncate('abcdefghij', 10)).toBe('abcdefghij');
    expect(truncate('abcdefghijk', 10)).toBe('abcdefghi…');
  });

  it('truncate never leaves half an emoji', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'binary', maxLength: 300 }),
        fc.integer({ min: 1, max: 200 }),
        (s, max) => {
          const out = truncate(s, max);
          expect(out.length).toBeLessThanOrEqual(Math.max(max, 1));
          if (!lone.test(s)) expect(lone.test(out)).toBe(false);
        },
      ),
    );
  });

  it('escapeAndFit fits the escaped text and never cuts inside an entity', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: fc.constantFrom('&', '<', '>', 'a', '😀', ' '), maxLength: 400 }),
        fc.integer({ min: 2, max: 300 }),
        (s, max) => {
          const out = escapeAndFit(s, max);
          expect(out.length).toBeLessThanOrEqual(max);
          expect(out).not.toMatch(/[<>]/);
          expect(out.replace(/&(amp|lt|gt);/g, '')).not.toContain('&');
          if (escapeMrkdwn(s).length <= max) expect(out).toBe(escapeMrkdwn(s));
          else expect(out.endsWith('…')).toBe(true);
          expect(lone.test(out)).toBe(false);
        },
      ),
    );
  });

  it('splitText keeps every character and prefers line breaks', () => {
    expect(splitText('aaaa\nbbbb\ncccc', 9)).toEqual(['aaaa\nbbbb', 'cccc']);
    expect(splitText('', 5)).toEqual(['']);
    fc.assert(
      fc.property(fc.string({ maxLength: 2000 }), fc.integer({ min: 2, max: 300 }), (s, max) => {
        const pieces = splitText(s, max);
        pieces.forEach((p) => expect(p.length).toBeLessThanOrEqual(max));
        expect(pieces.join('').replace(/\n/g, '')).toBe(s.replace(/\n/g, ''));
      }),
    );
  });

  it('mentions Slack users, names Hallpass, and escapes anything else', () => {
    expect(mention('U012ABCDEF')).toBe('<@U012ABCDEF>');
    expect(mention('W012ABCDEF')).toBe('<@W012ABCDEF>');
    expect(mention('hallpass')).toBe('Hallpass');
    expect(mention(null)).toBe('someone');
    expect(mention('<!channel>')).toBe('&lt;!channel&gt;');
  });

  it('formats times in the zone, with the date only on another day', () => {
    expect(formatTime(T0 + 5.5 * 3_600_000, 'UTC', T0)).toBe('14:30 UTC');
    expect(formatTime(T0 + 24 * 3_600_000, 'UTC', T0)).toBe('Tue 3 Nov 09:00 UTC');
    expect(formatTime(T0, 'America/New_York', T0)).toBe('04:00 America/New_York');
    expect(formatTime(T0 + 15 * 3_600_000, 'Europe/Berlin', T0)).toBe(
      'Tue 3 Nov 01:00 Europe/Berlin',
    );
  });
});

describe('Block Kit limits checker', () => {
  const text = (n: number, type = 'mrkdwn') => ({ type, text: 'x'.repeat(n) });
  const button = (over: Record<string, unknown> = {}) => ({
    type: 'button',
    text: text(10, 'plain_text'),
    action_id: 'a',
    value: 'v',
    ...over,
  });

  it('accepts blocks at exactly the limits', () => {
    const blocks = [
      { type: 'header', text: text(LIMITS.headerText, 'plain_text') },
      { type: 'section', text: text(LIMITS.sectionText) },
      { type: 'section', fields: Array.from({ length: 10 }, () => text(LIMITS.fieldText)) },
      { type: 'context', elements: Array.from({ length: 10 }, () => text(100)) },
      {
        type: 'actions',
        elements: [
          button({
            text: text(LIMITS.buttonText, 'plain_text'),
            value: 'v'.repeat(LIMITS.buttonValue),
          }),
        ],
      },
      { type: 'divider' },
      ...Array.from({ length: 44 }, () => ({ type: 'divider' })),
    ];
    expect(blocks).toHaveLength(LIMITS.blocksPerMessage);
    expect(blockKitProblems(blocks)).toEqual([]);
  });

  it.each<[string, unknown[], RegExp]>([
    ['too many blocks', Array.from({ length: 51 }, () => ({ type: 'divider' })), /51 blocks/],
    ['a long header', [{ type: 'header', text: text(151, 'plain_text') }], /header|text of 151/],
    ['a mrkdwn header', [{ type: 'header', text: text(5) }], /must be plain_text/],
    ['a long section', [{ type: 'section', text: text(3001) }], /3001 chars/],
    ['an empty section', [{ type: 'section', text: text(0) }], /empty text/],
    ['a section with nothing', [{ type: 'section' }], /needs text or fields/],
    [
      'eleven fields',
      [{ type: 'section', fields: Array.from({ length: 11 }, () => text(1)) }],
      /11 fields/,
    ],
    ['a long field', [{ type: 'section', fields: [text(2001)] }], /2001 chars/],
    [
      'eleven context elements',
      [{ type: 'context', elements: Array.from({ length: 11 }, () => text(1)) }],
      /11 elements/,
    ],
    [
      'a long button text',
      [{ type: 'actions', elements: [button({ text: text(76, 'plain_text') })] }],
      /76 chars/,
    ],
    [
      'a long button value',
      [{ type: 'actions', elements: [button({ value: 'v'.repeat(2001) })] }],
      /value: 2001 chars/,
    ],
    [
      'duplicate action ids',
      [{ type: 'actions', elements: [button(), button()] }],
      /duplicate action_id a/,
    ],
    [
      'duplicate block ids',
      [
        { type: 'divider', block_id: 'b' },
        { type: 'divider', block_id: 'b' },
      ],
      /duplicate block_id b/,
    ],
    ['empty actions', [{ type: 'actions', elements: [] }], /0 elements/],
    [
      'a long confirm text',
      [
        {
          type: 'actions',
          elements: [
            button({
              confirm: {
                title: text(5, 'plain_text'),
                text: text(301),
                confirm: text(5, 'plain_text'),
                deny: text(5, 'plain_text'),
              },
            }),
          ],
        },
      ],
      /confirm.text: text of 301/,
    ],
    ['an unknown block', [{ type: 'video' }], /unchecked block type video/],
  ])('names %s', (_name, blocks, problem) => {
    expect(blockKitProblems(blocks).join('\n')).toMatch(problem);
  });

  it('checks modal fields and allows 100 blocks on a view', () => {
    const blocks = Array.from({ length: 100 }, () => ({ type: 'divider' }));
    expect(
      viewProblems({
        type: 'modal',
        title: text(24, 'plain_text'),
        close: text(5, 'plain_text'),
        blocks,
      }),
    ).toEqual([]);
    const bad = viewProblems({
      type: 'modal',
      title: text(25, 'plain_text'),
      private_metadata: 'm'.repeat(3001),
      blocks: [
        {
          type: 'input',
          label: text(5, 'plain_text'),
          element: {
            type: 'plain_text_input',
            action_id: 'x',
            placeholder: text(151, 'plain_text'),
          },
        },
      ],
    });
    expect(bad.join('\n')).toMatch(/view.title: 25 chars/);
    expect(bad.join('\n')).toMatch(/private_metadata: 3001/);
    expect(bad.join('\n')).toMatch(/placeholder: text of 151/);
    expect(bad.join('\n')).toMatch(/view.submit: required/);
  });
});
