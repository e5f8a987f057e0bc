/**
 * Ctrl-C (SIGINT) and Jenkins' Abort (SIGTERM) in the middle of a real `bake build --local`:
 * Packer is provisioning a booted instance that runs a service. Afterwards nothing of the run
 * may be left: no instance, container, process, network namespace or mount. And `kill -9`, which
 * bake cannot handle: Packer and the container still end, and the next bake is not held up by
 * the dead bake's build lock.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { mountsUnder } from '../../src/local-cloud/rootfs.js';
import { networksClaimedBy, processesUsing } from '../local-cloud/instances.js';
import { bake, bakeEnv, repo, temporaryBakery } from './local-bakery.js';

const fixture = path.join(repo, 'test/fixtures/interrupt/bakery');
const env = bakeEnv();

const bakery = () => temporaryBakery('bake-interrupt-', { copy: fixture });

/** The build log's text so far (the one recipe's Packer output). */
async function buildLog(dir: string): Promise<string> {
  return (await buildLogs(dir)).join('');
}

/** Each run's build log of the recipe, oldest run first. */
async function buildLogs(dir: string): Promise<string[]> {
  const runs = await readdir(path.join(dir, '.bake/logs')).catch(() => [] as string[]);
  const texts = await Promise.all(
    runs.map((run) => readFile(path.join(dir, '.bake/logs', run, 'slow.log'), 'utf8').catch(() => '')),
  );
  return texts;
}

async function waitFor(what: string, condition: () => Promise<boolean> | boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

describe.each(['SIGINT', 'SIGTERM'] as const)('bake build --local interrupted by %s', (signal) => {
  it('stops Packer, which terminates its instance, and leaves no container, process, namespace or mount', async () => {
    const dir = await bakery();
    const run = execa('node', [bake, 'build', '--local', '--dir', dir], { env, reject: false });
    const deadline = Date.now() + 20 * 60_000;
    // The instance has booted, the role started a service and now waits in a task.
    while (!(await buildLog(dir)).includes('TASK [slow : Wait to be interrupted]')) {
      if (Date.now() > deadline || run.exitCode !== null)
        throw new Error(`provisioning never reached the waiting task:\n${await buildLog(dir)}`);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    const instances = path.join(dir, '.bake/local/instances');
    expect((await readdir(instances)).filter((name) => !name.startsWith('.'))).toHaveLength(1);
    // process.kill, not run.kill: execa follows its SIGTERM with SIGKILL after 5 s, which Jenkins does not.
    process.kill(run.pid!, signal);
    const result = await run;
    expect(result.exitCode, result.stderr.slice(-2000)).not.toBe(0);
    expect(result.stderr).toContain(`${signal} received`);

    expect(processesUsing(dir)).toEqual([]);
    expect(await mountsUnder(dir)).toEqual([]);
    expect(networksClaimedBy(run.pid!)).toEqual([]);
    expect((await readdir(instances)).filter((name) => !name.startsWith('.'))).toEqual([]);
    const state = JSON.parse(await readFile(path.join(dir, '.bake/local/state.json'), 'utf8')) as {
      instances: { state: string }[];
    };
    expect(state.instances.map((i) => i.state).filter((s) => s !== 'terminated')).toEqual([]);
  });
});

describe('bake build --local killed with SIGKILL', () => {
  it('takes Packer and the instance down with it, and the next bake takes over its build lock at once', async () => {
    const dir = await bakery();
    const waiting = (log: string) => log.includes('TASK [slow : Wait to be interrupted]');
    const first = execa('node', [bake, 'build', '--local', '--dir', dir], { env, reject: false });
    await waitFor(
      'the first bake to provision',
      async () => waiting(await buildLog(dir)) || first.exitCode !== null,
      20 * 60_000,
    );
    expect(first.exitCode, await buildLog(dir)).toBe(null);
    expect(processesUsing(dir).length).toBeGreaterThan(0);
    process.kill(first.pid!, 'SIGKILL');
    await first;
    // Packer (and its Ansible) and the container (and the role's service in it) end on their own.
    await waitFor('nothing of the killed bake to run', () => processesUsing(dir).length === 0, 120_000).catch(
      () => undefined,
    );
    expect(processesUsing(dir)).toEqual([]);

    const second = execa('node', [bake, 'build', '--local', '--dir', dir], { env, reject: false, all: true });
    let output = '';
    second.all!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const takeover =
      /taking over the build lock bake-lock-slow@\S+ in us-east-1: .* whose process \(pid \d+\) on this host is gone/;
    await waitFor(
      'the second bake to take the lock',
      () => takeover.test(output) || second.exitCode !== null,
      10 * 60_000,
    );
    expect(output, output.slice(-3000)).toMatch(takeover);
    if (second.exitCode === null) process.kill(second.pid!, 'SIGINT');
    await second;
    expect(processesUsing(dir)).toEqual([]);
  });
});
