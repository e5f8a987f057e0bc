import { mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CreateAliasCommand, CreateKeyCommand, DisableKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BAKE_ACTIONS } from '../../src/aws/bake-actions.js';
import { createDoctorCloud } from '../../src/aws/doctor-cloud.js';
import { runDoctor, type DoctorReport } from '../../src/pipeline/doctor.js';
import { agentTools } from '../../src/pipeline/doctor-deps.js';
import { baseImageId } from '../../src/local-cloud/index.js';
import type { Recipe } from '../../src/recipes/model.js';
import { bakeTestImage } from '../local-cloud/bake-image.js';
import { startTestCloud, type TestCloud } from '../local-cloud/memory-host.js';
import { bakeryOf, recipeOf } from './bakery.js';

let t: TestCloud;
let keyArn: string;

beforeAll(async () => {
  t = await startTestCloud();
  const kms = new KMSClient({ region: 'eu-west-1', endpoint: t.cloud.endpoint, credentials: t.cloud.credentials });
  const key = await kms.send(new CreateKeyCommand({ Description: 'images' }));
  keyArn = key.KeyMetadata!.Arn!;
  await kms.send(new CreateAliasCommand({ AliasName: 'alias/images', TargetKeyId: key.KeyMetadata!.KeyId }));
  const disabled = await kms.send(new CreateKeyCommand({ Description: 'old' }));
  await kms.send(new CreateAliasCommand({ AliasName: 'alias/old', TargetKeyId: disabled.KeyMetadata!.KeyId }));
  await kms.send(new DisableKeyCommand({ KeyId: disabled.KeyMetadata!.KeyId }));
  kms.destroy();
  // One image of this bakery in the build region: the image actions are dry-run against it.
  await bakeTestImage(t.ec2('us-east-1'), 'us-east-1', 'web-old', {
    'bake:bakery': 'bake-tests',
    'bake:recipe': 'web',
  });
}, 120_000);

afterAll(async () => {
  await t?.close();
});

/** A recipe that uses everything doctor checks: two regions, encryption with a key per region, an SSM pin, a child. */
function bakery(web: Partial<Recipe> = {}) {
  const base = recipeOf(
    '/b',
    'web',
    { kind: 'ssm', parameter: '/aws/service/debian/release/12/latest/amd64' },
    {
      regions: ['us-east-1', 'eu-west-1'],
      encrypted: true,
      kmsKeyIds: { 'eu-west-1': 'alias/images' },
      ssmPins: [{ parameter: '/images/web/ami', location: { file: '/b/recipes/web.yaml', line: 9, col: 5 } }],
      ...web,
    },
  );
  const child = recipeOf('/b', 'api', { kind: 'recipe', recipe: 'web' });
  return bakeryOf('/b', [base, child]);
}

/** `env`: check the agent's tools on its PATH too (ansible takes seconds to say its version on a busy machine). */
async function doctor(b = bakery(), env?: NodeJS.ProcessEnv): Promise<DoctorReport> {
  const cloud = createDoctorCloud({ endpoint: t.cloud.endpoint, credentials: t.cloud.credentials }, 'us-east-1');
  try {
    return await runDoctor(
      b,
      b.recipes,
      { cloud, tools: agentTools(env), now: () => Date.now() },
      { agent: env !== undefined },
    );
  } finally {
    cloud.close();
  }
}

const problems = (report: DoctorReport) => report.findings.filter((f) => f.status === 'problem');
const unverified = (report: DoctorReport) => report.findings.filter((f) => f.status === 'not-verified');

async function denying<T>(actions: string[], work: () => Promise<T>): Promise<T> {
  t.cloud.deny.push(...actions);
  try {
    return await work();
  } finally {
    t.cloud.deny.length = 0;
  }
}

describe('bake doctor against the local cloud', () => {
  it('finds a bakery with everything allowed ready, and creates nothing in the account', async () => {
    await doctor(); // the regions' seeds (base image, default VPC) come with the first call, not with doctor's probes
    const state = () => readFileSync(path.join(t.stateDir, 'state.json'), 'utf8');
    const before = state();
    const calls = new Map(t.cloud.calls);
    const report = await doctor(bakery(), process.env);
    expect(problems(report)).toEqual([]);
    expect(unverified(report)).toEqual([]);
    expect(report.ready).toBe(true);
    expect(report.caller?.arn).toBe('arn:aws:iam::000000000000:user/bake-local');
    expect(report.findings.filter((f) => f.group === 'agent').map((f) => f.subject)).toEqual(
      expect.arrayContaining(['node', 'packer', 'ansible-playbook', 'ansible-galaxy', 'ssh', 'git']),
    );
    expect(state()).toBe(before);
    // Every mutating EC2 action doctor sent was a dry run: the local cloud answered none of them by acting.
    const sent = [...t.cloud.calls].filter(([action, n]) => n > (calls.get(action) ?? 0)).map(([action]) => action);
    expect(sent).toEqual(
      expect.arrayContaining(['RunInstances', 'CreateKeyPair', 'CreateSecurityGroup', 'CopyImage', 'DeregisterImage']),
    );
    const permissions = report.findings.filter((f) => f.group === 'permissions');
    expect(permissions.find((f) => f.action === 'ec2:RunInstances')?.probe).toBe('dry-run');
    expect(permissions.find((f) => f.action === 'ec2:DeleteSnapshot' && f.region === 'us-east-1')?.probe).toBe(
      'dry-run',
    );
    expect(permissions.find((f) => f.action === 'ec2:CreateImage')?.probe).toBe('simulate');
  });

  // Denying what doctor itself reads to learn the facts (images, subnets, regions, keys) also costs those facts.
  const probedAlone = BAKE_ACTIONS.filter(
    (entry) =>
      entry.scope !== 'none' &&
      entry.scope !== 'doctor' &&
      // ssm:GetParameter reads the ssm: base too.
      ![
        'ssm:GetParameter',
        'ec2:DescribeImages',
        'ec2:DescribeRegions',
        'ec2:DescribeVpcs',
        'ec2:DescribeSubnets',
        'ec2:DescribeInstanceTypes',
        'ec2:DescribeInstanceTypeOfferings',
        'kms:DescribeKey',
      ].includes(entry.action),
  ).map((entry) => entry.action);

  it.each(probedAlone)('reports %s denied as one finding naming the action and its fix', async (action) => {
    const report = await denying([action], () => doctor());
    const found = problems(report);
    expect(found.map((f) => f.action)).toEqual(expect.arrayContaining([action]));
    expect(new Set(found.map((f) => f.action))).toEqual(new Set([action]));
    // One finding per region the action is needed in, each naming the action and the policy statement to fix it.
    expect(found.length).toBeLessThanOrEqual(2);
    for (const f of found) expect(f.fix).toMatch(new RegExp(`allow ${action} in ${f.region}.*statement Bake`));
    expect(report.ready).toBe(false);
  });

  it('says "not verified", never "allowed", for what only a simulation could tell when the caller may not simulate', async () => {
    const report = await denying(['iam:SimulatePrincipalPolicy'], () => doctor());
    expect(problems(report)).toEqual([]);
    const notVerified = unverified(report).map((f) => f.action);
    expect(notVerified).toEqual(
      expect.arrayContaining(['ec2:CreateImage', 'ssm:PutParameter', 'ec2:TerminateInstances']),
    );
    expect(report.findings.find((f) => f.action === 'ec2:CreateImage' && f.status === 'ok')).toBeUndefined();
    expect(unverified(report)[0].fix).toMatch(/iam:SimulatePrincipalPolicy/);
  });

  it('reports a missing KMS key, and a disabled one, naming the fix', async () => {
    const missing = problems(await doctor(bakery({ kmsKeyIds: { 'eu-west-1': 'alias/nope' } })));
    expect(missing).toHaveLength(1);
    expect(missing[0]).toMatchObject({
      subject: 'web eu-west-1',
      message: 'KMS key alias/nope does not exist in eu-west-1',
    });
    expect(missing[0].fix).toMatch(/kms_key_ids\.eu-west-1/);
    const disabled = problems(await doctor(bakery({ kmsKeyIds: { 'eu-west-1': 'alias/old' } })));
    expect(disabled.map((f) => f.message)).toEqual(['KMS key alias/old in eu-west-1 is Disabled']);
    const byArn = problems(await doctor(bakery({ kmsKeyIds: { 'eu-west-1': keyArn } })));
    expect(byArn).toEqual([]);
  });

  it('reports an instance type not offered, and one that cannot run the base image', async () => {
    const unoffered = problems(await doctor(bakery({ instanceType: 'p4d.24xlarge' })));
    expect(unoffered).toHaveLength(1);
    expect(unoffered[0].message).toBe('instance type p4d.24xlarge is unknown in us-east-1');
    expect(unoffered[0].fix).toMatch(/describe-instance-type-offerings/);
    const arm = problems(await doctor(bakery({ instanceType: 't4g.small' })));
    expect(arm.map((f) => f.message)).toEqual(['instance type t4g.small runs arm64 but the base image is x86_64']);
    expect(arm[0].fix).toMatch(/x86_64 instance_type/);
  });

  it('reports a subnet that does not exist', async () => {
    const found = problems(await doctor(bakery({ subnetId: 'subnet-0000000000000dead' })));
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ message: 'subnet subnet-0000000000000dead does not exist in us-east-1' });
    expect(found[0].fix).toMatch(/subnet_id/);
  });

  it('reports a base image that does not resolve', async () => {
    const b = bakery({ base: { kind: 'ami', ami: 'ami-0000000000000dead' } });
    const found = problems(await doctor(b));
    expect(found.map((f) => f.subject)).toEqual(['web us-east-1', 'api us-east-1']);
    expect(found[0].message).toMatch(/base image does not resolve: .*ami-0000000000000dead/);
  });

  it('reports a missing tool with the Debian package that provides it', async () => {
    const bin = mkdtempSync(path.join(tmpdir(), 'bake-doctor-path-'));
    try {
      for (const tool of ['packer', 'ansible-playbook', 'ssh', 'git']) {
        const { stdout } = await execa('sh', ['-c', `command -v ${tool}`]);
        symlinkSync(stdout.trim(), path.join(bin, tool));
      }
      const found = problems(await doctor(bakery(), { ...process.env, PATH: bin }));
      expect(found).toHaveLength(1);
      expect(found[0]).toMatchObject({
        group: 'agent',
        message: 'ansible-galaxy not found on PATH (installs role requirements)',
        fix: 'apt-get install ansible-core',
      });
    } finally {
      rmSync(bin, { recursive: true, force: true });
    }
  });

  it('sends each distinct probe once, however many recipes share it', async () => {
    const before = t.cloud.calls.get('CreateKeyPair') ?? 0;
    const many = bakeryOf(
      '/b',
      Array.from({ length: 6 }, (_, i) => recipeOf('/b', `r${i}`, { kind: 'ami', ami: baseImageId('us-east-1') })),
    );
    const report = await doctor(many);
    expect(report.ready).toBe(true);
    expect((t.cloud.calls.get('CreateKeyPair') ?? 0) - before).toBe(1);
  });
});
