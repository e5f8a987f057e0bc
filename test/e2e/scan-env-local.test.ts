/**
 * `bake scan --env prod --local`: the image prod's tfvars pins is booted on the local cloud and
 * asked through the real mirror's security suite, not the recipe's newer current image; the JSON
 * names the environment and the target, and only the pinned image carries the scan's tags.
 * (Whether a fix is pending on the day does not matter here: test/e2e/scan-local.test.ts proves
 * the finding itself with a repository of its own.)
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { DescribeImagesCommand } from '@aws-sdk/client-ec2';
import { execa } from 'execa';
import { beforeAll, describe, expect, it } from 'vitest';
import { baseImageId } from '../../src/local-cloud/index.js';
import { taggedCopyOfBase } from '../local-cloud/tagged-copy.js';
import { assertMatchesSchema } from '../schema/json-schemas.js';
import { bake, bakeEnv, temporaryBakery, withLocalCloud } from './local-bakery.js';

const REGION = 'us-east-1';
let dir: string;
const ami = { prod: '', dev: '' };

const tags = (recipe: string, fingerprint: string, builtAt: string) => ({
  'bake:recipe': recipe,
  'bake:fingerprint': fingerprint,
  'bake:bakery': 'scan-env',
  'bake:built-at': builtAt,
  'bake:launch-test': 'passed',
});

beforeAll(async () => {
  dir = await temporaryBakery('bake-scan-env-e2e-', {
    files: {
      'bake.config.yaml':
        'bakery: scan-env\nregions: [us-east-1]\ninstance_type: t3.micro\nenvironments: [dev, prod]\n',
      'recipes/web.yaml':
        `name: web\nbase:\n  ami: ${baseImageId(REGION)}\npin:\n` +
        '  - file: ../infra/dev/web.auto.tfvars\n    variable: web_ami\n' +
        '  - file: ../infra/prod/web.auto.tfvars\n    variable: web_ami\n    environment: prod\n',
      'infra/dev/web.auto.tfvars': 'web_ami = {}\n',
      'infra/prod/web.auto.tfvars': 'web_ami = {}\n',
    },
  });
  await withLocalCloud(path.join(dir, '.bake/local'), async (ec2) => {
    const lastMonth = new Date(Date.now() - 30 * 86_400_000).toISOString();
    ami.prod = await taggedCopyOfBase(ec2, REGION, tags('web', 'fp-old', lastMonth), 'web-old');
    ami.dev = await taggedCopyOfBase(ec2, REGION, tags('web', 'fp-new', new Date().toISOString()), 'web-new');
  });
  await writeFile(path.join(dir, 'infra/prod/web.auto.tfvars'), `web_ami = {\n  "${REGION}" = "${ami.prod}"\n}\n`);
  await writeFile(path.join(dir, 'infra/dev/web.auto.tfvars'), `web_ami = {\n  "${REGION}" = "${ami.dev}"\n}\n`);
}, 120_000);

describe('bake scan --env on the local cloud', () => {
  it("boots the image prod pins, not the recipe's current one, and says which target pins it", async () => {
    const result = await execa('node', [bake, 'scan', '--env', 'prod', '--local', '--dir', dir, '--json'], {
      env: bakeEnv(),
      reject: false,
    });
    expect(result.exitCode, result.stderr.slice(-3000)).toBe(0);
    const document = JSON.parse(result.stdout) as {
      environment: string;
      images: Array<{
        image: string;
        status: string;
        pinned_by: string[];
        tagged: string[];
        cleanup_problems: string[];
      }>;
    };
    assertMatchesSchema('scan', document);
    expect(document.environment).toBe('prod');
    expect(document.images).toHaveLength(1);
    const [scanned] = document.images;
    expect(scanned).toMatchObject({
      image: ami.prod,
      status: 'scanned',
      pinned_by: [`infra/prod/web.auto.tfvars:web_ami["${REGION}"]`],
      tagged: [ami.prod],
      cleanup_problems: [],
    });

    const scanTags = await withLocalCloud(path.join(dir, '.bake/local'), async (ec2) => {
      const { Images = [] } = await ec2.send(new DescribeImagesCommand({ ImageIds: [ami.prod, ami.dev] }));
      return Object.fromEntries(
        Images.map((image) => [image.ImageId!, (image.Tags ?? []).find((t) => t.Key === 'bake:scan-at')?.Value]),
      );
    });
    expect(scanTags[ami.prod]).toBeDefined();
    expect(scanTags[ami.dev]).toBeUndefined();
  });
});
