#!/usr/bin/env bash
# Installs what bake needs on a fresh Debian machine (run as root): Debian's packer, ansible,
# debootstrap, systemd-nspawn (systemd-container), iproute2 and OpenSSH for the local cloud
# (the client; the server's `sshd -t` checks the example roles), nftables (the local cloud's
# latency profile holds a new instance's SSH back in its own namespace), qemu-system-x86, kmod and
# e2fsprogs for local VMs (`local: {machine: vm}`: qemu boots Debian's kernel, depmod indexes its
# modules, mkfs.ext4 and e2fsck make and check its disks), then the npm packages (which also
# builds dist/).
# With --tests also what only the tests use: Groovy, to run the Jenkinsfile itself
# (test/ci/run-jenkinsfile.groovy); Chromium, to render the HTML report headless; Graphviz, to
# parse what `bake graph --format dot` prints. Node 22 and 24 for the tests beside the machine's own:
# scripts/node-versions.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
tests=false
[ "${1:-}" = "--tests" ] && tests=true
need=()
for tool in packer ansible-playbook debootstrap systemd-nspawn ip nft ssh sshd ssh-keygen rsync curl qemu-system-x86_64 depmod mkfs.ext4; do
  command -v "$tool" >/dev/null 2>&1 || [ -x "/usr/sbin/$tool" ] || need+=("$tool")
done
packages=(packer ansible-core debootstrap systemd-container iproute2 nftables openssh-client openssh-server rsync curl ca-certificates git qemu-system-x86 kmod e2fsprogs)
if $tests && { ! command -v groovy >/dev/null 2>&1 || [ ! -e /usr/lib/jvm/default-java ]; }; then
  need+=(groovy)
  packages+=(groovy default-jre-headless)
fi
if $tests && ! command -v chromium >/dev/null 2>&1; then
  need+=(chromium)
  packages+=(chromium)
fi
if $tests && ! command -v dot >/dev/null 2>&1; then
  need+=(dot)
  packages+=(graphviz)
fi
if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing Debian packages for: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
fi
if [ -f package-lock.json ]; then npm ci --no-audit --no-fund; else npm install --no-audit --no-fund; fi
