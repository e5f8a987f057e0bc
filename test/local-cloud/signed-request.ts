/**
 * Raw HTTP to the local cloud, signed the way the AWS SDK signs (its own SignatureV4), so tests
 * can send exactly the bytes they mean: odd parameters, a GET query, a body changed after signing.
 */
import { Sha256 } from '@smithy/core/checksum';
import { SignatureV4 } from '@smithy/signature-v4';
import type { LocalCredentials } from '../../src/local-cloud/index.js';

export interface RawRequest {
  endpoint: string;
  credentials: LocalCredentials;
  region?: string;
  service?: 'ec2' | 'ssm';
  method?: 'GET' | 'POST';
  /** For GET: the query string (without `?`). */
  query?: string;
  body?: string;
  headers?: Record<string, string>;
  signingDate?: Date;
  /** Sign an x-amz-content-sha256 header too (the JS SDK does; aws-sdk-go, Packer's, does not). */
  applyChecksum?: boolean;
}

/** Signs the request and returns what fetch() needs; change the result to forge. */
export async function signRequest(
  request: RawRequest,
): Promise<{ url: string; method: string; headers: Record<string, string>; body?: string }> {
  const url = new URL(request.endpoint);
  const method = request.method ?? 'POST';
  const query = Object.fromEntries(new URLSearchParams(request.query ?? ''));
  const headers: Record<string, string> = {
    host: url.host,
    ...(method === 'POST' ? { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' } : {}),
    ...request.headers,
  };
  const signer = new SignatureV4({
    credentials: request.credentials,
    region: request.region ?? 'us-east-1',
    service: request.service ?? 'ec2',
    sha256: Sha256,
    applyChecksum: request.applyChecksum ?? false,
  });
  const signed = await signer.sign(
    {
      method,
      protocol: url.protocol,
      hostname: url.hostname,
      port: Number(url.port),
      path: '/',
      query,
      headers,
      body: request.body,
    },
    { signingDate: request.signingDate },
  );
  const { host: _host, ...sent } = signed.headers as Record<string, string>;
  return {
    url: `${request.endpoint}/${request.query ? `?${request.query}` : ''}`,
    method,
    headers: sent,
    body: request.body,
  };
}

export async function sendSigned(request: RawRequest): Promise<{ status: number; text: string }> {
  const signed = await signRequest(request);
  const response = await fetch(signed.url, { method: signed.method, headers: signed.headers, body: signed.body });
  return { status: response.status, text: await response.text() };
}
