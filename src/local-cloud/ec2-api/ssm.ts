import { ssmParameter } from './seed.js';

/**
 * The slice of SSM's JSON protocol bake needs for `ssm:` bases: GetParameter(s) on the
 * public parameters the local cloud publishes (the Debian base image per region).
 */
export function ssmResponse(target: string, body: string, region: string): { status: number; body: unknown } {
  let input: { Name?: unknown; Names?: unknown };
  try {
    input = JSON.parse(body || '{}') as typeof input;
  } catch {
    return { status: 400, body: { __type: 'SerializationException', message: 'request body is not JSON' } };
  }
  const parameter = (name: string) => {
    const value = ssmParameter(region, name);
    return value === undefined
      ? undefined
      : { Name: name, Type: 'String', Value: value, Version: 1, LastModifiedDate: Date.parse('2026-11-01T00:00:00Z') / 1000, ARN: `arn:aws:ssm:${region}::parameter${name}`, DataType: 'text' };
  };
  switch (target) {
    case 'AmazonSSM.GetParameter': {
      const name = typeof input.Name === 'string' ? input.Name : '';
      const found = parameter(name);
      if (!found) return { status: 400, body: { __type: 'ParameterNotFound', message: `Parameter ${name} not found.` } };
      return { status: 200, body: { Parameter: found } };
    }
    case 'AmazonSSM.GetParameters': {
      const names = Array.isArray(input.Names) ? input.Names.filter((n): n is string => typeof n === 'string') : [];
      return {
        status: 200,
        body: { Parameters: names.flatMap((n) => parameter(n) ?? []), InvalidParameters: names.filter((n) => !parameter(n)) },
      };
    }
    default:
      return { status: 400, body: { __type: 'UnknownOperationException', message: `${target} is not served by the local cloud` } };
  }
}
