import { mkdtemp, writeFile, readdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import type { VerifyCheck } from '../../src/recipes/model.js';
import { RecipeError } from '../../src/errors/index.js';
import { renderVerifyScript } from '../../src/packer/verify-script.js';

const location = { file: '/srv/bakery/recipes/web.yaml', line: 30, col: 5 };

/** Runs the generated script with the real /bin/sh, in a scratch directory. */
async function runScript(checks: VerifyCheck[], env: Record<string, string> = {}) {
  const dir = await mkdtemp(path.join(tmpdir(), 'bake-verify-'));
  const script = path.join(dir, 'verify.sh');
  await writeFile(script, renderVerifyScript(checks), { mode: 0o755 });
  const result = await execa('sh', [script], { cwd: dir, reject: false, env });
  return { dir, ...result };
}

describe('the verify script', () => {
  it('passes when every check passes', async () => {
    const result = await runScript([
      { kind: 'command', command: 'test 1 -eq 1', location },
      { kind: 'file', path: '/bin/sh', location },
    ]);
    expect(result.stdout).toContain('bake verify ok: command: test 1 -eq 1');
    expect(result.exitCode).toBe(0);
  });

  it('runs every check, reports each failure with its output, and exits non-zero', async () => {
    const result = await runScript([
      { kind: 'command', command: 'echo broken on purpose; exit 3', location },
      { kind: 'file', path: '/no/such/file', location },
      { kind: 'command', command: 'true', location },
    ]);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain('bake verify FAILED: command: echo broken on purpose; exit 3');
    expect(result.stderr).toContain('broken on purpose');
    expect(result.stderr).toContain('bake verify FAILED: file exists: /no/such/file');
    expect(result.stdout).toContain('bake verify ok: command: true');
  });

  it('checks that a file contains a text, multi-line texts included', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'bake-verify-file-'));
    const file = path.join(dir, "it's a $(file).conf");
    await writeFile(file, 'listen 8080;\nserver_name example.org;\n');
    const result = await runScript([
      { kind: 'file', path: file, contains: 'listen 8080;', location },
      { kind: 'file', path: file, contains: 'listen 8080;\nserver_name example.org;', location },
      { kind: 'file', path: file, contains: 'listen 8080;\nserver_name other.org;', location },
      { kind: 'file', path: file, contains: 'listen 9090', location },
    ]);
    expect(result.stdout.match(/bake verify ok/g)).toHaveLength(2);
    expect(result.stderr.match(/bake verify FAILED/g)).toHaveLength(2);
    expect(result.exitCode).toBe(1);
  });

  it('never runs code hidden in file paths, texts or names', async () => {
    const sneaky = ["'; touch pwned1; '", '$(touch pwned2)', '`touch pwned3`', '"; touch pwned4; "'];
    const result = await runScript(
      sneaky.flatMap((value): VerifyCheck[] => [
        { kind: 'file', path: value, contains: value, location },
        { kind: 'package', name: value, location },
      ]),
    );
    expect(await readdir(result.dir)).toEqual(['verify.sh']);
    expect(result.exitCode).toBe(1);
  });

  it('takes a package name that looks like an option as a name, so it cannot pass by listing every package', async () => {
    const result = await runScript([
      { kind: 'package', name: '--showformat=install ok installed\\n', location },
      { kind: 'package', name: '--help', location },
      { kind: 'package', name: 'dpkg', location },
    ]);
    expect(result.stdout.match(/bake verify ok/g)).toEqual(['bake verify ok']);
    expect(result.stdout).toContain('bake verify ok: package installed: dpkg');
    expect(result.stderr.match(/bake verify FAILED/g)).toHaveLength(2);
  });

  it('passes a port only where a socket really listens (ss), never because a configuration names it', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const open = (server.address() as AddressInfo).port;
    const closed = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const { port } = probe.address() as AddressInfo;
        probe.close(() => resolve(port));
      });
    });
    try {
      const result = await runScript([open, closed].map((port): VerifyCheck => ({ kind: 'port', port, location })));
      expect(result.stdout).toBe(`bake verify ok: port listening: ${open}`);
      expect(result.stderr).toContain(
        `bake verify FAILED: port listening: ${closed}\nnothing listens on TCP port ${closed}`,
      );
      expect(result.exitCode).toBe(1);
    } finally {
      server.close();
    }
  });

  it('fails a service check where systemd is not running, saying so', async () => {
    const result = await runScript([{ kind: 'service', name: 'ssh', location }]);
    if (existsSync('/run/systemd/system')) return expect(result.stderr).toMatch(/service running: ssh/);
    expect(result.stderr).toContain('bake verify FAILED: service running: ssh\nsystemd is not running here');
    expect(result.exitCode).toBe(1);
  });

  it('refuses a port that is not a whole number from 1 to 65535, pointing at the check', () => {
    expect(() => renderVerifyScript([{ kind: 'port', port: 70000, location }])).toThrow(RecipeError);
    try {
      renderVerifyScript([{ kind: 'port', port: 1.5, location }]);
    } catch (error) {
      expect((error as RecipeError).toLine()).toBe(
        '/srv/bakery/recipes/web.yaml:30:5: verify port must be a whole number from 1 to 65535, got 1.5',
      );
    }
  });

  it('is valid POSIX shell for every kind of check', async () => {
    const script = renderVerifyScript([
      { kind: 'command', command: 'true', location },
      { kind: 'file', path: '/etc/hosts', contains: 'localhost', location },
      { kind: 'package', name: 'openssh-server', location },
      { kind: 'service', name: 'ssh', location },
      { kind: 'port', port: 22, location },
    ]);
    const result = await execa('sh', ['-n'], { input: script, reject: false });
    expect(result.exitCode).toBe(0);
  });
});
