/**
 * The EC2 side of a launch test: a temporary key pair, a temporary security group that lets only
 * this agent in over SSH, and one instance from the new image (IMDSv2 required, the recipe's
 * subnet, the test's user-data). Everything made is recorded as it is made, so `cleanUp()` removes
 * exactly that — after a pass, a failure, a timeout or an interrupt — and only that.
 */
import { LOCAL_MACHINE_TAG } from '../tags/tag-contract.js';
import { createSocket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import {
  AuthorizeSecurityGroupIngressCommand,
  CreateKeyPairCommand,
  CreateSecurityGroupCommand,
  DeleteKeyPairCommand,
  DeleteSecurityGroupCommand,
  DescribeInstancesCommand,
  DescribeSubnetsCommand,
  GetConsoleOutputCommand,
  RunInstancesCommand,
  TerminateInstancesCommand,
  waitUntilInstanceRunning,
  waitUntilInstanceTerminated,
  type EC2Client,
  type Tag,
} from '@aws-sdk/client-ec2';
import { CloudError } from '../errors/index.js';
import { timeScaleOf } from './clients.js';
import { cloudError } from './image-catalog.js';
import { scaledDelayMs, scaledWaiterTiming } from './simulated-waits.js';

/** Tag on everything a launch test makes: which recipe's image it tests (and what to look for after a crash). */
export const LAUNCH_TEST_OF_TAG = 'bake:launch-test-of';

export interface TestInstanceRequest {
  region: string;
  imageId: string;
  recipe: string;
  instanceType: string;
  subnetId?: string;
  /** Plain text; base64 is added here. */
  userData: string;
  sshPort: number;
  /** Which address bake connects to: the instance's private one (an agent inside the VPC), or its public one. */
  sshInterface: 'private_ip' | 'public_ip';
  /** Who may connect, as CIDR; default: this agent's own address towards the instance, /32. */
  sshFrom?: string;
  /** Stops waiting (not cleaning up). */
  signal?: AbortSignal;
  /** Seconds the instance may take to be running. */
  maxWaitSeconds: number;
  /** bake's local cloud only: `vm` asks it for a VM with its own kernel (LOCAL_MACHINE_TAG). */
  localMachine?: 'vm';
}

export interface TestInstance {
  instanceId: string;
  address: string;
  /** OpenSSH private key text of the temporary key pair (never written anywhere but a 0600 temp file). */
  privateKey: string;
}

export interface TestInstanceSession {
  launch(request: TestInstanceRequest): Promise<TestInstance>;
  /** What the instance printed on its console (EC2 keeps the last 64 KB), '' when unavailable. */
  consoleOutput(): Promise<string>;
  /** Terminates the instance, waits for it, deletes the security group and the key pair; returns what failed. */
  cleanUp(): Promise<string[]>;
  /** Ids of what exists now because of this session, for the log. */
  readonly made: { instanceId?: string; securityGroupId?: string; keyName?: string };
  /** Real seconds per simulated second of the cloud it talks to (the local cloud's latency profile); 1 or absent on AWS. */
  readonly timeScale?: number;
}

/** The address this machine sends from to reach `address` (a UDP connect picks the route and sends nothing). */
export async function sourceAddressTowards(address: string, port: number): Promise<string> {
  const socket = createSocket(address.includes(':') ? 'udp6' : 'udp4');
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.connect(port, address, () => resolve());
    });
    return socket.address().address;
  } finally {
    socket.close();
  }
}

function tagsFor(recipe: string, name: string): Tag[] {
  return [
    { Key: 'Name', Value: name },
    { Key: LAUNCH_TEST_OF_TAG, Value: recipe },
  ];
}

const errorCode = (error: unknown) =>
  String((error as { Code?: string })?.Code ?? (error as { name?: string })?.name ?? '');

/**
 * `timeScale`: the local cloud's simulated time (default: the one `ec2` was made for, see
 * clients.ts); the waiters' delays and limits and the retry pauses shrink by it.
 */
export function ec2TestInstanceSession(
  ec2: EC2Client,
  region: string,
  timeScale = timeScaleOf(ec2),
): TestInstanceSession {
  const made: TestInstanceSession['made'] = {};

  return {
    made,
    timeScale,

    async launch(request) {
      const name = `bake-launch-test-${request.recipe}-${randomBytes(4).toString('hex')}`;
      const stopIfAborted = () => {
        if (request.signal?.aborted) throw new CloudError('launch test interrupted');
      };
      // Each creating call runs to its end (an aborted RunInstances could leave an instance whose id
      // bake never learnt); the abort is looked at between them.
      try {
        const key = await ec2.send(
          new CreateKeyPairCommand({
            KeyName: name,
            KeyType: 'ed25519',
            TagSpecifications: [{ ResourceType: 'key-pair', Tags: tagsFor(request.recipe, name) }],
          }),
        );
        made.keyName = name;
        if (!key.KeyMaterial) throw new CloudError(`CreateKeyPair ${name} returned no private key`);
        stopIfAborted();

        const vpcId = request.subnetId ? await vpcOfSubnet(ec2, request.subnetId) : undefined;
        const group = await ec2.send(
          new CreateSecurityGroupCommand({
            GroupName: name,
            Description: `bake launch test of ${request.recipe} (${request.imageId}): SSH from the build agent only`,
            VpcId: vpcId,
            TagSpecifications: [{ ResourceType: 'security-group', Tags: tagsFor(request.recipe, name) }],
          }),
        );
        made.securityGroupId = group.GroupId;
        stopIfAborted();

        const run = await ec2.send(
          new RunInstancesCommand({
            ImageId: request.imageId,
            InstanceType: request.instanceType as never,
            MinCount: 1,
            MaxCount: 1,
            KeyName: name,
            SubnetId: request.subnetId,
            SecurityGroupIds: [group.GroupId!],
            UserData: request.userData ? Buffer.from(request.userData).toString('base64') : undefined,
            MetadataOptions: { HttpTokens: 'required', HttpEndpoint: 'enabled', HttpPutResponseHopLimit: 1 },
            InstanceInitiatedShutdownBehavior: 'terminate',
            TagSpecifications: [
              {
                ResourceType: 'instance',
                Tags: [
                  ...tagsFor(request.recipe, name),
                  ...(request.localMachine ? [{ Key: LOCAL_MACHINE_TAG, Value: request.localMachine }] : []),
                ],
              },
              { ResourceType: 'volume', Tags: tagsFor(request.recipe, name) },
            ],
          }),
        );
        const instanceId = run.Instances?.[0]?.InstanceId;
        if (!instanceId) throw new CloudError(`RunInstances from ${request.imageId} returned no instance`);
        made.instanceId = instanceId;
        stopIfAborted();

        await waitUntilInstanceRunning(
          {
            client: ec2,
            ...scaledWaiterTiming(
              { minDelay: 1, maxDelay: 5, maxWaitTime: Math.max(1, request.maxWaitSeconds) },
              timeScale,
            ),
            abortSignal: request.signal,
          },
          { InstanceIds: [instanceId] },
        );
        const { Reservations = [] } = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
        const instance = Reservations[0]?.Instances?.[0];
        const address = request.sshInterface === 'public_ip' ? instance?.PublicIpAddress : instance?.PrivateIpAddress;
        if (!address)
          throw new CloudError(
            `instance ${instanceId} has no ${request.sshInterface === 'public_ip' ? 'public' : 'private'} IP address to reach it over SSH`,
          );

        const from = request.sshFrom ?? `${await sourceAddressTowards(address, request.sshPort)}/32`;
        await ec2.send(
          new AuthorizeSecurityGroupIngressCommand({
            GroupId: group.GroupId,
            IpPermissions: [
              {
                IpProtocol: 'tcp',
                FromPort: request.sshPort,
                ToPort: request.sshPort,
                IpRanges: [{ CidrIp: from, Description: 'bake launch test: SSH from the build agent' }],
              },
            ],
          }),
        );
        return { instanceId, address, privateKey: key.KeyMaterial };
      } catch (error) {
        if (error instanceof CloudError) throw error;
        if ((error as Error)?.name === 'AbortError' || request.signal?.aborted)
          throw new CloudError('launch test interrupted');
        throw cloudError(error, `launching a test instance of ${request.imageId} in ${region}`);
      }
    },

    async consoleOutput() {
      if (!made.instanceId) return '';
      try {
        const { Output } = await ec2.send(new GetConsoleOutputCommand({ InstanceId: made.instanceId, Latest: true }));
        return Output ? Buffer.from(Output, 'base64').toString('utf8') : '';
      } catch {
        return '';
      }
    },

    async cleanUp() {
      const problems: string[] = [];
      const attempt = async (what: string, action: () => Promise<unknown>) => {
        try {
          await action();
        } catch (error) {
          problems.push(`${what}: ${errorCode(error) || 'Error'}: ${(error as Error).message}`);
        }
      };
      if (made.instanceId) {
        const instanceId = made.instanceId;
        await attempt(`terminating ${instanceId}`, async () => {
          await ec2.send(new TerminateInstancesCommand({ InstanceIds: [instanceId] }));
          // The security group can only go once no instance uses it.
          await waitUntilInstanceTerminated(
            { client: ec2, ...scaledWaiterTiming({ minDelay: 1, maxDelay: 10, maxWaitTime: 600 }, timeScale) },
            { InstanceIds: [instanceId] },
          );
          made.instanceId = undefined;
        });
      }
      if (made.securityGroupId && !made.instanceId) {
        const groupId = made.securityGroupId;
        await attempt(`deleting security group ${groupId}`, async () => {
          // EC2 may still count the terminated instance's network interface for a little while.
          for (let tries = 1; ; tries += 1) {
            try {
              await ec2.send(new DeleteSecurityGroupCommand({ GroupId: groupId }));
              break;
            } catch (error) {
              if (errorCode(error) !== 'DependencyViolation' || tries >= 30) throw error;
              await new Promise((resolve) => setTimeout(resolve, scaledDelayMs(2_000, timeScale)));
            }
          }
          made.securityGroupId = undefined;
        });
      }
      if (made.keyName) {
        const keyName = made.keyName;
        await attempt(`deleting key pair ${keyName}`, async () => {
          await ec2.send(new DeleteKeyPairCommand({ KeyName: keyName }));
          made.keyName = undefined;
        });
      }
      return problems;
    },
  };
}

async function vpcOfSubnet(ec2: EC2Client, subnetId: string): Promise<string> {
  const { Subnets = [] } = await ec2.send(new DescribeSubnetsCommand({ SubnetIds: [subnetId] }));
  const vpcId = Subnets[0]?.VpcId;
  if (!vpcId) throw new CloudError(`subnet ${subnetId} not found`);
  return vpcId;
}
