#!/usr/bin/env bash
# Usage: scripts/hide-processes.sh TARGET GID
# Mounts a new procfs instance at TARGET with hidepid=invisible,gid=GID: every user sees only
# their own processes, members of group GID (and root) see all. A new instance rather than
# `mount -o remount`: since Linux 5.8 each proc mount has its own superblock, so this changes
# what TARGET shows in this mount namespace and nothing else (a remount of a shared superblock
# would change it in every namespace that mounted it). Idempotent: when the procfs at TARGET
# already has these options nothing is mounted. One line on success; on failure, the kernel's
# reason on stderr and a non-zero exit. scripts/setup.sh --hide-processes runs it for /proc;
# the tests run it at a directory of their own in a private mount namespace.
set -euo pipefail
target=${1:?usage: hide-processes.sh TARGET GID}
gid=${2:?usage: hide-processes.sh TARGET GID}
case $gid in '' | *[!0-9]*)
  echo "hide-processes: GID must be a number (procfs takes no group names): $gid" >&2
  exit 2
  ;;
esac
target=$(realpath -e -- "$target")
# The super options of the proc mount at TARGET nothing is mounted over (the last one listed).
super_options() {
  awk -v target="$target" '{
    for (i = 7; $i != "-"; i++) ;
    mp = $5; gsub(/\\040/, " ", mp)
    if (mp == target && $(i + 1) == "proc") last = $(i + 3)
  } END { print last }' /proc/self/mountinfo
}
hides() {
  local options=",$(super_options),"
  case $options in *,hidepid=invisible,* | *,hidepid=2,*) ;; *) return 1 ;; esac
  case $options in *,gid=$gid,*) return 0 ;; esac
  return 1
}
if hides; then
  echo "hide-processes: $target already hides other users' processes (hidepid=invisible, gid=$gid sees all)"
  exit 0
fi
if ! error=$(mount -t proc -o "hidepid=invisible,gid=$gid" proc "$target" 2>&1); then
  echo "hide-processes: the kernel refused to mount a procfs with hidepid=invisible,gid=$gid at $target: ${error:-no reason given}" >&2
  exit 1
fi
if ! hides; then
  echo "hide-processes: mounted a procfs at $target but its options are '$(super_options)', not hidepid=invisible,gid=$gid (kernel before 5.8?)" >&2
  exit 1
fi
echo "hide-processes: $target now hides other users' processes (hidepid=invisible; members of gid $gid and root see all)"
