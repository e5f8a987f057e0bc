/**
 * Does the host's /proc hide other users' processes? An instance's processes are host processes,
 * so without `hidepid` any local user's `ps` reads their command lines. `bake doctor --local`
 * reports it from /proc/self/mountinfo (the super options of the procfs mounted at /proc);
 * `scripts/setup.sh --hide-processes` is the fix.
 */
export const HIDE_PROCESSES_FIX = 'scripts/setup.sh --hide-processes';

export interface ProcMount {
  /** `off`, `noaccess`, `invisible` or `ptraceable` (kernels before 5.8 print 0, 1 or 2). */
  hidepid: string;
  /** The group whose members still see every process. */
  gid?: string;
}

/** mountinfo escapes blanks in paths as octal (`\040`). */
const unescape = (field: string) =>
  field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));

/**
 * The procfs a process sees at /proc: of the proc mounts on /proc, the one nothing else is
 * mounted over (a later instance mounted on top is what `ps` reads). Undefined: none.
 */
export function procMountOf(mountinfo: string): ProcMount | undefined {
  const mounts = mountinfo
    .split('\n')
    .map((line) => {
      const [fields, tail] = line.split(' - ');
      if (!tail) return undefined;
      const [id, parent, , , mountPoint] = fields.split(' ');
      const [fsType, , superOptions = ''] = tail.split(' ');
      return { id, parent, mountPoint: unescape(mountPoint ?? ''), fsType, superOptions };
    })
    .filter((mount) => mount?.mountPoint === '/proc');
  const top = mounts.filter((mount) => !mounts.some((other) => other!.parent === mount!.id)).at(-1);
  if (!top || top.fsType !== 'proc') return undefined;
  const options = new Map(
    top.superOptions.split(',').map((option) => {
      const at = option.indexOf('=');
      return at < 0 ? [option, ''] : [option.slice(0, at), option.slice(at + 1)];
    }),
  );
  return { hidepid: options.get('hidepid') ?? 'off', ...(options.has('gid') && { gid: options.get('gid') }) };
}

const HIDDEN_NAMES: Record<string, string> = { '1': 'noaccess', '2': 'invisible', '4': 'ptraceable' };

export interface ProcHiding {
  status: 'ok' | 'note';
  message: string;
  fix?: string;
}

/** doctor's finding: ok when /proc hides other users' processes, a note (not a problem) when it does not. */
export function procHiding(mountinfo: string | undefined): ProcHiding {
  const mount = mountinfo === undefined ? undefined : procMountOf(mountinfo);
  if (!mount)
    return {
      status: 'note',
      message: 'could not tell whether /proc hides processes (no proc mount at /proc in /proc/self/mountinfo)',
    };
  const mode = HIDDEN_NAMES[mount.hidepid] ?? mount.hidepid;
  if (mode === 'off' || mode === '0')
    return {
      status: 'note',
      message:
        "/proc shows every process to every local user (hidepid off): any local user's ps reads the command lines of local instances' processes",
      fix: HIDE_PROCESSES_FIX,
    };
  return {
    status: 'ok',
    message: `/proc hides other users' processes (hidepid=${mode}${mount.gid ? `; members of gid ${mount.gid} see all` : ''})`,
  };
}
