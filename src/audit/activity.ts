/**
 * The one-line summary of what was done with a grant's access, as its provider reported at the
 * revoke (the `activity` of the `grant.revoked` audit event's details), if it reported any.
 */
export function activitySummary(details: string): string | undefined {
  const activity = (JSON.parse(details) as { activity?: { summary?: unknown } }).activity;
  return typeof activity?.summary === 'string' ? activity.summary : undefined;
}
