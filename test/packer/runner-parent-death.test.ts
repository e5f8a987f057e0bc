/**
 * `kill -9` of bake while Packer builds: Packer must not go on without it (it held the build
 * instance and the recipe's lock). A real bake process (the built runner, in a child node) runs
 * the real packer on a template whose step waits; the test kills that process outright and
 * watches Packer's processes end on their own.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { cp, mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';

const runner = path.resolve('dist/packer/runner.js');
const fixtures = path.resolve('test/fixtures/pipeline/packer');

/** Packer's processes (its wrapper and the build itself) working in dir, not zombies. */
function packersIn(dir: string): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        return stat.includes('(packer)') && !/\) Z /.test(stat) && readlinkSync(`/proc/${pid}/cwd`) === dir;
      } catch {
        return false;
      }
    })
    .map(Number);
}

async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await condition()) return true;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return condition();
}

describe('packer run by bake', () => {
  it('ends when bake is killed with SIGKILL, instead of building on without it', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'bake-parent-death-'));
    await cp(fixtures, dir, { recursive: true });
    const logFile = path.join(dir, 'slow.log');
    const script = `
      const { runPackerBuild } = await import(${JSON.stringify(runner)});
      await runPackerBuild({ templateDir: ${JSON.stringify(dir)}, templateFile: 'slow.pkr.hcl', varFile: 'vars.pkrvars.hcl', logFile: ${JSON.stringify(logFile)} });
    `;
    const bake = execa('node', ['--input-type=module', '-e', script], { reject: false });
    try {
      const provisioning = await waitFor(
        async () => (await readFile(logFile, 'utf8').catch(() => '')).includes('provisioning hello'),
        120_000,
      );
      expect(provisioning, await readFile(logFile, 'utf8').catch(() => 'no log')).toBe(true);
      const packers = packersIn(dir);
      expect(packers.length).toBeGreaterThan(0);

      bake.kill('SIGKILL');
      await bake;
      const gone = await waitFor(() => packersIn(dir).length === 0, 60_000);
      expect(gone, `packer still running: ${packersIn(dir).join(', ')}`).toBe(true);
    } finally {
      bake.kill('SIGKILL');
      for (const pid of packersIn(dir)) process.kill(pid, 'SIGKILL');
      const stray = Number((await readFile(path.join(dir, 'sleep.pid'), 'utf8').catch(() => '')).trim());
      if (stray) {
        try {
          process.kill(stray, 'SIGKILL');
        } catch {
          // gone
        }
      }
    }
  });
});
