/**
 * `bake prune` as Jenkins runs it: the built CLI (bin/bake.js → dist, built by `npm test`) against
 * bake's local cloud behind --endpoint, and on its own embedded cloud with --local.
 */
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CopyImageCommand, DescribeImagesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { baseImageId, startLocalCloud, type LocalCloud } from '../../src/local-cloud/index.js';
import { noInstances } from '../local-cloud/no-instances.js';
import { parseJsonOutput } from '../schema/json-schemas.js';
import { cliEnv } from '../local-cloud/cli-env.js';

const bake = path.resolve('bin/bake.js');
let cloud: LocalCloud;
let work: string;
const clients: EC2Client[] = [];
const ec2 = (region: string) => {
  const client = new EC2Client({ region, endpoint: cloud.endpoint, credentials: cloud.credentials });
  clients.push(client);
  return client;
};

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'bake-prune-cli-'));
  cloud = await startLocalCloud({ stateDir: path.join(work, 'cloud'), host: noInstances });
});

afterAll(async () => {
  for (const client of clients) client.destroy();
  await cloud?.close();
});

const daysAgo = (days: number) => new Date(Date.now() - days * 86_400_000).toISOString();

/** A one-recipe bakery in two regions, with five images of it per region (1 to 5 days old), the oldest us-east-1 one pinned. */
async function bakery(name: string, tfvars?: (amis: Record<string, string[]>) => string, owner = name) {
  const dir = path.join(work, owner === name ? name : `${owner}-${name}`);
  await mkdir(path.join(dir, 'recipes'), { recursive: true });
  await mkdir(path.join(dir, 'infra'), { recursive: true });
  await writeFile(
    path.join(dir, 'bake.config.yaml'),
    `bakery: ${owner}\nregions: [us-east-1, eu-west-1]\nencrypted: false\n`,
  );
  await writeFile(
    path.join(dir, 'recipes', `${name}.yaml`),
    `name: ${name}\ndescription: ${name}\nbase:\n  ami: ${baseImageId('us-east-1')}\npin:\n  - file: ../infra/amis.auto.tfvars\n    variable: ${name}_ami\n`,
  );
  const amis: Record<string, string[]> = { 'us-east-1': [], 'eu-west-1': [] };
  for (const region of Object.keys(amis)) {
    for (const age of [1, 2, 3, 4, 5]) {
      const Tags = [
        { Key: 'bake:recipe', Value: name },
        { Key: 'bake:fingerprint', Value: `old${age}` },
        { Key: 'bake:built-at', Value: daysAgo(age * 10) },
        { Key: 'bake:bakery', Value: owner },
      ];
      const { ImageId } = await ec2(region).send(
        new CopyImageCommand({
          SourceImageId: baseImageId('us-east-1'),
          SourceRegion: 'us-east-1',
          Name: `${owner}-${name}-${region}-${age}`,
          TagSpecifications: [{ ResourceType: 'image', Tags }],
        }),
      );
      amis[region].push(ImageId!);
    }
  }
  await writeFile(
    path.join(dir, 'infra', 'amis.auto.tfvars'),
    tfvars ? tfvars(amis) : `${name}_ami = {\n  us-east-1 = "${amis['us-east-1'][4]}" # rolled back by hand\n}\n`,
  );
  return { dir, amis };
}

const env = () => cliEnv(cloud.credentials);
const run = (args: string[]) =>
  execa('node', [bake, 'prune', '--endpoint', cloud.endpoint, ...args], { env: env(), reject: false });

interface JsonImage {
  image_id: string;
  region: string;
  status: string;
  action: string;
  reasons: string[];
}

async function exists(region: string, imageId: string) {
  const { Images = [] } = await ec2(region).send(
    new DescribeImagesCommand({ Owners: ['self'], Filters: [{ Name: 'image-id', Values: [imageId] }] }),
  );
  return Images.length === 1;
}

describe('bake prune', () => {
  it('lists what would go and why by default, and deletes it with --apply', async () => {
    const { dir, amis } = await bakery('web');
    const dry = await run(['--dir', dir, '--keep', '2', '--older-than', '25d']);
    expect(dry.exitCode, dry.stderr).toBe(0);
    const lines = dry.stdout.split('\n');
    expect(lines.find((line) => line.includes(amis['us-east-1'][2]))).toMatch(
      /^would delete +us-east-1 +ami-\w+ +web +\d{4}-\d\d-\d\d +not among the newest 2 of web in us-east-1 \(#3\); built 30d ago, older than 25d$/,
    );
    expect(lines.find((line) => line.includes(amis['us-east-1'][4]))).toMatch(
      /^keep .* pinned in infra\/amis\.auto\.tfvars:web_ami$/,
    );
    expect(lines.filter(Boolean).at(-1)).toBe('dry run: 5 would be deleted, 5 kept; --apply deletes them');
    for (const ami of amis['eu-west-1']) expect(await exists('eu-west-1', ami)).toBe(true);

    const applied = await run(['--dir', dir, '--keep', '2', '--older-than', '25d', '--apply', '--json']);
    expect(applied.exitCode, applied.stderr).toBe(0);
    const report = parseJsonOutput('prune', applied.stdout) as {
      apply: boolean;
      keep: number;
      older_than: string;
      images: JsonImage[];
    };
    expect(report).toMatchObject({ apply: true, keep: 2, older_than: '25d' });
    const deleted = report.images.filter((i) => i.status === 'deleted').map((i) => i.image_id);
    expect(deleted.sort()).toEqual([amis['us-east-1'][2], amis['us-east-1'][3], ...amis['eu-west-1'].slice(2)].sort());
    for (const ami of deleted)
      expect(await exists(amis['us-east-1'].includes(ami) ? 'us-east-1' : 'eu-west-1', ami)).toBe(false);
    expect(await exists('us-east-1', amis['us-east-1'][4])).toBe(true);
  });

  it("never touches another bakery's images, nor an untagged one from before bakeries had names", async () => {
    const mine = await bakery('shop', undefined, 'team-a');
    const theirs = await bakery('shop', (amis) => `shop_ami = { us-east-1 = "${amis['us-east-1'][0]}" }\n`, 'team-b');
    const { ImageId: legacy } = await ec2('us-east-1').send(
      new CopyImageCommand({
        SourceImageId: baseImageId('us-east-1'),
        SourceRegion: 'us-east-1',
        Name: 'shop-legacy',
        TagSpecifications: [
          {
            ResourceType: 'image',
            Tags: [
              { Key: 'bake:recipe', Value: 'shop' },
              { Key: 'bake:fingerprint', Value: 'legacy' },
              { Key: 'bake:built-at', Value: daysAgo(90) },
            ],
          },
        ],
      }),
    );
    const applied = await run(['--dir', mine.dir, '--keep', '0', '--apply', '--json']);
    expect(applied.exitCode, applied.stderr).toBe(0);
    const report = JSON.parse(applied.stdout) as { images: JsonImage[] };
    const listed = report.images.map((i) => i.image_id);
    for (const ami of [...theirs.amis['us-east-1'], ...theirs.amis['eu-west-1']]) {
      expect(listed).not.toContain(ami);
      expect(await exists(theirs.amis['us-east-1'].includes(ami) ? 'us-east-1' : 'eu-west-1', ami)).toBe(true);
    }
    expect(report.images.find((i) => i.image_id === legacy)).toMatchObject({
      action: 'keep',
      reasons: expect.arrayContaining([
        expect.stringMatching(
          /^no bake:bakery tag \(made before bakeries had names\); tag it bake:bakery=team-a to let prune manage it$/,
        ),
      ]),
    });
    expect(await exists('us-east-1', legacy!)).toBe(true);
    const deleted = report.images.filter((i) => i.status === 'deleted').map((i) => i.image_id);
    expect(deleted.sort()).toEqual([...mine.amis['us-east-1'].slice(0, 4), ...mine.amis['eu-west-1']].sort());
  });

  it('refuses a duration it cannot read', async () => {
    const result = await run(['--dir', work, '--older-than', '30']);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain("option '--older-than <duration>' argument '30' is invalid");
    expect(result.stderr).toContain('expected a duration such as 90s, 30m, 12h, 30d or 2w');
  });

  it('deletes nothing when a tfvars target does not parse, and says which file', async () => {
    const { dir, amis } = await bakery('api', () => 'api_ami = {\n  us-east-1 = "ami-0123456789abcdef0"\n');
    const result = await run(['--dir', dir, '--keep', '0', '--apply']);
    expect(result.exitCode).toBe(1);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(
      /infra\/amis\.auto\.tfvars(:\d+)?: .*bake prune deletes nothing while it cannot tell what is pinned/,
    );
    for (const ami of amis['us-east-1']) expect(await exists('us-east-1', ami)).toBe(true);
  });

  it('runs on the embedded local cloud with --local', async () => {
    const dir = path.join(work, 'empty');
    await mkdir(path.join(dir, 'recipes'), { recursive: true });
    await writeFile(
      path.join(dir, 'recipes', 'solo.yaml'),
      `name: solo\ndescription: solo\nbase:\n  ami: ${baseImageId('us-east-1')}\nregions: [us-east-1]\n`,
    );
    const result = await execa('node', [bake, 'prune', '--local', '--dir', dir, '--json'], {
      env: env(),
      reject: false,
    });
    expect(result.exitCode, result.stderr).toBe(0);
    expect(parseJsonOutput('prune', result.stdout)).toEqual({
      apply: false,
      keep: 3,
      older_than: null,
      regions: [{ region: 'us-east-1', images: 0 }],
      images: [],
    });
  });
});

describe('bakery identity of bakeries that do not set bakery:', () => {
  /** A bakery in a git checkout of `origin` (no `bakery:`), with one image tagged as this bake tags it, and one tagged `legacyTag`. */
  async function checkout(team: string, legacyTag?: string) {
    const dir = path.join(work, `identity-${team}`, 'images');
    await mkdir(path.join(dir, 'recipes'), { recursive: true });
    await writeFile(path.join(dir, 'bake.config.yaml'), 'regions: [us-east-1]\nencrypted: false\n');
    await writeFile(path.join(dir, 'recipes', 'web.yaml'), `name: web\nbase:\n  ami: ${baseImageId('us-east-1')}\n`);
    await execa('git', ['init', '-q'], { cwd: dir });
    await execa('git', ['remote', 'add', 'origin', `git@git.example.com:${team}/images.git`], { cwd: dir });
    const { loadBakery } = await import('../../src/recipes/load-bakery.js');
    const name = (await loadBakery(dir)).config.bakery;
    const image = async (owner: string, label: string) => {
      const { ImageId } = await ec2('us-east-1').send(
        new CopyImageCommand({
          SourceImageId: baseImageId('us-east-1'),
          SourceRegion: 'us-east-1',
          Name: `${team}-${label}`,
          TagSpecifications: [
            {
              ResourceType: 'image',
              Tags: [
                { Key: 'bake:recipe', Value: 'web' },
                { Key: 'bake:fingerprint', Value: `old-${label}` },
                { Key: 'bake:built-at', Value: daysAgo(30) },
                { Key: 'bake:bakery', Value: owner },
              ],
            },
          ],
        }),
      );
      return ImageId!;
    };
    return {
      dir,
      name,
      own: await image(name, 'own'),
      legacy: legacyTag ? await image(legacyTag, 'legacy') : undefined,
    };
  }

  it("names two teams' images repositories apart (host/owner/repo), so one team's prune --apply never deletes the other's images", async () => {
    const a = await checkout('team-a');
    const b = await checkout('team-b');
    expect([a.name, b.name]).toEqual(['git.example.com/team-a/images', 'git.example.com/team-b/images']);
    const applied = await run(['--dir', a.dir, '--keep', '0', '--older-than', '1d', '--apply']);
    expect(applied.exitCode, applied.stderr).toBe(0);
    expect(await exists('us-east-1', a.own)).toBe(false);
    expect(await exists('us-east-1', b.own)).toBe(true);
  });

  it('reads images tagged with the name older versions derived (the last path part) but never prunes them, and says so', async () => {
    const c = await checkout('team-c', 'images');
    const dry = await run(['--dir', c.dir, '--keep', '0', '--older-than', '1d']);
    expect(dry.stderr).toContain(
      "bakery git.example.com/team-c/images (from the git remote origin): images, locks and builders are tagged bake:bakery=git.example.com/team-c/images; images tagged bake:bakery=images (the name older bake versions derived) are read as this bakery's but never pruned; set bakery: in bake.config.yaml to fix the name",
    );
    const applied = await run(['--dir', c.dir, '--keep', '0', '--older-than', '1d', '--apply']);
    expect(applied.exitCode, applied.stderr).toBe(0);
    expect(await exists('us-east-1', c.own)).toBe(false);
    expect(await exists('us-east-1', c.legacy!)).toBe(true);
  });
});
