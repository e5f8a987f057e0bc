import { UsageError } from '../../errors/index.js';
import { Ec2ApiError } from './api-error.js';
import { wildcardMatch } from './filters.js';
import { SELF_ACCOUNT } from './state.js';

/**
 * The local cloud's stand-in for IAM: one key may do everything, unless the deny list names the
 * action. `BAKE_LOCAL_DENY=ec2:RunInstances,ssm:PutParameter` (IAM action names, `*` and `?` as in
 * IAM policies, case-insensitive) makes those actions answer as AWS answers a caller whose policy
 * does not allow them: EC2 `UnauthorizedOperation` (403, with an encoded authorization message),
 * SSM and KMS `AccessDeniedException`, IAM `AccessDenied`. How `bake doctor` is tested over HTTP.
 */
export const DENY_ENV = 'BAKE_LOCAL_DENY';

/** The caller every request is made as (the local cloud's one access key). */
export const LOCAL_CALLER_ARN = `arn:aws:iam::${SELF_ACCOUNT}:user/bake-local`;

const IAM_ACTION = /^[a-z0-9-]+:[A-Za-z0-9*?]+$/;

/** The deny list a variable holds: comma- or space-separated IAM action patterns; a malformed one is refused. */
export function denyListFromEnv(env: NodeJS.ProcessEnv): string[] {
  const text = env[DENY_ENV]?.trim();
  if (!text) return [];
  const patterns = text.split(/[\s,]+/).filter(Boolean);
  const bad = patterns.find((pattern) => !IAM_ACTION.test(pattern));
  if (bad) throw new UsageError(`${DENY_ENV}: ${JSON.stringify(bad)} is not an IAM action such as ec2:RunInstances`);
  return patterns;
}

/** Whether the deny list names this IAM action (`ec2:RunInstances`). */
export function isDenied(deny: readonly string[], iamAction: string): boolean {
  const action = iamAction.toLowerCase();
  return deny.some((pattern) => wildcardMatch(pattern.toLowerCase(), action));
}

function notAuthorized(iamAction: string, resource: string | undefined): string {
  return `User: ${LOCAL_CALLER_ARN} is not authorized to perform: ${iamAction}${resource ? ` on resource: ${resource}` : ''} because the local cloud's deny list (${DENY_ENV}) names it`;
}

/**
 * EC2's answer: the reason is only in the encoded message (sts:DecodeAuthorizationMessage on AWS);
 * here it is base64 JSON of the same shape's essentials.
 */
export function unauthorizedOperation(iamAction: string, region: string): Ec2ApiError {
  const encoded = Buffer.from(
    JSON.stringify({
      allowed: false,
      explicitDeny: true,
      context: {
        principal: { arn: LOCAL_CALLER_ARN },
        action: iamAction,
        conditions: { 'aws:RequestedRegion': region },
      },
    }),
  ).toString('base64');
  return new Ec2ApiError(
    'UnauthorizedOperation',
    `You are not authorized to perform this operation. ${notAuthorized(iamAction, undefined)}. Encoded authorization failure message: ${encoded}`,
    403,
  );
}

/** SSM's and KMS's answer (JSON protocols): AccessDeniedException, HTTP 400. */
export function accessDeniedException(iamAction: string, resource?: string): Ec2ApiError {
  return new Ec2ApiError('AccessDeniedException', notAuthorized(iamAction, resource), 400);
}

/** IAM's answer (Query protocol): AccessDenied, HTTP 403. */
export function accessDenied(iamAction: string): Ec2ApiError {
  return new Ec2ApiError('AccessDenied', notAuthorized(iamAction, undefined), 403);
}
