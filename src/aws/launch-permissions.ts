/**
 * Who may launch an image: EC2's launch permissions (accounts, organizations, organizational
 * units, or everyone), and the grants and revocations that take an image from one set to another.
 */

export interface SharePrincipals {
  accounts: string[];
  organizations: string[];
  organizationalUnits: string[];
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
  const change = (pick: (p: SharePrincipals) => string[]) => ({
    add: missingFrom(pick(wanted), pick(current)),
    remove: missingFrom(pick(current), pick(wanted)),
  });
  const accounts = change((p) => p.accounts);
  const organizations = change((p) => p.organizations);
  const organizationalUnits = change((p) => p.organizationalUnits);
  return {
    add: { accounts: accounts.add, organizations: organizations.add, organizationalUnits: organizationalUnits.add },
    remove: {
      accounts: accounts.remove,
      organizations: organizations.remove,
      organizationalUnits: organizationalUnits.remove,
    },
    removePublic: current.public,
  };
}

export function isNoChange(change: SharingChange): boolean {
  return !sharesWithAnyone(change.add) && !sharesWithAnyone(change.remove) && !change.removePublic;
}
