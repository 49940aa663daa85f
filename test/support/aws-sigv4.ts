import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

/**
 * AWS Signature Version 4 as a service checks it, written from the documented algorithm with
 * node:crypto only (no SDK code): canonical request, string to sign, derived signing key.
 */

export interface AwsKey {
  accessKeyId: string;
  secretAccessKey: string;
  /** Temporary credentials (a web identity or SSO session) also carry a token to present. */
  sessionToken?: string;
}

/** What the service expects of the credential scope. */
export interface SigningExpectation {
  region: string;
  service: string;
  now: Date;
}

export interface SignedRequest {
  method: string;
  /** The path as sent, without the query. */
  path: string;
  /** The raw query string, without `?`. */
  query: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** Why a request was refused, as the JSON services answer it (HTTP 400, `__type` and `message`). */
export interface SigningRefusal {
  type: string;
  message: string;
}

export type SigningResult = { ok: true; accessKeyId: string } | ({ ok: false } & SigningRefusal);

const ALGORITHM = 'AWS4-HMAC-SHA256';
const MAX_SKEW_MS = 5 * 60_000;
const AUTHORIZATION =
  /^AWS4-HMAC-SHA256 Credential=([^/\s]+)\/(\d{8})\/([^/\s]+)\/([^/\s]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/;
const MISMATCH =
  'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.';

const sha256Hex = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');
const hmac = (key: string | Buffer, data: string) =>
  createHmac('sha256', key).update(data).digest();

/** RFC 3986 encoding, as SigV4 wants it for each query name and value. */
function uriEncode(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16)}`);
}

function canonicalQuery(query: string): string {
  if (!query) return '';
  return query
    .split('&')
    .map((pair) => {
      const [name = '', value = ''] = pair.split('=');
      return [uriEncode(decodeURIComponent(name)), uriEncode(decodeURIComponent(value))];
    })
    .sort(([a = '', av = ''], [b = '', bv = '']) => (a === b ? (av < bv ? -1 : 1) : a < b ? -1 : 1))
    .map(([name, value]) => `${name}=${value}`)
    .join('&');
}

function headerValue(headers: IncomingHttpHeaders, name: string): string {
  const value = headers[name];
  const joined = Array.isArray(value) ? value.join(',') : (value ?? '');
  return joined.trim().replace(/\s+/g, ' ');
}

/** The signature a client holding `secretAccessKey` must have sent, for the given parts. */
export function expectedSignature(input: {
  request: SignedRequest;
  signedHeaders: string[];
  amzDate: string;
  scope: { date: string; region: string; service: string };
  secretAccessKey: string;
}): string {
  const { request, signedHeaders, amzDate, scope, secretAccessKey } = input;
  const canonicalRequest = [
    request.method,
    request.path,
    canonicalQuery(request.query),
    signedHeaders.map((name) => `${name}:${headerValue(request.headers, name)}\n`).join(''),
    signedHeaders.join(';'),
    sha256Hex(request.body),
  ].join('\n');
  const credentialScope = `${scope.date}/${scope.region}/${scope.service}/aws4_request`;
  const stringToSign = [ALGORITHM, amzDate, credentialScope, sha256Hex(canonicalRequest)].join(
    '\n',
  );
  const dateKey = hmac(`AWS4${secretAccessKey}`, scope.date);
  const regionKey = hmac(dateKey, scope.region);
  const serviceKey = hmac(regionKey, scope.service);
  const signingKey = hmac(serviceKey, 'aws4_request');
  return createHmac('sha256', signingKey).update(stringToSign).digest('hex');
}

/** `20150830T123600Z` → a Date, or null when the header is not in that form. */
function parseAmzDate(text: string): Date | null {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(text);
  if (!m) return null;
  const [, y, mo, d, h, mi, s] = m.map(Number) as number[];
  return new Date(Date.UTC(y!, mo! - 1, d!, h!, mi!, s!));
}

/** Checks the Authorization header of `request` against the keys the service knows. */
export function verifySignature(
  request: SignedRequest,
  keys: readonly AwsKey[],
  expect: SigningExpectation,
): SigningResult {
  const refuse = (type: string, message: string): SigningResult => ({ ok: false, type, message });
  const authorization = headerValue(request.headers, 'authorization');
  if (!authorization)
    return refuse('MissingAuthenticationTokenException', 'Missing Authentication Token');
  const parts = AUTHORIZATION.exec(authorization);
  if (!parts) {
    return refuse(
      'IncompleteSignatureException',
      `Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters for ${ALGORITHM}.`,
    );
  }
  const [, accessKeyId = '', date = '', region, service, signedList = '', signature = ''] = parts;
  const key = keys.find((k) => k.accessKeyId === accessKeyId);
  if (!key) {
    return refuse(
      'UnrecognizedClientException',
      'The security token included in the request is invalid.',
    );
  }
  if (region !== expect.region) {
    return refuse(
      'InvalidSignatureException',
      `Credential should be scoped to a valid region, not '${region}'.`,
    );
  }
  if (service !== expect.service) {
    return refuse(
      'InvalidSignatureException',
      `Credential should be scoped to correct service: '${expect.service}'.`,
    );
  }
  const signedHeaders = signedList.split(';');
  const unsorted = signedHeaders.some((h, i) => i > 0 && h <= signedHeaders[i - 1]!);
  if (unsorted) return refuse('InvalidSignatureException', MISMATCH);
  for (const required of ['host', 'x-amz-date', 'x-amz-target']) {
    if (!signedHeaders.includes(required)) {
      return refuse(
        'InvalidSignatureException',
        `'${required}' must be a 'SignedHeader' in the AWS Authorization.`,
      );
    }
  }
  const amzDate = headerValue(request.headers, 'x-amz-date');
  const sentAt = parseAmzDate(amzDate);
  if (!sentAt || amzDate.slice(0, 8) !== date) {
    return refuse(
      'IncompleteSignatureException',
      `Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '${date}' != '${amzDate.slice(0, 8)}'`,
    );
  }
  if (Math.abs(expect.now.getTime() - sentAt.getTime()) > MAX_SKEW_MS) {
    return refuse(
      'InvalidSignatureException',
      `Signature expired: ${amzDate} is now earlier or later than 5 min. from ${expect.now.toISOString()}.`,
    );
  }
  const token = headerValue(request.headers, 'x-amz-security-token');
  if ((key.sessionToken ?? '') !== token) {
    return refuse(
      'UnrecognizedClientException',
      'The security token included in the request is invalid.',
    );
  }
  if (token && !signedHeaders.includes('x-amz-security-token')) {
    return refuse('InvalidSignatureException', MISMATCH);
  }
  const expected = expectedSignature({
    request,
    signedHeaders,
    amzDate,
    scope: { date, region, service },
    secretAccessKey: key.secretAccessKey,
  });
  const matches = timingSafeEqual(Buffer.from(expected, 'hex'), Buffer.from(signature, 'hex'));
  return matches ? { ok: true, accessKeyId } : refuse('InvalidSignatureException', MISMATCH);
}
