import { readFileSync } from 'node:fs';
import { cp, mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PackerBuildFailure, PackerInterrupted, runPackerBuild } from '../../src/packer/runner.js';

const fixtures = path.resolve('test/fixtures/pipeline/packer');

/** A fresh copy of the fixture templates, as the pipeline's per-run work directory would be. */
async function workDir() {
  const dir = await mkdtemp(path.join(tmpdir(), 'bake-runner-'));
  await cp(fixtures, dir, { recursive: true });
  return dir;
}

/** Alive and not a zombie waiting to be reaped. */
function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) Z/.test(stat);
  } catch {
    return false;
  }
}

describe('runPackerBuild with the real packer', () => {
  it('runs the template with the var file and appends all output to the log', async () => {
    const dir = await workDir();
    const lines: string[] = [];
    const logFile = path.join(dir, 'logs', 'run-1', 'tiny.log');
    const result = await runPackerBuild({
      templateDir: dir,
      templateFile: 'ok.pkr.hcl',
      varFile: 'vars.pkrvars.hcl',
      logFile,
      env: { AWS_SECRET_ACCESS_KEY: 'do-not-log-me' },
      onLine: (line) => lines.push(line),
    });
    expect(result.exitCode).toBe(0);
    expect(lines).toContain('    null.tiny: said: hello');
    const log = await readFile(logFile, 'utf8');
    expect(log).toContain('null.tiny: said: hello');
    expect(log).toContain('packer finished: exit 0');
    expect(log).not.toContain('do-not-log-me');
    expect(JSON.parse(await readFile(path.join(dir, 'manifest.json'), 'utf8')).builds).toHaveLength(1);
  });

  it('fails with a one-line message and carries the last log lines', async () => {
    const dir = await workDir();
    const logFile = path.join(dir, 'fail.log');
    const error = await runPackerBuild({
      templateDir: dir,
      templateFile: 'fail.pkr.hcl',
      varFile: 'vars.pkrvars.hcl',
      logFile,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PackerBuildFailure);
    const failure = error as PackerBuildFailure;
    expect(failure.toLine()).not.toContain('\n');
    expect(failure.toLine()).toContain('packer build failed (exit 1)');
    expect(failure.toLine()).toContain(logFile);
    expect(failure.lastLines.join('\n')).toContain('fatal: no package nginx-ultra');
    expect(failure.lastLines.length).toBeLessThanOrEqual(20);
  });

  it('says so when the packer binary is missing', async () => {
    const dir = await workDir();
    const error = await runPackerBuild({
      templateDir: dir,
      templateFile: 'ok.pkr.hcl',
      varFile: 'vars.pkrvars.hcl',
      logFile: path.join(dir, 'x.log'),
      bin: 'packer-that-does-not-exist',
    }).catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/^packer-that-does-not-exist not found/);
  });

  it('on abort interrupts packer, waits for it to exit and leaves nothing running', async () => {
    const dir = await workDir();
    const controller = new AbortController();
    const logFile = path.join(dir, 'slow.log');
    const running = runPackerBuild({
      templateDir: dir,
      templateFile: 'slow.pkr.hcl',
      varFile: 'vars.pkrvars.hcl',
      logFile,
      signal: controller.signal,
      onLine: (line) => {
        if (line.includes('provisioning hello')) controller.abort();
      },
    });
    const error = await running.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PackerInterrupted);
    expect((error as PackerInterrupted).forced).toBe(false);
    const sleepPid = Number((await readFile(path.join(dir, 'sleep.pid'), 'utf8')).trim());
    expect(isRunning(sleepPid)).toBe(false);
    const log = await readFile(logFile, 'utf8');
    expect(log).toContain('sending SIGINT to packer');
    expect(log).toMatch(/packer finished: (exit \d+|killed by SIGINT)/);
  });

  it('kills a packer that ignores the interrupt once the grace period is over', async () => {
    const dir = await workDir();
    const controller = new AbortController();
    const error = await runPackerBuild({
      templateDir: dir,
      templateFile: 'ok.pkr.hcl',
      varFile: 'vars.pkrvars.hcl',
      logFile: path.join(dir, 'stubborn.log'),
      bin: path.resolve('test/fixtures/pipeline/stubborn-packer.sh'),
      graceMs: 300,
      signal: controller.signal,
      onLine: (line) => {
        if (line.includes('Waiting for the instance')) controller.abort();
      },
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PackerInterrupted);
    expect((error as PackerInterrupted).forced).toBe(true);
    expect(isRunning(Number((await readFile(path.join(dir, 'stubborn.pid'), 'utf8')).trim()))).toBe(false);
    const log = await readFile(path.join(dir, 'stubborn.log'), 'utf8');
    expect(log).toContain('interrupt ignored');
    expect(log).toContain('sending SIGKILL');
  });

  it('does not start packer when the run is already interrupted', async () => {
    const dir = await workDir();
    const controller = new AbortController();
    controller.abort();
    const error = await runPackerBuild({
      templateDir: dir,
      templateFile: 'ok.pkr.hcl',
      varFile: 'vars.pkrvars.hcl',
      logFile: path.join(dir, 'x.log'),
      signal: controller.signal,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PackerInterrupted);
    await expect(readFile(path.join(dir, 'manifest.json'))).rejects.toThrow();
  });
});
