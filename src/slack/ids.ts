/**
 * Every action_id, callback_id and block_id Hallpass puts into Slack, in one place, so the code
 * that renders a button and the listener that handles its click cannot drift apart.
 * Values carried by buttons are ids only (request or grant id): never who is acting.
 */
export const ACTIONS = {
  approve: 'hallpass.approve',
  deny: 'hallpass.deny',
  cancelRequest: 'hallpass.cancel_request',
  revokeGrant: 'hallpass.revoke_grant',
  extendGrant: 'hallpass.extend_grant',
  openRequestModal: 'hallpass.open_request_modal',
  resourceSelect: 'hallpass.resource',
  durationSelect: 'hallpass.duration',
  justificationInput: 'hallpass.justification',
  ticketInput: 'hallpass.ticket',
  startInput: 'hallpass.start',
  reasonInput: 'hallpass.reason',
  reviewBreakGlass: 'hallpass.breakglass_review',
  flagBreakGlass: 'hallpass.breakglass_flag',
  breakGlassChoice: 'hallpass.break_glass',
} as const;

export const VIEWS = {
  request: 'hallpass.request_modal',
  deny: 'hallpass.deny_modal',
  extend: 'hallpass.extend_modal',
  review: 'hallpass.breakglass_review_modal',
} as const;

export const BLOCKS = {
  resource: 'resource',
  duration: 'duration',
  justification: 'justification',
  ticket: 'ticket',
  start: 'start',
  reason: 'reason',
  breakGlass: 'break_glass',
} as const;
