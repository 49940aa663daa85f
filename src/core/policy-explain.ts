import { tz } from '@date-fns/tz';
import { format } from 'date-fns/format';
import type { CoreContext } from './context';
import { DomainError } from './errors';
import { explain, type Explanation } from './explain';
import { explainPipeline } from './pipeline-explain';
import { isPipelineId } from './pipelines';
import { ruleSetSchema, type RuleSet } from './rules';

/**
 * What the resource's rules say to `person` now, with its approvers resolved; for a pipeline's
 * identity, what its `pipelines` rules say.
 */
export async function explainNow(
  ctx: CoreContext,
  person: string,
  resourceId: string,
): Promise<Explanation> {
  const { policy } = ctx;
  const resource = policy.resource(resourceId.trim());
  if (isPipelineId(person)) return explainPipeline(ctx, person, resource);
  const rules = policy.rulesOf(resource);
  const glass = rules.resource.breakGlass;
  const [facts, approver, resolved, breakGlass] = await Promise.all([
    policy.factsOf(person, rules),
    policy.membership(person, rules.resource.approvers),
    policy.resolvePeople(rules.resource.approvers),
    glass && policy.membership(person, glass),
  ]);
  return explain(rules, facts, ctx.clock.now(), { approver, resolved, breakGlass });
}

/**
 * What the rules said to `person` at `at`: the rules the last request on the resource filed
 * by then recorded, applied at that moment. Says whether the next recording was the same.
 */
export async function explainThen(
  ctx: CoreContext,
  person: string,
  resourceId: string,
  at: number,
): Promise<Explanation> {
  const id = resourceId.trim();
  if (isPipelineId(person))
    throw new DomainError(
      'not_found',
      `Requests record the rules for people, not the \`pipelines\` rules, so Hallpass holds no record of what they said to ${person} then. Ask without a past moment for what they say now.`,
    );
  const { before, after } = await ctx.store.requests.recordedPolicy(id, at);
  if (!before) {
    const day = format(at, 'yyyy-MM-dd HH:mm', { in: tz(ctx.config.timezone) });
    throw new DomainError(
      'not_found',
      `No request for ${id} was filed on or before ${day} ${ctx.config.timezone} with its rules recorded, so Hallpass holds no record of what they were then.`,
    );
  }
  const rules = parseRecorded(before.policy);
  const facts = await ctx.policy.factsThen(person, rules, at);
  return explain(rules, facts, at, {
    approver: ctx.policy.membershipThen(person, rules.resource.approvers, at),
    breakGlass:
      rules.resource.breakGlass && ctx.policy.membershipThen(person, rules.resource.breakGlass, at),
    recorded: {
      requestId: before.requestId,
      recordedAt: before.at,
      ...(after
        ? {
            next: {
              requestId: after.requestId,
              recordedAt: after.at,
              same: sameRules(rules, parseRecorded(after.policy)),
            },
          }
        : {}),
    },
  });
}

function parseRecorded(json: string): RuleSet {
  return ruleSetSchema.parse(JSON.parse(json));
}

function sameRules(a: RuleSet, b: RuleSet): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
