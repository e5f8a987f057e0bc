import { randomUUID } from 'node:crypto';
import { Ec2ApiError } from './api-error.js';
import { stableId } from './ids.js';
import { DEFAULT_EBS_KEY, SELF_ACCOUNT, type CloudState, type KmsKeyState } from './state.js';

/** KMS actions that change the state (the server persists after them). */
export const KMS_WRITES = new Set(['TrentService.CreateKey', 'TrentService.CreateAlias', 'TrentService.DisableKey']);

const notFound = (keyId: string, region: string) =>
  new Ec2ApiError('NotFoundException', `Key '${keyId}' does not exist in ${region}`, 400);

const keyArn = (region: string, keyId: string) => `arn:aws:kms:${region}:${SELF_ACCOUNT}:key/${keyId}`;

/** The account's AWS managed EBS key (`alias/aws/ebs`), there in every region as on AWS. */
function awsManagedEbsKey(region: string): KmsKeyState {
  return {
    keyId: stableId('key', `${region}/aws/ebs`).replace(/^key-/, ''),
    region,
    description: 'Default key that protects my EBS volumes when no other key is defined',
    enabled: true,
    aliases: [DEFAULT_EBS_KEY],
    creationDate: '2026-11-01T00:00:00.000Z',
  };
}

/** A key by id, key ARN, alias name or alias ARN, as KMS accepts them. */
function findKey(state: CloudState, region: string, keyId: string): KmsKeyState {
  const arn = /^arn:aws:kms:([^:]+):([^:]*):(key|alias)\/(.+)$/.exec(keyId);
  if (arn && arn[1] !== region) throw notFound(keyId, region);
  const name = arn ? (arn[3] === 'alias' ? `alias/${arn[4]}` : arn[4]) : keyId;
  if (name === DEFAULT_EBS_KEY) return awsManagedEbsKey(region);
  const key = (state.kmsKeys ?? []).find(
    (k) => k.region === region && (name.startsWith('alias/') ? k.aliases.includes(name) : k.keyId === name),
  );
  if (!key) throw notFound(keyId, region);
  return key;
}

function metadata(key: KmsKeyState) {
  return {
    AWSAccountId: SELF_ACCOUNT,
    KeyId: key.keyId,
    Arn: keyArn(key.region, key.keyId),
    CreationDate: Date.parse(key.creationDate) / 1000,
    Enabled: key.enabled,
    Description: key.description,
    KeyUsage: 'ENCRYPT_DECRYPT',
    KeyState: key.enabled ? 'Enabled' : 'Disabled',
    KeyManager: key.aliases.includes(DEFAULT_EBS_KEY) ? 'AWS' : 'CUSTOMER',
    KeySpec: 'SYMMETRIC_DEFAULT',
  };
}

const text = (input: Record<string, unknown>, name: string): string => {
  const value = input[name];
  if (typeof value !== 'string' || value === '')
    throw new Ec2ApiError('ValidationException', `${name} is required`, 400);
  return value;
};

/**
 * The slice of KMS's JSON protocol bake needs: DescribeKey (`bake doctor` checks each recipe's
 * `kms_key_ids`), and CreateKey, CreateAlias and DisableKey so a bakery (or a test) can have keys
 * of its own in the local cloud. Nothing is ever encrypted: a key only exists and is enabled.
 */
export function kmsResponse(
  target: string,
  input: Record<string, unknown>,
  region: string,
  state: CloudState,
): unknown {
  switch (target) {
    case 'TrentService.DescribeKey':
      return { KeyMetadata: metadata(findKey(state, region, text(input, 'KeyId'))) };
    case 'TrentService.CreateKey': {
      const key: KmsKeyState = {
        keyId: randomUUID(),
        region,
        description: typeof input.Description === 'string' ? input.Description : '',
        enabled: true,
        aliases: [],
        creationDate: new Date().toISOString(),
      };
      (state.kmsKeys ??= []).push(key);
      return { KeyMetadata: metadata(key) };
    }
    case 'TrentService.CreateAlias': {
      const alias = text(input, 'AliasName');
      if (!/^alias\/[a-zA-Z0-9/_-]+$/.test(alias) || alias.startsWith('alias/aws/'))
        throw new Ec2ApiError('ValidationException', `Alias ${alias} is not a valid alias name`, 400);
      const key = findKey(state, region, text(input, 'TargetKeyId'));
      if ((state.kmsKeys ?? []).some((k) => k.region === region && k.aliases.includes(alias)))
        throw new Ec2ApiError('AlreadyExistsException', `An alias with the name ${alias} already exists`, 400);
      key.aliases.push(alias);
      return {};
    }
    case 'TrentService.DisableKey':
      findKey(state, region, text(input, 'KeyId')).enabled = false;
      return {};
    default:
      throw new Ec2ApiError('UnknownOperationException', `${target} is not served by the local cloud`, 400);
  }
}
