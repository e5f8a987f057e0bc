import {
  chmodSync,
  closeSync,
  existsSync,
  mkdirSync,
  rmSync,
  openSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeFileSync,
  fsyncSync,
  statSync,
} from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CloudError } from '../../errors/index.js';
import { isRunning, ownIdentity, pidOf } from '../../files/process-identity.js';
import { z } from 'zod';
import { emptyState, type CloudState } from './state.js';

/**
 * What the code relies on when it reads state.json back: each resource's id, region and state
 * are strings it indexes by. Loose objects: fields added later (or by a newer bake) pass through.
 */
const resource = (id: string, extra: z.ZodRawShape = {}) =>
  z.looseObject({ [id]: z.string(), region: z.string(), ...extra });
const StateShape = z.looseObject({
  version: z.literal(1),
  images: z
    .array(
      resource('imageId', {
        state: z.string(),
        blockDevices: z.array(z.looseObject({ deviceName: z.string() })),
        launchPermissions: z.array(z.looseObject({ kind: z.string(), value: z.string() })),
      }),
    )
    .optional(),
  snapshots: z.array(resource('snapshotId')).optional(),
  instances: z.array(resource('instanceId', { state: z.string(), authorizedKey: z.string() })).optional(),
  volumes: z.array(resource('volumeId')).optional(),
  keyPairs: z.array(resource('keyPairId', { keyName: z.string() })).optional(),
  securityGroups: z.array(resource('groupId', { ingress: z.array(z.looseObject({})) })).optional(),
  tags: z.record(z.string(), z.array(z.tuple([z.string(), z.string()]))).optional(),
  seededRegions: z.array(z.string()).optional(),
});

/**
 * state.json under the state dir, replaced atomically after every mutation, and a lock file
 * holding the owner's pid and start time so a second bake on the same bakery waits instead of
 * clobbering it, and a lock naming a process that is gone (or a pid reused since) is taken over.
 */
export class StateFile {
  private readonly file: string;
  private readonly lockFile: string;
  private locked = false;
  /** The text on disk as last read or written: a save that would not change it writes nothing. */
  private onDisk: string | undefined;

  constructor(readonly dir: string) {
    this.file = path.join(dir, 'state.json');
    this.lockFile = path.join(dir, 'lock');
  }

  /** Takes the lock, waiting up to `waitMs` for another live process to let go. */
  async lock(waitMs: number): Promise<void> {
    // Private: the folder holds the cloud's credentials and its instances' filesystems.
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    chmodSync(this.dir, 0o700);
    const deadline = Date.now() + waitMs;
    for (;;) {
      try {
        const fd = openSync(this.lockFile, 'wx');
        writeFileSync(fd, `${ownIdentity()}\n`);
        closeSync(fd);
        this.locked = true;
        return;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const owner = this.lockOwner();
      if (owner === undefined || !isRunning(owner)) {
        // A bake that crashed leaves its lock behind; its process is gone, so the lock is stale.
        try {
          unlinkSync(this.lockFile);
        } catch {
          /* another process removed it first */
        }
        continue;
      }
      if (Date.now() >= deadline) {
        throw new CloudError(
          `local cloud state ${this.dir} is in use by another bake (pid ${pidOf(owner)}); wait for it to finish`,
        );
      }
      await sleep(200);
    }
  }

  unlock(): void {
    if (!this.locked) return;
    this.locked = false;
    try {
      if (this.lockOwner() === ownIdentity()) unlinkSync(this.lockFile);
    } catch {
      /* already gone */
    }
  }

  load(): CloudState {
    if (!existsSync(this.file)) return emptyState();
    if (!statSync(this.file).isFile())
      throw new CloudError(`${this.file}: local cloud state is not a regular file; move it away to start afresh`);
    const text = readFileSync(this.file, 'utf8');
    this.onDisk = text;
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new CloudError(`${this.file}: local cloud state is not valid JSON; move it away to start afresh`);
    }
    const version = (json as { version?: unknown } | null)?.version;
    if (version !== 1)
      throw new CloudError(`${this.file}: unknown local cloud state version ${JSON.stringify(version)}`);
    const checked = StateShape.safeParse(json);
    if (!checked.success) {
      const issue = checked.error.issues[0];
      const where = issue.path
        .map((part) => (typeof part === 'number' ? `[${part}]` : `.${String(part)}`))
        .join('')
        .replace(/^\./, '');
      throw new CloudError(
        `${this.file}: local cloud state is not in the expected shape (${where || 'top level'}: ${issue.message}); move it away to start afresh`,
      );
    }
    // The document as read, not zod's copy: its key order is the file's, so an unchanged state saves as the same text.
    return { ...emptyState(), ...(json as Partial<CloudState>) };
  }

  save(state: CloudState): void {
    const text = `${JSON.stringify(state, null, 1)}\n`;
    // `bake plan --local` only reads: it must leave state.json (and its mtime) alone.
    if (text === this.onDisk) return;
    const temp = path.join(this.dir, `.state.json.${process.pid}.tmp`);
    try {
      const fd = openSync(temp, 'w');
      try {
        writeFileSync(fd, text);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      if (readFileSync(temp, 'utf8') !== text) throw new Error(`local cloud state write to ${temp} did not verify`);
      renameSync(temp, this.file);
    } catch (error) {
      // A full disk must not leave half a state file beside the good one.
      rmSync(temp, { force: true });
      throw error;
    }
    this.onDisk = text;
  }

  private lockOwner(): string | undefined {
    try {
      const owner = readFileSync(this.lockFile, 'utf8').trim();
      return pidOf(owner) === undefined ? undefined : owner;
    } catch {
      return undefined;
    }
  }
}
