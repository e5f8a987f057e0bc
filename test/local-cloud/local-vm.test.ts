/**
 * The pure parts of local VMs (`local: {machine: vm}`): the recipe key, how a local template asks
 * the local cloud for a VM, qemu's sandboxed command line, and the initramfs archive. Booting one
 * is test/e2e/vm-local.test.ts (minutes under software emulation).
 */
import { describe, expect, it } from 'vitest';
import { loadBakery } from '../../src/recipes/load-bakery.js';
import { renderPackerTemplate } from '../../src/packer/template.js';
import { variableDefaults } from '../../src/packer/variables.js';
import { qemuArguments, type VmStart } from '../../src/local-cloud/booted-vm.js';
import { cpioNewc, INIT_SCRIPT, kernelPackageOf } from '../../src/local-cloud/vm-kernel.js';
import { minimalRole, problems, tempBakery } from '../recipes/temp-bakery.js';

const recipe = (extra = '') => `name: a\nbase: { ami: ami-12345678 }\nroles: [common]\n${extra}`;

describe('local: {machine: vm}', () => {
  it('is read from the recipe, else from the config, and a container is the default', async () => {
    const root = await tempBakery({
      ...minimalRole,
      'bake.config.yaml': 'local: { machine: vm }\n',
      'recipes/a.yaml': recipe(),
      'recipes/b.yaml': recipe('local: { machine: container }\n').replace('name: a', 'name: b'),
    });
    const bakery = await loadBakery(root);
    expect(bakery.recipes.find((r) => r.name === 'a')!.localMachine).toBe('vm');
    expect(bakery.recipes.find((r) => r.name === 'b')!.localMachine).toBeUndefined();
    const plain = await loadBakery(await tempBakery({ ...minimalRole, 'recipes/a.yaml': recipe() }));
    expect(plain.recipes[0].localMachine).toBeUndefined();
  });

  it('refuses another machine with the line it is on', async () => {
    const root = await tempBakery({ ...minimalRole, 'recipes/a.yaml': recipe('local:\n  machine: kvm\n') });
    expect(await problems(root, loadBakery)).toEqual([
      'recipes/a.yaml:5:12: local.machine: local.machine is container or vm',
    ]);
  });

  it('tags the builder for the local cloud only, and only for a VM recipe', async () => {
    const root = await tempBakery({
      ...minimalRole,
      'recipes/a.yaml': recipe('local: { machine: vm }\n'),
      'recipes/b.yaml': recipe().replace('name: a', 'name: b'),
    });
    const bakery = await loadBakery(root);
    const render = (name: string, local: boolean) => {
      const r = bakery.recipes.find((x) => x.name === name)!;
      return renderPackerTemplate({
        bakery,
        recipe: r,
        shape: 'legacy',
        target: local ? { ec2Endpoint: 'http://127.0.0.1:1', local: { sshPort: 22 } } : undefined,
        defaults: variableDefaults(r),
      }).text;
    };
    expect(render('a', true)).toMatch(/"bake:local-machine" = "vm"/);
    // To AWS the VM recipe's template says nothing of it; a container recipe's local template neither.
    expect(render('a', false)).not.toContain('bake:local-machine');
    expect(render('b', true)).not.toContain('bake:local-machine');
  });
});

const start: VmStart = {
  kernel: { vmlinuz: '/c/vmlinuz', initramfs: '/c/initramfs.cpio' },
  upperDisk: '/s/i-1/disks/upper.ext4',
  layerDisks: ['/c/modules.ext4', '/s/i-1/disks/layer-0.ext4'],
  namespace: 'bake-3',
  ip: '198.18.0.14',
  prefixLength: 30,
  runAs: 0x7000_0000 + 3 * 65536,
  memoryMiB: 1024,
  cpus: 1,
  pidFile: '/s/i-1/qemu.pid',
  consoleFile: '/s/i-1/console.log',
};

describe('qemu for a local VM', () => {
  it('runs sandboxed as the instance’s own uid, software-emulated, with no monitor socket', () => {
    const args = qemuArguments(start);
    const after = (flag: string) => args[args.indexOf(flag) + 1];
    expect(after('-machine')).toBe('q35');
    expect(after('-accel')).toBe('tcg,thread=single');
    expect(after('-sandbox')).toBe('on,obsolete=deny,spawn=deny,resourcecontrol=deny');
    expect(after('-runas')).toBe(`${start.runAs}:${start.runAs}`);
    expect(args).toContain('-nodefaults');
    expect(args.join(' ')).not.toMatch(/unix:|socket|telnet|tcp:|-monitor|-qmp|-vnc|-spice/);
    expect(after('-append')).toBe('console=ttyS0 net.ifnames=0 panic=5 bake.layers=2 bake.ip=198.18.0.14/30');
    // The instance's layers are read-only; only its own disk is writable.
    const drives = args.filter((_, i) => args[i - 1] === '-drive');
    expect(drives.map((d) => d.includes('readonly=on'))).toEqual([false, true, true]);
  });

  it('refuses a path qemu would split at a comma rather than pass it on', () => {
    expect(() => qemuArguments({ ...start, upperDisk: '/s/x,file=/etc/shadow' })).toThrow(/may not contain a comma/);
  });
});

describe('the VM kernel', () => {
  it('takes the versioned kernel package the metapackage depends on', () => {
    expect(kernelPackageOf('linux-image-cloud-amd64\n  Depends: linux-image-6.1.0-57-cloud-amd64\n')).toBe(
      'linux-image-6.1.0-57-cloud-amd64',
    );
    expect(kernelPackageOf('linux-image-cloud-amd64\n  Depends: ; rm -rf /\n')).toBeUndefined();
  });

  it('writes a newc archive the kernel can unpack: 4-byte aligned entries and the trailer', () => {
    const archive = cpioNewc([
      { name: 'bin', mode: 0o40755 },
      { name: 'init', mode: 0o100755, data: Buffer.from(INIT_SCRIPT) },
    ]);
    expect(archive.length % 4).toBe(0);
    const entries: string[] = [];
    let at = 0;
    while (at < archive.length) {
      expect(archive.toString('ascii', at, at + 6)).toBe('070701');
      const field = (n: number) => Number.parseInt(archive.toString('ascii', at + 6 + n * 8, at + 14 + n * 8), 16);
      const nameSize = field(11);
      const size = field(6);
      const name = archive.toString('ascii', at + 110, at + 110 + nameSize - 1);
      entries.push(`${name} ${field(1).toString(8)} ${size}`);
      at = Math.ceil((Math.ceil((at + 110 + nameSize) / 4) * 4 + size) / 4) * 4;
      if (name === 'TRAILER!!!') break;
    }
    expect(entries).toEqual(['bin 40755 0', `init 100755 ${Buffer.byteLength(INIT_SCRIPT)}`, 'TRAILER!!! 0 0']);
  });
});
