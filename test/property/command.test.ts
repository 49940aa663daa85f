import fc from 'fast-check';
import { parseDuration } from '../../src/config/duration';
import type { Resource } from '../../src/config/schema';
import { DomainError } from '../../src/core';
import {
  extractTicket,
  parseExtendArgs,
  parseIdArgs,
  parseRequestArgs,
  splitSubcommand,
  takeWords,
} from '../../src/slack/command-parser';
import { BASE_CONFIG, coreHarness, type CoreHarness } from '../support/core';

const RUNS = { numRuns: 500 };
const anyText = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary' }),
  fc.string({ unit: 'grapheme' }),
);
const space = fc.constantFrom(' ', '  ', '\t', '\n', '\u00a0', '\u2003');
const word = fc.stringMatching(/^[^\s]{1,12}$/);

describe('the /jit parser, for any text', () => {
  it('never throws', () => {
    fc.assert(
      fc.property(anyText, fc.nat(5), (text, n) => {
        splitSubcommand(text);
        takeWords(text, n);
        extractTicket(text);
        parseRequestArgs(text);
        parseExtendArgs(text);
        parseIdArgs(text, 'request');
      }),
      RUNS,
    );
  });

  it('finds words without spaces, and a justification that is trimmed and not empty', () => {
    fc.assert(
      fc.property(anyText, (text) => {
        const parsed = parseRequestArgs(text);
        if (!parsed.ok) {
          expect(parsed.problem.length).toBeGreaterThan(0);
          return;
        }
        const { resourceId, duration, justification, ticket } = parsed.value;
        for (const part of [resourceId, duration, ticket ?? 'x']) expect(part).toMatch(/^\S+$/);
        expect(justification).toBe(justification.trim());
        expect(justification).not.toBe('');
      }),
      RUNS,
    );
  });

  it('reads back what was written, whatever the spacing', () => {
    fc.assert(
      fc.property(
        word,
        word,
        fc.array(
          word.filter((w) => !/^ticket:/i.test(w)),
          { minLength: 1, maxLength: 6 },
        ),
        fc.option(word, { nil: undefined }),
        fc.nat(7),
        space,
        (resourceId, duration, why, ticket, at, gap) => {
          const words = [...why];
          if (ticket) words.splice(at % (words.length + 1), 0, `ticket:${ticket}`);
          const text = [resourceId, duration, ...words].join(gap);
          const parsed = parseRequestArgs(`${gap}${text}${gap}`);
          expect(parsed).toEqual({
            ok: true,
            value: { resourceId, duration, justification: expect.any(String), ticket },
          });
          if (parsed.ok) expect(parsed.value.justification.split(/\s+/)).toEqual(why);
        },
      ),
      RUNS,
    );
  });
});

/**
 * Whether the rules allow this request, decided here without the core: the resource exists,
 * the duration reads and is within bounds, the justification is long enough (but not too long),
 * the ticket is there and matches when required, and the requester may ask.
 */
function allowed(h: CoreHarness, requester: string, args: ReturnType<typeof parseRequestArgs>) {
  if (!args.ok) return false;
  const resource: Resource | undefined = h.config.resources.find(
    (r) => r.id === args.value.resourceId,
  );
  if (!resource) return false;
  const ms = parseDuration(args.value.duration);
  if (ms === null || ms < resource.minDuration || ms > resource.maxDuration) return false;
  const why = args.value.justification.trim().length;
  if (why < h.config.requests.minJustification || why > 2000) return false;
  const ticket = args.value.ticket?.trim() || undefined;
  if (resource.requireTicket && !ticket) return false;
  if (ticket && resource.ticketPattern && !new RegExp(resource.ticketPattern).test(ticket))
    return false;
  if (ticket && ticket.length > 200) return false;
  const requesters = resource.requesters;
  return !requesters || requesters.users.includes(requester) || requester === 'UENG';
}

/**
 * The base policy with the per-person request limits out of reach: the property files hundreds
 * of requests as three people, and is about what the text and the rules allow, not about limits.
 */
const UNLIMITED = BASE_CONFIG.replace(
  '  approverChannel: CAPPROVALS\n',
  '  approverChannel: CAPPROVALS\n  maxPendingPerUser: 1000\n  filingLimit: { requests: 10000, per: 1m }\n',
);

describe('the core, driven through the /jit request parser', () => {
  let h: CoreHarness;
  beforeAll(async () => {
    expect(UNLIMITED).not.toBe(BASE_CONFIG);
    h = await coreHarness(UNLIMITED);
  });
  afterAll(() => h.close());

  const requests = () => h.sql.value<number>('SELECT count(*) FROM requests');
  const created = () =>
    h.sql.value<number>("SELECT count(*) FROM audit_events WHERE action = 'request.created'");

  /** Texts near the grammar: real and unknown resources, good and bad durations, tickets. */
  const nearText = fc
    .tuple(
      fc.constantFrom('prod-db', 'quorum', 'auto', 'ticketed', 'self-ok', 'prod_db', 'PROD-DB'),
      fc.constantFrom('30m', '1h', '1h30m', '90s', '4h', '5h', '0m', '1.5h', 'forever'),
      fc.oneof(
        { weight: 3, arbitrary: fc.constant('fixing INC-42 on the primary') },
        { weight: 2, arbitrary: fc.string({ maxLength: 30 }) },
        fc.constantFrom('short', '          ', 'x'.repeat(2001)),
      ),
      fc.constantFrom(
        '',
        ' ticket:OPS-12',
        ' ticket:ops-12',
        ' ticket:',
        ` ticket:${'A'.repeat(201)}-1`,
      ),
    )
    .map(([resource, duration, why, ticket]) => `${resource} ${duration} ${why}${ticket}`);

  it('creates a request exactly when the text parses to one the rules allow, and throws only DomainErrors', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof({ weight: 4, arbitrary: nearText }, anyText),
        fc.constantFrom('UREQ', 'UENG', 'UOTHER'),
        async (text, requester) => {
          const parsed = parseRequestArgs(text);
          const before = { requests: await requests(), created: await created() };
          let made = false;
          if (parsed.ok) {
            try {
              const row = await h.core.createRequest({ requester, ...parsed.value });
              expect(row.requester).toBe(requester);
              made = true;
            } catch (err) {
              expect(err).toBeInstanceOf(DomainError);
            }
          }
          expect(made).toBe(allowed(h, requester, parsed));
          expect(await requests()).toBe(before.requests + (made ? 1 : 0));
          expect(await created()).toBe(before.created + (made ? 1 : 0));
        },
      ),
      RUNS,
    );
    // The texts near the grammar make the property bite: some of them are filed.
    expect(await requests()).toBeGreaterThan(10);
  });
});
