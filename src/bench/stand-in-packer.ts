/**
 * The bench's stand-in for `packer build`: 30 real Packer runs against a cloud in simulated AWS
 * time would take too long, so this makes the EC2 calls Packer's amazon-ebs builder makes, in
 * its order, against the local cloud (over HTTP, signed, throttled like EC2): check the source
 * image, temporary key pair and security group, RunInstances, wait running, wait for SSH (the
 * instance's status checks), "provision" for the recipe's stand-in time, StopInstances, wait
 * stopped, CreateImage, wait available, TerminateInstances, wait terminated, clean up; then it
 * writes Packer's manifest. Its waits poll like Packer with bake's generated `aws_polling`
 * (fixed delay, no backoff), in simulated seconds. It prints Packer's own progress lines.
 */
import { randomBytes } from 'node:crypto';
import { appendFile, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  AuthorizeSecurityGroupIngressCommand,
  CreateImageCommand,
  CreateKeyPairCommand,
  CreateSecurityGroupCommand,
  DeleteKeyPairCommand,
  DeleteSecurityGroupCommand,
  DescribeImagesCommand,
  RunInstancesCommand,
  StopInstancesCommand,
  TerminateInstancesCommand,
  waitUntilImageAvailable,
  waitUntilInstanceRunning,
  waitUntilInstanceStatusOk,
  waitUntilInstanceStopped,
  waitUntilInstanceTerminated,
  type EC2Client,
} from '@aws-sdk/client-ec2';
import type { PackerBuildRequest } from '../packer/runner.js';
import { discardImage } from '../aws/discard-image.js';
import { createOutput } from '../io/output.js';

/** BAKE_BENCH_DEBUG=RECIPE: that recipe's stand-in lines, timed, on stderr through the output host. */
const benchDebug = createOutput({ json: false, debug: true });

export interface StandInBake {
  /** The recipe's build region. */
  region: string;
  /** Simulated seconds Ansible would take on the instance. */
  provisionS: number;
}

export interface StandInPacker {
  runPacker(request: PackerBuildRequest): Promise<void>;
  /** Real epoch ms each recipe's Packer run started and ended, and whether it was interrupted. */
  readonly runs: Map<string, { start: number; end: number; interrupted?: boolean }>;
}

export interface StandInPackerOptions {
  clients(region: string): EC2Client;
  bakes: Map<string, StandInBake>;
  /** Packer's poll delay from the generated template (simulated seconds). */
  pollSeconds: number;
  /** Real seconds per simulated second. */
  timeScale: number;
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(new Error('interrupted'));
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => (clearTimeout(timer), reject(new Error('interrupted'))), { once: true });
  });

export function standInPacker(options: StandInPackerOptions): StandInPacker {
  const runs = new Map<string, { start: number; end: number; interrupted?: boolean }>();
  // aws-sdk-go's waiters in Packer: a fixed delay between polls.
  const delay = options.pollSeconds * options.timeScale;

  async function runPacker(request: PackerBuildRequest): Promise<void> {
    const start = Date.now();
    const recipe = path.basename(request.templateFile).replace(/\.pkr\.hcl$/, '');
    const bake = options.bakes.get(recipe);
    if (!bake) throw new Error(`stand-in packer: no stand-in time for ${recipe}`);
    const vars = await readFile(request.varFile, 'utf8');
    const sourceAmi = /^\s*source_ami\s*=\s*"([^"]+)"/m.exec(vars)?.[1];
    if (!sourceAmi) throw new Error(`stand-in packer: no source_ami in ${request.varFile}`);
    const ec2 = options.clients(bake.region);
    const signal = request.signal;
    const wait = { client: ec2, minDelay: delay, maxDelay: delay, maxWaitTime: 3600, abortSignal: signal };
    // Packer's own lines (`==> `), and its messages, indented.
    const say = (line: string) => print(`==> amazon-ebs.recipe: ${line}`);
    const message = (line: string) => print(`    amazon-ebs.recipe: ${line}`);
    const print = async (text: string) => {
      request.onLine?.(text);
      if (process.env.BAKE_BENCH_DEBUG === recipe)
        benchDebug.debug(`${((Date.now() - start) / 1000 / options.timeScale).toFixed(1)} ${text}`);
      await appendFile(request.logFile, `${text}\n`);
    };
    const name = `packer_${randomBytes(8).toString('hex')}`;

    await say('Prevalidating AMI Name...');
    const { Images = [] } = await ec2.send(new DescribeImagesCommand({ ImageIds: [sourceAmi] }));
    if (Images[0]?.State !== 'available')
      throw new Error(`stand-in packer: source ${sourceAmi} is not available in ${bake.region}`);
    await say(`Found Image ID: ${sourceAmi}`);
    await say(`Creating temporary keypair: ${name}`);
    // As bake's template for Packer 1.11+ asks (temporary_key_pair_type = "ed25519").
    await ec2.send(new CreateKeyPairCommand({ KeyName: name, KeyType: 'ed25519' }));
    await say('Creating temporary security group for this instance...');
    const { GroupId } = await ec2.send(
      new CreateSecurityGroupCommand({ GroupName: name, Description: 'Temporary group for Packer' }),
    );
    await ec2.send(
      new AuthorizeSecurityGroupIngressCommand({
        GroupId,
        IpPermissions: [{ IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: '0.0.0.0/0' }] }],
      }),
    );
    await say('Launching a source AWS instance...');
    const run = await ec2.send(
      new RunInstancesCommand({
        ImageId: sourceAmi,
        InstanceType: 't3.small',
        MinCount: 1,
        MaxCount: 1,
        KeyName: name,
        SecurityGroupIds: [GroupId!],
        TagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: 'Name', Value: 'Packer Builder' }] }],
      }),
    );
    const instanceId = run.Instances![0].InstanceId!;
    let imageId: string | undefined;
    try {
      await say(`Instance ID: ${instanceId}`);
      await say(`Waiting for instance (${instanceId}) to become ready...`);
      await waitUntilInstanceRunning(wait, { InstanceIds: [instanceId] });
      await say('Waiting for SSH to become available...');
      await waitUntilInstanceStatusOk(wait, { InstanceIds: [instanceId] });
      await say('Connected to SSH!');
      await say('Provisioning with Ansible... (stand-in: no playbook runs)');
      await sleep(bake.provisionS * options.timeScale * 1000, signal);
      await say('Stopping the source instance...');
      await ec2.send(new StopInstancesCommand({ InstanceIds: [instanceId] }));
      await say('Waiting for the instance to stop...');
      await waitUntilInstanceStopped(wait, { InstanceIds: [instanceId] });
      await say(`Creating AMI ${recipe}-${name} from instance ${instanceId}`);
      const { ImageId } = await ec2.send(new CreateImageCommand({ InstanceId: instanceId, Name: `${recipe}-${name}` }));
      imageId = ImageId;
      await message(`AMI: ${ImageId}`);
      await say('Waiting for AMI to become ready...');
      await waitUntilImageAvailable(wait, { ImageIds: [ImageId!] });
      const manifest = {
        builds: [
          {
            name: 'recipe',
            builder_type: 'amazon-ebs',
            artifact_id: `${bake.region}:${ImageId}`,
            packer_run_uuid: name,
          },
        ],
        last_run_uuid: name,
      };
      await writeFile(path.join(request.templateDir, 'manifest.json'), JSON.stringify(manifest, null, 2));
    } catch (error) {
      // As Packer's amazon-ebs builder on an interrupt or error after CreateImage.
      if (imageId) {
        await say('Deregistering the AMI and deleting associated snapshots because of cancellation, or error...');
        await discardImage(ec2, bake.region, imageId);
      }
      runs.set(recipe, { start, end: Date.now(), interrupted: Boolean(signal?.aborted) });
      throw error;
    } finally {
      await say('Terminating the source AWS instance...');
      await ec2.send(new TerminateInstancesCommand({ InstanceIds: [instanceId] }));
      await waitUntilInstanceTerminated({ ...wait, abortSignal: undefined }, { InstanceIds: [instanceId] });
      await say('Deleting temporary security group...');
      await ec2.send(new DeleteSecurityGroupCommand({ GroupId }));
      await say('Deleting temporary keypair...');
      await ec2.send(new DeleteKeyPairCommand({ KeyName: name }));
    }
    runs.set(recipe, { start, end: Date.now() });
    await say('Builds finished.');
  }

  return { runPacker, runs };
}
