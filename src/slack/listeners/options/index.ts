import type { App } from '@slack/bolt';
import { ACTIONS } from '../../ids';
import type { ListenerDeps } from '../deps';
import { resourceOptions } from './resource-options';

export function registerOptions(app: App, deps: ListenerDeps): void {
  app.options(
    { type: 'block_suggestion', action_id: ACTIONS.resourceSelect },
    resourceOptions(deps),
  );
}
