#!/usr/bin/env bash
# Installs what bake needs on a fresh Debian machine (run as root): Debian's packer, ansible,
# debootstrap and OpenSSH for the local cloud, then the npm packages (which also builds dist/).
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
for tool in packer ansible-playbook debootstrap sshd ssh-keygen rsync; do
  command -v "$tool" >/dev/null 2>&1 || [ -x "/usr/sbin/$tool" ] || need+=("$tool")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing Debian packages for: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends \
    packer ansible-core debootstrap openssh-server openssh-client rsync ca-certificates git >/dev/null
fi
if [ -f package-lock.json ]; then npm ci --no-audit --no-fund; else npm install --no-audit --no-fund; fi
