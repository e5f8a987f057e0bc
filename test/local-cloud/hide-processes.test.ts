/**
 * scripts/hide-processes.sh (what `scripts/setup.sh --hide-processes` runs for /proc), against a
 * procfs of the test's own: in a private mount namespace, so the machine's /proc is never touched.
 * A process runs as an instance's mapped root uid with a recognisable argv; another unprivileged
 * user reads its command line through a plain procfs (the control: today's exposure) and through
 * one the script mounted, and a member of the group the script names reads it there too.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { uidBaseOfSlot } from '../../src/local-cloud/instance-root.js';

if (process.getuid?.() !== 0)
  throw new Error('these tests mount procfs and switch uids with setpriv: run them as root');

const script = path.join(import.meta.dirname, '../../scripts/hide-processes.sh');
const scratch = mkdtempSync(path.join(tmpdir(), 'bake-hidepid-'));
chmodSync(scratch, 0o755); // the other users must reach the procfs mounted in it
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const INSTANCE_ROOT = uidBaseOfSlot(4242); // the host uid an instance's root runs as
const OTHER_USER = 0x6ffe_0001; // any unprivileged local user
const VIEWER = 0x6ffe_0002; // a member of the group that sees all
const VIEW_GROUP = 0x6ffe_1000;

/**
 * Runs in a private mount namespace: mounts a plain procfs at `plain/` and runs the script at
 * `hidden/`, starts the instance process, and reports what each user reads of its cmdline:
 * `<who> <where> <exit code> <cmdline with NULs as spaces>`.
 */
const probe = String.raw`
set -u -o pipefail
scratch=$1 script=$2 instance=$3 other=$4 viewer=$5 group=$6 canary=$7
mkdir "$scratch/plain" "$scratch/hidden"
mount -t proc proc "$scratch/plain" || exit 90
"$script" "$scratch/hidden" "$group" || exit 91
"$script" "$scratch/hidden" "$group" || exit 92
setpriv --reuid="$instance" --regid="$instance" --clear-groups bash -c "exec -a $canary sleep 600" &
pid=$!
trap 'kill $pid' EXIT
for _ in $(seq 100); do grep -q "$canary" "/proc/$pid/cmdline" 2>/dev/null && break; sleep 0.05; done
read_as() {
  local who=$1 where=$2; shift 2
  out=$(setpriv "$@" cat "$scratch/$where/$pid/cmdline" 2>/dev/null | tr '\0' ' ')
  echo "$who $where $? $out"
}
read_as other plain --reuid="$other" --regid="$other" --clear-groups
read_as other hidden --reuid="$other" --regid="$other" --clear-groups
read_as viewer hidden --reuid="$viewer" --regid="$viewer" --groups="$group"
listed=no; setpriv --reuid="$other" --regid="$other" --clear-groups ls "$scratch/hidden" | grep -qx "$pid" && listed=yes
echo "other-lists hidden $listed"
`;

describe('scripts/hide-processes.sh', () => {
  it("hides an instance's command line from other users, not from the group, and leaves the machine's /proc alone", async () => {
    const canary = `bake-canary-${process.pid}`;
    const before = await execa('cat', ['/proc/self/mountinfo']);
    const run = await execa(
      'unshare',
      ['--mount', '--propagation', 'private', 'bash', '-c', probe, 'probe', scratch, script]
        .concat([INSTANCE_ROOT, OTHER_USER, VIEWER, VIEW_GROUP].map(String))
        .concat(canary),
      { reject: false, timeout: 30_000 },
    );
    expect(run.exitCode, run.stderr).toBe(0);
    const said = run.stdout.split('\n');
    // The script says what it did, and a second run mounts nothing more.
    expect(said).toContain(
      `hide-processes: ${scratch}/hidden now hides other users' processes (hidepid=invisible; members of gid ${VIEW_GROUP} and root see all)`,
    );
    expect(said).toContain(
      `hide-processes: ${scratch}/hidden already hides other users' processes (hidepid=invisible, gid=${VIEW_GROUP} sees all)`,
    );
    const reads = new Map(
      said
        .filter((line) => /^(other|viewer|other-lists) /.test(line))
        .map((line) => {
          const [who, where, ...rest] = line.split(' ');
          return [`${who} ${where}`, rest.join(' ').trim()];
        }),
    );
    // The control: without hidepid any user reads the instance process's argv.
    expect(reads.get('other plain')).toBe(`0 ${canary} 600`);
    // With it, another user neither reads it nor sees the process at all.
    expect(reads.get('other hidden')).toBe('1');
    expect(reads.get('other-lists hidden')).toBe('no');
    // A member of the group still sees every process.
    expect(reads.get('viewer hidden')).toBe(`0 ${canary} 600`);
    // Nothing leaked out of the private namespace: this process's mounts are as they were.
    expect((await execa('cat', ['/proc/self/mountinfo'])).stdout).toBe(before.stdout);
  });

  it('refuses a group name (procfs takes numbers) without mounting anything', async () => {
    const run = await execa('unshare', ['--mount', '--propagation', 'private', script, scratch, 'adm'], {
      reject: false,
    });
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toBe('hide-processes: GID must be a number (procfs takes no group names): adm');
  });
});
