import type { App } from '@slack/bolt';
import { VIEWS } from '../../ids';
import { FOREIGN_VIEW } from '../actions/foreign';
import type { ListenerDeps } from '../deps';
import { denySubmission } from './deny-submission';
import { extendSubmission } from './extend-submission';
import { foreignView } from './foreign';
import { requestSubmission } from './request-submission';
import { reviewSubmission } from './review-submission';

export function registerViews(app: App, deps: ListenerDeps): void {
  app.view(VIEWS.request, requestSubmission(deps));
  app.view(VIEWS.deny, denySubmission(deps));
  app.view(VIEWS.extend, extendSubmission(deps));
  app.view(VIEWS.review, reviewSubmission(deps));
  app.view(FOREIGN_VIEW, foreignView(deps));
}
