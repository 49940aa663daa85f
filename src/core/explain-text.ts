import { tz } from '@date-fns/tz';
import { format } from 'date-fns/format';
import { formatDuration } from '../config/duration';
import type { Explanation, PipelineExplanation } from './explain';
import type { ResolvedPeople } from './policy';
import type { Answer } from './rules';

/**
 * An explanation as lines of Slack mrkdwn (`<@U…>` mentions, `*bold*`), the way `/jit explain`
 * shows it; the CLI turns the same lines into plain text (src/cli/plain.ts).
 */
export function explanationLines(e: Explanation): string[] {
  const when = (ms: number) => format(ms, 'EEE d MMM yyyy HH:mm', { in: tz(e.timezone) });
  const who = e.pipeline ? `pipeline \`${e.person}\`` : `<@${e.person}>`;
  const lines: string[] = [
    `*${escape(e.resource.name)}* (\`${e.resource.id}\`) for ${who}, ${e.recorded ? 'on' : 'as of'} ${when(e.at)} ${e.timezone}`,
  ];
  if (e.recorded) {
    const { requestId, recordedAt, next } = e.recorded;
    lines.push(
      `Rules as recorded by ${requestId} on ${when(recordedAt)}, the last request filed on or before then.` +
        (next
          ? ` The next request (${next.requestId}, ${when(next.recordedAt)}) recorded ${next.same ? 'the same rules' : 'different rules'}.`
          : ' No request since recorded other rules.'),
    );
  }
  lines.push(
    e.refusal
      ? `:no_entry: *Cannot request it* (rule: \`${e.refusal.rule}\`): ${e.refusal.message}`
      : e.pipeline && !e.pipeline.rules.some((r) => r.matches.is === true)
        ? ':grey_question: *May request it if the claims of its ID token match a rule below.*'
        : ':white_check_mark: *May request it.*',
  );
  if (e.pipeline) lines.push(...pipelineLines(e.resource.id, e.pipeline));
  else lines.push(`*Who may request:* ${e.requesters ?? 'anyone in the workspace'}`);
  if (e.requestWindow) {
    lines.push(
      `*When:* access must start within ${e.requestWindow.text}; ${e.requestWindow.open ? 'open' : 'closed'} ${e.recorded ? 'then' : 'now'}`,
    );
  }
  const d = e.duration;
  lines.push(
    `*Duration:* ${formatDuration(d.min)} to ${formatDuration(d.max)} (default ${formatDuration(d.default)}), at most ${formatDuration(d.maxTotal)} in all with extensions`,
  );
  lines.push(
    `*Ticket:* ${e.ticket.required ? 'required' : 'optional'}${e.ticket.pattern ? `, matching \`${escape(e.ticket.pattern)}\`` : ''}`,
  );
  lines.push(...decidesLines(e));
  if (!e.pipeline) lines.push(...autoApprovalLines(e));
  if (e.breakGlass) {
    lines.push(
      `*Break-glass:* you may take up to ${formatDuration(e.breakGlass.maxDuration)} at once, without approval, in an emergency (\`/jit breakglass ${e.resource.id} <duration> <why…>\`); every use is audited and must be reviewed by another approver within ${formatDuration(e.breakGlass.reviewWithin)}`,
    );
  }
  return lines;
}

function decidesLines(e: Explanation): string[] {
  const { decides } = e;
  if (decides.quorum === 0)
    return ['*Who decides:* nobody: every request is approved at once (`approvalsRequired: 0`)'];
  const quorum =
    decides.quorum === 1 ? '1 approval' : `${decides.quorum} approvals of different people`;
  const lines = [`*Who decides:* ${quorum} from ${decides.named}, in <#${decides.channel}>`];
  if (decides.resolved) lines.push(`  Now that is: ${resolvedText(decides.resolved)}`);
  const you = decides.person;
  if (e.pipeline) return [...lines, '  Pipelines never decide requests.'];
  lines.push(
    you.is === true
      ? `  You are an approver (${you.via}); ${decides.selfApproval ? 'you may approve your own requests' : 'you may not approve your own requests (`allowSelfApproval` is off)'}`
      : you.is === false
        ? '  You are not an approver.'
        : `  Whether you are an approver cannot be verified (${you.why}).`,
  );
  return lines;
}

/**
 * The `pipelines` rules and whether each names the identity (the people's `requesters` and
 * `autoApprove` never apply to a pipeline), then an API token identity's live tokens.
 */
function pipelineLines(resourceId: string, p: PipelineExplanation): string[] {
  const verdict = (a: Answer, yes: string, no: string) =>
    a.is === true ? yes : a.is === false ? no : a.why;
  const lines =
    p.rules.length === 0
      ? ['*Pipelines that may request it:* none (the resource has no `pipelines` rules)']
      : [
          '*Pipelines that may request it:* those a `pipelines` rule names (people’s rules never let a pipeline in)',
          ...p.rules.map((r) => {
            const auto = r.autoApprove
              ? `; ${r.autoApprove.text}: ${verdict(r.autoApprove.applies, 'applies', 'does not apply')}`
              : '; never approved at once';
            return `  ${r.index + 1}. ${r.names}: ${verdict(r.matches, 'names it', 'does not name it')}${auto}`;
          }),
        ];
  if (p.tokens) {
    const { bound, unbound } = p.tokens;
    lines.push(
      bound.length + unbound.length === 0
        ? '*Its API tokens:* none live'
        : `*Its API tokens:* bound to ${resourceId}: ${bound.join(', ') || 'none'}${unbound.length > 0 ? `; not bound to it: ${unbound.join(', ')}` : ''}`,
    );
  }
  return lines;
}

function resolvedText(r: ResolvedPeople): string {
  const who = (ids: readonly string[]) =>
    ids.length > 0 ? ids.map((id) => `<@${id}>`).join(', ') : 'nobody';
  const parts = [
    ...(r.users.length > 0 ? [who(r.users)] : []),
    ...r.usergroups.map(
      (g) => `<!subteam^${g.id}>: ${'members' in g ? who(g.members) : `unknown (${g.unknown})`}`,
    ),
    ...r.ldapGroups.map(
      (g) => `LDAP group ${g.id}: ${'members' in g ? who(g.members) : `unknown (${g.unknown})`}`,
    ),
    ...r.oktaGroups.map(
      (g) => `Okta group ${g.id}: ${'members' in g ? who(g.members) : `unknown (${g.unknown})`}`,
    ),
    ...r.oncall.map(
      (o) => `on call for ${o.name}: ${'members' in o ? who(o.members) : `unknown (${o.unknown})`}`,
    ),
  ];
  return parts.join('; ');
}

function autoApprovalLines(e: Explanation): string[] {
  if (e.autoApproval.length === 0)
    return ['*Auto-approval:* none; every request waits for a decision'];
  return [
    '*Auto-approval:* a request is approved at once when every condition of one rule holds',
    ...e.autoApproval.map((c) => {
      const verdict =
        c.holds === true
          ? c.rule.maxDuration !== undefined
            ? `applies to you ${e.recorded ? 'then' : 'now'} (for up to ${formatDuration(c.rule.maxDuration)})`
            : `applies to you ${e.recorded ? 'then' : 'now'}`
          : `does not apply: ${c.failing.join('; ')}`;
      return `  ${c.index + 1}. ${c.conditions}: ${verdict}`;
    }),
  ];
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;' };

function escape(text: string): string {
  return text.replace(/[&<>]/g, (ch) => ESCAPES[ch]!);
}
