import { existsSync, lstatSync, statSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterEach, describe, expect, it } from 'vitest';
import { secretsVarsText, withSecretsFile } from '../../src/secrets/secrets-file.js';
import { privateParent, withPrivateRunDir } from '../../src/files/private-run-dir.js';
import { ownIdentity } from '../../src/files/process-identity.js';

const HOSTILE = `tok{{ lookup('pipe', 'echo EVALUATED') }}"'\\ $x \n second line é \u0085 \u2028 {% raw %}`;

describe('the secrets extra-vars file', () => {
  it('reaches a real ansible-playbook as a plain string variable, with no template in it evaluated', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'bake-secrets-file-'));
    const out = path.join(dir, 'received');
    const playbook = path.join(dir, 'play.yml');
    await writeFile(
      playbook,
      `- hosts: localhost\n  connection: local\n  gather_facts: false\n  tasks:\n    - ansible.builtin.copy: { content: "{{ repo_token }}", dest: ${JSON.stringify(out)} }\n      no_log: true\n`,
    );
    let seen = '';
    await withSecretsFile({ repo_token: HOSTILE }, async (file) => {
      seen = file;
      const info = statSync(file);
      expect(info.mode & 0o777).toBe(0o600);
      expect(statSync(path.dirname(file)).mode & 0o777).toBe(0o700);
      // Inside bake's own parent, never directly in the shared /dev/shm.
      const parent = path.dirname(path.dirname(file));
      expect(parent).toBe(`/dev/shm/bake-${process.getuid!()}`);
      expect(lstatSync(parent).isDirectory()).toBe(true);
      expect(lstatSync(parent).mode & 0o777).toBe(0o700);
      const run = await execa('ansible-playbook', ['-i', 'localhost,', '--extra-vars', `@${file}`, playbook], {
        reject: false,
        all: true,
        env: { ANSIBLE_NOCOLOR: '1' },
      });
      expect(run.exitCode, run.all).toBe(0);
      expect(run.all).not.toContain('tok{{');
    });
    expect(await readFile(out, 'utf8')).toBe(HOSTILE);
    expect(existsSync(seen)).toBe(false);
    expect(existsSync(path.dirname(seen))).toBe(false);
  });

  it('is removed when the run fails too', async () => {
    let seen = '';
    await expect(
      withSecretsFile({ a_secret: 'value-1234' }, async (file) => {
        seen = file;
        throw new Error('packer failed');
      }),
    ).rejects.toThrow('packer failed');
    expect(existsSync(path.dirname(seen))).toBe(false);
  });

  it('tags every value !unsafe', () => {
    expect(secretsVarsText({ a: 'x', b: 'y' })).toBe('a: !unsafe "x"\nb: !unsafe "y"\n');
  });
});

/** A local user other than bake's (nobody), as attackers are. */
const OTHER_UID = 65534;
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A folder only root may read, holding a file: what an attacker would like bake to empty. */
async function rootOnlyVictim(): Promise<{ dir: string; file: string }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'bake-victim-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  await chmod(dir, 0o700);
  const file = path.join(dir, 'precious');
  await writeFile(file, 'keep me\n');
  return { dir, file };
}

/** A pid no process has right now (a child that has exited). */
async function deadPid(): Promise<number> {
  const child = execa('true');
  await child;
  return child.pid!;
}

/** A world-writable sticky folder like /dev/shm, for planting a hostile parent without touching the real one. */
async function sharedPlace(): Promise<string> {
  const dir = await mkdtemp(path.join('/dev/shm', 'bake-test-shared-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  await chmod(dir, 0o1777);
  return dir;
}

describe('secrets in a shared folder other local users can write to', () => {
  it("never touches another user's entries in /dev/shm, even folders named like an abandoned bake's that are swapped for links while it runs", async () => {
    const victim = await rootOnlyVictim();
    const dead = await deadPid();
    // What the attacker (uid nobody) plants: a folder named like one a killed bake left, and a link.
    const planted = path.join('/dev/shm', `bake-secrets-${dead}-planted${process.pid}`);
    const link = path.join('/dev/shm', `bake-secrets-${dead}-link${process.pid}`);
    await mkdir(planted);
    await writeFile(path.join(planted, 'theirs'), 'attacker file\n');
    await chown(planted, OTHER_UID, OTHER_UID);
    await chown(path.join(planted, 'theirs'), OTHER_UID, OTHER_UID);
    await symlink(victim.dir, link);
    cleanups.push(async () => {
      await rm(planted, { recursive: true, force: true });
      await rm(link, { force: true });
    });
    // Meanwhile the attacker keeps swapping a sub-folder of its planted folder for a link to the victim.
    const swapper = execa(
      'setpriv',
      [
        `--reuid=${OTHER_UID}`,
        `--regid=${OTHER_UID}`,
        '--clear-groups',
        'sh',
        '-c',
        'while :; do mkdir -p "$1/sub" && : > "$1/sub/a"; rm -rf "$1/sub"; ln -s "$2" "$1/sub"; rm -f "$1/sub"; done',
        'swapper',
        planted,
        victim.dir,
      ],
      { reject: false },
    );
    cleanups.push(async () => {
      process.kill(swapper.pid!, 'SIGKILL');
      await swapper;
    });

    for (let i = 0; i < 10; i++) await withSecretsFile({ a_secret: 'value-1234' }, async () => undefined);

    expect(await readFile(victim.file, 'utf8')).toBe('keep me\n');
    expect(existsSync(path.join(planted, 'theirs'))).toBe(true);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
  });

  it.each([
    [
      'a link to a root-only folder',
      async (at: string, victim: string) => void (await symlink(victim, at)),
      /is a symbolic link/,
    ],
    [
      "another user's folder",
      async (at: string) => {
        await mkdir(at, { mode: 0o700 });
        await chown(at, OTHER_UID, OTHER_UID);
      },
      /owned by uid 65534/,
    ],
    [
      'a folder others may enter',
      async (at: string) => {
        await mkdir(at);
        await chmod(at, 0o777);
      },
      /mode 0777 lets other users in/,
    ],
    ['a file', async (at: string) => void (await writeFile(at, 'x')), /is not a directory/],
  ])('refuses a parent planted as %s and writes nothing through it', async (_what, plant, message) => {
    const victim = await rootOnlyVictim();
    const place = await sharedPlace();
    const parent = path.join(place, `bake-${process.getuid!()}`);
    await plant(parent, victim.dir);
    let ran = false;
    await expect(
      withSecretsFile({ a_secret: 'value-1234' }, async () => void (ran = true), { places: [place] }),
    ).rejects.toThrow(message);
    expect(ran).toBe(false);
    expect(await readdir(victim.dir)).toEqual(['precious']);
    expect(await readFile(victim.file, 'utf8')).toBe('keep me\n');
  });

  it('refuses a place other users may write to without the sticky bit', async () => {
    const place = await sharedPlace();
    await chmod(place, 0o777);
    await expect(privateParent({ places: [place] })).rejects.toThrow(/without the sticky bit \(mode 0777\)/);
  });

  it('removes the run folder of a killed bake from its own parent, and keeps a running one', async () => {
    const place = await sharedPlace();
    const parent = await privateParent({ places: [place] });
    const dead = await deadPid();
    const abandoned = path.join(parent, `secrets.${dead}.12345.AbCdEf`);
    const [pid, start] = ownIdentity().split(':');
    const running = path.join(parent, `secrets.${pid}.${start}.XyZ123`);
    await mkdir(abandoned, { mode: 0o700 });
    await writeFile(path.join(abandoned, 'vars.yml'), 'a_secret: left behind\n');
    await mkdir(running, { mode: 0o700 });
    await withPrivateRunDir('packer-tmp', async (dir) => expect(path.dirname(dir)).toBe(parent), { places: [place] });
    expect(existsSync(abandoned)).toBe(false);
    expect(existsSync(running)).toBe(true);
  });
});
