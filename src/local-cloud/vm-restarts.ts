/**
 * How often a local VM may restart itself. A reboot inside the guest brings the same instance
 * back, as on EC2 (boot-host.ts); a guest that reboots again and again (a kernel that panics at
 * once: `panic=5` resets it) would restart for ever, each time paying for new disks and a boot
 * under emulation. Past the budget the instance is stopped instead, with its console's last lines.
 */

export interface RestartBudgetOptions {
  /** Restarts allowed within `windowMs`. */
  max: number;
  windowMs: number;
  now?: () => number;
}

/**
 * 5 restarts in 10 minutes: a build that reboots after a kernel and again after a configuration
 * change stays well within it (a boot under emulation takes one to four minutes), while a loop
 * of quick resets is stopped within minutes.
 */
export const VM_RESTARTS: RestartBudgetOptions = { max: 5, windowMs: 10 * 60_000 };

export class RestartBudget {
  private readonly times: number[] = [];
  private readonly now: () => number;

  constructor(private readonly options: RestartBudgetOptions) {
    this.now = options.now ?? Date.now;
  }

  /** Counts one restart if the budget allows it; false once `max` restarts happened within the window. */
  take(): boolean {
    const now = this.now();
    while (this.times.length && this.times[0] <= now - this.options.windowMs) this.times.shift();
    if (this.times.length >= this.options.max) return false;
    this.times.push(now);
    return true;
  }

  /** Restarts within the window so far. */
  get used(): number {
    const now = this.now();
    return this.times.filter((time) => time > now - this.options.windowMs).length;
  }
}
