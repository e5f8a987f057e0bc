/**
 * `bake doctor`: is this agent and this account ready to bake these recipes? Checks the agent's
 * tools, the account, each recipe's resources in its build region, and every permission bake
 * needs, without changing anything: EC2 calls go with `DryRun: true`, reads read, and what cannot
 * be probed without acting is asked of iam:SimulatePrincipalPolicy, or reported "not verified".
 * `bake build` runs the cheap part (base images and permissions, `preflight`) before Packer.
 *
 * Calls run in parallel, at most `concurrency` at once per region (EC2 throttles bursts per
 * account and region), and each distinct probe is sent once per run however many recipes share it.
 */
import { BAKE_ACTIONS, type BakeAction } from '../aws/bake-actions.js';
import { isDryRunAction, principalOf, type DoctorCloud, type Permission } from '../aws/doctor-cloud.js';
import { RecipeGraph } from '../recipes/graph.js';
import type { Bakery, Recipe } from '../recipes/model.js';
import { BAKERY_TAG, RECIPE_TAG } from '../tags/tag-contract.js';
import {
  BUILD_RECORDS_STATEMENT,
  buildRecordParametersOf,
  buildRegionOf,
  kmsKeysOf,
  ssmParameterArn,
  ssmParametersOf,
  statementFor,
} from './iam-policy.js';
import { procHiding } from './proc-hiding.js';

export type FindingStatus = 'ok' | 'problem' | 'not-verified' | 'note';
export type FindingGroup = 'agent' | 'account' | 'recipes' | 'permissions';

export interface Finding {
  group: FindingGroup;
  status: FindingStatus;
  /** What the line is about: a tool, a region, `web us-east-1`, an IAM action. */
  subject: string;
  message: string;
  /** What to do about a problem (or an unverified permission). */
  fix?: string;
  /** The IAM action of a permission finding. */
  action?: string;
  region?: string;
  recipes?: string[];
  /** How a permission was found out: dry-run, read or simulate. */
  probe?: 'dry-run' | 'read' | 'simulate';
}

export interface DoctorReport {
  /** No problem found (unverified permissions are reported, not counted as problems). */
  ready: boolean;
  caller?: { account: string; arn: string };
  findings: Finding[];
  durationMs: number;
}

/** A tool on the agent: its version line, or undefined when it is not on PATH. */
export interface AgentTools {
  version(command: string, args: string[]): Promise<string | undefined>;
  /** Packer's template shape bake generates for the installed version. */
  packerShape(versionLine: string): string | undefined;
  nodeVersion: string;
  isRoot: boolean;
  /** /proc/self/mountinfo's text (undefined: unreadable), for `--local`'s check that /proc hides processes. */
  procMountinfo?(): Promise<string | undefined>;
}

export interface DoctorDeps {
  cloud: DoctorCloud;
  tools: AgentTools;
  now(): number;
}

export interface DoctorOptions {
  /** `--local`: the local cloud's own needs too (debootstrap, systemd-nspawn, nftables, root). */
  local?: boolean;
  /** `preflight`: only base images and the permissions a build needs (bake build's check). */
  scope?: 'all' | 'preflight';
  /** Calls at once per region (default 8). */
  concurrency?: number;
  /** false: leave the agent's tools out (default: checked with scope `all`). */
  agent?: boolean;
}

interface AgentTool {
  command: string;
  args: string[];
  debianPackage: string;
  why: string;
  localOnly?: true;
}

const AGENT_TOOLS: AgentTool[] = [
  { command: 'packer', args: ['version'], debianPackage: 'packer', why: 'bakes the images' },
  { command: 'ansible-playbook', args: ['--version'], debianPackage: 'ansible-core', why: 'runs the roles' },
  { command: 'ansible-galaxy', args: ['--version'], debianPackage: 'ansible-core', why: 'installs role requirements' },
  { command: 'ssh', args: ['-V'], debianPackage: 'openssh-client', why: 'reaches build and test instances' },
  { command: 'git', args: ['--version'], debianPackage: 'git', why: 'fingerprints and bake:git-commit' },
  {
    command: 'debootstrap',
    args: ['--version'],
    debianPackage: 'debootstrap',
    why: "makes the local cloud's Debian image",
    localOnly: true,
  },
  {
    command: 'systemd-nspawn',
    args: ['--version'],
    debianPackage: 'systemd-container',
    why: 'boots local instances',
    localOnly: true,
  },
  { command: 'nft', args: ['--version'], debianPackage: 'nftables', why: "local instances' network", localOnly: true },
];

const MIN_NODE = [20, 5];

/** A name doctor gives what its dry runs would create: never created, since EC2 only checks. */
const PROBE_NAME = 'bake-doctor-probe';

/** At most `n` calls at once per key (region). */
function limiter(n: number) {
  const queues = new Map<string, { running: number; waiting: Array<() => void> }>();
  return async <T>(key: string, work: () => Promise<T>): Promise<T> => {
    let queue = queues.get(key);
    if (!queue) queues.set(key, (queue = { running: 0, waiting: [] }));
    if (queue.running >= n) await new Promise<void>((resolve) => queue!.waiting.push(resolve));
    queue.running += 1;
    try {
      return await work();
    } finally {
      queue.running -= 1;
      queue.waiting.shift()?.();
    }
  };
}

const firstLine = (text: string) =>
  text
    .split('\n')
    .find((line) => line.trim())
    ?.trim() ?? '';
const errorText = (error: unknown) => (error as Error).message ?? String(error);

async function agentFindings(tools: AgentTools, local: boolean): Promise<Finding[]> {
  const findings: Finding[] = [];
  const node = tools.nodeVersion.replace(/^v/, '').split('.').map(Number);
  const nodeOk = node[0] > MIN_NODE[0] || (node[0] === MIN_NODE[0] && node[1] >= MIN_NODE[1]);
  findings.push({
    group: 'agent',
    status: nodeOk ? 'ok' : 'problem',
    subject: 'node',
    message: `Node ${tools.nodeVersion}${nodeOk ? '' : `: bake needs ${MIN_NODE.join('.')} or newer`}`,
    ...(!nodeOk && { fix: 'install Node 20.5 or newer (Debian: apt-get install nodejs from bookworm-backports)' }),
  });
  const versions = await Promise.all(
    AGENT_TOOLS.filter((tool) => local || !tool.localOnly).map(async (tool) => ({
      tool,
      version: await tools.version(tool.command, tool.args),
    })),
  );
  for (const { tool, version } of versions) {
    if (version === undefined) {
      findings.push({
        group: 'agent',
        status: 'problem',
        subject: tool.command,
        message: `${tool.command} not found on PATH (${tool.why})`,
        fix: `apt-get install ${tool.debianPackage}`,
      });
      continue;
    }
    const shape = tool.command === 'packer' ? tools.packerShape(version) : undefined;
    findings.push({
      group: 'agent',
      status: 'ok',
      subject: tool.command,
      message: `${tool.command}: ${firstLine(version)}${shape ? ` (bake generates the ${shape} template shape for it)` : ''}`,
    });
  }
  if (local)
    findings.push({
      group: 'agent',
      status: tools.isRoot ? 'ok' : 'problem',
      subject: 'root',
      message: tools.isRoot ? 'running as root' : 'not root: the local cloud boots instances as containers',
      ...(!tools.isRoot && { fix: 'run bake --local as root (or in a privileged container)' }),
    });
  if (local && tools.procMountinfo)
    findings.push({ group: 'agent', subject: 'processes', ...procHiding(await tools.procMountinfo()) });
  return findings;
}

/** What doctor learnt about a recipe's build region, which the permission probes build their requests from. */
interface RecipeFacts {
  recipe: Recipe;
  region: string;
  baseImageId?: string;
  architecture?: string;
  vpcId?: string;
  subnetOk: boolean;
}

export async function runDoctor(
  bakery: Bakery,
  recipes: Recipe[],
  deps: DoctorDeps,
  options: DoctorOptions = {},
): Promise<DoctorReport> {
  const started = deps.now();
  const { cloud } = deps;
  const full = (options.scope ?? 'all') === 'all';
  const limit = limiter(options.concurrency ?? 8);
  const findings: Finding[] = [];
  const once = new Map<string, Promise<unknown>>();
  /** One call per distinct question, however many recipes ask it. */
  const ask = <T>(key: string, region: string, work: () => Promise<T>): Promise<T> => {
    let answer = once.get(key) as Promise<T> | undefined;
    if (!answer) once.set(key, (answer = limit(region, work)));
    return answer;
  };

  const agent =
    full && options.agent !== false ? agentFindings(deps.tools, Boolean(options.local)) : Promise.resolve([]);

  // The account: who, and whether each region is enabled.
  let caller: { account: string; arn: string } | undefined;
  try {
    caller = await cloud.callerIdentity();
    if (full)
      findings.push({
        group: 'account',
        status: 'ok',
        subject: 'caller',
        message: `bake runs as ${caller.arn} (account ${caller.account})`,
      });
  } catch (error) {
    findings.push({
      group: 'account',
      status: 'problem',
      subject: 'caller',
      message: `no usable AWS credentials: ${errorText(error)}`,
      fix: 'give the agent credentials (AWS_PROFILE / --profile, environment keys, or an instance role)',
    });
    return finish();
  }
  const regions = [...new Set(recipes.flatMap((recipe) => recipe.regions))].sort();
  if (full) {
    try {
      const known = await cloud.regions();
      for (const region of regions) {
        const status = known.get(region);
        const enabled = status === 'opt-in-not-required' || status === 'opted-in';
        findings.push({
          group: 'account',
          status: enabled ? 'ok' : 'problem',
          subject: region,
          region,
          message: enabled
            ? `region ${region} is enabled`
            : `region ${region} is ${status === undefined ? 'unknown to EC2' : `not enabled (${status})`}`,
          ...(!enabled && {
            fix: `enable ${region} for the account (Account settings → AWS Regions), or remove it from the recipes`,
          }),
        });
      }
    } catch (error) {
      findings.push({
        group: 'account',
        status: 'problem',
        subject: 'regions',
        message: `could not list the account's regions: ${errorText(error)}`,
        fix: 'allow ec2:DescribeRegions (bake iam-policy, statement BakeRead)',
        action: 'ec2:DescribeRegions',
      });
    }
  }

  // Per recipe, in its build region: base image, instance type, subnet, KMS keys.
  const graph = RecipeGraph.of(bakery.recipes);
  const facts = await Promise.all(recipes.map((recipe) => recipeFacts(recipe)));

  async function baseOf(recipe: Recipe): Promise<{ imageId?: string; architecture?: string; error?: string }> {
    const region = buildRegionOf(recipe);
    // A recipe built FROM another starts from its parent's image: it has the architecture of the root's base.
    const rootRecipe = graph.rootOf(recipe.name) ?? recipe;
    return ask(`base ${rootRecipe.name} ${region}`, region, async () => {
      try {
        const resolved = await cloud.resolveBase(rootRecipe.base, region);
        const architecture = await cloud.imageArchitecture(region, resolved.imageId);
        return { imageId: resolved.imageId, architecture };
      } catch (error) {
        return { error: errorText(error) };
      }
    });
  }

  async function recipeFacts(recipe: Recipe): Promise<RecipeFacts> {
    const region = buildRegionOf(recipe);
    const subject = `${recipe.name} ${region}`;
    const where = { group: 'recipes' as const, subject, region, recipes: [recipe.name] };
    const base = await baseOf(recipe);
    const viaParent =
      recipe.base.kind === 'recipe' ? ` (built from recipe ${recipe.base.recipe}, whose root base is it)` : '';
    if (base.error)
      findings.push({
        ...where,
        status: 'problem',
        message: `base image does not resolve: ${base.error}`,
        fix: `fix base: in ${recipe.locations.base?.file ?? recipe.file} (the AMI, filter or SSM parameter must exist in ${region})`,
      });
    else
      findings.push({
        ...where,
        status: 'ok',
        message: `base image ${base.imageId}${base.architecture ? ` (${base.architecture})` : ''}${viaParent}`,
      });

    let vpcId: string | undefined;
    let zone: string | undefined;
    let subnetOk = true;
    {
      try {
        if (recipe.subnetId) {
          const subnet = await ask(`subnet ${region} ${recipe.subnetId}`, region, () =>
            cloud.subnet(region, recipe.subnetId!),
          );
          if (!subnet) {
            subnetOk = false;
            findings.push({
              ...where,
              status: 'problem',
              message: `subnet ${recipe.subnetId} does not exist in ${region}`,
              fix: `set subnet_id (recipe or bake.config.yaml) to a subnet of ${region}`,
            });
          } else {
            vpcId = subnet.vpcId;
            zone = subnet.zone;
            if (full)
              findings.push({
                ...where,
                status: 'note',
                message: subnet.publicIp
                  ? `subnet ${recipe.subnetId} (${subnet.vpcId}, ${subnet.zone}) gives instances a public IP: the agent must reach it on port 22`
                  : `subnet ${recipe.subnetId} (${subnet.vpcId}, ${subnet.zone}) gives no public IP: the agent must reach its private addresses on port 22 (same VPC, peering, VPN)`,
              });
          }
        } else {
          vpcId = await ask(`default vpc ${region}`, region, () => cloud.defaultVpc(region));
          if (!vpcId) {
            subnetOk = false;
            findings.push({
              ...where,
              status: 'problem',
              message: `no subnet_id and no default VPC in ${region}`,
              fix: `set subnet_id (recipe or bake.config.yaml) to a subnet of ${region} the agent can reach`,
            });
          } else if (full)
            findings.push({
              ...where,
              status: 'note',
              message: options.local
                ? `the local cloud's default VPC ${vpcId}: instances are reached on loopback`
                : `no subnet_id: the default VPC ${vpcId} (its default subnets give a public IP); whether the agent reaches its instances on port 22 depends on the agent's network, which doctor cannot tell`,
            });
        }
      } catch (error) {
        findings.push({ ...where, status: 'problem', message: `could not look up the network: ${errorText(error)}` });
      }
    }

    if (full) {
      const types = [
        ...new Set([recipe.instanceType, recipe.launchTest?.instanceType].filter((t): t is string => !!t)),
      ];
      for (const instanceType of types) {
        try {
          const architectures = await ask(`type ${region} ${instanceType}`, region, () =>
            cloud.instanceTypeArchitectures(region, instanceType),
          );
          const offered =
            architectures &&
            (await ask(`offered ${region} ${zone ?? ''} ${instanceType}`, region, () =>
              cloud.instanceTypeOffered(region, instanceType, zone),
            ));
          if (!architectures || !offered)
            findings.push({
              ...where,
              status: 'problem',
              message: `instance type ${instanceType} is ${architectures ? 'not offered' : 'unknown'} in ${zone ?? region}`,
              fix: `choose an instance_type offered in ${zone ?? region} (aws ec2 describe-instance-type-offerings${zone ? ' --location-type availability-zone' : ''} --region ${region})${zone ? ', or a subnet in another zone' : ''}`,
            });
          else if (base.architecture && !architectures.includes(base.architecture))
            findings.push({
              ...where,
              status: 'problem',
              message: `instance type ${instanceType} runs ${architectures.join('/')} but the base image is ${base.architecture}`,
              fix:
                base.architecture === 'arm64'
                  ? 'choose a Graviton instance_type (t4g, m7g, c7g…) or an x86_64 base image'
                  : 'choose an x86_64 instance_type (t3, m7i…) or an arm64 base image',
            });
          else
            findings.push({
              ...where,
              status: 'ok',
              message: `instance type ${instanceType} offered in ${zone ?? region}`,
            });
        } catch (error) {
          findings.push({
            ...where,
            status: 'problem',
            message: `could not look up instance type ${instanceType}: ${errorText(error)}`,
          });
        }
      }
      for (const { region: keyRegion, name } of kmsKeysOf(recipe)) {
        const keyWhere = { ...where, subject: `${recipe.name} ${keyRegion}`, region: keyRegion };
        try {
          const key = await ask(`kms ${keyRegion} ${name}`, keyRegion, () => cloud.kmsKey(keyRegion, name));
          if (!key)
            findings.push({
              ...keyWhere,
              status: 'problem',
              message: `KMS key ${name} does not exist in ${keyRegion}`,
              fix: `create it, or fix kms_key_ids.${keyRegion} in ${recipe.file}`,
            });
          else if (key.state !== 'Enabled')
            findings.push({
              ...keyWhere,
              status: 'problem',
              message: `KMS key ${name} in ${keyRegion} is ${key.state}`,
              fix: `enable it (aws kms enable-key --key-id ${key.arn}), or name another key in kms_key_ids.${keyRegion}`,
            });
          else findings.push({ ...keyWhere, status: 'ok', message: `KMS key ${name} is enabled in ${keyRegion}` });
        } catch (error) {
          const denied = /AccessDenied/.test(errorText(error));
          findings.push({
            ...keyWhere,
            status: 'problem',
            message: `could not read KMS key ${name} in ${keyRegion}: ${errorText(error)}`,
            ...(denied && {
              action: 'kms:DescribeKey',
              fix: `allow kms:DescribeKey on it (bake iam-policy, statement ${statementFor('kms:DescribeKey')})`,
            }),
          });
        }
      }
    }
    return { recipe, region, baseImageId: base.imageId, architecture: base.architecture, vpcId, subnetOk };
  }

  findings.push(...(await permissionFindings(bakery, facts, caller, ask, cloud, full, deps.now())));
  findings.unshift(...(await agent));
  return finish();

  function finish(): DoctorReport {
    return {
      ready: !findings.some((finding) => finding.status === 'problem'),
      caller,
      findings,
      durationMs: deps.now() - started,
    };
  }
}

type Ask = <T>(key: string, region: string, work: () => Promise<T>) => Promise<T>;

/** One permission question: an action in a region, for some recipes, answered by a dry run, a read or a simulation. */
interface Probe {
  action: string;
  region: string;
  recipe: string;
  /** Dry run or read; absent: only a simulation can tell. */
  send?: () => Promise<Permission>;
  sendKey?: string;
  /** The resource to simulate on (default `*`). */
  resource?: string;
  /** The statement of `bake iam-policy` that allows it, when not the action's usual one. */
  statement?: string;
}

async function permissionFindings(
  bakery: Bakery,
  facts: RecipeFacts[],
  caller: { arn: string },
  ask: Ask,
  cloud: DoctorCloud,
  full: boolean,
  now: number,
): Promise<Finding[]> {
  const wanted = (entry: BakeAction) => entry.scope !== 'none' && (full || !entry.notForBuild);
  const actions = BAKE_ACTIONS.filter(wanted);
  const probes: Probe[] = [];
  const regions = [...new Set(facts.flatMap((f) => f.recipe.regions))].sort();
  const ownImage = (region: string) =>
    ask(`own image ${region}`, region, () => cloud.ownImage(region, bakery.config.bakery).catch(() => undefined));
  const dryRun = (
    region: string,
    action: string,
    key: string,
    input: () => Promise<Record<string, unknown> | undefined>,
  ) => {
    const name = action.slice('ec2:'.length);
    if (!isDryRunAction(name)) return undefined;
    return async (): Promise<Permission> => {
      const request = await input();
      if (!request) return { outcome: 'unknown', message: 'no resource to send a dry run against' };
      return ask(`dry-run ${region} ${name} ${key}`, region, () => cloud.dryRun(region, name, request));
    };
  };

  for (const f of facts) {
    const { recipe, region } = f;
    const tags = [
      { Key: RECIPE_TAG, Value: recipe.name },
      { Key: BAKERY_TAG, Value: bakery.config.bakery },
    ];
    const add = (action: string, probe: Omit<Probe, 'action' | 'recipe'>) => {
      if (actions.some((entry) => entry.action === action)) probes.push({ action, recipe: recipe.name, ...probe });
    };
    const rootDevice = { DeviceName: '/dev/xvda' };
    const launch = () =>
      Promise.resolve(
        f.baseImageId && f.subnetOk
          ? {
              ImageId: f.baseImageId,
              InstanceType: recipe.instanceType,
              MinCount: 1,
              MaxCount: 1,
              SubnetId: recipe.subnetId,
              ...(recipe.encrypted && {
                BlockDeviceMappings: [{ ...rootDevice, Ebs: { Encrypted: true, KmsKeyId: recipe.kmsKeyIds[region] } }],
              }),
              TagSpecifications: [
                { ResourceType: 'instance', Tags: tags },
                { ResourceType: 'volume', Tags: tags },
              ],
            }
          : undefined,
      );
    add('ec2:RunInstances', {
      region,
      send: dryRun(
        region,
        'ec2:RunInstances',
        `${f.baseImageId} ${recipe.instanceType} ${recipe.subnetId} ${recipe.encrypted} ${recipe.kmsKeyIds[region]}`,
        launch,
      ),
    });
    add('ec2:CreateKeyPair', {
      region,
      send: dryRun(region, 'ec2:CreateKeyPair', '', async () => ({ KeyName: PROBE_NAME, KeyType: 'ed25519' })),
    });
    add('ec2:DeleteKeyPair', {
      region,
      send: dryRun(region, 'ec2:DeleteKeyPair', '', async () => ({ KeyName: PROBE_NAME })),
    });
    add('ec2:CreateSecurityGroup', {
      region,
      send: dryRun(region, 'ec2:CreateSecurityGroup', f.vpcId ?? '', async () =>
        f.vpcId ? { GroupName: PROBE_NAME, Description: 'bake doctor probe (dry run)', VpcId: f.vpcId } : undefined,
      ),
    });
    for (const target of recipe.regions.slice(1))
      add('ec2:CopyImage', {
        region: target,
        send: dryRun(target, 'ec2:CopyImage', `${region} ${f.baseImageId} ${recipe.kmsKeyIds[target]}`, async () =>
          f.baseImageId
            ? {
                SourceImageId: f.baseImageId,
                SourceRegion: region,
                Name: PROBE_NAME,
                ...(recipe.encrypted && { Encrypted: true, KmsKeyId: recipe.kmsKeyIds[target] }),
              }
            : undefined,
        ),
      });

    const { read, written } = ssmParametersOf(recipe);
    for (const parameter of read)
      add('ssm:GetParameter', {
        region: parameter.region,
        resource: ssmParameterArn(parameter),
        send: () =>
          ask(`ssm get ${parameter.region} ${parameter.name}`, parameter.region, () =>
            cloud.readParameter(parameter.region, parameter.name, 'GetParameter'),
          ),
      });
    for (const parameter of written) {
      add('ssm:GetParameters', {
        region: parameter.region,
        resource: ssmParameterArn(parameter),
        send: () =>
          ask(`ssm gets ${parameter.region} ${parameter.name}`, parameter.region, () =>
            cloud.readParameter(parameter.region, parameter.name, 'GetParameters'),
          ),
      });
      add('ssm:PutParameter', { region: parameter.region, resource: ssmParameterArn(parameter) });
    }
    for (const record of buildRecordParametersOf(bakery, recipe)) {
      const resource = ssmParameterArn({ region: record.region, name: record.probe });
      add('ssm:GetParameters', {
        region: record.region,
        resource,
        statement: BUILD_RECORDS_STATEMENT,
        send: () =>
          ask(`ssm gets ${record.region} ${record.probe}`, record.region, () =>
            cloud.readParameter(record.region, record.probe, 'GetParameters'),
          ),
      });
      add('ssm:PutParameter', { region: record.region, resource, statement: BUILD_RECORDS_STATEMENT });
    }
    for (const key of kmsKeysOf(recipe))
      for (const entry of actions.filter((a) => a.scope === 'kms-key' && a.action !== 'kms:DescribeKey'))
        add(entry.action, { region: key.region, resource: key.name.startsWith('arn:') ? key.name : undefined });
  }

  // Region-wide actions: reads, the image actions (against one of this bakery's images when there is one), the rest simulated.
  const perRecipe = new Set([
    'ec2:RunInstances',
    'ec2:CreateKeyPair',
    'ec2:DeleteKeyPair',
    'ec2:CreateSecurityGroup',
    'ec2:CopyImage',
  ]);
  for (const region of regions) {
    const recipesHere = facts.filter((f) => f.recipe.regions.includes(region)).map((f) => f.recipe.name);
    for (const entry of actions.filter((a) => a.action.startsWith('ec2:') && !perRecipe.has(a.action))) {
      const imageInput =
        (build: (image: { imageId: string; snapshotId?: string }) => Record<string, unknown> | undefined) =>
        async () => {
          const image = await ownImage(region);
          return image ? build(image) : undefined;
        };
      const inputs: Record<string, (() => Promise<Record<string, unknown> | undefined>) | undefined> = {
        'ec2:CreateTags': imageInput((image) => ({
          Resources: [image.imageId],
          Tags: [{ Key: BAKERY_TAG, Value: bakery.config.bakery }],
        })),
        'ec2:ModifyImageAttribute': imageInput((image) => ({ ImageId: image.imageId, ImdsSupport: { Value: 'v2.0' } })),
        'ec2:EnableImageDeprecation': imageInput((image) => ({
          ImageId: image.imageId,
          DeprecateAt: new Date(now + 365 * 86_400_000),
        })),
        'ec2:DisableImageDeprecation': imageInput((image) => ({ ImageId: image.imageId })),
        'ec2:DeregisterImage': imageInput((image) => ({ ImageId: image.imageId })),
        'ec2:DeleteSnapshot': imageInput((image) => (image.snapshotId ? { SnapshotId: image.snapshotId } : undefined)),
        'ec2:DescribeImageAttribute': imageInput((image) => ({
          ImageId: image.imageId,
          Attribute: 'launchPermission',
        })),
        'ec2:DescribeSnapshotAttribute': imageInput((image) =>
          image.snapshotId ? { SnapshotId: image.snapshotId, Attribute: 'createVolumePermission' } : undefined,
        ),
      };
      const input =
        entry.probe !== 'dry-run'
          ? undefined
          : Object.hasOwn(inputs, entry.action)
            ? inputs[entry.action]
            : entry.scope === 'read' && entry.action !== 'ec2:DescribeInstanceAttribute'
              ? async () => ({})
              : undefined;
      for (const recipe of recipesHere)
        probes.push({
          action: entry.action,
          region,
          recipe,
          send: input ? dryRun(region, entry.action, '', input) : undefined,
        });
    }
  }

  // Send what can be sent; what cannot, or what answered neither yes nor no, goes to the simulation.
  const answers = await Promise.all(
    probes.map(async (probe) => ({ probe, answer: probe.send ? await probe.send() : undefined })),
  );
  const toSimulate = answers.filter(({ answer }) => !answer || answer.outcome === 'unknown').map(({ probe }) => probe);
  const principal = principalOf(caller.arn);
  const simulated = new Map<string, Permission | undefined>();
  const groups = new Map<string, { region: string; resource?: string; actions: Set<string> }>();
  for (const probe of toSimulate) {
    const key = `${probe.region} ${probe.resource ?? '*'}`;
    const group = groups.get(key) ?? { region: probe.region, resource: probe.resource, actions: new Set<string>() };
    group.actions.add(probe.action);
    groups.set(key, group);
  }
  let simulationRefused = false;
  await Promise.all(
    [...groups].map(async ([key, group]) => {
      const result = await ask(`simulate ${key} ${[...group.actions].join(',')}`, group.region, () =>
        cloud
          .simulate(principal, group.region, [...group.actions], group.resource ? [group.resource] : undefined)
          .catch(() => undefined),
      );
      if (!result) simulationRefused = true;
      for (const action of group.actions) simulated.set(`${key} ${action}`, result?.get(action));
    }),
  );

  // One finding per action and region: denied if any probe was, else unverified if any was, else allowed.
  const merged = new Map<string, Finding>();
  const rank: Record<FindingStatus, number> = { problem: 3, 'not-verified': 2, ok: 1, note: 0 };
  for (const { probe, answer } of answers) {
    let permission = answer;
    let how: Finding['probe'] =
      BAKE_ACTIONS.find((a) => a.action === probe.action)?.probe === 'read' ? 'read' : 'dry-run';
    if (!permission || permission.outcome === 'unknown') {
      permission = simulated.get(`${probe.region} ${probe.resource ?? '*'} ${probe.action}`) ?? permission;
      how = 'simulate';
    }
    const statement = probe.statement ?? statementFor(probe.action);
    const finding: Finding =
      permission?.outcome === 'allowed'
        ? {
            group: 'permissions',
            status: 'ok',
            subject: probe.action,
            message: `${probe.action} allowed in ${probe.region}`,
          }
        : permission?.outcome === 'denied'
          ? {
              group: 'permissions',
              status: 'problem',
              subject: probe.action,
              message: `${probe.action} denied in ${probe.region}${how === 'simulate' ? ' (simulated)' : ''}`,
              fix: `allow ${probe.action} in ${probe.region}${probe.resource ? ` on ${probe.resource}` : ''} (bake iam-policy, statement ${statement})`,
            }
          : {
              group: 'permissions',
              status: 'not-verified',
              subject: probe.action,
              message: `${probe.action} in ${probe.region} not verified${
                simulationRefused ? `: the caller may not use iam:SimulatePrincipalPolicy` : ''
              }${answer?.outcome === 'unknown' ? ` (dry run: ${answer.message})` : ''}`,
              fix: `allow iam:SimulatePrincipalPolicy (bake iam-policy, statement BakeDoctor) to check it, or check ${probe.action} by hand`,
            };
    const key = `${probe.action} ${probe.region}`;
    const seen = merged.get(key);
    const recipes = [...new Set([...(seen?.recipes ?? []), probe.recipe])];
    if (!seen || rank[finding.status] > rank[seen.status])
      merged.set(key, { ...finding, action: probe.action, region: probe.region, recipes, probe: how });
    else seen.recipes = recipes;
  }
  if (full && simulationRefused)
    merged.set('simulate', {
      group: 'permissions',
      status: 'note',
      subject: 'iam:SimulatePrincipalPolicy',
      action: 'iam:SimulatePrincipalPolicy',
      message: `the caller may not use iam:SimulatePrincipalPolicy on ${principal}: what cannot be dry-run is reported not verified`,
      fix: 'allow it (bake iam-policy, statement BakeDoctor)',
    });
  return [...merged.values()].sort(
    (a, b) => (a.region ?? '').localeCompare(b.region ?? '') || (a.action ?? '').localeCompare(b.action ?? ''),
  );
}

/** Human lines, grouped; allowed permissions are counted per region, problems and unverified ones named. */
export function doctorLines(report: DoctorReport): string[] {
  const lines: string[] = [];
  const label: Record<FindingStatus, string> = {
    ok: 'ok',
    problem: 'PROBLEM',
    'not-verified': 'not verified',
    note: 'note',
  };
  const line = (f: Finding) =>
    `  ${label[f.status].padEnd(12)} ${f.group === 'recipes' ? `${f.subject}: ` : ''}${f.message}${f.fix ? ` — fix: ${f.fix}` : ''}`;
  for (const group of ['agent', 'account', 'recipes', 'permissions'] as const) {
    const inGroup = report.findings.filter((f) => f.group === group);
    if (!inGroup.length) continue;
    lines.push(group);
    if (group !== 'permissions') {
      lines.push(...inGroup.map(line));
      continue;
    }
    const allowed = new Map<string, Finding[]>();
    for (const f of inGroup) {
      if (f.status === 'ok') allowed.set(f.region ?? '', [...(allowed.get(f.region ?? '') ?? []), f]);
      else lines.push(line(f));
    }
    for (const [region, found] of allowed) {
      const by = (how: Finding['probe']) => found.filter((f) => f.probe === how).length;
      lines.push(
        `  ${'ok'.padEnd(12)} ${found.length} actions allowed in ${region} (${by('dry-run')} by dry run, ${by('read')} by reading, ${by('simulate')} by simulation)`,
      );
    }
  }
  const problems = report.findings.filter((f) => f.status === 'problem').length;
  const unverified = report.findings.filter((f) => f.status === 'not-verified').length;
  lines.push(
    `${report.ready ? 'ready' : 'not ready'}: ${problems} problem${problems === 1 ? '' : 's'}, ${unverified} not verified (${(report.durationMs / 1000).toFixed(1)} s)`,
  );
  return lines;
}

/** `--json`: schema/doctor.schema.json. */
export function doctorJson(report: DoctorReport) {
  return {
    ready: report.ready,
    caller: report.caller ?? null,
    duration_s: Math.round(report.durationMs) / 1000,
    findings: report.findings.map((f) => ({
      group: f.group,
      status: f.status,
      subject: f.subject,
      message: f.message,
      ...(f.fix && { fix: f.fix }),
      ...(f.action && { action: f.action }),
      ...(f.region && { region: f.region }),
      ...(f.recipes && { recipes: f.recipes }),
      ...(f.probe && { probe: f.probe }),
    })),
  };
}
