/**
 * SigV4 verification for the local cloud: the request is signed again with the AWS SDK's own
 * signer (@smithy/signature-v4) over exactly the headers the client says it signed, and the two
 * signatures are compared. No hand-written canonicalisation: what the SDK and aws-sdk-go (Packer)
 * sign, the SDK's signer reproduces.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { Sha256 } from '@smithy/core/checksum';
import { SignatureV4 } from '@smithy/signature-v4';
import { Ec2ApiError } from './api-error.js';

export interface LocalCredentials {
  accessKeyId: string;
  secretAccessKey: string;
}

export interface SignedRequest {
  method: string;
  /** Path and query as received, e.g. `/` or `/?Action=…`. */
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** Who signed, and for what: the credential scope of a verified request. */
export interface SignatureScope {
  region: string;
  service: string;
}

// EC2 refuses a request whose X-Amz-Date is more than 15 minutes from its clock.
const MAX_SKEW_MS = 15 * 60_000;
const AUTHORIZATION =
  /^AWS4-HMAC-SHA256 Credential=([^/,\s]+)\/(\d{8})\/([^/,\s]+)\/([^/,\s]+)\/aws4_request,\s*SignedHeaders=([a-z0-9;_.-]+),\s*Signature=([0-9a-f]{64})$/;
const AMZ_DATE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;

const authFailure = (detail: string) =>
  new Ec2ApiError('AuthFailure', `AWS was not able to validate the provided access credentials (${detail})`, 401);
const mismatch = () =>
  new Ec2ApiError(
    'SignatureDoesNotMatch',
    'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.',
    403,
  );

/**
 * What can be checked from the headers alone (a SigV4 Authorization header with this cloud's
 * access key id, a signing date within 15 minutes): done before the body is read, so a client
 * without the credentials cannot make the cloud read (and hold) a large body.
 */
export function checkAuthorizationHeader(
  headers: SignedRequest['headers'],
  credentials: LocalCredentials,
  now = new Date(),
): {
  scopeDate: string;
  region: string;
  service: string;
  signedHeaderList: string;
  signature: string;
  signingDate: Date;
} {
  const header = headers.authorization;
  if (typeof header !== 'string') throw authFailure('a SigV4 Authorization header is required');
  const parts = AUTHORIZATION.exec(header.trim());
  if (!parts) throw authFailure('the Authorization header is not AWS4-HMAC-SHA256');
  const [, accessKeyId, scopeDate, region, service, signedHeaderList, signature] = parts;
  if (!safeEqual(accessKeyId, credentials.accessKeyId)) throw authFailure('unknown access key id');

  const amzDate = headers['x-amz-date'];
  const signingDate = typeof amzDate === 'string' ? parseAmzDate(amzDate) : undefined;
  if (!signingDate) throw authFailure('X-Amz-Date is required');
  if (amzDate!.slice(0, 8) !== scopeDate) throw mismatch();
  if (Math.abs(now.getTime() - signingDate.getTime()) > MAX_SKEW_MS) {
    throw new Ec2ApiError(
      'RequestExpired',
      `Request has expired: X-Amz-Date ${amzDate} is more than 15 minutes from the server's time`,
      400,
    );
  }
  return { scopeDate, region, service, signedHeaderList, signature, signingDate };
}

/** Checks the request's SigV4 signature against the local cloud's credentials; throws EC2's error when it does not hold. */
export async function verifySignature(
  request: SignedRequest,
  credentials: LocalCredentials,
  now = new Date(),
): Promise<SignatureScope> {
  const { region, service, signedHeaderList, signature, signingDate } = checkAuthorizationHeader(
    request.headers,
    credentials,
    now,
  );

  const signedNames = signedHeaderList.split(';');
  if (!signedNames.includes('host')) throw mismatch();
  const bodyHash = createHash('sha256').update(request.body, 'utf8').digest('hex');
  const claimedHash = request.headers['x-amz-content-sha256'];
  // The signer trusts this header as the body's hash; a replayed signature must not carry another body.
  if (claimedHash !== undefined && claimedHash !== bodyHash) {
    throw new Ec2ApiError(
      'XAmzContentSHA256Mismatch',
      'The provided x-amz-content-sha256 header does not match what was computed.',
      400,
    );
  }
  const headers: Record<string, string> = {};
  for (const name of signedNames) {
    const value = request.headers[name];
    if (value === undefined) throw mismatch();
    headers[name] = Array.isArray(value) ? value.join(',') : value;
  }
  const url = new URL(request.url, 'http://local-cloud');
  const query: Record<string, string | string[]> = {};
  for (const [key, value] of url.searchParams) {
    const seen = query[key];
    query[key] = seen === undefined ? value : [...(Array.isArray(seen) ? seen : [seen]), value];
  }

  // applyChecksum off: add no x-amz-content-sha256 header the client did not sign itself.
  const signer = new SignatureV4({ credentials, region, service, sha256: Sha256, applyChecksum: false });
  const expected = await signer.sign(
    {
      method: request.method,
      protocol: 'http:',
      hostname: url.hostname,
      path: url.pathname,
      query,
      headers,
      body: request.body,
    },
    { signingDate, signableHeaders: new Set(signedNames) },
  );
  const expectedParts = AUTHORIZATION.exec(String(expected.headers.authorization ?? ''));
  if (!expectedParts || expectedParts[5] !== signedHeaderList || !safeEqual(expectedParts[6], signature))
    throw mismatch();
  return { region, service };
}

function parseAmzDate(text: string): Date | undefined {
  const m = AMZ_DATE.exec(text);
  if (!m) return undefined;
  const date = new Date(
    Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])),
  );
  return Number.isNaN(date.getTime()) ? undefined : date;
}

function safeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}
