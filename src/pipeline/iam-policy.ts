/**
 * `bake iam-policy`: the least-privilege IAM policy a bakery needs, made from the one list of
 * actions bake calls (src/aws/bake-actions.ts, which `bake doctor` probes too), scoped where IAM
 * allows: the recipes' regions, this bakery's `bake:bakery` tag, the KMS keys and the SSM
 * parameters the recipes name. Pure: bakery in, policy document out.
 */
import { buildRecordPath } from '../tags/build-record.js';
import { BAKE_ACTIONS, type BakeAction, type PolicyScope } from '../aws/bake-actions.js';
import type { Bakery, Recipe } from '../recipes/model.js';
import { BAKERY_TAG } from '../tags/tag-contract.js';

export interface PolicyStatement {
  Sid: string;
  Effect: 'Allow';
  Action: string[];
  Resource: string | string[];
  Condition?: Record<string, Record<string, string | string[]>>;
}

export interface PolicyDocument {
  Version: '2012-10-17';
  Statement: PolicyStatement[];
}

export interface IamPolicyResult {
  bakery: string;
  regions: string[];
  policy: PolicyDocument;
  actions: BakeAction[];
}

/** Where a KMS key or an SSM parameter is used, per region. */
interface Named {
  region: string;
  name: string;
}

/** A recipe's build region: Packer builds there; base images and secrets are read there. */
export const buildRegionOf = (recipe: Recipe) => recipe.regions[0];

/** The SSM parameters a recipe reads (`ssm:` base, secrets) and writes (`pin: - ssm:`), per region. */
export function ssmParametersOf(recipe: Recipe): { read: Named[]; written: Named[] } {
  const region = buildRegionOf(recipe);
  const read: Named[] = [];
  if (recipe.base.kind === 'ssm') read.push({ region, name: recipe.base.parameter });
  for (const secret of recipe.secrets ?? [])
    if (secret.source.kind === 'ssm') read.push({ region, name: secret.source.parameter });
  const written = recipe.ssmPins.flatMap((pin) => recipe.regions.map((r) => ({ region: r, name: pin.parameter })));
  return { read, written };
}

/**
 * Where bake records the images it vouches for (src/tags/build-record.ts), per region of the
 * recipe: `name` is the path with `/*` for the policy, `probe` one parameter below it for doctor.
 */
export function buildRecordParametersOf(bakery: Bakery, recipe: Recipe): Array<Named & { probe: string }> {
  const root = `${buildRecordPath(bakery.config.bakery)}/${recipe.name}`;
  return recipe.regions.map((region) => ({ region, name: `${root}/*`, probe: `${root}/bake-doctor-probe` }));
}

/** The KMS keys a recipe names (`kms_key_ids`), per region. */
export function kmsKeysOf(recipe: Recipe): Named[] {
  return Object.entries(recipe.kmsKeyIds).map(([region, name]) => ({ region, name }));
}

const unique = (items: string[]) => [...new Set(items)].sort();

/** The statement of `bake iam-policy` for the build records. */
export const BUILD_RECORDS_STATEMENT = 'BakeBuildRecords';

export function ssmParameterArn({ region, name }: Named): string {
  return `arn:aws:ssm:${region}:*:parameter${name.startsWith('/') ? '' : '/'}${name}`;
}

/** A key ARN as given, or the ARN pattern of a key id; aliases are matched by condition instead (kms:ResourceAliases). */
function kmsKeyResource({ region, name }: Named): string | undefined {
  if (name.startsWith('arn:aws:kms:') && name.includes(':key/')) return name;
  if (name.startsWith('alias/') || name.includes(':alias/')) return undefined;
  return `arn:aws:kms:${region}:*:key/${name}`;
}

function kmsAlias({ name }: Named): string | undefined {
  if (name.startsWith('alias/')) return name;
  const arn = /:(alias\/.+)$/.exec(name);
  return arn?.[1];
}

function actionsOf(scope: PolicyScope): string[] {
  return BAKE_ACTIONS.filter((entry) => entry.scope === scope).map((entry) => entry.action);
}

export function iamPolicy(bakery: Bakery): IamPolicyResult {
  const name = bakery.config.bakery;
  const regions = unique(bakery.recipes.flatMap((recipe) => recipe.regions));
  const inRegions = { StringEquals: { 'aws:RequestedRegion': regions } };
  const withTag = (condition: string) => ({ StringEquals: { 'aws:RequestedRegion': regions, [condition]: name } });
  const statements: PolicyStatement[] = [
    { Sid: 'BakeRead', Effect: 'Allow', Action: actionsOf('read'), Resource: '*', Condition: inRegions },
    { Sid: 'BakeBuildInstances', Effect: 'Allow', Action: actionsOf('build'), Resource: '*', Condition: inRegions },
    {
      Sid: 'BakeTagAtCreation',
      Effect: 'Allow',
      Action: actionsOf('tag'),
      Resource: '*',
      Condition: {
        StringEquals: {
          'aws:RequestedRegion': regions,
          'ec2:CreateAction': ['RunInstances', 'CreateKeyPair', 'CreateSecurityGroup', 'CopyImage'],
        },
      },
    },
    // Packer tags a new image with the bakery's tag among the others, in one CreateTags.
    {
      Sid: 'BakeTagRequestsOfThisBakery',
      Effect: 'Allow',
      Action: actionsOf('tag'),
      Resource: '*',
      Condition: withTag(`aws:RequestTag/${BAKERY_TAG}`),
    },
    {
      Sid: 'BakeTagResourcesOfThisBakery',
      Effect: 'Allow',
      Action: actionsOf('tag'),
      Resource: '*',
      Condition: withTag(`ec2:ResourceTag/${BAKERY_TAG}`),
    },
    {
      Sid: 'BakeImagesOfThisBakery',
      Effect: 'Allow',
      Action: actionsOf('own-image'),
      Resource: '*',
      Condition: withTag(`ec2:ResourceTag/${BAKERY_TAG}`),
    },
  ];

  const ssm = bakery.recipes.map(ssmParametersOf);
  const readParameters = unique(ssm.flatMap(({ read, written }) => [...read, ...written]).map(ssmParameterArn));
  const writtenParameters = unique(ssm.flatMap(({ written }) => written).map(ssmParameterArn));
  if (readParameters.length)
    statements.push({
      Sid: 'BakeReadSsmParameters',
      Effect: 'Allow',
      Action: ['ssm:GetParameter', 'ssm:GetParameters'],
      Resource: readParameters,
    });
  if (writtenParameters.length)
    statements.push({
      Sid: 'BakePinSsmParameters',
      Effect: 'Allow',
      Action: ['ssm:PutParameter'],
      Resource: writtenParameters,
    });

  // Build records: read by plan, pin, promote and rollback; written only by builds. Whoever may
  // write here can vouch for any image (docs/security.md): give PutParameter to the build identity alone.
  const records = unique(
    bakery.recipes.flatMap((recipe) =>
      recipe.regions.map((region) => ssmParameterArn({ region, name: `${buildRecordPath(name)}/*` })),
    ),
  );
  if (records.length)
    statements.push({
      Sid: BUILD_RECORDS_STATEMENT,
      Effect: 'Allow',
      Action: ['ssm:GetParameters', 'ssm:PutParameter'],
      Resource: records,
    });

  const keys = bakery.recipes.flatMap(kmsKeysOf);
  const keyArns = unique(keys.flatMap((key) => kmsKeyResource(key) ?? []));
  const aliases = keys.filter((key) => kmsAlias(key));
  if (keyArns.length)
    statements.push({ Sid: 'BakeKmsKeys', Effect: 'Allow', Action: actionsOf('kms-key'), Resource: keyArns });
  if (aliases.length)
    statements.push({
      Sid: 'BakeKmsKeysByAlias',
      Effect: 'Allow',
      Action: actionsOf('kms-key'),
      Resource: unique(aliases.map(({ region }) => `arn:aws:kms:${region}:*:key/*`)),
      Condition: {
        'ForAnyValue:StringEquals': { 'kms:ResourceAliases': unique(aliases.map((key) => kmsAlias(key)!)) },
      },
    });
  statements.push({ Sid: 'BakeDoctor', Effect: 'Allow', Action: actionsOf('doctor'), Resource: '*' });

  return {
    bakery: name,
    regions,
    policy: { Version: '2012-10-17', Statement: statements },
    actions: [...BAKE_ACTIONS],
  };
}

/** Every action a policy allows somewhere. */
export function policyActions(policy: PolicyDocument): Set<string> {
  return new Set(policy.Statement.flatMap((statement) => statement.Action));
}

/** `--json`: snake_case, schema/iam-policy.schema.json. The policy document keeps IAM's own key names. */
export function iamPolicyJson(result: IamPolicyResult) {
  return {
    bakery: result.bakery,
    regions: result.regions,
    policy: result.policy,
    actions: result.actions.map((entry) => ({
      action: entry.action,
      scope: entry.scope,
      probe: entry.probe,
      used_for: entry.usedFor,
    })),
  };
}

const STATEMENT_OF_SCOPE: Record<PolicyScope, string> = {
  read: 'BakeRead',
  build: 'BakeBuildInstances',
  tag: 'BakeTagResourcesOfThisBakery',
  'own-image': 'BakeImagesOfThisBakery',
  'kms-key': 'BakeKmsKeys',
  'ssm-parameter': 'BakeReadSsmParameters',
  doctor: 'BakeDoctor',
  none: '',
};

/** The statement of `bake iam-policy` that allows the action, for a fix line. */
export function statementFor(action: string): string {
  if (action === 'ssm:PutParameter') return 'BakePinSsmParameters';
  const entry = BAKE_ACTIONS.find((candidate) => candidate.action === action);
  return entry ? STATEMENT_OF_SCOPE[entry.scope] : '';
}
