import type { Core } from '../../core';
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
