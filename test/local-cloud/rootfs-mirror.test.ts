import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_MIRROR,
  hostAptSources,
  mainMirror,
  mirrorUris,
  parseAptSources,
  renderSourcesList,
} from '../../src/local-cloud/rootfs-mirror.js';

const etcApt = path.join(import.meta.dirname, '../fixtures/local-cloud-host/apt');

describe('the Debian mirror of the base root filesystem', () => {
  it('is the mirror this machine’s apt uses for bookworm, from one-line and deb822 files alike', () => {
    const sources = hostAptSources(etcApt);
    expect(mainMirror(sources)).toBe('http://mirror.example.org/debian');
  });

  it('writes the host’s bookworm, updates and security sources into the chroot, and nothing else', () => {
    const text = renderSourcesList(hostAptSources(etcApt));
    const lines = text.split('\n').filter((line) => line.startsWith('deb'));
    expect(lines).toEqual([
      'deb http://mirror.example.org/debian bookworm main contrib',
      'deb http://mirror.example.org/debian bookworm-updates main',
      'deb http://security.example.org/debian-security bookworm-security main',
    ]);
  });

  it('falls back to deb.debian.org when the host has no bookworm source', () => {
    const sources = parseAptSources('deb http://archive.ubuntu.com/ubuntu jammy main\n', 'list');
    expect(mainMirror(sources)).toBe(DEFAULT_MIRROR);
    expect(renderSourcesList(sources)).toContain(`deb ${DEFAULT_MIRROR} bookworm main\n`);
  });

  it('drops components that are not plain words instead of writing them into sources.list', () => {
    const sources = parseAptSources(
      'Types: deb\nURIs: http://m.example/debian\nSuites: bookworm\nComponents: main $(reboot) non-free\n',
      'deb822',
    );
    expect(renderSourcesList(sources)).toContain('deb http://m.example/debian bookworm main non-free\n');
  });

  it('allows the proxy exactly the mirrors’ scheme, host, port and path, never https or credentials', () => {
    const sources = parseAptSources(
      [
        'deb http://m.example:8080/debian bookworm main',
        'deb http://security.example/debian-security bookworm-security main',
        'deb https://secure.example/debian bookworm main',
        'deb http://user:pw@private.example/debian bookworm main',
      ].join('\n'),
      'list',
    );
    expect(mirrorUris(sources, ['http://local.example/'])).toEqual([
      'http://m.example:8080/debian/',
      'http://security.example/debian-security/',
      `${DEFAULT_MIRROR}/`,
      'http://local.example/',
    ]);
  });
});
