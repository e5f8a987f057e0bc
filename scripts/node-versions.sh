#!/usr/bin/env bash
# Proves bake on Node versions other than the machine's own (CI: 22 and 24, beside Debian's 20):
# each is the npm registry's `node` package (a real Node binary for this platform), installed once
# under .bake/node/<major>/ with this project's own npm; then every command's own tests (the CLI
# run as users run it: bin/bake.js through `node` on PATH) and the JSON schema tests run on it,
# with the same node_modules (bake's dependencies are JavaScript/ESM, WebAssembly and N-API
# modules, none built for one Node version).
#
#   scripts/node-versions.sh 22 24              install (when missing) and test on each
#   scripts/node-versions.sh --install-only 22  install only; prints the binary's path
set -euo pipefail
cd "$(dirname "$0")/.."
install_only=false
if [ "${1:-}" = "--install-only" ]; then
  install_only=true
  shift
fi
[ $# -gt 0 ] || { echo "usage: $0 [--install-only] MAJOR..." >&2; exit 2; }

# Every command's own tests, the CLI's, and the schema tests: what a Node upgrade would break first.
# (The whole unit suite on the machine's Node is `npm test`.)
tests=(
  test/cli
  test/schema
  test/io
  test/graph
  test/images
  test/sbom
  test/report
  test/tfvars/edit-tfvars.test.ts
  test/pipeline/plan-cli.test.ts
  test/pipeline/cli-build.test.ts
  test/pipeline/build-validates-first.test.ts
  test/pipeline/pin.test.ts
  test/pipeline/ssm-pin.test.ts
  test/lifecycle/prune-cli.test.ts
  test/verify/cli-verify.test.ts
)

for major in "$@"; do
  case "$major" in
    '' | *[!0-9]*) echo "$0: not a Node major version: $major" >&2; exit 2 ;;
  esac
  prefix=".bake/node/$major"
  node_bin="$PWD/$prefix/node_modules/node/bin"
  if ! "$node_bin/node" --version 2>/dev/null | grep -q "^v$major\."; then
    echo "node-versions: installing Node $major (npm package node@$major) into $prefix" >&2
    rm -rf "$prefix"
    mkdir -p "$prefix"
    npm install --no-save --no-package-lock --no-audit --no-fund --prefix "$prefix" "node@$major" >&2
  fi
  if $install_only; then
    echo "$node_bin/node"
    continue
  fi
  echo "node-versions: $(PATH="$node_bin:$PATH" node --version): ${tests[*]}" >&2
  started=$(date +%s)
  PATH="$node_bin:$PATH" AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true \
    node node_modules/vitest/vitest.mjs run "${tests[@]}"
  echo "node-versions: Node $major passed in $(($(date +%s) - started)) s" >&2
done
