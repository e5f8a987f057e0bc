import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmod, mkdir, mkdtemp, readFile, readdir, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CloudError, TfvarsError } from '../../src/errors/index.js';
import { LockTimeoutError, lockFileOf, withFileLock } from '../../src/files/lock-file.js';
import { NEW_HCL_FILE_HEADER, pinImages, type PinRequest } from '../../src/pipeline/pin.js';
import { readPinnedAmis } from '../../src/tfvars/pinned-values.js';
import type { PinTarget, Recipe } from '../../src/recipes/model.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const location = { file: 'recipes/web.yaml', line: 12, col: 3 };

/** A recipe as the loader would hand it over; only what pin reads matters. */
function recipe(
  name: string,
  regions: string[],
  pin: Array<Omit<PinTarget, 'fileAsWritten' | 'location' | 'format'> & { format?: 'map' | 'string' }>,
): Recipe {
  return {
    name,
    regions,
    pin: pin.map((t) => ({ format: 'map', ...t, fileAsWritten: path.basename(t.file), location })),
  } as unknown as Recipe;
}

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'bake-pin-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const STACK = `# Web stack inputs
vpc_id = "vpc-0abc" # shared VPC

web_ami = {
  us-east-1 = "ami-11111111" # pinned by bake
  eu-west-1 = "ami-22222222"
}
`;

describe('bake pin writes AMI ids into the recipe targets', () => {
  it('pins every region of a recipe into its map and keeps the comments beside them', async () => {
    const file = path.join(dir, 'amis.auto.tfvars');
    await writeFile(file, STACK);
    const web = recipe('web', ['us-east-1', 'eu-west-1'], [{ file, variable: 'web_ami' }]);
    const [result] = await pinImages(
      [{ recipe: web, amis: { 'us-east-1': 'ami-0aaaaaaaaaaaaaaa1', 'eu-west-1': 'ami-33333333' } }],
      {
        check: false,
        roots: [dir],
      },
    );
    expect(await readFile(file, 'utf8')).toBe(
      STACK.replace('ami-11111111', 'ami-0aaaaaaaaaaaaaaa1').replace('ami-22222222', 'ami-33333333'),
    );
    expect(result).toMatchObject({ file, changed: true });
    expect(result.edits).toEqual([
      { variable: 'web_ami', key: 'us-east-1', value: 'ami-0aaaaaaaaaaaaaaa1' },
      { variable: 'web_ami', key: 'eu-west-1', value: 'ami-33333333' },
    ]);
  });

  it('writes the first region for `key:` and `format: string` targets, several recipes into one file', async () => {
    const file = path.join(dir, 'shared.tfvars');
    await writeFile(file, 'amis = {\n  web = "ami-11111111"\n}\nbastion_ami = "ami-22222222"\n');
    const requests: PinRequest[] = [
      {
        recipe: recipe('web', ['eu-west-1', 'us-east-1'], [{ file, variable: 'amis', key: 'web' }]),
        amis: { 'eu-west-1': 'ami-aaaaaaaa', 'us-east-1': 'ami-bbbbbbbb' },
      },
      {
        recipe: recipe('worker', ['eu-west-1'], [{ file, variable: 'amis', key: 'worker' }]),
        amis: { 'eu-west-1': 'ami-cccccccc' },
      },
      {
        recipe: recipe('bastion', ['eu-west-1'], [{ file, variable: 'bastion_ami', format: 'string' }]),
        amis: { 'eu-west-1': 'ami-dddddddd' },
      },
    ];
    const results = await pinImages(requests, { check: false, roots: [dir] });
    expect(results).toHaveLength(1);
    expect(await readFile(file, 'utf8')).toBe(
      'amis = {\n  web    = "ami-aaaaaaaa"\n  worker = "ami-cccccccc"\n}\nbastion_ami = "ami-dddddddd"\n',
    );
  });

  it('creates a missing tfvars file with a header saying bake manages the values', async () => {
    const file = path.join(dir, 'new.auto.tfvars');
    const json = path.join(dir, 'new.auto.tfvars.json');
    const web = recipe(
      'web',
      ['us-east-1'],
      [
        { file, variable: 'web_ami' },
        { file: json, variable: 'web_ami' },
      ],
    );
    const results = await pinImages([{ recipe: web, amis: { 'us-east-1': 'ami-aaaaaaaa' } }], {
      check: false,
      roots: [dir],
    });
    expect(results.map((r) => r.changed)).toEqual([true, true]);
    expect(await readFile(file, 'utf8')).toBe(`${NEW_HCL_FILE_HEADER}\nweb_ami = {\n  us-east-1 = "ami-aaaaaaaa"\n}\n`);
    expect(await readFile(json, 'utf8')).toBe('{\n  "web_ami": {\n    "us-east-1": "ami-aaaaaaaa"\n  }\n}\n');
  });

  it('refuses a target in a directory that does not exist', async () => {
    const file = path.join(dir, 'missing', 'amis.tfvars');
    const web = recipe('web', ['us-east-1'], [{ file, variable: 'web_ami' }]);
    await expect(
      pinImages([{ recipe: web, amis: { 'us-east-1': 'ami-aaaaaaaa' } }], { check: false, roots: [dir] }),
    ).rejects.toThrow(/does not exist; create it or fix the recipe's pin target/);
  });

  it('refuses a region the recipe has no AMI for', async () => {
    const web = recipe('web', ['us-east-1', 'eu-west-1'], [{ file: path.join(dir, 'a.tfvars'), variable: 'web_ami' }]);
    const attempt = pinImages([{ recipe: web, amis: { 'us-east-1': 'ami-aaaaaaaa' } }], { check: false, roots: [dir] });
    await expect(attempt).rejects.toBeInstanceOf(CloudError);
    await expect(attempt).rejects.toThrow('web: no AMI in eu-west-1 to pin');
  });

  it('refuses a value that is not an AMI id before touching the file', async () => {
    const file = path.join(dir, 'amis.auto.tfvars');
    await writeFile(file, STACK);
    for (const hostile of ['ami-1234567"\nx = "y', 'ami-${file("/etc/passwd")}', 'ami-ABCDEF12', 'ami-1234']) {
      const web = recipe('web', ['us-east-1'], [{ file, variable: 'web_ami', format: 'string' }]);
      const attempt = pinImages([{ recipe: web, amis: { 'us-east-1': hostile } }], { check: false, roots: [dir] });
      await expect(attempt).rejects.toBeInstanceOf(TfvarsError);
      await expect(attempt).rejects.toThrow(/not an AMI id/);
    }
    expect(await readFile(file, 'utf8')).toBe(STACK);
  });
});

describe('bake pin --check', () => {
  it('prints a unified diff and leaves the file untouched', async () => {
    const file = path.join(dir, 'amis.auto.tfvars');
    await writeFile(file, STACK);
    const before = await stat(file);
    const web = recipe('web', ['us-east-1'], [{ file, variable: 'web_ami' }]);
    const [result] = await pinImages([{ recipe: web, amis: { 'us-east-1': 'ami-99999999' } }], {
      check: true,
      roots: [dir],
    });
    expect(result.changed).toBe(true);
    const label = path.relative(process.cwd(), file).startsWith('..') ? file : path.relative(process.cwd(), file);
    expect(result.diff).toBe(
      [
        `--- ${label}`,
        `+++ ${label}`,
        '@@ -2,6 +2,6 @@',
        ' vpc_id = "vpc-0abc" # shared VPC',
        ' ',
        ' web_ami = {',
        '-  us-east-1 = "ami-11111111" # pinned by bake',
        '+  us-east-1 = "ami-99999999" # pinned by bake',
        '   eu-west-1 = "ami-22222222"',
        ' }',
        '',
      ].join('\n'),
    );
    expect(await readFile(file, 'utf8')).toBe(STACK);
    expect((await stat(file)).mtimeMs).toBe(before.mtimeMs);
    expect(await readdir(dir)).toEqual(['amis.auto.tfvars']);
  });

  it('reports no change and no diff when the file already pins the AMIs', async () => {
    const file = path.join(dir, 'amis.auto.tfvars');
    await writeFile(file, STACK);
    const web = recipe('web', ['us-east-1'], [{ file, variable: 'web_ami' }]);
    const [result] = await pinImages([{ recipe: web, amis: { 'us-east-1': 'ami-11111111' } }], {
      check: true,
      roots: [dir],
    });
    expect(result).toMatchObject({ changed: false, diff: '' });
  });

  it('does not create a missing file, and shows it as new', async () => {
    const file = path.join(dir, 'new.tfvars');
    const web = recipe('web', ['us-east-1'], [{ file, variable: 'web_ami', format: 'string' }]);
    const [result] = await pinImages([{ recipe: web, amis: { 'us-east-1': 'ami-aaaaaaaa' } }], {
      check: true,
      roots: [dir],
    });
    expect(result.changed).toBe(true);
    expect(result.diff).toMatch(/^--- \/dev\/null\n\+\+\+ .*new\.tfvars\n@@ -0,0 \+1,4 @@\n/);
    expect(result.diff).toContain('+web_ami = "ami-aaaaaaaa"\n');
    expect(await readdir(dir)).toEqual([]);
  });
});

describe('bake pin never leaves a broken or half-written file', () => {
  it('leaves a file that does not parse untouched (bytes and mtime) and says which line', async () => {
    const file = path.join(dir, 'broken.tfvars');
    const broken = 'vpc_id = "vpc-1"\nweb_ami = "ami-11111111\n# the quote above is never closed\n';
    await writeFile(file, broken);
    await utimes(file, new Date('2024-01-01T00:00:00Z'), new Date('2024-01-01T00:00:00Z'));
    const before = await stat(file);
    const web = recipe('web', ['us-east-1'], [{ file, variable: 'web_ami' }]);
    const attempt = pinImages([{ recipe: web, amis: { 'us-east-1': 'ami-aaaaaaaa' } }], { check: false, roots: [dir] });
    await expect(attempt).rejects.toBeInstanceOf(TfvarsError);
    await expect(attempt.catch((e: TfvarsError) => e.toLine())).resolves.toMatch(
      new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:2: does not parse: `),
    );
    expect(await readFile(file, 'utf8')).toBe(broken);
    expect((await stat(file)).mtimeMs).toBe(before.mtimeMs);
    expect(await readdir(dir)).toEqual(['broken.tfvars']);
  });

  it('keeps the file mode, leaves no temp or lock file, and writes through a symlink', async () => {
    const real = path.join(dir, 'real.tfvars');
    const link = path.join(dir, 'amis.auto.tfvars');
    await writeFile(real, STACK);
    await chmod(real, 0o640);
    await symlink('real.tfvars', link);
    const web = recipe('web', ['us-east-1'], [{ file: link, variable: 'web_ami' }]);
    await pinImages([{ recipe: web, amis: { 'us-east-1': 'ami-aaaaaaaa' } }], { check: false, roots: [dir] });
    expect((await stat(real)).mode & 0o777).toBe(0o640);
    expect(await readFile(link, 'utf8')).toContain('us-east-1 = "ami-aaaaaaaa"');
    expect((await readdir(dir)).sort()).toEqual(['amis.auto.tfvars', 'real.tfvars']);
  });

  it('refuses a symlink planted after loading that leads out of the bakery, with --check too, and leaves the target alone', async () => {
    const outside = await mkdtemp(path.join(tmpdir(), 'bake-pin-outside-'));
    try {
      const victim = path.join(outside, 'victim.tfvars');
      await writeFile(victim, 'secret = "do not print me"\n');
      const link = path.join(dir, 'amis.auto.tfvars');
      await symlink(victim, link);
      const web = recipe('web', ['us-east-1'], [{ file: link, variable: 'web_ami', format: 'string' }]);
      for (const check of [true, false]) {
        const attempt = pinImages([{ recipe: web, amis: { 'us-east-1': 'ami-aaaaaaaa' } }], { check, roots: [dir] });
        await expect(attempt).rejects.toThrow(
          /leads through a symbolic link to .*victim\.tfvars, outside .*: bake pins only inside the bakery or its pin_roots/,
        );
        await expect(attempt.catch((e: Error) => e.message)).resolves.not.toContain('do not print me');
      }
      expect(await readFile(victim, 'utf8')).toBe('secret = "do not print me"\n');
      expect(await readdir(outside)).toEqual(['victim.tfvars']);
      // The same file through its real path is allowed once its folder is a pin root.
      const [ok] = await pinImages([{ recipe: web, amis: { 'us-east-1': 'ami-aaaaaaaa' } }], {
        check: false,
        roots: [dir, outside],
      });
      expect(ok.file).toBe(victim);
    } finally {
      await rm(outside, { recursive: true, force: true });
    }
  });

  it('refuses a read-only tfvars instead of replacing it (rename would ignore the mode, as root even more so)', async () => {
    const file = path.join(dir, 'locked.tfvars');
    await writeFile(file, STACK);
    await chmod(file, 0o444);
    const web = recipe('web', ['us-east-1'], [{ file, variable: 'web_ami' }]);
    await expect(
      pinImages([{ recipe: web, amis: { 'us-east-1': 'ami-aaaaaaaa' } }], { check: false, roots: [dir] }),
    ).rejects.toThrow(/is read-only; bake does not replace a read-only file/);
    expect(await readFile(file, 'utf8')).toBe(STACK);
    expect((await stat(file)).mode & 0o777).toBe(0o444);
    // --check only reads: it still shows what would change.
    const [checked] = await pinImages([{ recipe: web, amis: { 'us-east-1': 'ami-aaaaaaaa' } }], {
      check: true,
      roots: [dir],
    });
    expect(checked.changed).toBe(true);
  });

  it('refuses a tfvars that is a FIFO, a directory or a dangling link with one line, without hanging', async () => {
    const fifo = path.join(dir, 'fifo.tfvars');
    await promisify(execFile)('mkfifo', [fifo]);
    const folder = path.join(dir, 'folder.tfvars');
    await mkdir(folder);
    const dangling = path.join(dir, 'dangling.tfvars');
    await symlink('nowhere.tfvars', dangling);
    const cases: Array<[string, RegExp]> = [
      [fifo, /fifo\.tfvars: is not a regular file \(a FIFO, socket or device\)/],
      [folder, /folder\.tfvars: is a directory, not a file/],
      [dangling, /dangling\.tfvars: is a symbolic link to nothing \(dangling\)/],
    ];
    for (const [file, message] of cases) {
      const web = recipe('web', ['us-east-1'], [{ file, variable: 'web_ami', format: 'string' }]);
      const attempt = pinImages([{ recipe: web, amis: { 'us-east-1': 'ami-aaaaaaaa' } }], {
        check: false,
        roots: [dir],
      });
      await expect(attempt).rejects.toBeInstanceOf(TfvarsError);
      await expect(attempt.catch((e: TfvarsError) => e.toLine())).resolves.toMatch(message);
    }
    expect((await readdir(dir)).sort()).toEqual(['dangling.tfvars', 'fifo.tfvars', 'folder.tfvars']);
  });

  it('refuses a file that is not UTF-8 rather than rewrite bytes it does not own', async () => {
    const file = path.join(dir, 'latin1.tfvars');
    const bytes = Buffer.concat([
      Buffer.from('# caf'),
      Buffer.from([0xe9]),
      Buffer.from('\nweb_ami = "ami-11111111"\n'),
    ]);
    await writeFile(file, bytes);
    const web = recipe('web', ['us-east-1'], [{ file, variable: 'web_ami', format: 'string' }]);
    await expect(
      pinImages([{ recipe: web, amis: { 'us-east-1': 'ami-aaaaaaaa' } }], { check: false, roots: [dir] }),
    ).rejects.toThrow(/not valid UTF-8/);
    expect((await readFile(file)).equals(bytes)).toBe(true);
  });

  it('loses no update when two processes pin into the same file at once', async () => {
    const file = path.join(dir, 'amis.auto.tfvars');
    await writeFile(file, '# two Jenkins jobs pin here\nweb_ami = {}\n');
    const child = (prefix: string) =>
      promisify(execFile)(
        process.execPath,
        [
          '--import',
          './test/fixtures/pin/register-ts.mjs',
          'test/fixtures/pin/pin-child.ts',
          file,
          'web_ami',
          prefix,
          '12',
        ],
        { cwd: root },
      );
    await Promise.all([child('aaaa'), child('bbbb')]);
    const text = await readFile(file, 'utf8');
    for (const prefix of ['aaaa', 'bbbb']) {
      for (let round = 0; round < 12; round++) {
        expect(text).toContain(`${prefix}-${round}`);
      }
    }
    expect(text.startsWith('# two Jenkins jobs pin here\nweb_ami = {\n')).toBe(true);
    expect(await readdir(dir)).toEqual(['amis.auto.tfvars']);
  });
});

describe('the pin lock', () => {
  it('waits for a lock that another bake holds and gives up with a clear error', async () => {
    const file = path.join(dir, 'amis.tfvars');
    await writeFile(lockFileOf(file), 'other-host 4242\n');
    const attempt = withFileLock(file, async () => 'ran', { timeoutMs: 300 });
    await expect(attempt).rejects.toBeInstanceOf(LockTimeoutError);
    await expect(attempt).rejects.toThrow(
      /another bake has held this lock .*other-host 4242.*remove the file if no bake is running/,
    );
  });

  it('takes over a stale lock left by a killed process', async () => {
    const file = path.join(dir, 'amis.tfvars');
    await writeFile(lockFileOf(file), 'killed 1\n');
    const old = new Date(Date.now() - 10 * 60_000);
    await utimes(lockFileOf(file), old, old);
    await expect(withFileLock(file, async () => 'ran', { timeoutMs: 300 })).resolves.toBe('ran');
    expect(await readdir(dir)).toEqual([]);
  });

  it('takes over at once the lock of a holder on this host whose process is gone, but not one on another host', async () => {
    const file = path.join(dir, 'amis.tfvars');
    const dead = spawn(process.execPath, ['-e', '']);
    await new Promise((resolve) => dead.on('exit', resolve));
    // Fresh (not 5 minutes old): only the holder's process being gone makes it stale.
    await writeFile(lockFileOf(file), `${hostname()} ${dead.pid} 0a1b2c ${new Date().toISOString()}\n`);
    const started = Date.now();
    await expect(withFileLock(file, async () => 'ran', { timeoutMs: 20_000 })).resolves.toBe('ran');
    expect(Date.now() - started).toBeLessThan(20_000);

    // The pid of a live process that is not bake (pid reused): gone as a holder too.
    const unrelated = spawn('sleep', ['30']);
    try {
      await writeFile(lockFileOf(file), `${hostname()} ${unrelated.pid} 0a1b2c ${new Date().toISOString()}\n`);
      await expect(withFileLock(file, async () => 'ran', { timeoutMs: 20_000 })).resolves.toBe('ran');
    } finally {
      unrelated.kill();
    }

    await writeFile(lockFileOf(file), `another-agent ${dead.pid} 0a1b2c ${new Date().toISOString()}\n`);
    await expect(withFileLock(file, async () => 'ran', { timeoutMs: 300 })).rejects.toBeInstanceOf(LockTimeoutError);
  });

  it('takes over an empty lock a few seconds old, left by a process SIGKILLed between creating and writing it, but not a fresh one', async () => {
    const file = path.join(dir, 'amis.tfvars');
    // Exactly what a pin killed right after creating its lock leaves: the file, without the holder's name.
    const script = `require('node:fs').openSync(process.argv[1], 'wx'); console.log('created'); setInterval(() => {}, 1000);`;
    const killed = spawn(process.execPath, ['-e', script, lockFileOf(file)], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve) =>
      killed.stdout.on('data', (chunk: Buffer) => chunk.toString().includes('created') && resolve()),
    );
    killed.kill('SIGKILL');
    await once(killed, 'exit');
    expect(await readFile(lockFileOf(file), 'utf8')).toBe('');
    // Fresh, it may be a live pin about to write its name: waited for.
    await expect(withFileLock(file, async () => 'ran', { timeoutMs: 300 })).rejects.toBeInstanceOf(LockTimeoutError);
    // Ten seconds old (not five minutes): stale. Before, every pin failed for five minutes.
    const old = new Date(Date.now() - 10_000);
    await utimes(lockFileOf(file), old, old);
    const started = Date.now();
    await expect(withFileLock(file, async () => 'ran', { timeoutMs: 5_000 })).resolves.toBe('ran');
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(await readdir(dir)).toEqual([]);
  });

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`is released when the holder gets ${signal}, and the holder still dies of it`, async () => {
      const file = path.join(dir, 'amis.tfvars');
      const script = `
        const { withFileLock } = await import(${JSON.stringify(path.join(root, 'dist', 'files', 'lock-file.js'))});
        await withFileLock(process.argv[1], async () => { console.log('locked'); await new Promise(() => setInterval(() => {}, 1000)); });
      `;
      const holder = spawn(process.execPath, ['--input-type=module', '-e', script, file], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      await new Promise<void>((resolve) =>
        holder.stdout.on('data', (chunk: Buffer) => chunk.toString().includes('locked') && resolve()),
      );
      expect(await readdir(dir)).toEqual(['amis.tfvars.bake-lock']);
      holder.kill(signal);
      const [, died] = (await once(holder, 'exit')) as [number | null, NodeJS.Signals | null];
      expect(died).toBe(signal);
      expect(await readdir(dir)).toEqual([]);
    });
  }
});

describe('readPinnedAmis (prune never deletes these)', () => {
  it('finds every AMI id in HCL and JSON tfvars, with the variable that pins it', async () => {
    const hcl = path.join(dir, 'a.tfvars');
    const json = path.join(dir, 'b.tfvars.json');
    await writeFile(hcl, `${STACK}amis = { web = { us-east-1 = "ami-33333333" } }\nname = "ami-not-an-id"\n`);
    await writeFile(json, '{"base": "ami-11111111", "list": ["ami-0123456789abcdef0"]}');
    const pinned = await readPinnedAmis([hcl, json, path.join(dir, 'missing.tfvars')]);
    expect(Object.fromEntries(pinned)).toEqual({
      'ami-11111111': [`${hcl}:web_ami`, `${json}:base`],
      'ami-22222222': [`${hcl}:web_ami`],
      'ami-33333333': [`${hcl}:amis`],
      'ami-0123456789abcdef0': [`${json}:list`],
    });
  });

  it('refuses to guess when a file does not parse', async () => {
    const hcl = path.join(dir, 'a.tfvars');
    await writeFile(hcl, 'web_ami = {\n');
    await expect(readPinnedAmis([hcl])).rejects.toBeInstanceOf(TfvarsError);
  });
});
