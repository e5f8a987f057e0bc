/**
 * BAKE_LOCAL_APT_REPOSITORIES: an apt repository served on this machine's loopback (the security
 * scan tests' own security suite) reachable from local instances through the apt proxy, and
 * nothing else on loopback: another port of the same address stays refused.
 */
import { mkdtemp, readdir } from 'node:fs/promises';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AptProxy, localAptOrigins } from '../../src/local-cloud/apt-proxy.js';

let repository: Server;
let repositoryPort: number;
let other: Server;
let otherPort: number;
let proxy: AptProxy;
let proxyPort: number;
let cacheDir: string;

const listen = async (server: Server) => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
};

function viaProxy(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port: proxyPort, path: url, headers: { host: new URL(url).host } },
      (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.once('error', reject);
    req.end();
  });
}

beforeAll(async () => {
  repository = createServer((req, res) => res.end(`repository file ${req.url}`));
  other = createServer((req, res) => res.end(`something else on loopback ${req.url}`));
  repositoryPort = await listen(repository);
  otherPort = await listen(other);
  cacheDir = await mkdtemp(path.join(tmpdir(), 'bake-apt-cache-'));
  proxy = new AptProxy({
    cacheDir,
    mirrors: ['http://deb.debian.org/debian/'],
    localOrigins: localAptOrigins(`http://127.0.0.1:${repositoryPort}/`),
  });
  const probe = createServer();
  proxyPort = await listen(probe);
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  await proxy.listen('127.0.0.1', proxyPort);
});

afterAll(async () => {
  await proxy.close();
  repository.close();
  other.close();
});

describe('a local apt repository behind the apt proxy', () => {
  it('is reachable, and its .deb files stay out of the shared cache', async () => {
    const deb = `http://127.0.0.1:${repositoryPort}/pool/main/p/probe/probe_1_all.deb`;
    expect(await viaProxy(deb)).toEqual({ status: 200, body: 'repository file /pool/main/p/probe/probe_1_all.deb' });
    expect(await readdir(cacheDir).catch(() => [])).toEqual([]);
  });

  it('opens that origin only: another port on loopback stays refused', async () => {
    const answer = await viaProxy(`http://127.0.0.1:${otherPort}/dists/x/Release`);
    expect(answer.status).toBe(403);
  });

  it('accepts only http on a loopback address with a port', () => {
    expect([...localAptOrigins(' http://127.0.0.1:8080/debian  http://127.0.0.2:9/ ')]).toEqual([
      'http://127.0.0.1:8080',
      'http://127.0.0.2:9',
    ]);
    expect(() => localAptOrigins('http://10.0.0.1:80/')).toThrow(/only http:\/\/127/);
    expect(() => localAptOrigins('https://127.0.0.1:443/')).toThrow(/only http:\/\/127/);
    expect(() => localAptOrigins('http://127.0.0.1/')).toThrow(/only http:\/\/127/);
    expect(localAptOrigins(undefined).size).toBe(0);
  });
});
