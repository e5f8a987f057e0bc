import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, unlinkSync, writeFileSync, fsyncSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CloudError } from '../../errors/index.js';
import { isRunning, ownIdentity, pidOf } from '../../files/process-identity.js';
import { emptyState, type CloudState } from './state.js';

/**
 * state.json under the state dir, replaced atomically after every mutation, and a lock file
 * holding the owner's pid and start time so a second bake on the same bakery waits instead of
 * clobbering it, and a lock naming a process that is gone (or a pid reused since) is taken over.
 */
export class StateFile {
  private readonly file: string;
  private readonly lockFile: string;
  private locked = false;

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
        throw new CloudError(`local cloud state ${this.dir} is in use by another bake (pid ${pidOf(owner)}); wait for it to finish`);
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
    const text = readFileSync(this.file, 'utf8');
    let state: CloudState;
    try {
      state = JSON.parse(text) as CloudState;
    } catch {
      throw new CloudError(`${this.file}: local cloud state is not valid JSON; move it away to start afresh`);
    }
    if (state.version !== 1) throw new CloudError(`${this.file}: unknown local cloud state version ${String(state.version)}`);
    return { ...emptyState(), ...state };
  }

  save(state: CloudState): void {
    const text = `${JSON.stringify(state, null, 1)}\n`;
    const temp = path.join(this.dir, `.state.json.${process.pid}.tmp`);
    const fd = openSync(temp, 'w');
    try {
      writeFileSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    if (readFileSync(temp, 'utf8') !== text) throw new Error(`local cloud state write to ${temp} did not verify`);
    renameSync(temp, this.file);
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
