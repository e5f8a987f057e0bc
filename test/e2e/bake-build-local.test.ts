/**
 * The README's main job, for real: `bake build --local` on the example bakery — real Packer 1.6.6,
 * real Ansible over SSH into chrooted debootstrap instances, the local EC2 endpoint over HTTP —
 * then a second run that reuses everything, and `bake pin --check` that finds nothing to change.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { bake, bakeEnv, EXAMPLE_BAKERY, repo, temporaryBakery } from './local-bakery.js';

const env = bakeEnv();

describe('bake build --local on the example bakery', () => {
  it('bakes base, then web and worker from it, pins them, and a second run reuses all three', async () => {
    const dir = await temporaryBakery('bake-e2e-', { copy: repo, entries: EXAMPLE_BAKERY });

    const started = Date.now();
    const first = await execa(
      'node',
      [bake, 'build', '--local', '--dir', dir, '--json', '--junit', path.join(dir, 'junit.xml')],
      { env, reject: false },
    );
    console.log(`bake build --local (cold): ${((Date.now() - started) / 1000).toFixed(1)} s`);
    expect(first.exitCode, first.stderr.slice(-3000)).toBe(0);
    const report = JSON.parse(first.stdout) as {
      recipes: {
        name: string;
        status: string;
        amis: Record<string, string>;
        log: string;
        launch_test: {
          status: string;
          duration_s: number;
          checks: { check: string; status: string }[];
          cloud_init: { status: string };
        };
      }[];
    };
    expect(report.recipes.map((r) => [r.name, r.status])).toEqual([
      ['base', 'built'],
      ['web', 'built'],
      ['worker', 'built'],
    ]);
    // Every image was booted and checked before it was copied and pinned.
    for (const recipe of report.recipes) {
      console.log(
        `launch test of ${recipe.name}: ${recipe.launch_test.duration_s} s (${recipe.launch_test.checks.length} checks)`,
      );
      expect(recipe.launch_test).toMatchObject({ status: 'passed', cloud_init: { status: 'done' } });
    }
    const webChecks = report.recipes.find((r) => r.name === 'web')!.launch_test.checks.map((c) => [c.check, c.status]);
    expect(webChecks).toContainEqual([
      'command: test "$(curl -fsS http://127.0.0.1/server-name)" = www.test.example.com',
      'passed',
    ]);
    expect(webChecks).toContainEqual(['service running: nginx', 'passed']);
    expect(
      report.recipes.find((r) => r.name === 'worker')!.launch_test.checks.map((c) => [c.check, c.status]),
    ).toContainEqual(['service running: worker', 'passed']);
    const web = report.recipes.find((r) => r.name === 'web')!;
    expect(Object.keys(web.amis).sort()).toEqual(['eu-west-1', 'us-east-1']);
    // Real Packer's lines told bake base's image was finished before Packer had cleaned up and exited.
    const base = report.recipes.find((r) => r.name === 'base')!;
    const baseLog = await readFile(base.log, 'utf8');
    const finished = baseLog.indexOf(`${base.amis['us-east-1']} is finished while Packer cleans up`);
    expect(finished, baseLog.slice(-3000)).toBeGreaterThan(0);
    expect(baseLog.indexOf('packer finished: exit 0')).toBeGreaterThan(finished);

    // Each image's package manifest: kept with the build's logs, and carried in the image itself
    // (in the layer web's build wrote: the local cloud keeps images as overlayfs layers).
    const manifest = (web as { packages?: { sbom: string; packages: number } }).packages!;
    expect(manifest.sbom).toMatch(/\.bake\/logs\/[^/]+\/web\.cdx\.json$/);
    expect(manifest.packages).toBeGreaterThan(100);
    const kept = JSON.parse(await readFile(manifest.sbom, 'utf8'));
    expect(kept).toMatchObject({ bomFormat: 'CycloneDX', metadata: { component: { name: 'web' } } });
    expect(kept.components.map((c: { name: string }) => c.name)).toContain('nginx-light');
    const inImage = JSON.parse(
      await readFile(
        path.join(dir, '.bake/local/images', web.amis['us-east-1'], 'layer/usr/share/bake/packages.cdx.json'),
        'utf8',
      ),
    );
    expect(inImage.components).toEqual(kept.components);

    const pinned = await readFile(path.join(dir, 'infra/web/amis.auto.tfvars'), 'utf8');
    expect(pinned).toContain(`us-east-1 = "${web.amis['us-east-1']}" # replaced by bake pin`);
    expect(pinned).toContain('instance_count = 3 // scaled by hand');

    const again = Date.now();
    const second = await execa('node', [bake, 'build', '--local', '--dir', dir, '--json'], { env, reject: false });
    console.log(`bake build --local (nothing changed): ${((Date.now() - again) / 1000).toFixed(1)} s`);
    expect(second.exitCode).toBe(0);
    expect(JSON.parse(second.stdout).recipes.map((r: { status: string }) => r.status)).toEqual([
      'reused',
      'reused',
      'reused',
    ]);

    const check = await execa('node', [bake, 'pin', '--local', '--check', '--dir', dir], { env, reject: false });
    expect(check.exitCode, check.stderr).toBe(0);
  });
});
