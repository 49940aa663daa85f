import { termsOf, type Core, type GrantRow } from '../../core';
import type { ResourceView } from '../ui/messages';

/** A resource as messages name it; one removed from the config since is named by its id. */
export function resourceView(core: Core, resourceId: string): ResourceView {
  return { id: resourceId, name: core.policy.findResource(resourceId)?.name ?? resourceId };
}

/** Where a resource's approvers are asked (the default channel for a resource no longer configured). */
export function approverChannelOf(core: Core, resourceId: string): string {
  const resource = core.policy.findResource(resourceId);
  return resource ? core.policy.approverChannel(resource) : core.config.requests.approverChannel;
}

/**
 * The Slack channel a grant's access is, when its provider is a `slack-channel` instance: the
 * messages then name the channel instead of speaking of a target system. The grant's recorded
 * terms win over today's configuration.
 */
export function accessChannelOf(
  core: Core,
  resourceId: string,
  grant?: Pick<GrantRow, 'snapshot'>,
): string | undefined {
  const terms = grant ? termsOf(grant) : undefined;
  const resource = core.policy.findResource(resourceId);
  const provider = terms?.provider ?? resource?.provider;
  if (!provider || core.config.providers[provider]?.type !== 'slack-channel') return undefined;
  const target = (terms ? terms.target : resource?.target) as { channel?: unknown } | undefined;
  return typeof target?.channel === 'string' ? target.channel : undefined;
}
