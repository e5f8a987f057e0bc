import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import {
  CreateKeyPairCommand,
  CreateTagsCommand,
  DescribeImagesCommand,
  DescribeInstancesCommand,
  DescribeKeyPairsCommand,
  EC2Client,
  RunInstancesCommand,
  waitUntilInstanceRunning,
} from '@aws-sdk/client-ec2';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { baseImageId, startLocalCloud, type LocalCloud } from '../../src/local-cloud/index.js';
import { processStartTime } from '../../src/files/process-identity.js';
import { MemoryHost } from './memory-host.js';
import { sendSigned } from './signed-request.js';

function client(cloud: LocalCloud, region = 'us-east-1'): EC2Client {
  return new EC2Client({ region, endpoint: cloud.endpoint, credentials: cloud.credentials, maxAttempts: 1 });
}

describe('local cloud state', () => {
  let stateDir: string;
  beforeEach(() => {
    stateDir = mkdtempSync(path.join(tmpdir(), 'bake-local-state-'));
  });
  afterEach(() => rmSync(stateDir, { recursive: true, force: true }));

  it('survives a restart: key pairs, tags and running instances come back', async () => {
    const host = new MemoryHost();
    const first = await startLocalCloud({ stateDir, host });
    const ec2 = client(first);
    await ec2.send(new CreateKeyPairCommand({ KeyName: 'kept' }));
    const run = await ec2.send(
      new RunInstancesCommand({ ImageId: baseImageId('us-east-1'), KeyName: 'kept', MinCount: 1, MaxCount: 1 }),
    );
    const instanceId = run.Instances![0].InstanceId!;
    await waitUntilInstanceRunning(
      { client: ec2, maxWaitTime: 30, minDelay: 1, maxDelay: 1 },
      { InstanceIds: [instanceId] },
    );
    await ec2.send(new CreateTagsCommand({ Resources: [instanceId], Tags: [{ Key: 'Name', Value: 'builder' }] }));
    ec2.destroy();
    await first.close();
    expect(host.calls.at(-1)).toBe('close');

    const second = await startLocalCloud({ stateDir, host });
    const again = client(second);
    try {
      expect(host.calls).toContain(`start ${instanceId}`);
      const { KeyPairs = [] } = await again.send(new DescribeKeyPairsCommand({ KeyNames: ['kept'] }));
      expect(KeyPairs).toHaveLength(1);
      const instance = (await again.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }))).Reservations![0]
        .Instances![0];
      expect(instance.State!.Name).toBe('running');
      expect(instance.Tags).toEqual([{ Key: 'Name', Value: 'builder' }]);
    } finally {
      again.destroy();
      await second.close();
    }
  });

  it('leaves state.json untouched when a run only reads', async () => {
    const read = async () => {
      const cloud = await startLocalCloud({ stateDir, host: new MemoryHost() });
      const ec2 = client(cloud);
      await ec2.send(new DescribeImagesCommand({ Owners: ['self'] }));
      ec2.destroy();
      await cloud.close();
    };
    await read();
    const file = path.join(stateDir, 'state.json');
    const before = statSync(file);
    await new Promise((resolve) => setTimeout(resolve, 20));
    await read();
    const after = statSync(file);
    expect([after.ino, after.mtimeMs]).toEqual([before.ino, before.mtimeMs]);
  });

  it('lets one bake at a time use a state dir and says which process holds it', async () => {
    const first = await startLocalCloud({ stateDir, host: new MemoryHost() });
    try {
      await expect(startLocalCloud({ stateDir, host: new MemoryHost(), lockWaitMs: 300 })).rejects.toThrow(
        new RegExp(`local cloud state ${stateDir} is in use by another bake \\(pid ${process.pid}\\)`),
      );
    } finally {
      await first.close();
    }
    const next = await startLocalCloud({ stateDir, host: new MemoryHost(), lockWaitMs: 300 });
    await next.close();
  });

  it('takes over the lock of a bake that died', async () => {
    const dead = spawn(process.execPath, ['-e', '']);
    const pid = dead.pid!;
    await new Promise((resolve) => dead.on('exit', resolve));
    writeFileSync(path.join(stateDir, 'lock'), `${pid}\n`);
    const cloud = await startLocalCloud({ stateDir, host: new MemoryHost(), lockWaitMs: 300 });
    expect(readFileSync(path.join(stateDir, 'lock'), 'utf8').trim()).toBe(
      `${process.pid}:${processStartTime(process.pid)}`,
    );
    await cloud.close();
  });

  it('takes over at once a lock whose pid now belongs to an unrelated live process, and waits for the real holder', async () => {
    // After a crash (and a reboot, or pid wrap-around) the recorded pid may be reused by anything.
    const unrelated = spawn('sleep', ['60']);
    try {
      for (const recorded of [`${unrelated.pid}`, `${unrelated.pid}:1`]) {
        writeFileSync(path.join(stateDir, 'lock'), `${recorded}\n`);
        const started = Date.now();
        const cloud = await startLocalCloud({ stateDir, host: new MemoryHost(), lockWaitMs: 5_000 });
        expect(Date.now() - started).toBeLessThan(5_000);
        await cloud.close();
      }
      // The same live process with its own start time is a holder: wait, then refuse.
      writeFileSync(path.join(stateDir, 'lock'), `${unrelated.pid}:${processStartTime(unrelated.pid!)}\n`);
      await expect(startLocalCloud({ stateDir, host: new MemoryHost(), lockWaitMs: 300 })).rejects.toThrow(
        `is in use by another bake (pid ${unrelated.pid})`,
      );
    } finally {
      unrelated.kill();
    }
  });

  it('checks the shape of state.json on load and names the file and the first wrong place in one line', async () => {
    const file = path.join(stateDir, 'state.json');
    for (const [text, where] of [
      ['null', 'unknown local cloud state version undefined'],
      ['[]', 'unknown local cloud state version undefined'],
      ['{"version": 1, "images": {}}', '(images: '],
      ['{"version": 1, "images": [{"imageId": 5, "region": "us-east-1"}]}', '(images[0].imageId: '],
      [
        '{"version": 1, "instances": [{"instanceId": "i-1", "region": "us-east-1", "state": "running"}]}',
        '(instances[0].authorizedKey: ',
      ],
      ['{"version": 1, "tags": {"ami-1": [["only-a-key"]]}}', '(tags.ami-1[0]: '],
    ]) {
      writeFileSync(file, text);
      const error = (await startLocalCloud({ stateDir, host: new MemoryHost() }).catch((e: unknown) => e)) as Error;
      expect(error.constructor.name).toBe('CloudError');
      expect(error.message).toContain(`${file}: `);
      expect(error.message).toContain(where);
      expect(error.message).not.toContain('\n');
    }
    // A field a newer bake adds is kept, not refused.
    writeFileSync(file, '{"version": 1, "parameters": [{"name": "/x"}]}');
    const cloud = await startLocalCloud({ stateDir, host: new MemoryHost() });
    await cloud.close();
  });

  it('refuses a state file it cannot read, with the path, instead of starting empty', async () => {
    writeFileSync(path.join(stateDir, 'state.json'), '{"version": 1, "images": [');
    await expect(startLocalCloud({ stateDir, host: new MemoryHost() })).rejects.toThrow(
      /state\.json: local cloud state is not valid JSON/,
    );
    // and the lock is released for the next try
    writeFileSync(path.join(stateDir, 'state.json'), '{"version": 1}');
    const cloud = await startLocalCloud({ stateDir, host: new MemoryHost(), lockWaitMs: 300 });
    await cloud.close();
  });

  it('serves image lookups without starting the instance host (a plan launches nothing)', async () => {
    const cloud = await startLocalCloud({ stateDir });
    const ec2 = client(cloud, 'eu-west-1');
    try {
      const { Images = [] } = await ec2.send(new DescribeImagesCommand({ Owners: ['136693071363'] }));
      expect(Images.map((i) => [i.ImageId, i.Architecture])).toEqual([
        [baseImageId('eu-west-1'), 'x86_64'],
        [baseImageId('eu-west-1', 'arm64'), 'arm64'],
      ]);
    } finally {
      ec2.destroy();
      await cloud.close();
    }
  });

  it('answers SSM GetParameter for the Debian base image of each region', async () => {
    const cloud = await startLocalCloud({ stateDir, host: new MemoryHost() });
    try {
      const ask = (region: string, name: string) =>
        sendSigned({
          endpoint: cloud.endpoint,
          credentials: cloud.credentials,
          region,
          service: 'ssm',
          headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'AmazonSSM.GetParameter' },
          body: JSON.stringify({ Name: name }),
        });
      const found = await ask('eu-west-1', '/aws/service/debian/release/12/latest/amd64');
      expect(found.status).toBe(200);
      expect(JSON.parse(found.text).Parameter.Value).toBe(baseImageId('eu-west-1'));
      const missing = await ask('eu-west-1', '/aws/service/debian/release/99/latest/amd64');
      expect(missing.status).toBe(400);
      expect(JSON.parse(missing.text).__type).toBe('ParameterNotFound');
      expect(cloud.env).toMatchObject({
        AWS_ENDPOINT_URL_EC2: cloud.endpoint,
        AWS_ENDPOINT_URL_SSM: cloud.endpoint,
        AWS_EC2_METADATA_DISABLED: 'true',
      });
    } finally {
      await cloud.close();
    }
  });
});
