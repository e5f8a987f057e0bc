import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createOutput } from '../../src/io/output.js';
import { createListrProgress } from '../../src/pipeline/progress-listr.js';
import { createPlainProgress } from '../../src/pipeline/progress-plain.js';

function ciOutput() {
  const lines: string[] = [];
  const stream = { isTTY: false, write: (s: string) => void lines.push(s) };
  const output = createOutput({
    json: false,
    env: { CI: 'true' },
    stdout: stream,
    stderr: stream,
    now: () => new Date('2026-11-22T19:00:00Z'),
  });
  return { output, lines };
}

describe('build progress', () => {
  it('in CI prints timestamped lines: plan, start, Packer step lines only, and the result', () => {
    const { output, lines } = ciOutput();
    const progress = createPlainProgress(output);
    progress.planned([
      { name: 'base', action: 'reuse', detail: 'us-east-1 ami-1' },
      { name: 'web', action: 'build', detail: 'role nginx changed' },
      { name: 'api', action: 'build', detail: 'share_with changed on ami-3 in us-east-1: applying them (no new bake)' },
    ]);
    progress.started('web', 'building');
    progress.started('api', 'distributing');
    progress.line('web', '==> amazon-ebs.recipe: Launching a source AWS instance...');
    progress.line('web', '    amazon-ebs.recipe: TASK [nginx : install] ok');
    progress.settled('web', 'built', 'us-east-1 ami-2');
    expect(lines).toEqual([
      '2026-11-22T19:00:00.000Z base: reuse (us-east-1 ami-1)\n',
      '2026-11-22T19:00:00.000Z web: build (role nginx changed)\n',
      '2026-11-22T19:00:00.000Z api: build (share_with changed on ami-3 in us-east-1: applying them (no new bake))\n',
      '2026-11-22T19:00:00.000Z web: building\n',
      '2026-11-22T19:00:00.000Z api: distributing\n',
      '2026-11-22T19:00:00.000Z web: ==> amazon-ebs.recipe: Launching a source AWS instance...\n',
      '2026-11-22T19:00:00.000Z web: built us-east-1 ami-2\n',
    ]);
  });

  it('on a terminal follows every recipe to its end, including ones that never start', async () => {
    const screen: string[] = [];
    const terminal = Object.assign(
      new Writable({ write: (chunk, _enc, done) => (screen.push(String(chunk)), done()) }),
      { isTTY: true },
    );
    const output = createOutput({ json: true, env: {}, stdout: { write: () => true }, stderr: terminal });
    expect(output.interactive).toBe(true);
    const progress = createListrProgress(output);
    progress.planned([
      { name: 'base', action: 'build', detail: '' },
      { name: 'web', action: 'build', detail: '' },
      { name: 'db', action: 'reuse', detail: 'us-east-1 ami-1' },
      { name: 'cache', action: 'build', detail: '' },
    ]);
    progress.started('base', 'building');
    progress.line('base', '==> amazon-ebs.recipe: Provisioning with Ansible...');
    progress.settled('base', 'failed', 'packer build failed');
    progress.settled('web', 'skipped', 'parent base failed');
    // cache never settles: close() must still end the display instead of waiting forever.
    await expect(progress.close()).resolves.toBeUndefined();
    expect(screen.join('')).toContain('base: failed');
  });
});
