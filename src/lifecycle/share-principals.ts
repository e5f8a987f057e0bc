/**
 * A recipe's `share_with`, sorted into what EC2's launch permissions take: account ids,
 * organization ARNs and organizational unit ARNs. Pure; used by rendering (to refuse a bad
 * entry offline) and by the distribution step (to grant the permissions).
 */
import { RecipeError } from '../errors/index.js';
import type { Recipe } from '../recipes/model.js';

export interface SharePrincipals {
  accounts: string[];
  organizations: string[];
  organizationalUnits: string[];
}

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

export function sharesWithAnyone(principals: SharePrincipals): boolean {
  return principals.accounts.length + principals.organizations.length + principals.organizationalUnits.length > 0;
}

/** Who an image is shared with now, as EC2 describes it; `public` = the `all` group. */
export interface CurrentSharing extends SharePrincipals {
  public: boolean;
}

export interface SharingChange {
  add: SharePrincipals;
  remove: SharePrincipals;
  /** Shared with everyone, which no recipe asks for (share_with takes accounts and organizations only). */
  removePublic: boolean;
}

const missingFrom = (list: string[], other: string[]) => list.filter((item) => !other.includes(item));

/** What to grant and revoke so that an image is shared with `wanted` and nobody else. */
export function sharingChange(current: CurrentSharing, wanted: SharePrincipals): SharingChange {
  const change = (pick: (p: SharePrincipals) => string[]) => ({ add: missingFrom(pick(wanted), pick(current)), remove: missingFrom(pick(current), pick(wanted)) });
  const accounts = change((p) => p.accounts);
  const organizations = change((p) => p.organizations);
  const organizationalUnits = change((p) => p.organizationalUnits);
  return {
    add: { accounts: accounts.add, organizations: organizations.add, organizationalUnits: organizationalUnits.add },
    remove: { accounts: accounts.remove, organizations: organizations.remove, organizationalUnits: organizationalUnits.remove },
    removePublic: current.public,
  };
}

export function isNoChange(change: SharingChange): boolean {
  return !sharesWithAnyone(change.add) && !sharesWithAnyone(change.remove) && !change.removePublic;
}
