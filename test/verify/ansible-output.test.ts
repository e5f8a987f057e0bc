import { describe, expect, it } from 'vitest';
import { readAnsibleOutput } from '../../src/verify/ansible-output.js';

// As ansible-core 2.14's default callback prints it (ANSIBLE_NOCOLOR).
const RUN = `
PLAY [bake child] **************************************************************

TASK [Gathering Facts] *********************************************************
ok: [default]

TASK [app : Configuration] *****************************************************
changed: [default]

TASK [app : Users] *************************************************************
changed: [default] => (item=alice)
ok: [default] => (item=bob)
changed: [default] => (item=carol)

TASK [app : Optional cleanup] **************************************************
fatal: [default]: FAILED! => {"changed": false, "msg": "not there"}
...ignoring

TASK [app : Unit file] *********************************************************
ok: [default]

RUNNING HANDLER [app : Check the configuration] ********************************
changed: [default]

PLAY RECAP *********************************************************************
default                    : ok=6    changed=3    unreachable=0    failed=0    skipped=1    rescued=0    ignored=1   
`;

describe("reading ansible-playbook's output", () => {
  it('takes the counts from the PLAY RECAP', () => {
    expect(readAnsibleOutput(RUN).recap.get('default')).toEqual({
      ok: 6,
      changed: 3,
      unreachable: 0,
      failed: 0,
      skipped: 1,
      rescued: 0,
      ignored: 1,
    });
  });

  it('names each task that changed once, however many loop items changed, handlers included', () => {
    expect(readAnsibleOutput(RUN).changedTasks).toEqual([
      'app : Configuration',
      'app : Users',
      'app : Check the configuration',
    ]);
  });

  it('does not count a failure Ansible says it is ignoring', () => {
    expect(readAnsibleOutput(RUN).failedTasks).toEqual([]);
  });

  it("keeps a failed task's message (msg, else stderr), and an unreachable host's", () => {
    const reader = readAnsibleOutput(`
TASK [app : Configuration] *****************************************************
fatal: [default]: FAILED! => {"changed": false, "checksum": "abc", "msg": "Could not find or access 'app.conf.j2'"}

TASK [app : Migrate] ***********************************************************
failed: [default] (item=one) => {"ansible_loop_var": "item", "changed": true, "cmd": ["false"], "item": "one", "msg": "", "rc": 1, "stderr": "boom", "stdout": ""}

TASK [Gathering Facts] *********************************************************
fatal: [default]: UNREACHABLE! => {"changed": false, "msg": "Failed to connect to the host via ssh: Connection refused", "unreachable": true}
`);
    expect(reader.failedTasks).toEqual([
      { task: 'app : Configuration', message: "Could not find or access 'app.conf.j2'" },
      { task: 'app : Migrate', message: 'boom' },
      { task: 'Gathering Facts', message: 'Failed to connect to the host via ssh: Connection refused' },
    ]);
    expect(reader.recap.size).toBe(0);
  });

  it('reports a change as the line arrives, for progress', () => {
    const reader = readAnsibleOutput('');
    expect(reader.feed('TASK [motd : Message of the day] ****')).toBeUndefined();
    expect(reader.feed('changed: [default]')).toBe('motd : Message of the day');
    expect(reader.feed('changed: [default] => (item=x)')).toBeUndefined();
  });
});
