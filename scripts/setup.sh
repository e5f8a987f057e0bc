#!/usr/bin/env bash
# Installs what bake needs on a fresh Debian machine (run as root): Debian's packer, ansible,
# debootstrap, systemd-nspawn (systemd-container), iproute2 and OpenSSH for the local cloud
# (the client; the server's `sshd -t` checks the example roles), nftables (the local cloud's
# latency profile holds a new instance's SSH back in its own namespace), qemu-user-static and
# binfmt-support (arm64 instances run under emulation; the aarch64 handler is registered here),
# qemu-system-x86, kmod and e2fsprogs for local VMs (`local: {machine: vm}`: qemu boots Debian's
# kernel, depmod indexes its modules, mkfs.ext4 and e2fsck make and check its disks), then the npm
# packages (which also builds dist/).
# With --tests also what only the tests use: Groovy, to run the Jenkinsfile itself
# (test/ci/run-jenkinsfile.groovy); Chromium, to render the HTML report headless; Graphviz, to
# parse what `bake graph --format dot` prints. Node 22 and 24 for the tests beside the machine's own:
# scripts/node-versions.sh.
# With --hide-processes also (only when asked: it changes /proc for every user of the machine)
# /proc hides each user's processes from other users (hidepid=invisible), so no local user's `ps`
# reads the command lines of local instances' processes; members of the group bake-procview
# (created here) and root still see all. Mounted now and kept across reboots in /etc/fstab.
set -euo pipefail
cd "$(dirname "$0")/.."
tests=false
hide_processes=false
for arg in "$@"; do
  case $arg in
    --tests) tests=true ;;
    --hide-processes) hide_processes=true ;;
    *)
      echo "setup: unknown option $arg (known: --tests, --hide-processes)" >&2
      exit 2
      ;;
  esac
done
need=()
for tool in packer ansible-playbook debootstrap systemd-nspawn ip nft ssh sshd ssh-keygen rsync curl qemu-aarch64-static update-binfmts qemu-system-x86_64 depmod mkfs.ext4; do
  command -v "$tool" >/dev/null 2>&1 || [ -x "/usr/sbin/$tool" ] || need+=("$tool")
done
packages=(packer ansible-core debootstrap systemd-container iproute2 nftables openssh-client openssh-server rsync curl ca-certificates git qemu-user-static binfmt-support qemu-system-x86 kmod e2fsprogs)
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
# arm64 instances of the local cloud: the kernel hands aarch64 programs to qemu through
# binfmt_misc. Debian's handler has the F flag (the kernel opens the emulator now, so it works
# inside an instance's own root filesystem and user namespace). x86_64 needs none of it, so a
# kernel that refuses is reported, not fatal.
binfmt=/proc/sys/fs/binfmt_misc
[ -e "$binfmt/status" ] || mount -t binfmt_misc binfmt_misc "$binfmt" 2>/dev/null || true
[ -e "$binfmt/status" ] && update-binfmts --enable qemu-aarch64 >/dev/null 2>&1 || true
# Debian registers it without C (credentials), so setuid programs run under the emulator keep
# the caller's rights and sudo inside an instance fails; the same entry is registered again
# with C. binfmt-support registers Debian's flags again at the next boot: run this again then.
aarch64="$binfmt/qemu-aarch64"
if [ -e "$aarch64" ] && ! grep -q '^flags:.*C' "$aarch64"; then
  magic=$(sed -n 's/^magic //p' "$aarch64" | sed 's/../\\x&/g')
  mask=$(sed -n 's/^mask //p' "$aarch64" | sed 's/../\\x&/g')
  interpreter=$(sed -n 's/^interpreter //p' "$aarch64")
  offset=$(sed -n 's/^offset //p' "$aarch64")
  { echo -1 >"$aarch64" && printf '%s' ":qemu-aarch64:M:$offset:$magic:$mask:$interpreter:PCF" >"$binfmt/register"; } 2>/dev/null || true
fi
if grep -qx enabled "$aarch64" 2>/dev/null && grep -q '^flags:.*F' "$aarch64" && grep -q '^flags:.*C' "$aarch64"; then
  echo "setup: aarch64 emulation registered ($binfmt/qemu-aarch64): the local cloud boots arm64 instances"
elif [ ! -e "$binfmt/status" ]; then
  echo "setup: the kernel refused to mount binfmt_misc at $binfmt: the local cloud cannot boot arm64 instances (x86_64 ones are unaffected)" >&2
else
  echo "setup: the kernel refused the aarch64 binfmt registration (update-binfmts --enable qemu-aarch64): the local cloud cannot boot arm64 instances (x86_64 ones are unaffected)" >&2
fi
if $hide_processes; then
  # A group of its own rather than adm or sudo: seeing every process is granted to exactly who is
  # added to it (root sees all anyway). polkitd must see the processes that ask it, so it joins.
  getent group bake-procview >/dev/null || groupadd --system bake-procview
  getent passwd polkitd >/dev/null && usermod -a -G bake-procview polkitd
  procview=$(getent group bake-procview | cut -d: -f3)
  scripts/hide-processes.sh /proc "$procview"
  # At boot systemd remounts /proc with the options /etc/fstab gives it (systemd-remount-fs).
  entry="proc /proc proc defaults,hidepid=invisible,gid=$procview 0 0"
  marker="# bake: scripts/setup.sh --hide-processes (members of bake-procview see every process)"
  # The fstab without a line an earlier run wrote (the group's number may have changed since).
  kept=$(awk -v marker="$marker" 'skip { skip = 0; next } $0 == marker { skip = 1; next } { print }' /etc/fstab)
  if grep -qxF "$entry" /etc/fstab; then
    echo "setup: /etc/fstab already keeps /proc hidden across reboots"
  elif awk '$1 !~ /^#/ && $2 == "/proc" { found = 1 } END { exit !found }' <<<"$kept"; then
    echo "setup: /etc/fstab has its own /proc line; left as it is (to keep processes hidden after a reboot, give it: hidepid=invisible,gid=$procview)" >&2
  else
    printf '%s\n%s\n%s\n' "$kept" "$marker" "$entry" >/etc/fstab.bake-new
    chmod --reference=/etc/fstab /etc/fstab.bake-new
    mv /etc/fstab.bake-new /etc/fstab
    echo "setup: /etc/fstab keeps /proc hidden across reboots"
  fi
fi
if [ -f package-lock.json ]; then npm ci --no-audit --no-fund; else npm install --no-audit --no-fund; fi
