/**
 * What a build with `upgrade: security | all` runs before the recipe's roles (the playbook's
 * pre_tasks, src/packer/playbook.ts): the distribution's pending updates, applied, so a rebuild from
 * the same base image really carries the fixes. Fixed text: the mode is one of two constants.
 *
 * security, apt: the packages the security scan (./security-script.ts) names, upgraded from the
 * image's full sources (`install --only-upgrade`, so their dependencies resolve); dnf/yum:
 * `upgrade --security` (AL2023: `--releasever=latest`). all: `dist-upgrade` / `upgrade`.
 */
import { SECURITY_SCAN_SCRIPT } from './security-script.js';

export type UpgradeMode = 'security' | 'all';

export function upgradeScript(mode: UpgradeMode): string {
  const security = mode === 'security' ? 'yes' : 'no';
  return String.raw`set -eu
export DEBIAN_FRONTEND=noninteractive
security=${security}
if command -v apt-get >/dev/null 2>&1; then
  apt-get -q update
  keep='-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold'
  if [ "$security" = no ]; then
    apt-get -q -y $keep dist-upgrade
    exit 0
  fi
  scan=$(mktemp)
  trap 'rm -f "$scan" "$scan.out"' EXIT
  cat > "$scan" <<'BAKE_SECURITY_SCAN'
${SECURITY_SCAN_SCRIPT}
BAKE_SECURITY_SCAN
  sh "$scan" > "$scan.out" || { cat "$scan.out"; echo 'bake: the security scan before the upgrade failed' >&2; exit 1; }
  pending=$(awk '/^bake-scan: pending$/ { on = 1; next } /^bake-scan: / { on = 0 } on && NF { print $1 }' "$scan.out")
  if [ -z "$pending" ]; then
    echo 'bake: no pending security update'
    exit 0
  fi
  echo "bake: applying the security updates of:" $pending
  apt-get -q -y $keep install --only-upgrade $pending
  exit 0
fi
for dnf in dnf yum; do
  if command -v "$dnf" >/dev/null 2>&1; then
    set --
    if grep -qs 'Amazon Linux 2023' /etc/os-release; then set -- --releasever=latest; fi
    if [ "$security" = yes ]; then set -- "$@" --security; fi
    "$dnf" -y "$@" upgrade
    exit 0
  fi
done
echo 'bake: upgrade needs apt, dnf or yum in the image' >&2
exit 1
`;
}
