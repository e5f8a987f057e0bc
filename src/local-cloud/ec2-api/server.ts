import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { InstanceHost } from '../instance-host.js';
import type { Action, ActionContext } from './action.js';
import { imageActions } from './actions/images.js';
import { instanceTypeActions } from './actions/instance-types.js';
import { instanceActions } from './actions/instances.js';
import { keyPairActions, prepareRsaKey } from './actions/key-pairs.js';
import { networkActions } from './actions/network.js';
import { snapshotActions } from './actions/snapshots.js';
import { tagActions } from './actions/tags.js';
import { Ec2ApiError } from './api-error.js';
import { accessDeniedException, isDenied, unauthorizedOperation } from './authorization.js';
import { answerDryRun } from './dry-run.js';
import { IAM_NAMESPACE, iamResponse, STS_NAMESPACE, stsResponse } from './identity.js';
import { KMS_WRITES, kmsResponse } from './kms.js';
import { newRequestId } from './ids.js';
import { QueryParams } from './query.js';
import { checkRegion, seedRegion } from './seed.js';
import { checkAuthorizationHeader, verifySignature, type LocalCredentials } from './signature.js';
import { SimulatedTime } from './simulated-time.js';
import { SSM_WRITES, ssmResponse } from './ssm.js';
import type { CloudState } from './state.js';
import { errorXml, queryErrorXml, queryResponseXml, responseXml } from './xml.js';

export const ACTIONS: Record<string, Action> = {
  ...imageActions,
  ...snapshotActions,
  ...tagActions,
  ...instanceActions,
  ...keyPairActions,
  ...networkActions,
  ...instanceTypeActions,
};

/** The JSON-protocol operations the local cloud serves besides EC2's actions, for tests of what bake may call. */
export const JSON_TARGETS = {
  ssm: ['GetParameter', 'GetParameters', 'PutParameter', 'DescribeParameters'],
  kms: ['DescribeKey', 'CreateKey', 'CreateAlias', 'DisableKey'],
} as const;
/** The Query-protocol operations of STS and IAM it serves. */
export const QUERY_ACTIONS = { sts: ['GetCallerIdentity'], iam: ['SimulatePrincipalPolicy'] } as const;

/** How a request is framed, which decides how its errors are written. */
type Protocol = 'ec2' | 'ssm' | 'kms' | 'sts' | 'iam';

function protocolOf(request: IncomingMessage): Protocol {
  const target = request.headers['x-amz-target'];
  if (typeof target === 'string' && target.startsWith('AmazonSSM.')) return 'ssm';
  if (typeof target === 'string' && target.startsWith('TrentService.')) return 'kms';
  // STS and IAM speak the same Query protocol as EC2: only the signature's scope tells them apart.
  const scope = /Credential=[^/]+\/\d{8}\/[^/]+\/(sts|iam)\//.exec(String(request.headers.authorization ?? ''));
  return scope ? (scope[1] as Protocol) : 'ec2';
}

const READ_ONLY = /^(Describe|Get)/;
// SSM's JSON protocol names the same failures differently.
const SSM_ERROR_TYPES: Record<string, string> = {
  AuthFailure: 'UnrecognizedClientException',
  SignatureDoesNotMatch: 'InvalidSignatureException',
};
/** EC2's and SSM's largest requests (user data, parameter values, many tags) are well under this. */
const MAX_BODY = 1024 * 1024;

/**
 * A failure the local cloud answers with instead of doing the action: how tests make one
 * region of a multi-region run fail over real HTTP. Rules are read on every request, so a test
 * may add or remove them while the cloud runs.
 */
export interface FaultRule {
  action: string;
  /** Only in this region (default: every region). */
  region?: string;
  /** Only for requests naming this id (ImageId, SourceImageId, SnapshotId; default: any). */
  resourceId?: string;
  /** EC2 error code (default UnauthorizedOperation, which the SDK does not retry). */
  code?: string;
  message?: string;
  /** HTTP status (default 400). */
  status?: number;
  /** How many requests fail before the rule stops applying (default: all). */
  times?: number;
}

export interface Ec2ApiOptions {
  state: CloudState;
  /** The only key pair the endpoint accepts: every request must be SigV4-signed with it. */
  credentials: LocalCredentials;
  host: InstanceHost;
  /** The latency profile at work; absent: nothing waits, nothing is throttled. */
  time?: SimulatedTime;
  faults?: FaultRule[];
  /** IAM actions answered as denied (authorization.ts); read on every request, so tests may change it while the cloud runs. */
  deny?: string[];
  /** Called after every change to the state. */
  persist(): void;
  log(message: string): void;
  /** Seals SecureString parameters; default: a key of this process only. */
  parameterKey?: Buffer;
}

export interface Ec2Api {
  endpoint: string;
  /** How often each action was called, for tests and for finding what a client needs. */
  calls: Map<string, number>;
  close(): Promise<void>;
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new Ec2ApiError('RequestEntityTooLarge', 'request body too large', 413);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export async function startEc2Api(options: Ec2ApiOptions): Promise<Ec2Api> {
  const calls = new Map<string, number>();
  const parameterKey = options.parameterKey ?? randomBytes(32);
  const time = options.time ?? new SimulatedTime(undefined);

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const requestId = newRequestId();
    const send = (status: number, type: string, body: string) => {
      response.writeHead(status, { 'content-type': type, 'x-amzn-requestid': requestId });
      response.end(body);
    };
    const target = String(request.headers['x-amz-target'] ?? '');
    const protocol = protocolOf(request);
    const json = protocol === 'ssm' || protocol === 'kms';
    const fail = (error: Ec2ApiError) =>
      json
        ? send(
            error.status,
            'application/x-amz-json-1.1',
            JSON.stringify({ __type: SSM_ERROR_TYPES[error.code] ?? error.code, message: error.message }),
          )
        : protocol === 'ec2'
          ? send(error.status, 'text/xml;charset=UTF-8', errorXml(error.code, error.message, requestId))
          : send(error.status, 'text/xml;charset=UTF-8', queryErrorXml(error.code, error.message, requestId));
    const deny = options.deny ?? [];
    try {
      // Credentials and size first: nobody without the key makes the cloud read a body.
      checkAuthorizationHeader(request.headers, options.credentials);
      if (Number(request.headers['content-length'] ?? 0) > MAX_BODY)
        throw new Ec2ApiError('RequestEntityTooLarge', 'request body too large', 413);
      const body = await readBody(request);
      // The region is the one the signature's credential scope names, as EC2 itself routes it.
      const { region, service } = await verifySignature(
        { method: request.method ?? 'GET', url: request.url ?? '/', headers: request.headers, body },
        options.credentials,
      );
      if (service !== protocol)
        throw new Ec2ApiError(
          'SignatureDoesNotMatch',
          `Credential should be scoped to correct service: '${protocol}'.`,
          403,
        );
      checkRegion(region);
      if (seedRegion(options.state, region)) options.persist();

      if (protocol === 'ssm') {
        calls.set(target, (calls.get(target) ?? 0) + 1);
        await time.answer();
        // SSM's own throttling answer (its JSON shape, HTTP 400), which the SDKs retry as throttling.
        if (!time.admit(region, target)) throw new Ec2ApiError('ThrottlingException', 'Rate exceeded', 400);
        const operation = `ssm:${target.slice('AmazonSSM.'.length)}`;
        if (isDenied(deny, operation)) throw accessDeniedException(operation);
        const answer = ssmResponse(target, body, region, options.state, new Date(), parameterKey);
        if (answer.status === 200 && SSM_WRITES.has(target)) options.persist();
        send(answer.status, 'application/x-amz-json-1.1', JSON.stringify(answer.body));
        return;
      }
      if (protocol === 'kms') {
        calls.set(target, (calls.get(target) ?? 0) + 1);
        await time.answer();
        const operation = `kms:${target.slice('TrentService.'.length)}`;
        if (isDenied(deny, operation)) throw accessDeniedException(operation);
        let input: Record<string, unknown>;
        try {
          input = JSON.parse(body || '{}') as Record<string, unknown>;
        } catch {
          throw new Ec2ApiError('SerializationException', 'request body is not JSON');
        }
        const answer = kmsResponse(target, input, region, options.state);
        if (KMS_WRITES.has(target)) options.persist();
        send(200, 'application/x-amz-json-1.1', JSON.stringify(answer));
        return;
      }
      if (protocol === 'sts' || protocol === 'iam') {
        const params = QueryParams.parse(
          `${new URL(request.url ?? '/', 'http://localhost').searchParams.toString()}&${body}`,
        );
        const action = params.get('Action') ?? '';
        calls.set(`${protocol}:${action}`, (calls.get(`${protocol}:${action}`) ?? 0) + 1);
        await time.answer();
        const result = protocol === 'sts' ? stsResponse(action) : iamResponse(action, params, deny);
        const namespace = protocol === 'sts' ? STS_NAMESPACE : IAM_NAMESPACE;
        send(200, 'text/xml;charset=UTF-8', queryResponseXml(action, namespace, requestId, result));
        return;
      }

      const url = new URL(request.url ?? '/', 'http://localhost');
      const params = QueryParams.parse(`${url.searchParams.toString()}&${body}`);
      const action = params.get('Action') ?? '';
      calls.set(action, (calls.get(action) ?? 0) + 1);
      const handler = Object.hasOwn(ACTIONS, action) ? ACTIONS[action] : undefined;
      if (!handler) {
        options.log(`unknown action ${JSON.stringify(action)} in ${region}`);
        throw new Ec2ApiError('InvalidAction', `The action ${action} is not valid for this web service.`);
      }
      options.log(`${region} ${action} ${debugParams(params)}`);
      await time.answer();
      // EC2's status for a full bucket: 503, which the SDKs (and Packer's aws-sdk-go) retry with backoff.
      if (!time.admit(region, action)) throw new Ec2ApiError('RequestLimitExceeded', 'Request limit exceeded.', 503);
      injectFault(options.faults, action, region, params);
      if (isDenied(deny, `ec2:${action}`)) throw unauthorizedOperation(`ec2:${action}`, region);
      const context: ActionContext = {
        params,
        region,
        state: options.state,
        host: options.host,
        time,
        persist: options.persist,
        log: options.log,
      };
      // Permission first, then the resources, then the answer, as EC2 checks a dry run; nothing changes.
      if (params.bool('DryRun')) answerDryRun(context);
      const result = await handler(context);
      if (!READ_ONLY.test(action)) options.persist();
      send(200, 'text/xml;charset=UTF-8', responseXml(action, requestId, result));
    } catch (error) {
      if (error instanceof Ec2ApiError) {
        options.log(`error ${error.code}: ${error.message}`);
        fail(error);
        return;
      }
      options.log(`internal error: ${(error as Error).stack ?? String(error)}`);
      fail(new Ec2ApiError('InternalError', `local cloud: ${(error as Error).message}`, 500));
    }
  }

  // Packer's first request of every build is a key pair: one is ready before it asks.
  prepareRsaKey();
  const server = createServer((request, response) => void handle(request, response));
  // Packer keeps connections alive between polls; do not let idle sockets hold close() up.
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    calls,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}

function injectFault(faults: FaultRule[] | undefined, action: string, region: string, params: QueryParams): void {
  const ids = [params.get('ImageId'), params.get('SourceImageId'), params.get('SnapshotId')];
  const rule = faults?.find(
    (f) =>
      f.action === action &&
      (f.region === undefined || f.region === region) &&
      (f.resourceId === undefined || ids.includes(f.resourceId)) &&
      (f.times ?? 1) > 0,
  );
  if (!rule) return;
  if (rule.times !== undefined) rule.times -= 1;
  throw new Ec2ApiError(
    rule.code ?? 'UnauthorizedOperation',
    rule.message ?? `injected fault: ${action} fails in ${region}`,
    rule.status ?? 400,
  );
}

/** Parameter names only: values may hold key material (ImportKeyPair) or user data. */
function debugParams(params: QueryParams): string {
  return params
    .names()
    .filter((name) => name !== 'Action' && name !== 'Version')
    .join(' ');
}
