import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import {
  claimFile,
  networkOfAddress,
  networkOfSlot,
  overlaps,
  removeNetworkIfAbandoned,
} from '../../src/local-cloud/instance-network.js';

describe('instance networks', () => {
  it('gives slot N a /30 of 198.18.0.0/15: the host at .1, the instance at .2, names within 15 characters', () => {
    expect(networkOfSlot(0)).toEqual({
      slot: 0,
      namespace: 'bake-0',
      hostInterface: 'bake0h',
      hostIp: '198.18.0.1',
      ip: '198.18.0.2',
      prefixLength: 30,
    });
    expect(networkOfSlot(64)).toMatchObject({ hostIp: '198.18.1.1', ip: '198.18.1.2' });
    const last = networkOfSlot(32767);
    expect(last).toMatchObject({ hostIp: '198.19.255.253', ip: '198.19.255.254' });
    expect(last.hostInterface.length).toBeLessThanOrEqual(15);
    expect(() => networkOfSlot(32768)).toThrow(/no network slot/);
  });

  it('finds the network of an instance address, and none for the host side or foreign addresses', () => {
    expect(networkOfAddress('198.18.1.2')?.slot).toBe(64);
    expect(networkOfAddress('198.18.1.1')).toBeUndefined();
    expect(networkOfAddress('10.0.0.2')).toBeUndefined();
  });

  it('sees a host route that overlaps a slot, so that slot is never used', () => {
    expect(overlaps('198.18.0.0/15', 5)).toBe(true);
    expect(overlaps('198.18.0.4/30', 1)).toBe(true);
    expect(overlaps('198.18.0.6', 1)).toBe(true);
    expect(overlaps('198.18.0.8/30', 1)).toBe(false);
    expect(overlaps('10.0.0.0/8', 1)).toBe(false);
    expect(overlaps('0.0.0.0/0', 1)).toBe(true);
  });

  it('never reclaims a slot whose claiming process lives, before or after its namespace exists; reclaims it once that process is gone', async () => {
    const network = networkOfSlot(32001);
    const owner = execa('sleep', ['60']);
    try {
      await mkdir(path.dirname(claimFile(network)), { recursive: true });
      // Another process between claiming the slot and adding its namespace.
      await writeFile(claimFile(network), `${owner.pid}\n`);
      expect(await removeNetworkIfAbandoned(network)).toBe(false);
      expect(await readFile(claimFile(network), 'utf8')).toBe(`${owner.pid}\n`);
      // Its namespace added, nothing booted in it yet.
      await execa('ip', ['netns', 'add', network.namespace]);
      expect(await removeNetworkIfAbandoned(network)).toBe(false);
      expect(existsSync(`/run/netns/${network.namespace}`)).toBe(true);
      owner.kill();
      await owner.catch(() => undefined);
      expect(await removeNetworkIfAbandoned(network)).toBe(true);
      expect(existsSync(`/run/netns/${network.namespace}`)).toBe(false);
      expect(existsSync(claimFile(network))).toBe(false);
    } finally {
      owner.kill();
      await execa('ip', ['netns', 'delete', network.namespace], { reject: false });
    }
  });
});
