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
  proxy = new AptProxy({ cacheDir, mirrorHosts: new Set(['127.0.0.1']) });
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
    expect(refused.body).toContain('only the Debian mirror (127.0.0.1) is reachable');
  });
});
