import type { App } from '@slack/bolt';
import { ACTIONS } from '../../ids';
import { FOREIGN_ACTION } from '../actions/foreign';
import type { ListenerDeps } from '../deps';
import { foreignOptions } from './foreign';
import { resourceOptions } from './resource-options';

export function registerOptions(app: App, deps: ListenerDeps): void {
  app.options(
    { type: 'block_suggestion', action_id: ACTIONS.resourceSelect },
    resourceOptions(deps),
  );
  app.options({ type: 'block_suggestion', action_id: FOREIGN_ACTION }, foreignOptions(deps));
}
