/**
 * The Jenkinsfile's stages for real, on one machine: scripts/jenkins-local.sh on the example
 * bakery — validate, plan, build with each recipe in its own clone (no shared disk) once its parent's image exists,
 * pin — against one shared local cloud, real Packer and Ansible. Then a commit that touches one
 * role, and the `CHANGED_SINCE` run that rebuilds exactly the recipe using it.
 */
import { existsSync } from 'node:fs';
import { appendFile, mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DescribeImagesCommand } from '@aws-sdk/client-ec2';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { EXAMPLE_BAKERY, git, repo, ROOTFS_CACHE, temporaryBakery, withLocalCloud } from './local-bakery.js';

const script = path.join(repo, 'scripts/jenkins-local.sh');

interface PlanJson {
  recipes: Array<{ name: string; action: string; level?: number; reasons: string[] }>;
  changed_since?: { recipes: Record<string, string[]> };
}

async function runPipeline(bakery: string, work: string, extraEnv: Record<string, string> = {}) {
  const started = Date.now();
  const run = await execa(script, [bakery], {
    env: {
      ...process.env,
      BAKE_ROOTFS_CACHE: ROOTFS_CACHE,
      JENKINS_LOCAL_WORK: work,
      JOB_NAME: 'images/main',
      BUILD_NUMBER: '7',
      BUILD_URL: 'https://jenkins.example/job/images/7/',
      ...extraEnv,
    },
    reject: false,
    all: true,
  });
  const seconds = (Date.now() - started) / 1000;
  const plan = JSON.parse(await readFile(path.join(work, 'plan.json'), 'utf8')) as PlanJson;
  return { run, seconds, plan };
}

describe('scripts/jenkins-local.sh: the Jenkinsfile against the local cloud', () => {
  it('bakes each recipe on its own clone once its parent is baked, pins from tags, and with CHANGED_SINCE rebuilds only what a commit touched', async () => {
    const bakery = await temporaryBakery('bake-jenkins-', { copy: repo, entries: EXAMPLE_BAKERY });
    const work = await mkdtemp(path.join(tmpdir(), 'bake-jenkins-work-'));

    const first = await runPipeline(bakery, work);
    console.log(`jenkins-local, every recipe: ${first.seconds.toFixed(1)} s`);
    expect(first.run.exitCode, first.run.all?.slice(-4000)).toBe(0);
    expect(first.plan.recipes.map((r) => [r.name, r.action, r.level])).toEqual([
      ['base', 'build', 0],
      ['web', 'build', 1],
      ['worker', 'build', 1],
    ]);
    for (const name of ['base', 'web', 'worker']) {
      expect(await readFile(path.join(work, 'reports', `${name}.xml`), 'utf8')).toMatch(/failures="0"/);
    }
    // Pinned in the pipeline's own checkout, from tags; the bakery pointed at is untouched.
    const pinDiff = await readFile(path.join(work, 'pin.diff'), 'utf8');
    expect(pinDiff).toMatch(/\+\s*us-east-1 = "ami-[0-9a-f]+" # replaced by bake pin/);
    expect((await git(bakery, 'status', '--porcelain')).stdout).toBe('');

    // The images carry Jenkins' metadata (read back through the EC2 API from the kept cloud state).
    await withLocalCloud(path.join(work, 'cloud', '.bake', 'local'), async (ec2) => {
      const { Images = [] } = await ec2.send(
        new DescribeImagesCommand({ Owners: ['self'], Filters: [{ Name: 'tag:bake:recipe', Values: ['web'] }] }),
      );
      const tags = Object.fromEntries((Images[0]?.Tags ?? []).map((t) => [t.Key, t.Value]));
      expect(tags).toMatchObject({
        'bake:job': 'images/main',
        'bake:build-url': 'https://jenkins.example/job/images/7/',
      });
    });

    // What PUSH_PINS does in Jenkins: the pinned tfvars are committed.
    await git(bakery, 'apply', path.join(work, 'pin.diff'));
    await git(bakery, 'commit', '-qam', 'bake: pin AMIs from build 7');

    // A commit touches node_exporter, which web and worker use (base does not).
    const before = (await git(bakery, 'rev-parse', 'HEAD')).stdout.trim();
    await appendFile(path.join(bakery, 'roles/node_exporter/defaults/main.yml'), '# scrape interval reviewed\n');
    await git(bakery, 'commit', '-qam', 'node_exporter: note');
    const second = await runPipeline(bakery, work, {
      CHANGED_SINCE: before,
      BUILD_NUMBER: '8',
      BUILD_URL: 'https://jenkins.example/job/images/8/',
    });
    console.log(`jenkins-local, CHANGED_SINCE with one role changed: ${second.seconds.toFixed(1)} s`);
    expect(second.run.exitCode, second.run.all?.slice(-4000)).toBe(0);
    expect(second.plan.changed_since?.recipes).toEqual({
      web: ['roles changed: node_exporter'],
      worker: ['roles changed: node_exporter'],
    });
    // base is untouched and its image exists: web and worker both start at once.
    expect(second.plan.recipes.map((r) => [r.name, r.action, r.level])).toEqual([
      ['web', 'build', 0],
      ['worker', 'build', 0],
    ]);
    expect(existsSync(path.join(work, 'reports', 'web.xml'))).toBe(true);
    expect(existsSync(path.join(work, 'reports', 'worker.xml'))).toBe(true);
    expect(existsSync(path.join(work, 'reports', 'base.xml'))).toBe(false);
    const secondDiff = await readFile(path.join(work, 'pin.diff'), 'utf8');
    expect(secondDiff).toContain('infra/web/');
    expect(secondDiff).toContain('infra/worker/');
    expect(secondDiff).not.toContain('infra/shared/');
  });
});
