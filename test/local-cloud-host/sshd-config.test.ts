import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { renderSshdConfig, sshdValue } from '../../src/local-cloud/sshd-config.js';

const work = mkdtempSync(path.join(tmpdir(), 'bake-sshd-config-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** What the real sshd reads from a config file (`sshd -T` prints the effective settings). */
function effective(config: string): Map<string, string> {
  const file = path.join(work, 'sshd_config');
  writeFileSync(file, config);
  mkdirSync('/run/sshd', { recursive: true });
  const text = execFileSync('/usr/sbin/sshd', ['-T', '-f', file], { encoding: 'utf8' });
  return new Map(text.split('\n').filter(Boolean).map((line) => [line.slice(0, line.indexOf(' ')), line.slice(line.indexOf(' ') + 1)]));
}

describe('the sshd_config of an instance', () => {
  it('chroots logins into the instance and allows only the key pair, for root', () => {
    const hostKey = path.join(work, 'host key');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', hostKey]);
    const settings = effective(
      renderSshdConfig({ ip: '127.0.0.7', port: 2299, hostKey, chrootDirectory: '/srv/i-1/rootfs', authorizedKeysFile: '/srv/i-1/authorized_keys' }),
    );
    expect(settings.get('listenaddress')).toBe('127.0.0.7:2299');
    expect(settings.get('chrootdirectory')).toBe('/srv/i-1/rootfs');
    expect(settings.get('permitrootlogin')).toBe('without-password');
    expect(settings.get('passwordauthentication')).toBe('no');
    expect(settings.get('usepam')).toBe('no');
    expect(settings.get('subsystem')).toBe('sftp internal-sftp');
  });

  it('keeps hostile paths whole: spaces, quotes, backslashes, # and % reach sshd unchanged', () => {
    const dir = path.join(work, `state "dir" it's 100% \\ #1`);
    mkdirSync(dir);
    const hostKey = path.join(dir, 'key');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', hostKey]);
    const settings = effective(
      renderSshdConfig({ ip: '127.0.0.8', port: 2299, hostKey, chrootDirectory: path.join(dir, 'rootfs'), authorizedKeysFile: path.join(dir, 'keys') }),
    );
    expect(settings.get('hostkey')).toBe(hostKey);
    // sshd expands %-tokens in these two when it uses them; %% is how a literal % survives.
    expect(settings.get('chrootdirectory')).toBe(path.join(dir, 'rootfs').replaceAll('%', '%%'));
    expect(settings.get('authorizedkeysfile')).toBe(path.join(dir, 'keys').replaceAll('%', '%%'));
  });

  it('refuses a value with a line break rather than let it start a new option', () => {
    expect(() => sshdValue('/srv/x\nPermitRootLogin yes')).toThrow(/line break/);
    expect(() => renderSshdConfig({ ip: '10.0.0.1', port: 22, hostKey: '/k', chrootDirectory: '/c', authorizedKeysFile: '/a' })).toThrow(/loopback/);
  });
});
