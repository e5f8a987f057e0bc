/**
 * Every AWS action bake calls, and the Packer it drives calls, in one list: `bake iam-policy`
 * prints the policy from it and `bake doctor` probes it. A test (test/aws/bake-actions.test.ts)
 * fails when bake's code sends an SDK command this list lacks, or when the local cloud serves an
 * action (which it does because bake or Packer calls it) that is neither here nor explained there.
 */

/** How the policy may scope an action (src/pipeline/iam-policy.ts turns these into statements). */
export type PolicyScope =
  /** Describe/Get: any resource, in the bakery's regions. */
  | 'read'
  /** Makes or removes short-lived things Packer and the launch test create untagged (key pairs, security groups, the builder instance): the bakery's regions. */
  | 'build'
  /** Tags: at creation, on requests carrying the bakery's tag, or on resources that already carry it. */
  | 'tag'
  /** Changes an image or snapshot of this bakery: only those tagged `bake:bakery` = the bakery's name. */
  | 'own-image'
  /** On the KMS keys the recipes name. */
  | 'kms-key'
  /** On the SSM parameters the recipes name (base images, secrets, pin targets). */
  | 'ssm-parameter'
  /** Only `bake doctor` uses it, to check what it cannot probe without acting. */
  | 'doctor'
  /** Needs no permission (sts:GetCallerIdentity). */
  | 'none';

/**
 * How `bake doctor` finds out whether the caller may: `dry-run` sends the EC2 call with
 * `DryRun: true` against real resources (EC2 then answers DryRunOperation or UnauthorizedOperation
 * and does nothing); `read` sends the read itself; `simulate` asks iam:SimulatePrincipalPolicy
 * (acting would change something, or needs a resource bake has not made yet).
 */
export type ProbeKind = 'dry-run' | 'read' | 'simulate';

export interface BakeAction {
  /** IAM action name, `service:Action`. */
  action: string;
  scope: PolicyScope;
  probe: ProbeKind;
  /** Who calls it and why, for the docs and doctor's lines. */
  usedFor: string;
  /** Only `bake prune` (or `bake doctor`) needs it: the build's permission check does not stop a build for it. */
  notForBuild?: true;
}

export const BAKE_ACTIONS: readonly BakeAction[] = [
  // Reads: plan, images, prune, the build's waits, Packer's lookups.
  { action: 'ec2:DescribeImages', scope: 'read', probe: 'dry-run', usedFor: 'plan, images, prune, Packer' },
  { action: 'ec2:DescribeImageAttribute', scope: 'read', probe: 'dry-run', usedFor: 'sharing' },
  {
    action: 'ec2:DescribeSnapshots',
    scope: 'read',
    probe: 'dry-run',
    usedFor: 'Packer, prune, removing a copy still being made',
  },
  { action: 'ec2:DescribeSnapshotAttribute', scope: 'read', probe: 'dry-run', usedFor: 'sharing' },
  { action: 'ec2:DescribeInstances', scope: 'read', probe: 'dry-run', usedFor: 'Packer, launch test' },
  { action: 'ec2:DescribeInstanceStatus', scope: 'read', probe: 'dry-run', usedFor: 'Packer' },
  { action: 'ec2:DescribeInstanceAttribute', scope: 'read', probe: 'dry-run', usedFor: 'Packer' },
  { action: 'ec2:DescribeVolumes', scope: 'read', probe: 'dry-run', usedFor: 'Packer' },
  { action: 'ec2:DescribeKeyPairs', scope: 'read', probe: 'dry-run', usedFor: 'build lock' },
  { action: 'ec2:DescribeSecurityGroups', scope: 'read', probe: 'dry-run', usedFor: 'Packer' },
  { action: 'ec2:DescribeSubnets', scope: 'read', probe: 'dry-run', usedFor: 'Packer, launch test (subnet_id)' },
  { action: 'ec2:DescribeVpcs', scope: 'read', probe: 'dry-run', usedFor: 'Packer' },
  { action: 'ec2:DescribeRegions', scope: 'read', probe: 'dry-run', usedFor: 'Packer, doctor' },
  { action: 'ec2:DescribeAvailabilityZones', scope: 'read', probe: 'dry-run', usedFor: 'Packer' },
  { action: 'ec2:DescribeAccountAttributes', scope: 'read', probe: 'dry-run', usedFor: 'Packer' },
  { action: 'ec2:DescribeTags', scope: 'read', probe: 'dry-run', usedFor: 'Packer' },
  {
    action: 'ec2:DescribeInstanceTypeOfferings',
    scope: 'read',
    probe: 'dry-run',
    usedFor: 'doctor',
    notForBuild: true,
  },
  { action: 'ec2:DescribeInstanceTypes', scope: 'read', probe: 'dry-run', usedFor: 'doctor', notForBuild: true },
  { action: 'ec2:GetConsoleOutput', scope: 'read', probe: 'simulate', usedFor: 'launch test (SSH never came up)' },
  // The builder instance and the launch test's instance, with their key pairs and security groups.
  { action: 'ec2:RunInstances', scope: 'build', probe: 'dry-run', usedFor: 'Packer, launch test' },
  { action: 'ec2:CreateKeyPair', scope: 'build', probe: 'dry-run', usedFor: 'Packer, launch test, build lock' },
  { action: 'ec2:DeleteKeyPair', scope: 'build', probe: 'dry-run', usedFor: 'Packer, launch test, build lock' },
  { action: 'ec2:CreateSecurityGroup', scope: 'build', probe: 'dry-run', usedFor: 'Packer, launch test' },
  { action: 'ec2:AuthorizeSecurityGroupIngress', scope: 'build', probe: 'simulate', usedFor: 'Packer, launch test' },
  { action: 'ec2:DeleteSecurityGroup', scope: 'build', probe: 'simulate', usedFor: 'Packer, launch test' },
  { action: 'ec2:ModifyInstanceAttribute', scope: 'build', probe: 'simulate', usedFor: 'Packer' },
  { action: 'ec2:StopInstances', scope: 'build', probe: 'simulate', usedFor: 'Packer' },
  { action: 'ec2:TerminateInstances', scope: 'build', probe: 'simulate', usedFor: 'Packer, launch test' },
  { action: 'ec2:CreateImage', scope: 'build', probe: 'simulate', usedFor: 'Packer' },
  { action: 'ec2:CopyImage', scope: 'build', probe: 'dry-run', usedFor: "copies to the recipe's other regions" },
  { action: 'ec2:CreateTags', scope: 'tag', probe: 'dry-run', usedFor: 'image tags, launch test, build lock' },
  // What bake does to its own images: distribution settings and prune.
  { action: 'ec2:ModifyImageAttribute', scope: 'own-image', probe: 'dry-run', usedFor: 'sharing, IMDSv2' },
  { action: 'ec2:ModifySnapshotAttribute', scope: 'own-image', probe: 'simulate', usedFor: 'sharing' },
  { action: 'ec2:EnableImageDeprecation', scope: 'own-image', probe: 'dry-run', usedFor: 'deprecate_after_days' },
  {
    action: 'ec2:DisableImageDeprecation',
    scope: 'own-image',
    probe: 'dry-run',
    usedFor: 'deprecate_after_days',
    notForBuild: true,
  },
  {
    action: 'ec2:DeregisterImage',
    scope: 'own-image',
    probe: 'dry-run',
    usedFor:
      'prune, a failed copy, a child stopped because its parent failed its launch test, the copies of such an image',
    notForBuild: true,
  },
  {
    action: 'ec2:DeleteSnapshot',
    scope: 'own-image',
    probe: 'dry-run',
    usedFor: 'prune, a child stopped because its parent failed its launch test, the copies of such an image',
    notForBuild: true,
  },
  // SSM: base images, build secrets, pin targets.
  { action: 'ssm:GetParameter', scope: 'ssm-parameter', probe: 'read', usedFor: 'ssm: bases, secrets' },
  { action: 'ssm:GetParameters', scope: 'ssm-parameter', probe: 'read', usedFor: 'pin, prune, images' },
  { action: 'ssm:PutParameter', scope: 'ssm-parameter', probe: 'simulate', usedFor: 'pin: - ssm: targets' },
  // KMS: encrypted launch volumes and copies with the recipe's keys (EC2 uses them on the caller's behalf).
  {
    action: 'kms:DescribeKey',
    scope: 'kms-key',
    probe: 'read',
    usedFor: 'doctor, encrypted copies',
    notForBuild: true,
  },
  { action: 'kms:CreateGrant', scope: 'kms-key', probe: 'simulate', usedFor: 'encrypted volumes and copies' },
  { action: 'kms:Decrypt', scope: 'kms-key', probe: 'simulate', usedFor: 'encrypted volumes and copies' },
  { action: 'kms:GenerateDataKeyWithoutPlaintext', scope: 'kms-key', probe: 'simulate', usedFor: 'encrypted volumes' },
  { action: 'kms:ReEncryptFrom', scope: 'kms-key', probe: 'simulate', usedFor: 'copies with another key' },
  { action: 'kms:ReEncryptTo', scope: 'kms-key', probe: 'simulate', usedFor: 'copies with another key' },
  // bake doctor itself.
  { action: 'sts:GetCallerIdentity', scope: 'none', probe: 'read', usedFor: 'doctor', notForBuild: true },
  {
    action: 'iam:SimulatePrincipalPolicy',
    scope: 'doctor',
    probe: 'read',
    usedFor: 'doctor (what cannot be dry-run)',
    notForBuild: true,
  },
];

export function bakeAction(action: string): BakeAction {
  const found = BAKE_ACTIONS.find((entry) => entry.action === action);
  if (!found) throw new Error(`${action} is not in BAKE_ACTIONS`);
  return found;
}
