import {
  CreateImageCommand,
  DescribeImagesCommand,
  DescribeInstancesCommand,
  RunInstancesCommand,
  StartInstancesCommand,
  StopInstancesCommand,
  TerminateInstancesCommand,
  type EC2Client,
} from '@aws-sdk/client-ec2';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { baseImageId } from '../../src/local-cloud/index.js';
import { SimulatedTime } from '../../src/local-cloud/ec2-api/simulated-time.js';
import { AWS_LATENCY } from '../../src/local-cloud/latency-profile.js';
import { MemoryHost, startTestCloud, type TestCloud } from './memory-host.js';

/**
 * Packer polls at best every second: a local stop or capture that takes a fraction of that would
 * cost a whole poll if the answer came before the work. The answer says what EC2 says; it comes
 * once the host is done, so the waiter's first poll finds the new state.
 */
describe('answers to calls that start host work', () => {
  let t: TestCloud;
  let ec2: EC2Client;
  const stateOf = async (instanceId: string) =>
    (await ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }))).Reservations![0].Instances![0].State!
      .Name;
  beforeAll(async () => {
    const host = new MemoryHost();
    // Long enough that a poll sent right after an early answer would find the work unfinished.
    host.workMs = 300;
    t = await startTestCloud(host);
    ec2 = t.ec2();
  });
  afterAll(() => t.close());

  it('answers as EC2 does, and the first poll after each answer finds the instance in its new state', async () => {
    const run = await ec2.send(
      new RunInstancesCommand({ ImageId: baseImageId('us-east-1'), MinCount: 1, MaxCount: 1 }),
    );
    const instanceId = run.Instances![0].InstanceId!;
    expect(run.Instances![0].State!.Name).toBe('pending');
    expect(await stateOf(instanceId)).toBe('running');

    const stopped = await ec2.send(new StopInstancesCommand({ InstanceIds: [instanceId] }));
    expect(stopped.StoppingInstances![0].CurrentState!.Name).toBe('stopping');
    expect(await stateOf(instanceId)).toBe('stopped');

    const image = await ec2.send(new CreateImageCommand({ InstanceId: instanceId, Name: 'answered' }));
    const images = await ec2.send(new DescribeImagesCommand({ ImageIds: [image.ImageId!] }));
    expect(images.Images![0].State).toBe('available');

    const started = await ec2.send(new StartInstancesCommand({ InstanceIds: [instanceId] }));
    expect(started.StartingInstances![0].CurrentState!.Name).toBe('pending');
    expect(await stateOf(instanceId)).toBe('running');

    const terminated = await ec2.send(new TerminateInstancesCommand({ InstanceIds: [instanceId] }));
    expect(terminated.TerminatingInstances![0].CurrentState!.Name).toBe('shutting-down');
    expect(await stateOf(instanceId)).toBe('terminated');
    expect(t.host.calls.filter((call) => call.includes(instanceId)).map((call) => call.split(' ')[0])).toEqual([
      'launch',
      'stop',
      'capture',
      'start',
      'terminate',
    ]);
  });

  it('saves the new instance before it waits for the boot: a bake killed meanwhile still knows it', async () => {
    const saved = () => readFileSync(path.join(t.stateDir, 'state.json'), 'utf8');
    const before = saved();
    t.host.workMs = 3_000;
    try {
      const answered = ec2.send(
        new RunInstancesCommand({ ImageId: baseImageId('us-east-1'), MinCount: 1, MaxCount: 1 }),
      );
      let unanswered = true;
      void answered.finally(() => (unanswered = false));
      // The host is still booting (3 s): the state on disk must already name one instance more.
      const ids = (text: string) => new Set(text.match(/i-[0-9a-f]{17}/g) ?? []);
      for (let i = 0; i < 100 && ids(saved()).size === ids(before).size; i++)
        await new Promise((resolve) => setTimeout(resolve, 20));
      const savedWhileBooting = saved();
      expect(unanswered).toBe(true);
      const instanceId = (await answered).Instances![0].InstanceId!;
      expect(ids(before).has(instanceId)).toBe(false);
      expect(ids(savedWhileBooting).has(instanceId)).toBe(true);
    } finally {
      t.host.workMs = 300;
    }
  });

  it('answers without the work once it has waited long enough (a boot on a loaded machine)', async () => {
    const time = new SimulatedTime(undefined);
    const never = new Promise<void>(() => {});
    await expect(time.answerAfter(never, 20)).resolves.toBeUndefined();
  });

  it('answers at once under a latency profile, which times the work as EC2 would', async () => {
    const time = new SimulatedTime({ ...AWS_LATENCY, name: 'aws', timeScale: 0.01 });
    let answered = false;
    const answer = time.answerAfter(new Promise<void>(() => {}), 60_000).then(() => (answered = true));
    await answer;
    expect(answered).toBe(true);
  });
});
