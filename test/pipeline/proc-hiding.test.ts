/** `bake doctor --local`'s finding on whether the host's /proc hides processes, from mountinfo texts. */
import { describe, expect, it } from 'vitest';
import { agentTools } from '../../src/pipeline/doctor-deps.js';
import { doctorLines } from '../../src/pipeline/doctor.js';
import { procHiding, procMountOf } from '../../src/pipeline/proc-hiding.js';

const ROOT = '21 1 254:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw';
const PLAIN_PROC = '22 21 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw';
const BINFMT = '45 22 0:40 / /proc/sys/fs/binfmt_misc rw,relatime shared:30 - binfmt_misc binfmt_misc rw';
/** What `scripts/setup.sh --hide-processes` leaves: a new procfs over the first one. */
const HIDDEN_PROC = '80 22 0:55 / /proc rw,relatime shared:40 - proc proc rw,gid=997,hidepid=invisible';

describe('procHiding', () => {
  it('notes a /proc that shows every process, with the fix, without making doctor "not ready"', () => {
    const finding = procHiding([ROOT, PLAIN_PROC, BINFMT].join('\n'));
    expect(finding.status).toBe('note');
    expect(finding.message).toContain('hidepid off');
    expect(finding.fix).toBe('scripts/setup.sh --hide-processes');
    const lines = doctorLines({
      ready: true,
      findings: [{ group: 'agent', subject: 'processes', ...finding }],
      durationMs: 0,
    });
    expect(lines[1]).toMatch(/^ {2}note +\/proc shows every process .* — fix: scripts\/setup\.sh --hide-processes$/);
    expect(lines.at(-1)).toMatch(/^ready: 0 problems/);
  });

  it('is ok when the procfs mounted over /proc hides processes, naming the group that sees all', () => {
    const finding = procHiding([ROOT, PLAIN_PROC, BINFMT, HIDDEN_PROC].join('\n'));
    expect(finding.status).toBe('ok');
    expect(finding.message).toBe("/proc hides other users' processes (hidepid=invisible; members of gid 997 see all)");
    expect(finding.fix).toBeUndefined();
  });

  it('reads the numbers kernels before 5.8 print, and a remounted /proc as well', () => {
    expect(procMountOf(`${ROOT}\n22 21 0:21 / /proc rw - proc proc rw,hidepid=2`)).toEqual({ hidepid: '2' });
    expect(procHiding(`${ROOT}\n22 21 0:21 / /proc rw - proc proc rw,hidepid=2`).message).toContain(
      'hidepid=invisible',
    );
    expect(procHiding(`${ROOT}\n22 21 0:21 / /proc rw - proc proc rw,hidepid=0`).status).toBe('note');
  });

  it('is not fooled by a hidden procfs elsewhere, or by something other than proc over /proc', () => {
    const elsewhere = '90 21 0:60 / /srv/proc\\040view rw - proc proc rw,gid=997,hidepid=invisible';
    expect(procHiding([ROOT, PLAIN_PROC, elsewhere].join('\n')).status).toBe('note');
    const tmpfsOver = '91 22 0:61 / /proc rw - tmpfs tmpfs rw';
    expect(procHiding([ROOT, PLAIN_PROC, tmpfsOver].join('\n'))).toMatchObject({
      status: 'note',
      message: expect.stringContaining('could not tell'),
    });
    expect(procHiding(undefined).status).toBe('note');
  });

  it("reads this machine's own mountinfo", async () => {
    const text = await agentTools().procMountinfo!();
    expect(text).toContain(' /proc ');
    expect(['ok', 'note']).toContain(procHiding(text).status);
    expect(procMountOf(text!)).toBeDefined();
  });
});
