/**
 * A lock every Jenkins agent can see without shared disk: an EC2 key pair named
 * `bake-lock-<recipe>` in the recipe's build region. CreateKeyPair is atomic per name and region
 * (the second caller gets InvalidKeyPair.Duplicate), so it works as a compare-and-set; the key
 * pair's tags say who holds it and when it last showed it is alive (a tag its holder refreshes
 * while it bakes; EC2's CreateTime before the first refresh). The private key EC2 returns is
 * dropped at once: nothing ever logs in with it.
 */
import {
  CreateKeyPairCommand,
  CreateTagsCommand,
  DeleteKeyPairCommand,
  DescribeKeyPairsCommand,
  type EC2Client,
} from '@aws-sdk/client-ec2';
import {
  BAKERY_TAG,
  FINGERPRINT_TAG,
  LOCK_ALIVE_TAG,
  LOCK_HOLDER_TAG,
  LOCK_PROCESS_TAG,
  LOCK_TAG,
  fitTagValue,
} from '../tags/tag-contract.js';
import { cloudError } from './image-catalog.js';

export interface LockHolder {
  /** Who holds it, for people: BUILD_URL, or user@host and pid. */
  holder: string;
  /** When it was taken (EC2's CreateTime). */
  since: Date;
  /** When the holder last said it is alive (its heartbeat), or `since`. */
  aliveAt: Date;
  keyPairId: string;
  /** The holder's process (src/files/process-identity.ts), when it recorded one. */
  process?: string;
}

export type LockAttempt = { acquired: true; keyPairId: string } | { acquired: false; held: LockHolder | undefined };

export interface RecipeLockStore {
  /** Takes the lock if nobody holds it; otherwise says who does (undefined: it vanished meanwhile, try again). */
  tryAcquire(
    recipe: string,
    region: string,
    holder: string,
    fingerprint: string,
    process?: string,
  ): Promise<LockAttempt>;
  /** The holder is still baking: the lock's last sign of life becomes `at`. */
  heartbeat(region: string, keyPairId: string, at: Date): Promise<void>;
  /** Removes exactly this lock (by id, so a lock taken over by someone else is never removed by mistake); EC2 answers a lock gone already with success. */
  release(region: string, keyPairId: string): Promise<void>;
}

/**
 * `bake-lock-<recipe>@<bakery>`: one lock per recipe of each bakery, so two bakeries of one
 * account never wait on each other's builds (a bakery name holds no `@`, so names never collide).
 * Without a bakery (older callers) the name is the one bake used before, `bake-lock-<recipe>`.
 */
export function lockName(recipe: string, bakery?: string): string {
  return bakery ? `bake-lock-${recipe}@${bakery}` : `bake-lock-${recipe}`;
}

const isDuplicate = (error: unknown) =>
  (error as { name?: string; Code?: string })?.name === 'InvalidKeyPair.Duplicate' ||
  (error as { Code?: string })?.Code === 'InvalidKeyPair.Duplicate';
const isNotFound = (error: unknown) =>
  /InvalidKeyPair\.NotFound/.test(`${(error as { name?: string })?.name} ${(error as { Code?: string })?.Code}`);

/** `bakery`: the lock key pair is tagged bake:bakery like everything else a bakery creates. */
export function ec2RecipeLocks(clients: (region: string) => EC2Client, bakery?: string): RecipeLockStore {
  return {
    async tryAcquire(recipe, region, holder, fingerprint, process) {
      const ec2 = clients(region);
      const KeyName = lockName(recipe, bakery);
      try {
        const created = await ec2.send(
          new CreateKeyPairCommand({
            KeyName,
            KeyType: 'ed25519',
            TagSpecifications: [
              {
                ResourceType: 'key-pair',
                Tags: [
                  { Key: LOCK_TAG, Value: recipe },
                  { Key: LOCK_HOLDER_TAG, Value: fitTagValue(holder) },
                  { Key: FINGERPRINT_TAG, Value: fingerprint },
                  ...(bakery ? [{ Key: BAKERY_TAG, Value: bakery }] : []),
                  ...(process ? [{ Key: LOCK_PROCESS_TAG, Value: process }] : []),
                ],
              },
            ],
          }),
        );
        return { acquired: true, keyPairId: created.KeyPairId ?? '' };
      } catch (error) {
        if (!isDuplicate(error)) throw cloudError(error, `taking the build lock ${KeyName} in ${region}`);
      }
      try {
        const { KeyPairs = [] } = await ec2.send(new DescribeKeyPairsCommand({ KeyNames: [KeyName] }));
        const pair = KeyPairs[0];
        if (!pair) return { acquired: false, held: undefined };
        const tags = Object.fromEntries((pair.Tags ?? []).map((t) => [t.Key ?? '', t.Value ?? '']));
        const since = pair.CreateTime ?? new Date(0);
        const beat = Date.parse(tags[LOCK_ALIVE_TAG] ?? '');
        return {
          acquired: false,
          held: {
            holder: tags[LOCK_HOLDER_TAG] || 'another bake (no holder tag)',
            since,
            aliveAt: Number.isNaN(beat) || beat < since.getTime() ? since : new Date(beat),
            keyPairId: pair.KeyPairId ?? '',
            process: tags[LOCK_PROCESS_TAG] || undefined,
          },
        };
      } catch (error) {
        if (isNotFound(error)) return { acquired: false, held: undefined };
        throw cloudError(error, `reading the build lock ${KeyName} in ${region}`);
      }
    },
    async heartbeat(region, keyPairId, at) {
      try {
        await clients(region).send(
          new CreateTagsCommand({ Resources: [keyPairId], Tags: [{ Key: LOCK_ALIVE_TAG, Value: at.toISOString() }] }),
        );
      } catch (error) {
        throw cloudError(error, `refreshing the build lock ${keyPairId} in ${region}`);
      }
    },
    async release(region, keyPairId) {
      try {
        await clients(region).send(new DeleteKeyPairCommand({ KeyPairId: keyPairId }));
      } catch (error) {
        throw cloudError(error, `releasing the build lock ${keyPairId} in ${region}`);
      }
    },
  };
}
