/**
 * The local cloud's SSM Parameter Store: what bake's `pin: - ssm:` targets write and read, and
 * what stacks would read with `data "aws_ssm_parameter"`. Parameters are regional, like AWS's.
 * `aws:ec2:image` parameters are checked like AWS checks them (the value must be an AMI id of
 * an image that exists in the region); AWS does the existence check asynchronously and drops
 * the version when it fails, the local cloud refuses the write at once.
 */
import type { CloudState, ParameterState } from './state.js';
import { SELF_ACCOUNT } from './state.js';
import { sealSecureString, unsealSecureString } from './secure-string.js';

export class SsmApiError extends Error {
  constructor(
    readonly type: string,
    message: string,
  ) {
    super(message);
  }
}

const NAME = /^[a-zA-Z0-9_.\-/]{1,1011}$/;
const RESERVED = /^\/?(aws|ssm)/i;
const AMI = /^ami-[0-9a-f]{8,17}$/;
const DATA_TYPES = ['text', 'aws:ec2:image'];

export function storedParameters(state: CloudState): ParameterState[] {
  return (state.parameters ??= []);
}

export function findParameter(state: CloudState, region: string, name: string): ParameterState | undefined {
  return storedParameters(state).find((p) => p.region === region && p.name === name);
}

const str = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);

/** `secureKey`: seals SecureString values (secure-string.ts); without it SecureString is refused. */
export function putParameter(
  state: CloudState,
  region: string,
  input: Record<string, unknown>,
  now: Date,
  secureKey?: Buffer,
): { Version: number; Tier: string } {
  const name = str(input.Name) ?? '';
  const value = str(input.Value);
  if (!NAME.test(name))
    throw new SsmApiError(
      'ValidationException',
      `Parameter name ${JSON.stringify(name)} is not valid: letters, digits and _.-/ only`,
    );
  if (RESERVED.test(name))
    throw new SsmApiError('ValidationException', `No access to reserved parameter name: ${name}.`);
  if (value === undefined || value === '')
    throw new SsmApiError('ValidationException', 'Parameter value must not be empty');
  const type = str(input.Type) ?? 'String';
  const secure = type === 'SecureString' && secureKey !== undefined;
  if (type !== 'String' && type !== 'StringList' && !secure) {
    throw new SsmApiError(
      'ValidationException',
      `Parameter type ${type} is not served by the local cloud (String, StringList, SecureString)`,
    );
  }
  const existing = findParameter(state, region, name);
  const dataType = str(input.DataType) ?? existing?.dataType ?? 'text';
  if (!DATA_TYPES.includes(dataType))
    throw new SsmApiError('ValidationException', `The following data type is not supported: ${dataType}`);
  if (dataType === 'aws:ec2:image') {
    if (!AMI.test(value))
      throw new SsmApiError(
        'ValidationException',
        `Parameter value ${value} is not in the format of an AMI id (ami-…)`,
      );
    const image = state.images.find((i) => i.region === region && i.imageId === value);
    if (!image || image.state !== 'available') {
      throw new SsmApiError(
        'ValidationException',
        `Parameter value ${value} is not an available image in ${region} (data type aws:ec2:image)`,
      );
    }
  }
  if (existing && input.Overwrite !== true) {
    throw new SsmApiError(
      'ParameterAlreadyExists',
      'The parameter already exists. To overwrite this value, set the overwrite option in the request to true.',
    );
  }
  if (secure && dataType !== 'text')
    throw new SsmApiError('ValidationException', `A SecureString parameter has data type text, not ${dataType}`);
  const lastModified = now.toISOString();
  const stored = secure ? sealSecureString(value, secureKey) : value;
  if (existing) {
    Object.assign(existing, { value: stored, type, dataType, version: existing.version + 1, lastModified });
    return { Version: existing.version, Tier: 'Standard' };
  }
  storedParameters(state).push({ name, region, type, dataType, value: stored, version: 1, lastModified });
  return { Version: 1, Tier: 'Standard' };
}

export function parameterArn(region: string, name: string, account = SELF_ACCOUNT): string {
  return `arn:aws:ssm:${region}:${account}:parameter${name.startsWith('/') ? '' : '/'}${name}`;
}

/** The parameter as GetParameter(s) return it; a SecureString in the clear only with `decryptWith` (WithDecryption). */
export function parameterView(p: ParameterState, decryptWith?: Buffer) {
  return {
    Name: p.name,
    Type: p.type,
    Value: p.type === 'SecureString' && decryptWith ? unsealSecureString(p.value, decryptWith) : p.value,
    Version: p.version,
    LastModifiedDate: Date.parse(p.lastModified) / 1000,
    ARN: parameterArn(p.region, p.name),
    DataType: p.dataType,
  };
}

interface ParameterFilter {
  Key?: unknown;
  Option?: unknown;
  Values?: unknown;
}

/** DescribeParameters with `Name` (Equals, BeginsWith) and `Path` (OneLevel, Recursive) filters, paginated like AWS (10 by default, 50 at most). */
export function describeParameters(state: CloudState, region: string, input: Record<string, unknown>) {
  const filters = [
    ...(Array.isArray(input.ParameterFilters) ? input.ParameterFilters : []),
    ...(Array.isArray(input.Filters) ? input.Filters : []),
  ] as ParameterFilter[];
  const matches = (p: ParameterState) =>
    filters.every((filter) => {
      const values = Array.isArray(filter.Values)
        ? filter.Values.filter((v): v is string => typeof v === 'string')
        : [];
      const option = str(filter.Option) ?? 'Equals';
      switch (filter.Key) {
        case 'Name':
          return values.some((v) => (option === 'BeginsWith' ? p.name.startsWith(v) : p.name === v));
        case 'Path':
          return values.some((v) => {
            const prefix = v.endsWith('/') ? v : `${v}/`;
            if (!p.name.startsWith(prefix)) return false;
            return option === 'Recursive' || !p.name.slice(prefix.length).includes('/');
          });
        case 'Type':
          return values.includes(p.type);
        case 'DataType':
          return values.includes(p.dataType);
        default:
          throw new SsmApiError(
            'InvalidFilterKey',
            `The filter key ${String(filter.Key)} is not served by the local cloud (Name, Path, Type, DataType)`,
          );
      }
    });
  const all = storedParameters(state)
    .filter((p) => p.region === region && matches(p))
    .sort((a, b) => a.name.localeCompare(b.name));
  const max = typeof input.MaxResults === 'number' ? input.MaxResults : 10;
  if (!Number.isInteger(max) || max < 1 || max > 50)
    throw new SsmApiError('ValidationException', 'MaxResults must be between 1 and 50');
  const start = str(input.NextToken) ? Number(str(input.NextToken)) : 0;
  if (!Number.isInteger(start) || start < 0)
    throw new SsmApiError('InvalidNextToken', 'The specified token is not valid.');
  const page = all.slice(start, start + max);
  return {
    Parameters: page.map((p) => ({
      Name: p.name,
      Type: p.type,
      DataType: p.dataType,
      Version: p.version,
      LastModifiedDate: Date.parse(p.lastModified) / 1000,
      ARN: parameterArn(p.region, p.name),
      Tier: 'Standard',
    })),
    ...(start + max < all.length && { NextToken: String(start + max) }),
  };
}
