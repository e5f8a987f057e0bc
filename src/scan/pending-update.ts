/** What a security scan finds, whichever package manager said it. */

/** One installed package with a newer version in the security suite. */
export interface PendingUpdate {
  package: string;
  installed: string;
  fixed: string;
  /** The advisory naming the fix, where the package manager gives one (dnf/yum: ALAS…, RHSA…; apt: none). */
  advisory?: string;
  /** dnf/yum: the advisory's severity (Important, Moderate…). */
  severity?: string;
}
