import { mkdtemp, readdir } from 'node:fs/promises';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AptProxy } from '../../src/local-cloud/apt-proxy.js';

// A stand-in mirror on loopback, counting what it serves; the proxy is the real one.
let mirror: Server;
let mirrorPort: number;
let secret: Server;
let secretPort: number;
const served: string[] = [];
let proxy: AptProxy;
let proxyPort: number;
let cacheDir: string;

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
  mirror = createServer((req, res) => {
    served.push(req.url ?? '');
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    res.end(`contents of ${req.url}`);
  });
  await new Promise<void>((resolve) => mirror.listen(0, '127.0.0.1', resolve));
  mirrorPort = (mirror.address() as AddressInfo).port;
  cacheDir = await mkdtemp(path.join(tmpdir(), 'bake-apt-cache-'));
  // A loopback-only service of the host's beside the mirror, on the same address.
  secret = createServer((_req, res) => res.end('host secret'));
  await new Promise<void>((resolve) => secret.listen(0, '127.0.0.1', resolve));
  secretPort = (secret.address() as AddressInfo).port;
  proxy = new AptProxy({ cacheDir, mirrors: [`http://127.0.0.1:${mirrorPort}/debian/`] });
  const probe = createServer();
  proxyPort = await new Promise<number>((resolve) =>
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    }),
  );
  await proxy.listen('127.0.0.1', proxyPort);
});

afterAll(async () => {
  await proxy.close();
  mirror.close();
  secret.close();
});

describe('the apt proxy on the host', () => {
  it('downloads a .deb once and serves it from the cache the second time', async () => {
    const url = `http://127.0.0.1:${mirrorPort}/debian/pool/main/t/tree/tree_2.1.0-1_amd64.deb`;
    expect(await viaProxy(url)).toEqual({
      status: 200,
      body: 'contents of /debian/pool/main/t/tree/tree_2.1.0-1_amd64.deb',
    });
    // The file is renamed into the cache just after apt has the last byte.
    while (!(await readdir(cacheDir)).some((name) => name.endsWith('.deb')))
      await new Promise((resolve) => setTimeout(resolve, 20));
    expect(await viaProxy(url)).toEqual({
      status: 200,
      body: 'contents of /debian/pool/main/t/tree/tree_2.1.0-1_amd64.deb',
    });
    expect(served.filter((u) => u.endsWith('.deb'))).toHaveLength(1);
    expect(proxy.stats).toMatchObject({ hits: 1, misses: 1, hitBytes: 59, missBytes: 59 });
    expect((await readdir(cacheDir)).filter((name) => name.endsWith('.deb'))).toHaveLength(1);
  });

  it('always fetches index files fresh from the mirror', async () => {
    const url = `http://127.0.0.1:${mirrorPort}/debian/dists/bookworm/InRelease`;
    await viaProxy(url);
    await viaProxy(url);
    expect(served.filter((u) => u.endsWith('InRelease'))).toHaveLength(2);
  });

  it('reaches nothing but the mirror', async () => {
    const refused = await viaProxy('http://example.org/index.html');
    expect(refused.status).toBe(403);
    expect(refused.body).toContain(`only the Debian mirror (http://127.0.0.1:${mirrorPort}/debian/) is reachable`);
  });

  it('refuses the mirror’s host on another port, outside the mirror’s path, or with another scheme', async () => {
    for (const url of [
      `http://127.0.0.1:${secretPort}/debian/dists/bookworm/InRelease`,
      `http://127.0.0.1:${mirrorPort}/secret`,
      `http://127.0.0.1:${mirrorPort}/debian/../secret`,
      `http://127.0.0.1:${mirrorPort}/debian/%2e%2e/secret`,
      `http://127.0.0.1:${mirrorPort}/debianx/secret`,
      `http://user:pw@127.0.0.1:${mirrorPort}/debian/x`,
      `https://127.0.0.1:${mirrorPort}/debian/x`,
    ]) {
      const answer = await viaProxy(url);
      expect(answer.status, url).toBe(403);
      expect(answer.body).not.toContain('secret');
    }
    expect(served.filter((u) => !u.startsWith('/debian/'))).toEqual([]);
  });
});
