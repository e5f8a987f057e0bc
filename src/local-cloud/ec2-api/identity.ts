import { Ec2ApiError } from './api-error.js';
import { accessDenied, isDenied, LOCAL_CALLER_ARN } from './authorization.js';
import type { QueryParams } from './query.js';
import { SELF_ACCOUNT } from './state.js';
import type { XmlValue } from './xml.js';

export const STS_NAMESPACE = 'https://sts.amazonaws.com/doc/2011-06-15/';
export const IAM_NAMESPACE = 'https://iam.amazonaws.com/doc/2010-05-08/';

/** STS (Query protocol): who the one key of the local cloud is. GetCallerIdentity needs no permission, as on AWS. */
export function stsResponse(action: string): Record<string, XmlValue> {
  if (action !== 'GetCallerIdentity')
    throw new Ec2ApiError('InvalidAction', `Could not find operation ${action} for version 2011-06-15`);
  return { UserId: 'AIDALOCALBAKEUSER0000', Account: SELF_ACCOUNT, Arn: LOCAL_CALLER_ARN };
}

/**
 * IAM (Query protocol): SimulatePrincipalPolicy, answered from the deny list (every action is
 * allowed but the denied ones, which are `implicitDeny`), so `bake doctor` can check what it cannot
 * probe without acting. A denied `iam:SimulatePrincipalPolicy` answers AccessDenied.
 */
export function iamResponse(action: string, params: QueryParams, deny: readonly string[]): Record<string, XmlValue> {
  if (action !== 'SimulatePrincipalPolicy')
    throw new Ec2ApiError('InvalidAction', `Could not find operation ${action} for version 2010-05-08`);
  if (isDenied(deny, 'iam:SimulatePrincipalPolicy')) throw accessDenied('iam:SimulatePrincipalPolicy');
  params.require('PolicySourceArn');
  const actions = params.list('ActionNames.member');
  if (actions.length === 0) throw new Ec2ApiError('ValidationError', 'ActionNames must not be empty');
  const resources = params.list('ResourceArns.member');
  return {
    IsTruncated: false,
    EvaluationResults: actions.map((name) => ({
      EvalActionName: name,
      EvalResourceName: resources[0] ?? '*',
      EvalDecision: isDenied(deny, name) ? 'implicitDeny' : 'allowed',
    })),
  };
}
