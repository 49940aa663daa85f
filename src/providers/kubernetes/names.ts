import { createHash } from 'node:crypto';

/** Object names are DNS-1123 subdomains; 63 keeps them within a label, which every tool shows whole. */
const MAX_NAME = 63;
const PREFIX = 'hallpass-';
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

export const GRANT_ID_LABEL = 'hallpass.io/grant-id';
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const REQUEST_ID_ANNOTATION = 'hallpass.io/request-id';
export const SLACK_USER_ANNOTATION = 'hallpass.io/slack-user';
export const RESOURCE_ANNOTATION = 'hallpass.io/resource-id';
export const EXPIRES_AT_ANNOTATION = 'hallpass.io/expires-at';

/**
 * The binding of one grant, derived from the grant id alone so that a retry finds what an earlier
 * attempt created. Grant ids (`gr_7k2m9x4q1p`) become `hallpass-gr-7k2m9x4q1p`; an id that would
 * not map one-to-one (capitals, dashes, other characters) or would not fit gets a hash of itself,
 * so two grants never share a binding.
 */
export function bindingName(grantId: string): string {
  const plain = `${PREFIX}${grantId.replace(/_/g, '-')}`;
  if (/^[a-z0-9_]*[a-z0-9]$/.test(grantId) && plain.length <= MAX_NAME) return plain;
  const digest = createHash('sha256').update(grantId).digest('hex').slice(0, 16);
  const readable = plain
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, '-')
    .slice(0, MAX_NAME - digest.length - 1)
    .replace(/-+$/, '');
  return `${readable}-${digest}`;
}

/** The grant id as a label value, so `kubectl get rolebindings -l hallpass.io/grant-id=gr_…` finds it. */
export function grantIdLabel(grantId: string): string {
  if (grantId.length <= 63 && LABEL_VALUE.test(grantId)) return grantId;
  return bindingName(grantId).slice(PREFIX.length).replace(/^-+/, '');
}
