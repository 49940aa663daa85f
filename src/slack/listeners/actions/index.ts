import type { App } from '@slack/bolt';
import { ACTIONS } from '../../ids';
import type { ListenerDeps } from '../deps';
import { approveAction } from './approve';
import { cancelRequestAction } from './cancel-request';
import { denyAction } from './deny';
import { extendGrantAction } from './extend-grant';
import { FOREIGN_ACTION, foreignAction } from './foreign';
import { openRequestModalAction } from './open-request-modal';
import { resourceSelectAction } from './resource-select';
import { reviewBreakGlassAction } from './review-break-glass';
import { revokeGrantAction } from './revoke-grant';

export function registerActions(app: App, deps: ListenerDeps): void {
  app.action(ACTIONS.approve, approveAction(deps));
  app.action(ACTIONS.deny, denyAction(deps));
  app.action(ACTIONS.cancelRequest, cancelRequestAction(deps));
  app.action(ACTIONS.revokeGrant, revokeGrantAction(deps));
  app.action(ACTIONS.extendGrant, extendGrantAction(deps));
  app.action(ACTIONS.openRequestModal, openRequestModalAction(deps));
  app.action(ACTIONS.resourceSelect, resourceSelectAction(deps));
  app.action(ACTIONS.reviewBreakGlass, reviewBreakGlassAction(deps, 'reviewed'));
  app.action(ACTIONS.flagBreakGlass, reviewBreakGlassAction(deps, 'flagged'));
  app.action(FOREIGN_ACTION, foreignAction(deps));
}
