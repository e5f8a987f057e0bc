import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { allocateAddress } from '../../src/local-cloud/sshd-addresses.js';

const port = 23000 + (process.pid % 1000);
let dir: string;
const servers: Server[] = [];

function instance(id: string, address?: string): void {
  mkdirSync(path.join(dir, id), { recursive: true });
  if (address) writeFileSync(path.join(dir, id, 'address'), `${address}\n`);
}

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'bake-addresses-'));
});
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
  rmSync(dir, { recursive: true, force: true });
});

describe('loopback addresses of instances', () => {
  it('hands out the lowest address no other instance of this host holds, and records it', async () => {
    instance('i-a', '127.0.0.2');
    instance('i-b');
    expect(await allocateAddress(dir, 'i-b', port)).toBe('127.0.0.3');
    expect(readFileSync(path.join(dir, 'i-b/address'), 'utf8')).toBe('127.0.0.3\n');
  });

  it('gives a restarted instance the address it had', async () => {
    instance('i-a', '127.0.0.9');
    expect(await allocateAddress(dir, 'i-a', port)).toBe('127.0.0.9');
  });

  it('skips an address another process already listens on with the same port', async () => {
    const server = createServer();
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.2', resolve));
    instance('i-a');
    expect(await allocateAddress(dir, 'i-a', port)).toBe('127.0.0.3');
  });
});
