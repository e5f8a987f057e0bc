/**
 * Reads what ansible-playbook's default stdout callback prints: which task changed or failed
 * (as the lines arrive, for progress) and the PLAY RECAP counts (the authority on "changed").
 * bake runs ansible-playbook with ANSIBLE_STDOUT_CALLBACK=default so this format is the one it sees.
 */

/** One host's line of the PLAY RECAP. */
export interface RecapCounts {
  ok: number;
  changed: number;
  unreachable: number;
  failed: number;
  skipped: number;
  rescued: number;
  ignored: number;
}

export interface FailedTask {
  task: string;
  message: string;
}

const COUNT_NAMES = ['ok', 'changed', 'unreachable', 'failed', 'skipped', 'rescued', 'ignored'] as const;

// `TASK [nginx : Install nginx] ****…`, `RUNNING HANDLER [nginx : Check…] ****…`
const TASK_HEADER = /^(?:TASK|RUNNING HANDLER) \[(.*)\] \**$/;
// `changed: [default]`, `changed: [default] => (item=a)`
const CHANGED = /^changed: \[[^\]]*\]/;
// `fatal: [default]: FAILED! => {…}`, `fatal: [default]: UNREACHABLE! => {…}`, `failed: [default] (item=a) => {…}`
const FAILED = /^(?:fatal|failed): \[[^\]]*\](?:: [A-Z]+!)?(?: \(item=.*\))? => (.*)$/;
// `default                    : ok=3    changed=2    unreachable=0    failed=0 …`
const RECAP_LINE = /^(\S+)\s+:\s+((?:[a-z]+=\d+\s*)+)$/;

/** A failed task's result is JSON; its `msg` (or stderr) is what a person needs to read. */
function failureMessage(result: string): string {
  try {
    const parsed = JSON.parse(result) as Record<string, unknown>;
    const text = [parsed.msg, parsed.stderr, parsed.stdout].find(
      (value) => typeof value === 'string' && value.trim() !== '',
    );
    if (typeof text === 'string') return text.trim();
  } catch {
    // not JSON: keep the text as printed
  }
  return result.trim();
}

/**
 * Follows the output line by line. `feed` returns the name of a task that just changed (once per
 * task, however many loop items changed), for progress. Failures are only collected: Ansible says
 * `...ignoring` on the line after a failure it ignores.
 */
export class AnsibleOutputReader {
  private task = '';
  private taskChanged = false;
  private inRecap = false;
  readonly recap = new Map<string, RecapCounts>();
  readonly changedTasks: string[] = [];
  readonly failedTasks: FailedTask[] = [];

  feed(line: string): string | undefined {
    const header = TASK_HEADER.exec(line);
    if (header) {
      this.task = header[1];
      this.taskChanged = false;
      return undefined;
    }
    if (line.startsWith('PLAY RECAP ')) {
      this.inRecap = true;
      return undefined;
    }
    if (this.inRecap) {
      const counts = RECAP_LINE.exec(line.trim());
      if (counts) this.recap.set(counts[1], parseCounts(counts[2]));
      return undefined;
    }
    if (CHANGED.test(line) && !this.taskChanged) {
      this.taskChanged = true;
      this.changedTasks.push(this.task);
      return this.task;
    }
    const failed = FAILED.exec(line);
    if (failed) this.failedTasks.push({ task: this.task, message: failureMessage(failed[1]) });
    else if (line.trim() === '...ignoring') this.failedTasks.pop();
    return undefined;
  }
}

function parseCounts(text: string): RecapCounts {
  const counts: RecapCounts = { ok: 0, changed: 0, unreachable: 0, failed: 0, skipped: 0, rescued: 0, ignored: 0 };
  for (const pair of text.trim().split(/\s+/)) {
    const [name, value] = pair.split('=');
    if ((COUNT_NAMES as readonly string[]).includes(name)) counts[name as keyof RecapCounts] = Number(value);
  }
  return counts;
}

/** The recap of a whole output, for tests and logs read after the fact. */
export function readAnsibleOutput(text: string): AnsibleOutputReader {
  const reader = new AnsibleOutputReader();
  for (const line of text.split(/\r?\n/)) reader.feed(line);
  return reader;
}
