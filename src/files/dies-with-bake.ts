/**
 * Children that must not outlive bake (Packer, an instance's systemd-nspawn): after a `kill -9`
 * of bake they kept running, holding the build instance and the recipe's lock. Node has no
 * prctl, so such a child is started through util-linux's `setpriv --pdeathsig SIGNAL`, which has
 * the kernel send SIGNAL to it the moment bake dies (by any signal) and then execs the command in
 * the same process. Where setpriv is missing, or the command is not found (its own "not found"
 * error should show), the command is started as it is.
 */
import { accessSync, constants } from 'node:fs';
import path from 'node:path';

let setpriv: string | null | undefined;

function onPath(command: string): string | undefined {
  const candidates = command.includes('/')
    ? [command]
    : (process.env.PATH ?? '').split(':').map((dir) => path.join(dir || '.', command));
  return candidates.find((candidate) => {
    try {
      accessSync(candidate, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** The command and arguments to run instead of `command args…`. */
export function diesWithBake(
  signal: 'SIGTERM' | 'SIGINT' | 'SIGKILL',
  command: string,
  args: string[],
): [string, string[]] {
  setpriv ??= onPath('setpriv') ?? null;
  if (!setpriv || !onPath(command)) return [command, args];
  return [setpriv, [`--pdeathsig=${signal}`, '--', command, ...args]];
}
