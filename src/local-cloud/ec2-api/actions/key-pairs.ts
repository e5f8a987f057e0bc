import {
  createHash,
  createPublicKey,
  generateKeyPair,
  generateKeyPairSync,
  randomBytes,
  type KeyObject,
} from 'node:crypto';
import { promisify } from 'node:util';
import { Ec2ApiError } from '../api-error.js';
import type { ActionContext } from '../action.js';
import { matchesFilters } from '../filters.js';
import { newId } from '../ids.js';
import { setTags, tagsOf, type KeyPairState } from '../state.js';
import { checkTag, now, tagSetXml, type Handlers } from './shared.js';

function sshString(data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  return Buffer.concat([length, data]);
}

/** An unsigned big-endian integer as an SSH mpint: a leading zero byte when the high bit is set. */
function sshMpint(data: Buffer): Buffer {
  let bytes = data;
  while (bytes.length > 1 && bytes[0] === 0 && (bytes[1] & 0x80) === 0) bytes = bytes.subarray(1);
  if (bytes[0] & 0x80) bytes = Buffer.concat([Buffer.from([0]), bytes]);
  return sshString(bytes);
}

/** `ssh-rsa AAAA…` or `ssh-ed25519 AAAA…`, as sshd's authorized_keys wants it. */
export function openSshPublicKey(key: KeyObject): string {
  return `${key.asymmetricKeyType === 'ed25519' ? 'ssh-ed25519' : 'ssh-rsa'} ${publicBlob(key).toString('base64')}`;
}

function publicBlob(key: KeyObject): Buffer {
  const jwk = key.export({ format: 'jwk' });
  if (jwk.kty === 'OKP' && jwk.crv === 'Ed25519' && jwk.x) {
    return Buffer.concat([sshString(Buffer.from('ssh-ed25519')), sshString(Buffer.from(jwk.x, 'base64url'))]);
  }
  if (jwk.kty !== 'RSA' || !jwk.n || !jwk.e) throw new Error('only RSA and Ed25519 keys are supported');
  return Buffer.concat([
    sshString(Buffer.from('ssh-rsa')),
    sshMpint(Buffer.from(jwk.e, 'base64url')),
    sshMpint(Buffer.from(jwk.n, 'base64url')),
  ]);
}

/**
 * An Ed25519 private key in OpenSSH's own format (what EC2 returns for ed25519 key pairs);
 * node can only write PKCS#8, which OpenSSH and Go's ssh package do not take for ed25519.
 */
export function openSshEd25519PrivateKey(privateKey: KeyObject): string {
  const jwk = privateKey.export({ format: 'jwk' });
  if (!jwk.d || !jwk.x) throw new Error('not an Ed25519 private key');
  const seed = Buffer.from(jwk.d, 'base64url');
  const pub = Buffer.from(jwk.x, 'base64url');
  const blob = Buffer.concat([sshString(Buffer.from('ssh-ed25519')), sshString(pub)]);
  const check = randomBytes(4);
  let secret = Buffer.concat([
    check,
    check,
    sshString(Buffer.from('ssh-ed25519')),
    sshString(pub),
    sshString(Buffer.concat([seed, pub])),
    sshString(Buffer.alloc(0)),
  ]);
  const padding = Buffer.from(Array.from({ length: (8 - (secret.length % 8)) % 8 }, (_, i) => i + 1));
  secret = Buffer.concat([secret, padding]);
  const count = Buffer.alloc(4);
  count.writeUInt32BE(1);
  const body = Buffer.concat([
    Buffer.from('openssh-key-v1\0'),
    sshString(Buffer.from('none')),
    sshString(Buffer.from('none')),
    sshString(Buffer.alloc(0)),
    count,
    sshString(blob),
    sshString(secret),
  ]);
  const lines = body.toString('base64').match(/.{1,70}/g) ?? [];
  return `-----BEGIN OPENSSH PRIVATE KEY-----\n${lines.join('\n')}\n-----END OPENSSH PRIVATE KEY-----\n`;
}

function fingerprintOf(publicKeyLine: string): string {
  const blob = Buffer.from(publicKeyLine.split(/\s+/)[1] ?? '', 'base64');
  return createHash('md5')
    .update(blob)
    .digest('hex')
    .replace(/(..)(?!$)/g, '$1:');
}

function checkName(context: ActionContext, keyName: string): void {
  if (keyName.length === 0 || keyName.length > 255)
    throw new Ec2ApiError('InvalidParameterValue', 'Key name must be 1 to 255 characters');
  if (context.state.keyPairs.some((k) => k.keyName === keyName && k.region === context.region)) {
    throw new Ec2ApiError('InvalidKeyPair.Duplicate', `The keypair '${keyName}' already exists.`);
  }
}

function store(context: ActionContext, keyName: string, publicKey: string): KeyPairState {
  const keyPair: KeyPairState = {
    keyPairId: newId('key'),
    keyName,
    region: context.region,
    fingerprint: fingerprintOf(publicKey),
    publicKey,
    createTime: now(),
  };
  const tags = context.params.tagSpecifications('key-pair');
  for (const [k, v] of tags) checkTag(k, v);
  context.state.keyPairs.push(keyPair);
  if (tags.length) setTags(context.state, keyPair.keyPairId, tags);
  return keyPair;
}

const generateRsaKeyPair = promisify(generateKeyPair);

/** PKCS#1 PEM ("BEGIN RSA PRIVATE KEY") is what EC2 hands out and what Packer's Go ssh client parses. */
function newRsaKey(): Promise<{ publicKey: string; privateKey: string }> {
  // Generated off the event loop: an RSA key takes long enough to stall every other request.
  return generateRsaKeyPair('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
  });
}

/**
 * One RSA key generated ahead, in this process's memory only, and handed out once: every Packer
 * build starts by asking for a key pair, and a 2048-bit key takes a good part of a second on a
 * busy machine, on the build's critical path. Taking it starts the next one.
 */
let spareRsaKey: ReturnType<typeof newRsaKey> | undefined;

export function prepareRsaKey(): void {
  if (spareRsaKey) return;
  const next = newRsaKey();
  spareRsaKey = next;
  next.catch(() => {
    if (spareRsaKey === next) spareRsaKey = undefined;
  });
}

function takeRsaKey(): ReturnType<typeof newRsaKey> {
  const key = spareRsaKey ?? newRsaKey();
  spareRsaKey = undefined;
  prepareRsaKey();
  return key;
}

async function createKeyPair(context: ActionContext) {
  const keyName = context.params.require('KeyName');
  checkName(context, keyName);
  const type = context.params.get('KeyType') || 'rsa';
  let keyMaterial: string;
  let publicKey: string;
  if (type === 'rsa') {
    const pair = await takeRsaKey();
    // Another request may have taken the name meanwhile.
    checkName(context, keyName);
    keyMaterial = pair.privateKey;
    publicKey = openSshPublicKey(createPublicKey(pair.publicKey));
  } else if (type === 'ed25519') {
    const pair = generateKeyPairSync('ed25519');
    keyMaterial = openSshEd25519PrivateKey(pair.privateKey);
    publicKey = openSshPublicKey(pair.publicKey);
  } else {
    throw new Ec2ApiError(
      'InvalidParameterValue',
      `Value (${type}) for parameter KeyType is invalid. Expected rsa or ed25519.`,
    );
  }
  const keyPair = store(context, keyName, publicKey);
  context.log(`CreateKeyPair ${keyName} (${keyPair.keyPairId})`);
  return {
    keyName,
    keyFingerprint: keyPair.fingerprint,
    keyMaterial,
    keyPairId: keyPair.keyPairId,
    tagSet: tagSetXml(context.state, keyPair.keyPairId),
  };
}

function importKeyPair(context: ActionContext) {
  const keyName = context.params.require('KeyName');
  checkName(context, keyName);
  // The SDKs base64-encode the blob they are given: the OpenSSH public key line.
  const line = Buffer.from(context.params.require('PublicKeyMaterial'), 'base64').toString('utf8').trim();
  const [type, body] = line.split(/\s+/);
  if (!type || !body || !['ssh-rsa', 'ssh-ed25519'].includes(type)) {
    throw new Ec2ApiError('InvalidKey.Format', 'Key is not in valid OpenSSH public key format');
  }
  const keyPair = store(context, keyName, `${type} ${body}`);
  return {
    keyName,
    keyFingerprint: keyPair.fingerprint,
    keyPairId: keyPair.keyPairId,
    tagSet: tagSetXml(context.state, keyPair.keyPairId),
  };
}

function findKeyPair(context: ActionContext): KeyPairState | undefined {
  const name = context.params.get('KeyName');
  const id = context.params.get('KeyPairId');
  return context.state.keyPairs.find(
    (k) => k.region === context.region && (name ? k.keyName === name : k.keyPairId === id),
  );
}

function deleteKeyPair(context: ActionContext) {
  if (!context.params.get('KeyName') && !context.params.get('KeyPairId')) {
    throw new Ec2ApiError('MissingParameter', 'The request must contain the parameter KeyName or KeyPairId');
  }
  // EC2 answers true for a key pair that does not exist; Packer's cleanup relies on that.
  const keyPair = findKeyPair(context);
  if (keyPair) {
    context.state.keyPairs = context.state.keyPairs.filter((k) => k !== keyPair);
    delete context.state.tags[keyPair.keyPairId];
  }
  return { return: true, keyPairId: keyPair?.keyPairId };
}

function describeKeyPairs(context: ActionContext) {
  const { params, state, region } = context;
  const names = params.list('KeyName');
  const ids = params.list('KeyPairId');
  const filters = params.filters();
  for (const name of names) {
    if (!state.keyPairs.some((k) => k.region === region && k.keyName === name))
      throw new Ec2ApiError('InvalidKeyPair.NotFound', `The key pair '${name}' does not exist`);
  }
  for (const id of ids) {
    if (!state.keyPairs.some((k) => k.region === region && k.keyPairId === id))
      throw new Ec2ApiError('InvalidKeyPair.NotFound', `The key pair '${id}' does not exist`);
  }
  const includePublicKey = params.bool('IncludePublicKey') ?? false;
  const keys = state.keyPairs.filter(
    (k) =>
      k.region === region &&
      (names.length === 0 || names.includes(k.keyName)) &&
      (ids.length === 0 || ids.includes(k.keyPairId)) &&
      matchesFilters(
        filters,
        (name) =>
          name === 'key-name'
            ? [k.keyName]
            : name === 'key-pair-id'
              ? [k.keyPairId]
              : name === 'fingerprint'
                ? [k.fingerprint]
                : undefined,
        tagsOf(state, k.keyPairId),
      ),
  );
  return {
    keySet: keys.map((k) => ({
      keyPairId: k.keyPairId,
      keyName: k.keyName,
      keyFingerprint: k.fingerprint,
      keyType: k.publicKey.startsWith('ssh-ed25519') ? 'ed25519' : 'rsa',
      createTime: k.createTime,
      publicKey: includePublicKey ? k.publicKey : undefined,
      tagSet: tagSetXml(state, k.keyPairId),
    })),
  };
}

export const keyPairActions: Handlers = {
  CreateKeyPair: createKeyPair,
  ImportKeyPair: importKeyPair,
  DeleteKeyPair: deleteKeyPair,
  DescribeKeyPairs: describeKeyPairs,
};
