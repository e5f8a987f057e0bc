import { readFileSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { BAKE_ACTIONS } from '../../src/aws/bake-actions.js';
import { iamPolicy, policyActions } from '../../src/pipeline/iam-policy.js';
import { loadBakery } from '../../src/recipes/load-bakery.js';
import { parseJsonOutput } from '../schema/json-schemas.js';
import { bakeryOf, recipeOf } from './bakery.js';

const REPO = path.resolve(import.meta.dirname, '../..');
const BAKE = path.join(REPO, 'bin/bake.js');

/** A bakery that uses everything a policy can scope: SSM bases, secrets and pins, KMS keys by ARN and by alias. */
function fullBakery() {
  const keyArn = 'arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
  const base = recipeOf(
    '/b',
    'base',
    { kind: 'ssm', parameter: '/aws/service/debian/release/12/latest/amd64' },
    {
      regions: ['us-east-1', 'eu-west-1'],
      encrypted: true,
      kmsKeyIds: { 'us-east-1': 'alias/images', 'eu-west-1': keyArn },
      secrets: [
        {
          name: 'token',
          source: { kind: 'ssm', parameter: '/ci/repo-token' },
          location: { file: '/b', line: 1, col: 1 },
        },
      ],
      ssmPins: [{ parameter: '/images/base/ami', location: { file: '/b', line: 1, col: 1 } }],
    },
  );
  return { bakery: bakeryOf('/b', [base]), keyArn };
}

describe('bake iam-policy', () => {
  it('allows every action bake calls (the list doctor probes), and only those', () => {
    const { policy } = iamPolicy(fullBakery().bakery);
    const needed = BAKE_ACTIONS.filter((entry) => entry.scope !== 'none').map((entry) => entry.action);
    expect([...policyActions(policy)].sort()).toEqual([...new Set(needed)].sort());
  });

  it("scopes by region, by this bakery's tag (read from the bakery's config, as the tags are), KMS keys and SSM parameters", () => {
    const { bakery, keyArn } = fullBakery();
    bakery.config.bakery = 'team-a/images';
    const { policy, regions } = iamPolicy(bakery);
    expect(regions).toEqual(['eu-west-1', 'us-east-1']);
    const statement = (sid: string) => policy.Statement.find((s) => s.Sid === sid)!;
    expect(statement('BakeRead').Condition).toEqual({
      StringEquals: { 'aws:RequestedRegion': ['eu-west-1', 'us-east-1'] },
    });
    expect(statement('BakeImagesOfThisBakery').Action).toContain('ec2:DeregisterImage');
    expect(statement('BakeImagesOfThisBakery').Condition?.StringEquals['ec2:ResourceTag/bake:bakery']).toBe(
      'team-a/images',
    );
    expect(statement('BakeTagRequestsOfThisBakery').Condition?.StringEquals['aws:RequestTag/bake:bakery']).toBe(
      'team-a/images',
    );
    expect(statement('BakeKmsKeys').Resource).toEqual([keyArn]);
    expect(statement('BakeKmsKeysByAlias')).toMatchObject({
      Resource: ['arn:aws:kms:us-east-1:*:key/*'],
      Condition: { 'ForAnyValue:StringEquals': { 'kms:ResourceAliases': ['alias/images'] } },
    });
    expect(statement('BakePinSsmParameters')).toMatchObject({
      Action: ['ssm:PutParameter'],
      Resource: [
        'arn:aws:ssm:eu-west-1:*:parameter/images/base/ami',
        'arn:aws:ssm:us-east-1:*:parameter/images/base/ami',
      ],
    });
    expect(statement('BakeReadSsmParameters').Resource).toEqual([
      'arn:aws:ssm:eu-west-1:*:parameter/images/base/ami',
      'arn:aws:ssm:us-east-1:*:parameter/aws/service/debian/release/12/latest/amd64',
      'arn:aws:ssm:us-east-1:*:parameter/ci/repo-token',
      'arn:aws:ssm:us-east-1:*:parameter/images/base/ami',
    ]);
    // Nothing unscoped changes anything: every writing statement names a region, a tag, or resources.
    for (const s of policy.Statement.filter((s) => s.Sid !== 'BakeDoctor'))
      expect(s.Resource !== '*' || s.Condition?.StringEquals?.['aws:RequestedRegion'], s.Sid).toBeTruthy();
  });

  it('is what docs/build.md shows for the example bakery, and what the command prints (--json by its schema)', async () => {
    const example = iamPolicy(await loadBakery(REPO));
    const printed = await execa('node', [BAKE, 'iam-policy', '--dir', REPO]);
    expect(JSON.parse(printed.stdout)).toEqual(example.policy);
    const json = parseJsonOutput(
      'iam-policy',
      (await execa('node', [BAKE, 'iam-policy', '--dir', REPO, '--json'])).stdout,
    );
    expect(json.policy).toEqual(example.policy);
    const docs = readFileSync(path.join(REPO, 'docs/build.md'), 'utf8');
    const block = /<!-- bake iam-policy: begin -->\n```json\n([\s\S]*?)\n```\n<!-- bake iam-policy: end -->/.exec(docs);
    expect(block, 'docs/build.md holds the example bakery policy between the iam-policy markers').not.toBeNull();
    expect(JSON.parse(block![1])).toEqual(example.policy);
  });
});
