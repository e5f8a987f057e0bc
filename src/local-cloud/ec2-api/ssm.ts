import { describeParameters, findParameter, parameterView, putParameter, SsmApiError } from './parameter-store.js';
import { ssmParameter } from './seed.js';
import type { CloudState } from './state.js';

/** SSM actions that change the state (the server persists after them). */
export const SSM_WRITES = new Set(['AmazonSSM.PutParameter']);

/**
 * The slice of SSM's JSON protocol bake needs: GetParameter(s) on the public parameters the
 * local cloud publishes (the Debian base image per region) and on the parameter store
 * (parameter-store.ts), where PutParameter and DescribeParameters serve `pin: - ssm:` targets,
 * and SecureString parameters (sealed with `secureKey`) serve build-time secrets.
 */
export function ssmResponse(
  target: string,
  body: string,
  region: string,
  state: CloudState,
  now: Date = new Date(),
  secureKey?: Buffer,
): { status: number; body: unknown } {
  let input: Record<string, unknown> & { Name?: unknown; Names?: unknown };
  try {
    input = JSON.parse(body || '{}') as typeof input;
  } catch {
    return { status: 400, body: { __type: 'SerializationException', message: 'request body is not JSON' } };
  }
  const parameter = (name: string) => {
    const stored = findParameter(state, region, name);
    if (stored) return parameterView(stored, input.WithDecryption === true ? secureKey : undefined);
    const value = ssmParameter(region, name);
    return value === undefined
      ? undefined
      : {
          Name: name,
          Type: 'String',
          Value: value,
          Version: 1,
          LastModifiedDate: Date.parse('2026-11-01T00:00:00Z') / 1000,
          ARN: `arn:aws:ssm:${region}::parameter${name}`,
          DataType: 'text',
        };
  };
  try {
    switch (target) {
      case 'AmazonSSM.GetParameter': {
        const name = typeof input.Name === 'string' ? input.Name : '';
        const found = parameter(name);
        if (!found)
          return { status: 400, body: { __type: 'ParameterNotFound', message: `Parameter ${name} not found.` } };
        return { status: 200, body: { Parameter: found } };
      }
      case 'AmazonSSM.GetParameters': {
        const names = Array.isArray(input.Names) ? input.Names.filter((n): n is string => typeof n === 'string') : [];
        return {
          status: 200,
          body: {
            Parameters: names.flatMap((n) => parameter(n) ?? []),
            InvalidParameters: names.filter((n) => !parameter(n)),
          },
        };
      }
      case 'AmazonSSM.PutParameter':
        return { status: 200, body: putParameter(state, region, input, now, secureKey) };
      case 'AmazonSSM.DescribeParameters':
        return { status: 200, body: describeParameters(state, region, input) };
      default:
        return {
          status: 400,
          body: { __type: 'UnknownOperationException', message: `${target} is not served by the local cloud` },
        };
    }
  } catch (error) {
    if (error instanceof SsmApiError) return { status: 400, body: { __type: error.type, message: error.message } };
    throw error;
  }
}
