/**
 * How apt inside a local instance reaches the Debian mirror: an HTTP proxy in the bake process,
 * listening on the host's end of each instance's veth pair (the only address an instance can
 * reach). It forwards only to the mirrors this machine's apt uses, and keeps every `.deb` it
 * fetched in a cache shared by all bakes on the machine: a pool file's name carries its version,
 * so it never changes, and a second bake installs the same packages without downloading them.
 * Index files (Release, Packages) always come fresh from the mirror.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import {
  request as httpRequest,
  createServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import path from 'node:path';
import { finished, pipeline } from 'node:stream/promises';
import { CloudError } from '../errors/index.js';

export const APT_PROXY_PORT = 3142;

/** Request headers worth passing to the mirror; the rest is hop-by-hop or the client's business. */
const FORWARDED_HEADERS = [
  'user-agent',
  'accept',
  'range',
  'if-range',
  'if-modified-since',
  'if-none-match',
  'cache-control',
];
const RETURNED_HEADERS = [
  'content-type',
  'content-length',
  'last-modified',
  'etag',
  'content-range',
  'accept-ranges',
  'date',
];

export interface AptProxyOptions {
  /** Where downloaded .deb files are kept (shared between bakes; created when missing). */
  cacheDir: string;
  /** URI prefixes apt may reach through the proxy (the Debian mirrors, rootfs-mirror.ts's mirrorUris). */
  mirrors: readonly string[];
  /** Exact `http://127.0.0.1:PORT` origins of apt repositories on this machine (loopback only) apt may also reach. */
  localOrigins?: ReadonlySet<string>;
  log?: (line: string) => void;
}

/**
 * `BAKE_LOCAL_APT_REPOSITORIES`: space-separated http URLs of apt repositories served on this
 * machine's loopback (a test's own security suite, an offline mirror) that local instances may use
 * through the proxy. Anything that is not http on a loopback address is refused, so traffic stays here.
 */
export function localAptOrigins(value: string | undefined): Set<string> {
  const origins = new Set<string>();
  for (const text of (value ?? '').split(/\s+/).filter(Boolean)) {
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      throw new CloudError(`BAKE_LOCAL_APT_REPOSITORIES: not a URL: ${JSON.stringify(text)}`);
    }
    if (url.protocol !== 'http:' || !/^127\.\d+\.\d+\.\d+$/.test(url.hostname) || !url.port)
      throw new CloudError(
        `BAKE_LOCAL_APT_REPOSITORIES: only http://127.x.y.z:PORT repositories on this machine: ${text}`,
      );
    origins.add(url.origin);
  }
  return origins;
}

export interface AptProxyStats {
  /** .deb files served from the cache / fetched from the mirror, and the bytes of each. */
  hits: number;
  misses: number;
  hitBytes: number;
  missBytes: number;
}

export class AptProxy {
  readonly stats: AptProxyStats = { hits: 0, misses: 0, hitBytes: 0, missBytes: 0 };
  private readonly servers = new Map<string, Server>();

  constructor(private readonly options: AptProxyOptions) {}

  /** Serves on ip:port (an instance's host-side address); a second call for the same ip is a no-op. */
  async listen(ip: string, port = APT_PROXY_PORT): Promise<void> {
    if (this.servers.has(ip)) return;
    const server = createServer((req, res) => void this.handle(req, res));
    server.keepAliveTimeout = 5_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: ip, port, exclusive: true }, () => resolve());
    });
    this.servers.set(ip, server);
  }

  async unlisten(ip: string): Promise<void> {
    const server = this.servers.get(ip);
    if (!server) return;
    this.servers.delete(ip);
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  async close(): Promise<void> {
    await Promise.all([...this.servers.keys()].map((ip) => this.unlisten(ip)));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const refuse = (status: number, text: string) => {
      if (!res.headersSent) res.writeHead(status, { 'content-type': 'text/plain' });
      res.end(`${text}\n`);
    };
    let url: URL;
    try {
      url = new URL(req.url ?? '');
    } catch {
      return refuse(400, 'bake apt proxy: absolute http:// URLs only');
    }
    const local = url.protocol === 'http:' && Boolean(this.options.localOrigins?.has(url.origin));
    if (!local && !isMirrorUrl(url, this.options.mirrors)) {
      return refuse(
        403,
        `bake apt proxy: only the Debian mirror (${this.options.mirrors.join(', ')}) is reachable from a local instance`,
      );
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return refuse(405, 'bake apt proxy: GET and HEAD only');
    try {
      // A local repository's files are not the mirror's: never kept in the shared .deb cache.
      if (!local && req.method === 'GET' && !url.search && url.pathname.endsWith('.deb'))
        await this.serveDeb(url, req, res);
      else await this.forward(url, req, res);
    } catch (error) {
      this.options.log?.(`apt proxy: ${url.href}: ${(error as Error).message}`);
      if (!res.headersSent) refuse(502, `bake apt proxy: ${(error as Error).message}`);
      else res.destroy();
    }
  }

  /** A .deb: from the cache when there, otherwise fetched whole, streamed to apt and kept. */
  private async serveDeb(url: URL, req: IncomingMessage, res: ServerResponse): Promise<void> {
    // Named by a hash of the URL: nothing in a URL can choose where the file lands.
    const file = path.join(this.options.cacheDir, `${createHash('sha256').update(url.href).digest('hex')}.deb`);
    const cached = await stat(file).catch(() => undefined);
    if (cached) {
      this.stats.hits++;
      this.stats.hitBytes += cached.size;
      // The whole file, whatever Range apt asked for: HTTP lets a server answer a range request with 200.
      res.writeHead(200, { 'content-type': 'application/vnd.debian.binary-package', 'content-length': cached.size });
      await pipeline(createReadStream(file), res);
      return;
    }
    this.stats.misses++;
    const upstream = await this.fetch(url, { 'user-agent': req.headers['user-agent'] ?? 'bake-apt-proxy' });
    res.writeHead(upstream.statusCode ?? 502, returnedHeaders(upstream));
    if (upstream.statusCode !== 200) {
      await pipeline(upstream, res);
      return;
    }
    await mkdir(this.options.cacheDir, { recursive: true });
    const temp = `${file}.${randomUUID()}.tmp`;
    const keep = createWriteStream(temp);
    upstream.pipe(keep);
    try {
      await pipeline(upstream, res);
      await finished(keep);
      const expected = Number(upstream.headers['content-length']);
      const size = (await stat(temp)).size;
      if (Number.isFinite(expected) && size !== expected)
        throw new Error(`short download (${size} of ${expected} bytes)`);
      await rename(temp, file);
      this.stats.missBytes += size;
    } finally {
      await rm(temp, { force: true });
    }
  }

  private async forward(url: URL, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const headers: Record<string, string> = {};
    for (const name of FORWARDED_HEADERS) {
      const value = req.headers[name];
      if (typeof value === 'string') headers[name] = value;
    }
    const upstream = await this.fetch(url, headers, req.method);
    res.writeHead(upstream.statusCode ?? 502, returnedHeaders(upstream));
    await pipeline(upstream, res);
  }

  private fetch(url: URL, headers: Record<string, string>, method = 'GET'): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      const outgoing = httpRequest(url, { method, headers, timeout: 60_000 }, resolve);
      outgoing.once('timeout', () => outgoing.destroy(new Error('the mirror did not answer within 60 s')));
      outgoing.once('error', reject);
      outgoing.end();
    });
  }
}

/**
 * True when the URL lies under one of the mirror prefixes: same scheme, host and port, its path
 * below the prefix's. The URL parser has already resolved `..` and `%2e%2e` in the path, so a
 * path cannot climb out of the prefix; anything else on the mirror's host (another port, another
 * path, a service on loopback) stays out of an instance's reach.
 */
export function isMirrorUrl(url: URL, mirrors: readonly string[]): boolean {
  if (url.protocol !== 'http:' || url.username || url.password) return false;
  return mirrors.some((mirror) => {
    const prefix = new URL(mirror);
    return (
      prefix.protocol === url.protocol &&
      prefix.hostname === url.hostname &&
      (prefix.port || '80') === (url.port || '80') &&
      url.pathname.startsWith(prefix.pathname.endsWith('/') ? prefix.pathname : `${prefix.pathname}/`)
    );
  });
}

function returnedHeaders(upstream: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const name of RETURNED_HEADERS) {
    const value = upstream.headers[name];
    if (typeof value === 'string') headers[name] = value;
  }
  return headers;
}
