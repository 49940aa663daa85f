import { ACTIONS, BLOCKS, VIEWS } from '../../src/slack/ids';
import { slackHarness, type SlackHarness } from '../slack/harness';
import {
  appHomeOpened,
  blockSuggestion,
  buttonClick,
  selectInModal,
  viewOutput,
  viewSubmission,
} from '../support/slack-requests';
import { captureLogs, snapshot, watchRejections, type CapturedLogs } from './support';

const JUST = 'investigating INC-42 slow queries';
const REPLACEMENTS: unknown[] = [7, [], {}, null, '', 'UADMIN'];
const DROP = Symbol('drop');

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** The path of every field and sub-field of a payload. */
function pathsOf(value: unknown, prefix: (string | number)[] = []): (string | number)[][] {
  if (value === null || typeof value !== 'object') return [prefix];
  const entries = Array.isArray(value)
    ? value.map((v, i) => [i, v] as const)
    : Object.entries(value);
  return [
    ...(prefix.length ? [prefix] : []),
    ...entries.flatMap(([k, v]) => pathsOf(v, [...prefix, k])),
  ];
}

/** A copy of `payload` with the field at `path` replaced (or dropped). */
function mutated(payload: Json, path: (string | number)[], replacement: unknown): Json {
  const copy = structuredClone(payload) as Record<string | number, unknown>;
  let parent = copy;
  for (const key of path.slice(0, -1)) parent = parent[key] as Record<string | number, unknown>;
  const last = path[path.length - 1]!;
  if (replacement === DROP) delete parent[last];
  else parent[last] = replacement;
  return copy as Json;
}

/**
 * Every field of every kind of payload Hallpass handles, replaced in turn by a value of another
 * type (or dropped), and sent signed. Each base payload is one that must change nothing when
 * sent as it is (the sender has no right to act), so whatever the mutation, the answer is 2xx
 * or 400, nothing crashes, and no table changes.
 */
type Kind = 'interaction' | 'event';

/** The payloads, built once the request they point at exists. */
function basesFor(h: SlackHarness, requestId: string): Record<string, [Kind, Json]> {
  const modal = (callbackId: string, metadata: unknown, values: Record<string, unknown> = {}) =>
    viewOutput(
      { type: 'modal', callback_id: callbackId, private_metadata: JSON.stringify(metadata) },
      { id: 'VMUT00001', values },
    );
  const selected = (value: string) => ({ type: 'static_select', selected_option: { value } });
  const interaction = (payload: Record<string, unknown>): [Kind, Json] => [
    'interaction',
    payload as Json,
  ];
  return {
    'Approve by a stranger': interaction(
      buttonClick({
        userId: 'UOTHER',
        actionId: ACTIONS.approve,
        value: requestId,
        source: { kind: 'message', responseUrl: h.responseUrl(), channelId: 'CDBA' },
      }),
    ),
    'Cancel by a stranger, on Home': interaction(
      buttonClick({
        userId: 'UOTHER',
        actionId: ACTIONS.cancelRequest,
        value: requestId,
        source: { kind: 'home' },
      }),
    ),
    'a deny form by a stranger': interaction(
      viewSubmission({
        userId: 'UOTHER',
        view: modal(
          VIEWS.deny,
          { requestId, fromHome: true },
          { [BLOCKS.reason]: { [ACTIONS.reasonInput]: { type: 'plain_text_input', value: 'no' } } },
        ),
      }),
    ),
    'a request form for what the sender may not request': interaction(
      viewSubmission({
        userId: 'UOTHER',
        view: modal(
          VIEWS.request,
          { fromHome: true },
          {
            [BLOCKS.resource]: { [ACTIONS.resourceSelect]: selected('ticketed') },
            [`${BLOCKS.duration}:ticketed`]: { [ACTIONS.durationSelect]: selected('30m') },
            [BLOCKS.justification]: {
              [ACTIONS.justificationInput]: { type: 'plain_text_input', value: JUST },
            },
          },
        ),
      }),
    ),
    'a resource search': interaction(
      blockSuggestion({
        userId: 'UREQ',
        view: modal(VIEWS.request, { fromHome: false }),
        blockId: BLOCKS.resource,
        actionId: ACTIONS.resourceSelect,
        value: 'prod',
      }),
    ),
    'a resource choice in the request form': interaction(
      selectInModal({
        userId: 'UREQ',
        view: modal(VIEWS.request, { fromHome: false }),
        blockId: BLOCKS.resource,
        actionId: ACTIONS.resourceSelect,
        value: 'prod-db',
      }),
    ),
    app_home_opened: ['event', appHomeOpened({ userId: 'UREQ' }) as Json],
  };
}

const NAMES = Object.keys(basesFor({ responseUrl: () => '' } as unknown as SlackHarness, ''));

/**
 * Every field of every kind of payload Hallpass handles, replaced in turn by a value of another
 * type (or dropped), and sent signed. Each base payload is one that must change nothing when
 * sent as it is (the sender has no right to act, or it only reads), so whatever the mutation,
 * the answer is 200 or 400, nothing crashes, nothing is logged as an error, and no table changes.
 */
describe.each(NAMES)('every field of %s, replaced by another type', (name) => {
  let h: SlackHarness;
  let logs: CapturedLogs;
  let rejections: ReturnType<typeof watchRejections>;
  beforeEach(async () => {
    rejections = watchRejections();
    h = await slackHarness();
    logs = captureLogs('warn');
  });
  afterEach(async () => {
    await h.close();
    logs.stop();
    rejections.stop();
  });

  it('answers 200 or 400, never crashes, and changes nothing', async () => {
    const row = await h.core.createRequest({
      requester: 'UREQ',
      resourceId: 'prod-db',
      duration: '1h',
      justification: JUST,
    });
    const [kind, base] = basesFor(h, row.id)[name]!;
    const before = await snapshot(h.sql);
    const answers = await Promise.all(
      pathsOf(base).flatMap((path) =>
        [...REPLACEMENTS, DROP].map(async (replacement) => {
          const payload = mutated(base, path, replacement) as Record<string, unknown>;
          const res = await (kind === 'event'
            ? h.send.event(payload)
            : h.send.interaction(payload));
          const value = replacement === DROP ? '(dropped)' : JSON.stringify(replacement);
          return { status: res.status, what: `${path.join('.')}=${value}` };
        }),
      ),
    );
    await h.slack.stop();
    expect(answers.filter((a) => a.status !== 200 && a.status !== 400)).toEqual([]);
    expect(answers.filter((a) => a.status === 400).length).toBeGreaterThan(0);
    expect(rejections.seen).toEqual([]);
    expect(logs.lines.filter((l) => l.level === 'error')).toEqual([]);
    expect(await snapshot(h.sql)).toEqual(before);
  });
});
