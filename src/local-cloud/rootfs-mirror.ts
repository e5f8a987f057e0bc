/**
 * Which Debian mirror the base root filesystem comes from, and the apt sources written into it.
 * The machine's own apt configuration is the one mirror known to be reachable from it (CI
 * machines often allow only their apt mirror), so debootstrap and the chroot's apt use it too.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

export const DEBIAN_RELEASE = 'bookworm';
export const DEFAULT_MIRROR = 'http://deb.debian.org/debian';

export interface AptSource {
  uri: string;
  suites: string[];
  components: string[];
}

/** Reads one-line (`sources.list`) and deb822 (`*.sources`) entries of type `deb`. */
export function parseAptSources(text: string, format: 'list' | 'deb822'): AptSource[] {
  return format === 'list' ? parseListFormat(text) : parseDeb822(text);
}

function parseListFormat(text: string): AptSource[] {
  const sources: AptSource[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    // `deb [signed-by=… arch=…] uri suite components…`
    const match = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)\s*(.*)$/.exec(line);
    if (!match) continue;
    sources.push({ uri: match[1], suites: [match[2]], components: match[3].split(/\s+/).filter(Boolean) });
  }
  return sources;
}

function parseDeb822(text: string): AptSource[] {
  const sources: AptSource[] = [];
  for (const stanza of text.split(/\n\s*\n/)) {
    const fields = new Map<string, string>();
    let last: string | undefined;
    for (const raw of stanza.split('\n')) {
      if (raw.startsWith('#')) continue;
      if (/^\s/.test(raw) && last) {
        fields.set(last, `${fields.get(last)} ${raw.trim()}`);
        continue;
      }
      const colon = raw.indexOf(':');
      if (colon < 0) continue;
      last = raw.slice(0, colon).trim().toLowerCase();
      fields.set(last, raw.slice(colon + 1).trim());
    }
    if (fields.get('enabled')?.toLowerCase() === 'no') continue;
    if (!(fields.get('types') ?? '').split(/\s+/).includes('deb')) continue;
    const words = (name: string) => (fields.get(name) ?? '').split(/\s+/).filter(Boolean);
    for (const uri of words('uris')) sources.push({ uri, suites: words('suites'), components: words('components') });
  }
  return sources;
}

/** The host's entries for the Debian release the base is built from (main archive, updates, security). */
export function releaseSources(sources: AptSource[], release = DEBIAN_RELEASE): AptSource[] {
  return sources
    .filter((s) => /^https?:\/\//.test(s.uri))
    .map((s) => ({ ...s, suites: s.suites.filter((suite) => suite === release || suite.startsWith(`${release}-`)) }))
    .filter((s) => s.suites.length > 0);
}

/** The mirror debootstrap downloads from: the host's source that carries the release itself. */
export function mainMirror(sources: AptSource[], release = DEBIAN_RELEASE): string {
  return releaseSources(sources, release).find((s) => s.suites.includes(release))?.uri ?? DEFAULT_MIRROR;
}

/** `/etc/apt/sources.list` for inside the chroot; only the host's own reachable mirrors. */
export function renderSourcesList(sources: AptSource[], release = DEBIAN_RELEASE): string {
  const lines: string[] = [];
  const known = releaseSources(sources, release);
  if (!known.some((s) => s.suites.includes(release))) lines.push(`deb ${DEFAULT_MIRROR} ${release} main`);
  for (const source of known) {
    for (const suite of source.suites) {
      // Values come from the host's apt files; anything that is not one plain word is dropped.
      const components = source.components.filter((c) => /^[\w./-]+$/.test(c));
      if (!/^\S+$/.test(source.uri)) continue;
      lines.push(`deb ${source.uri} ${suite} ${components.length ? components.join(' ') : 'main'}`);
    }
  }
  return `# Written by bake: the same mirrors as the machine that built this root filesystem.\n${lines.join('\n')}\n`;
}

/** Every `deb` entry this machine's apt uses. */
export function hostAptSources(etcApt = '/etc/apt'): AptSource[] {
  const sources: AptSource[] = [];
  const read = (file: string) => {
    try {
      return readFileSync(file, 'utf8');
    } catch {
      return undefined;
    }
  };
  const main = read(path.join(etcApt, 'sources.list'));
  if (main) sources.push(...parseAptSources(main, 'list'));
  let entries: string[] = [];
  try {
    entries = readdirSync(path.join(etcApt, 'sources.list.d')).sort();
  } catch {
    // no sources.list.d
  }
  for (const entry of entries) {
    const text = read(path.join(etcApt, 'sources.list.d', entry));
    if (text === undefined) continue;
    if (entry.endsWith('.list')) sources.push(...parseAptSources(text, 'list'));
    if (entry.endsWith('.sources')) sources.push(...parseAptSources(text, 'deb822'));
  }
  return sources;
}

/**
 * The mirrors an instance's apt may reach through the host's proxy, as URI prefixes
 * (`http://host[:port]/path/`): scheme, host, port and path must all match one of them.
 */
export function mirrorUris(
  sources: AptSource[],
  extra: Array<string | undefined> = [],
  release = DEBIAN_RELEASE,
): string[] {
  const uris = [...releaseSources(sources, release).map((s) => s.uri), DEFAULT_MIRROR, ...extra];
  const prefixes = new Set<string>();
  for (const uri of uris) {
    try {
      if (!uri) continue;
      const url = new URL(uri);
      // apt in an instance speaks plain http to the proxy; credentials are nobody's to hand out.
      if (url.protocol !== 'http:' || url.username || url.password) continue;
      prefixes.add(`${url.protocol}//${url.host}${url.pathname.endsWith('/') ? url.pathname : `${url.pathname}/`}`);
    } catch {
      // not a URL: nothing to allow
    }
  }
  return [...prefixes];
}
