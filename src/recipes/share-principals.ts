/**
 * A recipe's `share_with`, sorted into what EC2's launch permissions take: account ids,
 * organization ARNs and organizational unit ARNs. Pure; used by rendering (to refuse a bad
 * entry offline) and by the distribution step (to grant the permissions).
 */
import type { SharePrincipals } from '../aws/launch-permissions.js';
import { RecipeError } from '../errors/index.js';
import type { Recipe } from './model.js';

const ACCOUNT_ID = /^\d{12}$/;
const ORGANIZATION_ARN = /^arn:aws[a-z-]*:organizations::\d{12}:organization\/o-[a-z0-9]{10,32}$/;
const OU_ARN = /^arn:aws[a-z-]*:organizations::\d{12}:ou\/o-[a-z0-9]{10,32}\/ou-[a-z0-9]{4,32}-[a-z0-9]{8,32}$/;

export function sharePrincipals(recipe: Recipe): SharePrincipals {
  const principals: SharePrincipals = { accounts: [], organizations: [], organizationalUnits: [] };
  for (const principal of recipe.shareWith) {
    if (ACCOUNT_ID.test(principal)) principals.accounts.push(principal);
    else if (ORGANIZATION_ARN.test(principal)) principals.organizations.push(principal);
    else if (OU_ARN.test(principal)) principals.organizationalUnits.push(principal);
    else {
      throw new RecipeError(
        `share_with entry ${JSON.stringify(principal)} is neither a 12-digit account id nor an organization or OU ARN`,
        recipe.locations.share_with ?? { file: recipe.file, line: 1, col: 1 },
      );
    }
  }
  return principals;
}
