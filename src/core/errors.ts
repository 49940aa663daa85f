export const ERROR_CODES = [
  'unknown_resource',
  'not_allowed',
  'bad_duration',
  'bad_justification',
  'bad_ticket',
  'not_found',
  'not_approver',
  'self_approval',
  'not_yours',
  'bad_state',
  'rate_limited',
  'deactivated',
  'unavailable',
  'bad_token',
  'invalid_token',
  'bad_start',
  'outside_window',
  'self_review',
  'bad_note',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

/** The field of a request form an error belongs to, so a UI can put it next to the right input. */
export type ErrorField = 'resource' | 'duration' | 'justification' | 'ticket' | 'start';

/** A rule said no. The message is written for the person who asked, and says how to fix it. */
export class DomainError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly field?: ErrorField,
  ) {
    super(message);
    this.name = 'DomainError';
  }
}
