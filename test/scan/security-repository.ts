/**
 * The scan tests' own security suite: a small package built here with dpkg-deb, published in an
 * apt repository whose suite is `bookworm-security` (Label Debian-Security), served on loopback.
 * Local instances reach it through the local cloud's apt proxy (BAKE_LOCAL_APT_REPOSITORIES), so
 * the tests never depend on a real security update being pending on the day. Versions come from
 * the clock, never written down.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';

export const PROBE_PACKAGE = 'bake-scan-probe';
export const SECURITY_SUITE = 'bookworm-security';

export interface SecurityRepository {
  /** `http://127.0.0.1:PORT/` */
  url: string;
  /** The one-line apt source an image uses for it. */
  sourceLine: string;
  /** Builds PROBE_PACKAGE at `version` and makes it the suite's only version. */
  publish(version: string): Promise<void>;
  close(): Promise<void>;
}

/** Adds the test's security suite to the image's apt sources and installs the probe package from it. */
export function probeRole(sourceLine: string): string {
  return [
    '- name: the security suite of the test',
    '  ansible.builtin.copy:',
    '    dest: /etc/apt/sources.list.d/bake-scan-probe.list',
    `    content: "${sourceLine}\\n"`,
    '    mode: "0644"',
    '- name: the probe package',
    '  ansible.builtin.apt:',
    `    name: ${PROBE_PACKAGE}`,
    '    update_cache: true',
    '',
  ].join('\n');
}

export async function startSecurityRepository(): Promise<SecurityRepository> {
  const root = await mkdtemp(path.join(tmpdir(), 'bake-security-repo-'));
  const server: Server = createServer((req, res) => {
    const relative = decodeURIComponent(new URL(req.url ?? '/', 'http://repo').pathname).replace(/^\/+/, '');
    const file = path.join(root, 'www', relative);
    if (!file.startsWith(path.join(root, 'www') + path.sep)) {
      res.writeHead(403).end();
      return;
    }
    stat(file).then(
      (info) => {
        if (!info.isFile()) throw new Error('not a file');
        res.writeHead(200, { 'content-length': info.size });
        if (req.method === 'HEAD') res.end();
        else createReadStream(file).pipe(res);
      },
      () => res.writeHead(404).end(),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  return {
    url,
    sourceLine: `deb [trusted=yes] ${url} ${SECURITY_SUITE} main`,
    publish: (version) => publish(root, version),
    close: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await rm(root, { recursive: true, force: true });
    },
  };
}

async function publish(root: string, version: string): Promise<void> {
  const www = path.join(root, 'www');
  await rm(www, { recursive: true, force: true });
  const build = path.join(root, `build-${version}`);
  await mkdir(path.join(build, 'DEBIAN'), { recursive: true });
  await mkdir(path.join(build, 'usr/share/doc', PROBE_PACKAGE), { recursive: true });
  await writeFile(
    path.join(build, 'DEBIAN/control'),
    [
      `Package: ${PROBE_PACKAGE}`,
      `Version: ${version}`,
      'Architecture: all',
      'Maintainer: bake tests <ci@example.com>',
      'Priority: optional',
      'Section: misc',
      'Description: stands in for a package with a security fix in the scan tests',
      '',
    ].join('\n'),
  );
  await writeFile(path.join(build, 'usr/share/doc', PROBE_PACKAGE, 'version'), `${version}\n`);
  const pool = path.join(www, 'pool/main/b', PROBE_PACKAGE);
  await mkdir(pool, { recursive: true });
  const debName = `${PROBE_PACKAGE}_${version}_all.deb`;
  await execa('dpkg-deb', ['--root-owner-group', '-Zgzip', '--build', build, path.join(pool, debName)]);
  await rm(build, { recursive: true, force: true });

  const deb = await readFile(path.join(pool, debName));
  const control = (await execa('dpkg-deb', ['-f', path.join(pool, debName)])).stdout.trim();
  const packages = [
    control,
    `Filename: pool/main/b/${PROBE_PACKAGE}/${debName}`,
    `Size: ${deb.length}`,
    `SHA256: ${sha256(deb)}`,
    '',
    '',
  ].join('\n');
  const dist = path.join(www, 'dists', SECURITY_SUITE);
  const indexes: Record<string, string> = {};
  for (const arch of ['amd64', 'all']) {
    const file = `main/binary-${arch}/Packages`;
    await mkdir(path.join(dist, path.dirname(file)), { recursive: true });
    await writeFile(path.join(dist, file), packages);
    indexes[file] = packages;
  }
  const release = [
    'Origin: Debian',
    'Label: Debian-Security',
    `Suite: ${SECURITY_SUITE}`,
    `Codename: ${SECURITY_SUITE}`,
    `Date: ${new Date().toUTCString()}`,
    'Architectures: amd64 all',
    'Components: main',
    'SHA256:',
    ...Object.entries(indexes).map(
      ([file, text]) => ` ${sha256(Buffer.from(text))} ${Buffer.byteLength(text)} ${file}`,
    ),
    '',
  ].join('\n');
  await writeFile(path.join(dist, 'Release'), release);
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}
