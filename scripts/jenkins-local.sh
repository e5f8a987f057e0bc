#!/usr/bin/env bash
# Runs the Jenkinsfile's stages on this machine, in order and with the same bake commands,
# against bake's local cloud instead of AWS: validate → plan → build (each recipe in its own
# fresh clone, like a separate agent with no shared disk, all at once, each starting when its own
# parent's image is there) → pin. One `bake local-cloud` plays the AWS account all "agents" share.
#
# Usage: scripts/jenkins-local.sh [BAKERY_DIR]    (a git checkout; default: this repository)
# Env:   CHANGED_SINCE=REF and SECURITY_SCAN=true as the Jenkins parameters; BAKE_LOCK_WAIT (default 45m);
#        JENKINS_LOCAL_WORK=DIR to keep the run's files there (default: a temp dir, removed);
#        a second run with the same DIR finds the first run's images in DIR/cloud.
# Needs root, packer, ansible-playbook and debootstrap, like `bake build --local`.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
bakery="$(cd "${1:-$repo}" && pwd)"
bake() { node "$repo/bin/bake.js" "$@"; }

top="$(git -C "$bakery" rev-parse --show-toplevel)"
inside="${bakery#"$top"}"
if [ -n "$(git -C "$bakery" status --porcelain -- .)" ]; then
  echo "jenkins-local: note: uncommitted changes in $bakery are not used: like Jenkins, every stage checks out the last commit" >&2
fi

work="${JENKINS_LOCAL_WORK:-$(mktemp -d)}"
# A kept work dir is reused: this run's files start afresh, the cloud in $work/cloud carries over
# (as the AWS account does from one Jenkins build to the next).
rm -rf "$work/workspace" "$work/agents" "$work/reports" "$work/logs" "$work/progress" "$work/plan.json" "$work/recipes.txt" "$work/pin.diff" "$work/cloud.env"
mkdir -p "$work/agents" "$work/reports" "$work/logs"
export CI=true NO_COLOR=1
export JOB_NAME="${JOB_NAME:-bake-local}" BUILD_NUMBER="${BUILD_NUMBER:-1}"
export BUILD_URL="${BUILD_URL:-file://$work/}"
export BAKE_LOCK_WAIT="${BAKE_LOCK_WAIT:-45m}"
export GIT_COMMIT="$(git -C "$bakery" rev-parse HEAD)"

# The AWS account every agent shares.
# Started without the bake() function so that $! is node itself and the trap's kill reaches it.
node "$repo/bin/bake.js" local-cloud --dir "$work/cloud" --write-env "$work/cloud.env" >"$work/logs/local-cloud.log" 2>&1 &
cloud_pid=$!
cleanup() {
  kill "$cloud_pid" 2>/dev/null || true
  wait "$cloud_pid" 2>/dev/null || true
  [ -n "${JENKINS_LOCAL_WORK:-}" ] || rm -rf "$work"
}
trap cleanup EXIT
for _ in $(seq 1 600); do
  [ -s "$work/cloud.env" ] && break
  kill -0 "$cloud_pid" 2>/dev/null || { cat "$work/logs/local-cloud.log" >&2; exit 1; }
  sleep 0.1
done
# shellcheck disable=SC1091
. "$work/cloud.env"

# Like Jenkins' `checkout scm`: a fresh clone at the commit being built, for the main workspace
# and for every build agent. Nothing in the bakery you pointed at is changed.
checkout() {
  git clone -q "$top" "$1"
  git -C "$1" checkout -q "$GIT_COMMIT"
}
checkout "$work/workspace"
workspace="$work/workspace$inside"

stage() { echo "jenkins-local: ==== stage $* ====" >&2; }

stage Validate
(cd "$workspace" && bake validate)
# The Jenkinsfile's nightly stage (timer runs, or SECURITY_SCAN=true): scan before planning.
if [ "${SECURITY_SCAN:-false}" = true ]; then
  (cd "$workspace" && bake scan --local --json >"$work/scan.json")
fi

stage Plan
(cd "$workspace" && bake plan --local --json ${CHANGED_SINCE:+--changed-since "$CHANGED_SINCE"} --report "$work/reports/plan.html" >"$work/plan.json")
# One line per recipe to build: its name, the parent it waits for ("-": none in this run) and what
# of the parent it needs: "baked" (same build region) or "distributed" (its copy elsewhere).
node -e '
  const plan = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const building = new Map(plan.recipes.filter((r) => r.action === "build").map((r) => [r.name, r]));
  for (const r of building.values()) {
    const parent = r.parent && building.get(r.parent);
    console.log([r.name, parent ? parent.name : "-", parent ? (parent.build_region === r.build_region ? "baked" : "distributed") : "-"].join(" "));
  }
' "$work/plan.json" >"$work/recipes.txt"
echo "jenkins-local: to build (recipe parent needs): $(tr '\n' '|' <"$work/recipes.txt")" >&2

# Like the Jenkinsfile's branches: every recipe at once, each in its own fresh clone once its own
# parent's image is where it builds; it bakes its image (its launch test later) and says so
# ("image"), launch-tests it ("baked"), then distributes. A child in the parent's build region
# starts on the parent's "image" (--parent-untested: its bake stops if the parent's test fails).
mkdir -p "$work/progress"
progress_of() { cat "$work/progress/$1" 2>/dev/null || echo waiting; }
build_recipe() {
  local recipe="$1" parent="$2" needs="$3" agent="$work/agents/$1"
  if [ "$parent" != - ]; then
    while :; do
      case "$(progress_of "$parent")" in
        distributed) break ;;
        image | baked) [ "$needs" = baked ] && break ;;
        copy-failed) [ "$needs" = baked ] && break
          echo failed >"$work/progress/$recipe"; echo "jenkins-local: $recipe skipped: parent $parent failed" >&2; return 0 ;;
        failed) echo failed >"$work/progress/$recipe"; echo "jenkins-local: $recipe skipped: parent $parent failed" >&2; return 0 ;;
      esac
      sleep 0.2
    done
  fi
  checkout "$agent"
  if ! (
    cd "$agent$inside"
    RECIPE="$recipe"
    bake build "$RECIPE" --local --no-pin --no-distribute --launch-test later --parent-untested --lock-wait "$BAKE_LOCK_WAIT" --junit "$work/reports/image/$RECIPE.xml" --report "$work/reports/image/$RECIPE.html"
  ); then
    echo failed >"$work/progress/$recipe"
    return 1
  fi
  echo image >"$work/progress/$recipe"
  if ! (
    cd "$agent$inside"
    RECIPE="$recipe"
    bake build "$RECIPE" --local --no-pin --no-distribute --parent-untested --lock-wait "$BAKE_LOCK_WAIT" --junit "$work/reports/$RECIPE.xml" --report "$work/reports/$RECIPE.html"
  ); then
    echo failed >"$work/progress/$recipe"
    return 1
  fi
  echo baked >"$work/progress/$recipe"
  if ! (
    cd "$agent$inside"
    RECIPE="$recipe"
    bake build "$RECIPE" --local --no-pin --lock-wait "$BAKE_LOCK_WAIT" --junit "$work/reports/distribute/$RECIPE.xml" --report "$work/reports/distribute/$RECIPE.html"
  ); then
    echo copy-failed >"$work/progress/$recipe"
    return 1
  fi
  echo distributed >"$work/progress/$recipe"
}

stage Build
pids=()
names=()
while read -r recipe parent needs; do
  build_recipe "$recipe" "$parent" "$needs" >"$work/logs/$recipe.log" 2>&1 &
  pids+=("$!")
  names+=("$recipe")
done <"$work/recipes.txt"
failed=0
for i in "${!pids[@]}"; do
  if ! wait "${pids[$i]}"; then
    echo "jenkins-local: build of ${names[$i]} failed; its log:" >&2
    tail -n 40 "$work/logs/${names[$i]}.log" >&2
    failed=1
  fi
done
[ "$failed" = 0 ] || exit 1

stage Pin
(cd "$workspace" && bake pin --local)
git -C "$workspace" ls-files -z --others --exclude-standard -- '*.tfvars' '*.tfvars.json' | xargs -0 -r git -C "$workspace" add --intent-to-add --
git -C "$workspace" diff --stat >&2
git -C "$workspace" diff >"$work/pin.diff"
echo "jenkins-local: done; plan.json, pin.diff, reports/ and logs/ in $work" >&2
