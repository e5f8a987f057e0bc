/**
 * An instance's root filesystem as its own user namespace sees it. On disk every layer keeps the
 * uids of a Debian machine (root 0, admin 1000), so images stack on any host; the instance runs
 * with container uids shifted to a range of host uids of its own (`uidBase` … +65535), which are
 * nobody's on the host. The layers are mounted through idmapped mounts that shift between the
 * two, and the overlay is mounted with the credentials of the instance's root: host uid 1000 is
 * not the image's admin, and instance root is not host root.
 *
 * Node cannot make idmapped mounts (open_tree, mount_setattr, move_mount) nor chroot, and
 * util-linux 2.38's mount ignores X-mount.idmap, so a short Python program (Ansible needs
 * python3 on every bake host anyway) does the system calls. It is a constant: paths and data
 * reach it as JSON on stdin, never as code.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { CloudError } from '../errors/index.js';

/** How many uids and gids an instance has: 0–65535, as a machine's /etc/passwd expects. */
export const INSTANCE_UID_COUNT = 65_536;

const HELPER = String.raw`
import base64, ctypes, json, os, struct, sys, time
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
SYS_open_tree, SYS_move_mount, SYS_mount_setattr = 428, 429, 442
OPEN_TREE_CLONE, OPEN_TREE_CLOEXEC, AT_EMPTY_PATH, AT_FDCWD = 1, 0o2000000, 0x1000, -100
MOVE_MOUNT_F_EMPTY_PATH, MOUNT_ATTR_IDMAP, CLONE_NEWUSER = 4, 0x00100000, 0x10000000

def fail(what):
    sys.stderr.write(what + ": " + os.strerror(ctypes.get_errno()) + "\n")
    sys.exit(1)

def user_namespace(base, count):
    ready, go = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(go)
        if libc.unshare(CLONE_NEWUSER) != 0:
            os._exit(1)
        os.read(ready, 1)
        os._exit(0)
    os.close(ready)
    own = os.readlink("/proc/self/ns/user")
    for _ in range(1000):
        if os.readlink("/proc/%d/ns/user" % pid) != own:
            break
        time.sleep(0.002)
    else:
        sys.exit("could not make a user namespace")
    with open("/proc/%d/uid_map" % pid, "w") as f:
        f.write("0 %d %d\n" % (base, count))
    with open("/proc/%d/setgroups" % pid, "w") as f:
        f.write("deny")
    with open("/proc/%d/gid_map" % pid, "w") as f:
        f.write("0 %d %d\n" % (base, count))
    fd = os.open("/proc/%d/ns/user" % pid, os.O_RDONLY | os.O_CLOEXEC)
    os.close(go)
    os.waitpid(pid, 0)
    return fd

def idmapped_bind(source, target, userns):
    fd = libc.syscall(SYS_open_tree, AT_FDCWD, source.encode(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC)
    if fd < 0:
        fail("open_tree " + source)
    attr = struct.pack("QQQQ", MOUNT_ATTR_IDMAP, 0, 0, userns)
    if libc.syscall(SYS_mount_setattr, fd, b"", AT_EMPTY_PATH, ctypes.c_char_p(attr), len(attr)) < 0:
        fail("idmapping " + source)
    if libc.syscall(SYS_move_mount, fd, b"", AT_FDCWD, target.encode(), MOVE_MOUNT_F_EMPTY_PATH) < 0:
        fail("mounting " + target)
    os.close(fd)

def as_instance_root(base, keep_capabilities):
    # fsuid/fsgid of the instance's root: files created appear as its own, on disk as uid 0.
    libc.setfsgid(base)
    libc.setfsuid(base)
    if keep_capabilities:
        # setfsuid drops the file capabilities from the effective set; mount(2) of an overlay
        # records the mounter's credentials, which must be able to copy up every file.
        header = (ctypes.c_uint32 * 2)(0x20080522, 0)
        data = (ctypes.c_uint32 * 6)()
        if libc.capget(header, data) != 0:
            fail("capget")
        data[0], data[3] = data[1], data[4]
        if libc.capset(header, data) != 0:
            fail("capset")

request = json.load(sys.stdin)
base = request["uidBase"]
if request["action"] == "mount":
    userns = user_namespace(base, request["uidCount"])
    for source, target in request["idmapped"]:
        idmapped_bind(source, target, userns)
    as_instance_root(base, True)
    if libc.mount(b"overlay", request["target"].encode(), b"overlay", 0, request["options"].encode()) != 0:
        fail("mounting the overlay on " + request["target"])
elif request["action"] == "write":
    # Inside the instance's root, as the instance's root without any capability: a link in the
    # image resolves inside the image, and nothing the instance's root may not write is written.
    os.chroot(request["root"])
    os.chdir("/")
    as_instance_root(base, False)
    for op in request["ops"]:
        target = op["path"]
        if op["op"] == "mkdir":
            # A link to a folder of the image is followed (it stays in the image); one to nothing
            # here (a host path, say) or a file in the way is replaced by a folder.
            at = ""
            for part in target.strip("/").split("/"):
                at += "/" + part
                if os.path.isdir(at):
                    continue
                if os.path.lexists(at):
                    os.unlink(at)
                os.mkdir(at, 0o755)
            os.chmod(target, op["mode"])
        elif op["op"] == "write":
            data = base64.b64decode(op["data"])
            if op.get("appendLineIfMissing"):
                try:
                    with open(target, "rb") as f:
                        present = f.read()
                except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
                    present = b""
                if data.strip() in present.split(b"\n"):
                    continue
                data = present + (b"\n" if present and not present.endswith(b"\n") else b"") + data
            temp = "%s.bake-%d.tmp" % (target, os.getpid())
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, op["mode"])
            try:
                os.write(fd, data)
                os.fchmod(fd, op["mode"])
            finally:
                os.close(fd)
            os.rename(temp, target)
else:
    sys.exit("unknown action")
`;

async function runHelper(request: Record<string, unknown>, what: string): Promise<void> {
  const result = await execa('python3', ['-I', '-S', '-c', HELPER], {
    input: JSON.stringify(request),
    reject: false,
    all: true,
    env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' },
    extendEnv: false,
  });
  if (result.failed)
    throw new CloudError(
      `${what} failed: ${String(result.all ?? result.message)
        .trim()
        .split('\n')
        .slice(-2)
        .join(' | ')}`,
    );
}

export interface InstanceRootPaths {
  /** Where the overlay is mounted while the instance runs. */
  rootfs: string;
  /** The instance's own changes and overlayfs's scratch directory, both directly in `dir`. */
  upper: string;
  work: string;
  /** The instance's directory, mounted idmapped under `mounts` so upper and work share one mount. */
  dir: string;
  /** Mount points of the idmapped layers (`lower-N`, `rw`). */
  mounts: string;
}

/**
 * Mounts the instance's root: its upper directory over the image's read-only layers, all seen
 * through the instance's uid range. Features that write references to lower layers into the
 * upper one (redirect_dir, metacopy, index) are off, so an upper directory stays a plain layer
 * that a captured image can stack on any host.
 */
export async function mountInstanceRoot(paths: InstanceRootPaths, lowers: string[], uidBase: number): Promise<void> {
  for (const dir of [paths.rootfs, paths.upper, paths.work]) await mkdir(dir, { recursive: true, mode: 0o755 });
  const idmapped: Array<[string, string]> = lowers.map((lower, index) => [
    lower,
    path.join(paths.mounts, `lower-${index}`),
  ]);
  const rw = path.join(paths.mounts, 'rw');
  idmapped.push([paths.dir, rw]);
  for (const [, target] of idmapped) await mkdir(target, { recursive: true, mode: 0o700 });
  // The kernel splits overlay options at commas and lowerdir at colons: a backslash escapes them.
  const escape = (dir: string) => dir.replace(/[\\,:]/g, (c) => `\\${c}`);
  const inRw = (dir: string) => path.join(rw, path.relative(paths.dir, dir));
  const options = [
    `lowerdir=${idmapped
      .slice(0, -1)
      .map(([, target]) => escape(target))
      .join(':')}`,
    `upperdir=${escape(inRw(paths.upper))}`,
    `workdir=${escape(inRw(paths.work))}`,
    'redirect_dir=off',
    'metacopy=off',
    'index=off',
  ].join(',');
  await runHelper(
    { action: 'mount', uidBase, uidCount: INSTANCE_UID_COUNT, idmapped, target: paths.rootfs, options },
    `mounting the root filesystem of ${paths.dir}`,
  );
}

export type RootWrite =
  | { op: 'mkdir'; path: string; mode: number }
  | { op: 'write'; path: string; data: Buffer | string; mode: number; appendLineIfMissing?: boolean };

/**
 * Writes files into a mounted instance root as the instance's own root would, chrooted into it:
 * a link the image holds (`/etc/apt/apt.conf.d/x -> /etc/cron.d/x`) resolves inside the image,
 * never to a host path. Each file is written whole to a temp name and renamed.
 */
export async function writeInsideRoot(rootfs: string, uidBase: number, writes: RootWrite[]): Promise<void> {
  const ops = writes.map((write) => {
    if (!write.path.startsWith('/')) throw new CloudError(`not an absolute path inside an instance: ${write.path}`);
    return write.op === 'write' ? { ...write, data: Buffer.from(write.data).toString('base64') } : write;
  });
  await runHelper({ action: 'write', uidBase, root: rootfs, ops }, `writing into ${rootfs}`);
}

/**
 * First host uid of the instances of network slot N: 0x70000000 and up, above the range
 * systemd-nspawn picks from (0x80000–0x6FFFFFFF) and the uids of any real account; slots are
 * claimed machine-wide, so two running instances never share a range.
 */
export function uidBaseOfSlot(slot: number): number {
  return 0x7000_0000 + slot * INSTANCE_UID_COUNT;
}
