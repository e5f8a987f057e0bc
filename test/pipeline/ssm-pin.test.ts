/**
 * SSM parameters as pin targets, over HTTP against the local cloud: its parameter store
 * (PutParameter, GetParameter(s), DescribeParameters, aws:ec2:image checks), `bake pin` writing
 * and checking `pin: - ssm:` targets per region, and `bake prune` keeping what they name.
 */
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { EC2Client } from '@aws-sdk/client-ec2';
import {
  GetParameterCommand,
  GetParametersCommand,
  PutParameterCommand,
  SSMClient,
  paginateDescribeParameters,
} from '@aws-sdk/client-ssm';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { baseImageId, startLocalCloud, type LocalCloud } from '../../src/local-cloud/index.js';
import { noInstances } from '../local-cloud/no-instances.js';
import { taggedCopyOfBase } from '../local-cloud/tagged-copy.js';
import { recordAsBuilt } from '../local-cloud/build-record.js';
import { DEFAULT_DISTRIBUTION } from './image-as-built.js';
import { parseJsonOutput } from '../schema/json-schemas.js';
import { cliEnv } from '../local-cloud/cli-env.js';

const bake = path.resolve('bin/bake.js');
let cloud: LocalCloud;
let work: string;
const clients: Array<EC2Client | SSMClient> = [];

const ec2 = (region: string) => {
  const client = new EC2Client({ region, endpoint: cloud.endpoint, credentials: cloud.credentials });
  clients.push(client);
  return client;
};
const ssm = (region: string) => {
  const client = new SSMClient({ region, endpoint: cloud.endpoint, credentials: cloud.credentials });
  clients.push(client);
  return client;
};

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'bake-ssm-pin-'));
  cloud = await startLocalCloud({ stateDir: path.join(work, 'cloud'), host: noInstances });
});

afterAll(async () => {
  for (const client of clients) client.destroy();
  await cloud?.close();
});

const env = () => cliEnv(cloud.credentials);
const run = (command: string, args: string[]) =>
  execa('node', [bake, command, '--endpoint', cloud.endpoint, ...args], { env: env(), reject: false });

const errorOf = (promise: Promise<unknown>) =>
  promise.then(
    () => ({ name: 'no error', message: '' }),
    (error: Error) => ({ name: error.name, message: error.message }),
  );

const copyOfBase = (region: string, tags: Record<string, string>, name: string) =>
  taggedCopyOfBase(ec2(region), region, tags, name);

describe("the local cloud's parameter store (SSM over HTTP)", () => {
  it('writes aws:ec2:image parameters only when the value is an image of that region, and versions overwrites', async () => {
    const east = ssm('us-east-1');
    const ami = baseImageId('us-east-1');
    const put = (Name: string, Value: string, extra: Partial<{ Overwrite: boolean; DataType: string }> = {}) =>
      east.send(new PutParameterCommand({ Name, Value, Type: 'String', DataType: 'aws:ec2:image', ...extra }));

    expect(await errorOf(put('/images/app/ami', 'not-an-ami'))).toMatchObject({
      name: 'ValidationException',
      message: expect.stringContaining('not in the format of an AMI id'),
    });
    expect(await errorOf(put('/images/app/ami', 'ami-0123456789abcdef0'))).toMatchObject({
      name: 'ValidationException',
      message: expect.stringContaining('not an available image in us-east-1'),
    });
    // An image of another region is not an image of this one.
    expect(await errorOf(put('/images/app/ami', baseImageId('eu-west-1')))).toMatchObject({
      name: 'ValidationException',
    });
    expect(await errorOf(put('/aws/service/mine', ami))).toMatchObject({
      name: 'ValidationException',
      message: expect.stringContaining('reserved'),
    });

    expect(await put('/images/app/ami', ami)).toMatchObject({ Version: 1 });
    expect(await errorOf(put('/images/app/ami', ami))).toMatchObject({ name: 'ParameterAlreadyExists' });
    expect(await put('/images/app/ami', ami, { Overwrite: true })).toMatchObject({ Version: 2 });

    const { Parameter } = await east.send(new GetParameterCommand({ Name: '/images/app/ami' }));
    expect(Parameter).toMatchObject({
      Name: '/images/app/ami',
      Type: 'String',
      DataType: 'aws:ec2:image',
      Value: ami,
      Version: 2,
    });
    expect(Parameter!.LastModifiedDate).toBeInstanceOf(Date);

    const many = await east.send(new GetParametersCommand({ Names: ['/images/app/ami', '/images/none'] }));
    expect(many.Parameters!.map((p) => p.Value)).toEqual([ami]);
    expect(many.InvalidParameters).toEqual(['/images/none']);

    // Parameters are regional.
    expect(await errorOf(ssm('eu-west-1').send(new GetParameterCommand({ Name: '/images/app/ami' })))).toMatchObject({
      name: 'ParameterNotFound',
    });
  });

  it('describes parameters by path, one level or recursively, a page at a time', async () => {
    const west = ssm('eu-west-1');
    const ami = baseImageId('eu-west-1');
    for (const name of ['/team/a/ami', '/team/b/ami', '/team/c', '/other/x']) {
      await west.send(new PutParameterCommand({ Name: name, Value: ami, Type: 'String', DataType: 'aws:ec2:image' }));
    }
    const names = async (filter: { Key: string; Option: string; Values: string[] }) => {
      const found: string[] = [];
      for await (const page of paginateDescribeParameters(
        { client: west, pageSize: 1 },
        { ParameterFilters: [filter] },
      )) {
        expect(page.Parameters!.length).toBeLessThanOrEqual(1);
        found.push(...page.Parameters!.map((p) => `${p.Name} ${p.DataType}`));
      }
      return found;
    };
    expect(await names({ Key: 'Path', Option: 'Recursive', Values: ['/team'] })).toEqual([
      '/team/a/ami aws:ec2:image',
      '/team/b/ami aws:ec2:image',
      '/team/c aws:ec2:image',
    ]);
    expect(await names({ Key: 'Path', Option: 'OneLevel', Values: ['/team'] })).toEqual(['/team/c aws:ec2:image']);
    expect(await names({ Key: 'Name', Option: 'BeginsWith', Values: ['/oth'] })).toEqual(['/other/x aws:ec2:image']);
  });

  it('keeps parameters across a restart of the local cloud', async () => {
    const stateDir = path.join(work, 'restart');
    const first = await startLocalCloud({ stateDir, host: noInstances });
    const client = new SSMClient({ region: 'us-east-1', endpoint: first.endpoint, credentials: first.credentials });
    await client.send(new PutParameterCommand({ Name: '/kept', Value: 'hello', Type: 'String' }));
    client.destroy();
    await first.close();
    const second = await startLocalCloud({ stateDir, host: noInstances });
    const again = new SSMClient({ region: 'us-east-1', endpoint: second.endpoint, credentials: second.credentials });
    try {
      expect((await again.send(new GetParameterCommand({ Name: '/kept' }))).Parameter).toMatchObject({
        Value: 'hello',
        DataType: 'text',
      });
    } finally {
      again.destroy();
      await second.close();
    }
  });
});

describe('bake pin and bake prune with `pin: - ssm:` targets', () => {
  let dir: string;
  const current: Record<string, string> = {};
  let older: string;

  beforeAll(async () => {
    dir = path.join(work, 'bakery');
    await mkdir(path.join(dir, 'recipes'), { recursive: true });
    await writeFile(path.join(dir, 'bake.config.yaml'), 'regions: [us-east-1, eu-west-1]\nencrypted: false\n');
    await writeFile(
      path.join(dir, 'recipes', 'web.yaml'),
      `name: web\nbase:\n  ami: ${baseImageId('us-east-1')}\npin:\n  - ssm: /images/web/ami\n`,
    );
    const plan = await run('plan', ['--dir', dir, '--json']);
    expect(plan.exitCode, plan.stderr).toBe(0);
    const [web] = (parseJsonOutput('plan', plan.stdout) as { recipes: Array<{ fingerprint: string }> }).recipes;
    for (const region of ['us-east-1', 'eu-west-1']) {
      current[region] = await copyOfBase(
        region,
        { 'bake:recipe': 'web', 'bake:fingerprint': web.fingerprint, 'bake:distribution': DEFAULT_DISTRIBUTION },
        `web-${region}-now`,
      );
      // As the build that made it leaves it (the bakery is named after its folder).
      await recordAsBuilt(cloud, 'bakery', {
        recipe: 'web',
        fingerprint: web.fingerprint,
        region,
        imageId: current[region],
      });
    }
    older = await copyOfBase(
      'eu-west-1',
      {
        'bake:recipe': 'web',
        'bake:fingerprint': 'older',
        'bake:built-at': new Date(Date.now() - 86_400_000 * 40).toISOString(),
      },
      'web-eu-west-1-old',
    );
  });

  it('--check exits 2 and says what each region would get, writing nothing', async () => {
    const check = await run('pin', ['--dir', dir, '--check', '--json']);
    expect(check.exitCode, check.stderr).toBe(2);
    expect(check.stderr).toContain(`ssm us-east-1 /images/web/ami: (none) → ${current['us-east-1']} (would change)`);
    const result = parseJsonOutput('pin', check.stdout) as {
      parameters: Array<{ region: string; parameter: string; ami: string; changed: boolean }>;
    };
    expect(result.parameters.map((p) => [p.region, p.parameter, p.ami, p.changed])).toEqual([
      ['us-east-1', '/images/web/ami', current['us-east-1'], true],
      ['eu-west-1', '/images/web/ami', current['eu-west-1'], true],
    ]);
    expect(await errorOf(ssm('us-east-1').send(new GetParameterCommand({ Name: '/images/web/ami' })))).toMatchObject({
      name: 'ParameterNotFound',
    });
  });

  it("writes each region's image into that region's parameter as aws:ec2:image, then --check is clean", async () => {
    const pin = await run('pin', ['--dir', dir]);
    expect(pin.exitCode, pin.stderr).toBe(0);
    for (const region of ['us-east-1', 'eu-west-1']) {
      const { Parameter } = await ssm(region).send(new GetParameterCommand({ Name: '/images/web/ami' }));
      expect(Parameter).toMatchObject({ Value: current[region], DataType: 'aws:ec2:image', Type: 'String' });
    }
    const check = await run('pin', ['--dir', dir, '--check']);
    expect(check.exitCode, check.stderr).toBe(0);
    expect(check.stdout).toContain(`ssm eu-west-1 /images/web/ami: up to date (${current['eu-west-1']})`);
  });

  it('--check sees a parameter someone rolled back by hand', async () => {
    await ssm('eu-west-1').send(
      new PutParameterCommand({
        Name: '/images/web/ami',
        Value: older,
        Type: 'String',
        DataType: 'aws:ec2:image',
        Overwrite: true,
      }),
    );
    const check = await run('pin', ['--dir', dir, '--check']);
    expect(check.exitCode).toBe(2);
    expect(check.stdout).toContain(`ssm eu-west-1 /images/web/ami: ${older} → ${current['eu-west-1']} (would change)`);
  });

  it('bake prune keeps the image an SSM parameter names, and says which', async () => {
    const prune = await run('prune', ['--dir', dir, '--keep', '0', '--apply', '--json']);
    expect(prune.exitCode, prune.stderr).toBe(0);
    const report = parseJsonOutput('prune', prune.stdout) as {
      images: Array<{ image_id: string; status: string; reasons: string[] }>;
    };
    const kept = report.images.find((i) => i.image_id === older)!;
    expect(kept.status).toBe('kept');
    expect(kept.reasons.join('; ')).toContain('pinned in ssm:eu-west-1:/images/web/ami');
  });

  it('refuses an SSM pin target AWS would refuse, with the recipe line', async () => {
    const bad = path.join(work, 'bad');
    await mkdir(path.join(bad, 'recipes'), { recursive: true });
    await writeFile(
      path.join(bad, 'recipes', 'app.yaml'),
      `name: app\nbase:\n  ami: ${baseImageId('us-east-1')}\npin:\n  - ssm: /aws/app\n`,
    );
    const result = await execa('node', [bake, 'validate', '--dir', bad], { reject: false });
    expect(result.exitCode).toBe(1);
    expect(result.stderr.trim()).toMatch(/recipes\/app\.yaml:5:\d+: .*reserved by AWS/);
  });
});
