/**
 * The local cloud answers only requests signed with the key it made for its state dir. The
 * attack it stops (issue #17): any local user finds the port with `ss`, imports their own key,
 * runs an instance and logs in to it as root. Here an unprivileged user (`nobody`, via runuser)
 * tries exactly that with curl, forged and unsigned, and cannot read the key either.
 */
import { readFileSync, statSync } from 'node:fs';
import http from 'node:http';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { DescribeKeyPairsCommand, DescribeRegionsCommand, EC2Client, ImportKeyPairCommand } from '@aws-sdk/client-ec2';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { execa } from 'execa';
import { XMLParser } from 'fast-xml-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credentialsFileOf, startLocalCloud } from '../../src/local-cloud/index.js';
import { MemoryHost, startTestCloud, type TestCloud } from './memory-host.js';
import { sendSigned, signRequest } from './signed-request.js';

const xml = new XMLParser({ parseTagValue: false });
const errorCode = (text: string) => xml.parse(text).Response?.Errors?.Error?.Code as string | undefined;
const PUBLIC_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGPXgJRqI3rU7BGRcNqIbeW4bR9P6XYYtRNYl3dm9iAh attacker';

if (process.getuid?.() !== 0)
  throw new Error('these tests run curl as the unprivileged user nobody through runuser: run them as root');

/** curl as `nobody`: what any local account can do. */
function curlAsNobody(...args: string[]) {
  return execa('runuser', ['-u', 'nobody', '--', 'curl', '-s', '-o', '-', '-w', '\n%{http_code}', ...args], {
    reject: false,
  });
}
const split = (stdout: string) => {
  const at = stdout.lastIndexOf('\n');
  return { body: stdout.slice(0, at), status: Number(stdout.slice(at + 1)) };
};

describe('local cloud authentication', () => {
  let t: TestCloud;
  beforeAll(async () => {
    t = await startTestCloud(new MemoryHost());
  });
  afterAll(() => t.close());

  it('keeps a generated key per state dir in a 0600 file inside a 0700 folder', async () => {
    const file = credentialsFileOf(t.stateDir);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(t.stateDir).mode & 0o777).toBe(0o700);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual(t.cloud.credentials);
    expect(t.cloud.credentials.accessKeyId).toMatch(/^AKIA[A-Z2-7]{16}$/);
    expect(t.cloud.credentials.secretAccessKey.length).toBeGreaterThanOrEqual(40);
    expect(t.cloud.env).toMatchObject({
      AWS_ACCESS_KEY_ID: t.cloud.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: t.cloud.credentials.secretAccessKey,
    });

    const other = await startTestCloud(new MemoryHost(2223));
    try {
      expect(other.cloud.credentials.secretAccessKey).not.toBe(t.cloud.credentials.secretAccessKey);
      await expect(
        new EC2Client({
          region: 'us-east-1',
          endpoint: other.cloud.endpoint,
          credentials: t.cloud.credentials,
          maxAttempts: 1,
        }).send(new DescribeRegionsCommand({})),
      ).rejects.toMatchObject({
        name: 'AuthFailure',
      });
    } finally {
      await other.close();
    }
  });

  it('keeps the same key across restarts of one state dir', async () => {
    const stateDir = path.join(t.stateDir, 'restart');
    const first = await startLocalCloud({ stateDir, host: new MemoryHost() });
    await first.close();
    const second = await startLocalCloud({ stateDir, host: new MemoryHost() });
    await second.close();
    expect(second.credentials).toEqual(first.credentials);
    await rm(stateDir, { recursive: true });
  });

  it('answers a wrong key with AuthFailure and a wrong secret with SignatureDoesNotMatch, for EC2 and SSM', async () => {
    const ec2 = (credentials: { accessKeyId: string; secretAccessKey: string }) =>
      new EC2Client({ region: 'us-east-1', endpoint: t.cloud.endpoint, credentials, maxAttempts: 1 });
    await expect(
      ec2({ accessKeyId: 'local', secretAccessKey: 'local' }).send(new DescribeRegionsCommand({})),
    ).rejects.toMatchObject({ name: 'AuthFailure', $metadata: { httpStatusCode: 401 } });
    await expect(
      ec2({ accessKeyId: t.cloud.credentials.accessKeyId, secretAccessKey: 'guessed' }).send(
        new DescribeRegionsCommand({}),
      ),
    ).rejects.toMatchObject({
      name: 'SignatureDoesNotMatch',
      $metadata: { httpStatusCode: 403 },
    });
    const ssm = new SSMClient({
      region: 'us-east-1',
      endpoint: t.cloud.endpoint,
      credentials: { accessKeyId: t.cloud.credentials.accessKeyId, secretAccessKey: 'guessed' },
      maxAttempts: 1,
    });
    await expect(
      ssm.send(new GetParameterCommand({ Name: '/aws/service/debian/release/12/latest/amd64' })),
    ).rejects.toMatchObject({ name: 'InvalidSignatureException' });
    expect(t.cloud.calls.get('DescribeRegions')).toBeUndefined();
  });

  it('refuses a signed request replayed with another body, from another service, or signed long ago', async () => {
    const request = {
      endpoint: t.cloud.endpoint,
      credentials: t.cloud.credentials,
      body: 'Action=DescribeRegions&Version=2016-11-15',
    };
    const otherBody = `Action=ImportKeyPair&Version=2016-11-15&KeyName=x&PublicKeyMaterial=${Buffer.from(PUBLIC_KEY).toString('base64')}`;
    for (const [applyChecksum, code] of [
      [false, 'SignatureDoesNotMatch'],
      [true, 'XAmzContentSHA256Mismatch'],
    ] as const) {
      const signed = await signRequest({ ...request, applyChecksum });
      const replayed = await fetch(signed.url, { method: 'POST', headers: signed.headers, body: otherBody });
      expect(errorCode(await replayed.text())).toBe(code);
    }
    expect(t.cloud.calls.get('ImportKeyPair')).toBeUndefined();

    const asSsm = await sendSigned({ ...request, service: 'ssm' });
    expect(errorCode(asSsm.text)).toBe('SignatureDoesNotMatch');

    const old = await sendSigned({ ...request, signingDate: new Date(Date.now() - 20 * 60_000) });
    expect(errorCode(old.text)).toBe('RequestExpired');

    const good = await sendSigned(request);
    expect(good.status).toBe(200);
  });

  it('stops the attack from the issue: nobody cannot import a key, run an instance, or read the credentials', async () => {
    const endpoint = t.cloud.endpoint;
    // 1. The old hole: any Authorization header naming a region was enough.
    const forged = `AWS4-HMAC-SHA256 Credential=local/20261130/us-east-1/ec2/aws4_request, SignedHeaders=host;x-amz-date, Signature=${'0'.repeat(64)}`;
    const importKey = [
      '--data-urlencode',
      'Action=ImportKeyPair',
      '--data-urlencode',
      'Version=2016-11-15',
      '--data-urlencode',
      'KeyName=mine',
      '--data-urlencode',
      `PublicKeyMaterial=${Buffer.from(PUBLIC_KEY).toString('base64')}`,
    ];
    const withForgedHeader = split(
      (await curlAsNobody('-H', `Authorization: ${forged}`, '-H', `X-Amz-Date: ${amzDate()}`, ...importKey, endpoint))
        .stdout,
    );
    expect(withForgedHeader.status).toBe(401);
    expect(errorCode(withForgedHeader.body)).toBe('AuthFailure');

    // 2. Unsigned.
    const unsigned = split((await curlAsNobody(...importKey, endpoint)).stdout);
    expect(unsigned.status).toBe(401);
    expect(errorCode(unsigned.body)).toBe('AuthFailure');

    // 3. Properly signed by curl's own SigV4 code, with the old well-known key and with the real key id but a guessed secret.
    for (const [user, code, status] of [
      ['local:local', 'AuthFailure', 401],
      [`${t.cloud.credentials.accessKeyId}:guessed`, 'SignatureDoesNotMatch', 403],
    ] as const) {
      const signed = split(
        (await curlAsNobody('--aws-sigv4', 'aws:amz:us-east-1:ec2', '--user', user, ...importKey, endpoint)).stdout,
      );
      expect(signed.status).toBe(status);
      expect(errorCode(signed.body)).toBe(code);
    }
    const runInstances = split(
      (
        await curlAsNobody(
          '--aws-sigv4',
          'aws:amz:us-east-1:ec2',
          '--user',
          'local:local',
          '--data',
          'Action=RunInstances&Version=2016-11-15&ImageId=ami-0&MinCount=1&MaxCount=1&KeyName=mine',
          endpoint,
        )
      ).stdout,
    );
    expect(errorCode(runInstances.body)).toBe('AuthFailure');

    // 4. The key itself: not readable by nobody, not even listable.
    const read = await execa('runuser', ['-u', 'nobody', '--', 'cat', credentialsFileOf(t.stateDir)], {
      reject: false,
    });
    expect(read.exitCode).not.toBe(0);
    expect(read.stderr).toContain('Permission denied');

    // Nothing got through: no key pair, no instance, no action run.
    const { KeyPairs = [] } = await t.ec2().send(new DescribeKeyPairsCommand({}));
    expect(KeyPairs).toEqual([]);
    expect(t.host.calls.filter((call) => call.startsWith('launch'))).toEqual([]);
    expect(t.cloud.calls.get('ImportKeyPair')).toBeUndefined();
    expect(t.cloud.calls.get('RunInstances')).toBeUndefined();

    // The same curl with the real key works: the check is SigV4 itself, not one client's dialect.
    const { accessKeyId, secretAccessKey } = t.cloud.credentials;
    const owner = await execa('curl', [
      '-s',
      '--aws-sigv4',
      'aws:amz:us-east-1:ec2',
      '--user',
      `${accessKeyId}:${secretAccessKey}`,
      '--data',
      'Action=DescribeRegions&Version=2016-11-15',
      endpoint,
    ]);
    expect(owner.stdout).toContain('<regionName>eu-west-1</regionName>');
  });

  it('answers a request without its key, or with a body over 1 MiB, before reading the body', async () => {
    /** Announces a 3 MiB body, sends 16 bytes of it and waits: only an answer given before the body is read arrives. */
    const answerBeforeBody = (headers: Record<string, string>) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const url = new URL(t.cloud.endpoint);
        const request = http.request(
          {
            host: url.hostname,
            port: url.port,
            method: 'POST',
            path: '/',
            headers: { ...headers, 'content-length': String(3 * 1024 * 1024) },
          },
          (response) => {
            let body = '';
            response.on('data', (chunk: Buffer) => (body += chunk.toString()));
            response.on('end', () => {
              request.destroy();
              resolve({ status: response.statusCode ?? 0, body });
            });
          },
        );
        request.on('error', () => undefined);
        request.write('Action=DescribeRe');
        setTimeout(() => {
          request.destroy();
          reject(new Error('no answer within 10 s: the cloud waited for the whole body'));
        }, 10_000).unref();
      });
    const unsigned = await answerBeforeBody({ 'content-type': 'application/x-www-form-urlencoded' });
    expect(unsigned.status).toBe(401);
    expect(errorCode(unsigned.body)).toBe('AuthFailure');
    const signed = await signRequest({
      endpoint: t.cloud.endpoint,
      credentials: t.cloud.credentials,
      body: 'Action=DescribeRegions&Version=2016-11-15',
    });
    const large = await answerBeforeBody(signed.headers);
    expect(large.status).toBe(413);
    expect(errorCode(large.body)).toBe('RequestEntityTooLarge');
  });

  it('never writes the secret to the debug log', async () => {
    const logged: string[] = [];
    const stateDir = path.join(t.stateDir, 'debug');
    {
      const cloud = await startLocalCloud({ stateDir, host: new MemoryHost(), log: (line) => logged.push(line) });
      const ec2 = (secretAccessKey: string) =>
        new EC2Client({
          region: 'us-east-1',
          endpoint: cloud.endpoint,
          credentials: { ...cloud.credentials, secretAccessKey },
          maxAttempts: 1,
        });
      await ec2(cloud.credentials.secretAccessKey).send(
        new ImportKeyPairCommand({ KeyName: 'k', PublicKeyMaterial: Buffer.from(PUBLIC_KEY) }),
      );
      await ec2('x')
        .send(new ImportKeyPairCommand({ KeyName: 'j', PublicKeyMaterial: Buffer.from(PUBLIC_KEY) }))
        .catch(() => undefined);
      await cloud.close();
      const log = logged.join('');
      expect(log).toContain('ImportKeyPair');
      expect(log).toContain('SignatureDoesNotMatch');
      expect(log).not.toContain(cloud.credentials.secretAccessKey);
    }
  });
});

function amzDate(): string {
  return new Date()
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
}
