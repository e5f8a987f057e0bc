/**
 * Ctrl-C (SIGINT) and Jenkins' Abort (SIGTERM) in the middle of a real `bake build --local`:
 * Packer is provisioning a booted instance that runs a service. Afterwards nothing of the run
 * may be left: no instance, container, process, network namespace or mount.
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
  const runs = await readdir(path.join(dir, '.bake/logs')).catch(() => [] as string[]);
  const texts = await Promise.all(
    runs.map((run) => readFile(path.join(dir, '.bake/logs', run, 'slow.log'), 'utf8').catch(() => '')),
  );
  return texts.join('');
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
