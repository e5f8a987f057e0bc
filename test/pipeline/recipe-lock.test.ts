/**
 * The per-recipe build lock: an EC2 key pair taken with CreateKeyPair (atomic per name), here
 * against the local cloud over HTTP with the real SDK. Only the clock is simulated, so waiting
 * an hour takes no time.
 */
import { DescribeKeyPairsCommand } from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ec2RecipeLocks, lockName, type RecipeLockStore } from '../../src/aws/recipe-lock.js';
import {
  acquireRecipeLock,
  heartbeatInterval,
  RecipeLockedError,
  type LockClock,
} from '../../src/pipeline/recipe-lock.js';
import { startTestCloud, type TestCloud } from '../local-cloud/memory-host.js';
import { hostOfProcesses, processStartTime } from '../../src/files/process-identity.js';
import { execa } from 'execa';

let t: TestCloud;
let store: RecipeLockStore;
beforeAll(async () => {
  t = await startTestCloud();
  store = ec2RecipeLocks((region) => t.ec2(region));
});
afterAll(() => t.close());

/** A clock that moves only when someone sleeps. */
function fakeClock(start = Date.now()): LockClock & { slept: number[] } {
  let now = start;
  const slept: number[] = [];
  return {
    slept,
    now: () => now,
    sleep: async (ms) => {
      slept.push(ms);
      now += ms;
    },
  };
}

const policy = (holder: string, waitMs = 0) => ({ holder, waitMs, staleAfterMs: 6 * 3_600_000 });
const request = (recipe: string) => ({ recipe, region: 'us-east-1', fingerprint: '0123456789abcdef' });

async function lockPairs(recipe: string) {
  const { KeyPairs = [] } = await t
    .ec2()
    .send(new DescribeKeyPairsCommand({ Filters: [{ Name: 'key-name', Values: [lockName(recipe)] }] }));
  return KeyPairs;
}

describe('recipe build lock', () => {
  it('is an EC2 key pair named for the recipe, tagged with its holder, gone after release', async () => {
    const release = await acquireRecipeLock(store, request('web'), policy('https://jenkins.example/job/a/1/'));
    const [pair] = await lockPairs('web');
    expect(pair.KeyName).toBe('bake-lock-web');
    expect(pair.Tags).toEqual(
      expect.arrayContaining([
        { Key: 'bake:lock-holder', Value: 'https://jenkins.example/job/a/1/' },
        { Key: 'bake:lock', Value: 'web' },
      ]),
    );
    await release();
    expect(await lockPairs('web')).toEqual([]);
  });

  it('fails at once, naming the holder, when another bake holds it and no wait is asked', async () => {
    const release = await acquireRecipeLock(store, request('api'), policy('https://jenkins.example/job/a/1/'));
    const error = await acquireRecipeLock(store, request('api'), policy('https://jenkins.example/job/b/9/')).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(RecipeLockedError);
    expect((error as Error).message).toMatch(
      /^api is already being built by https:\/\/jenkins\.example\/job\/a\/1\/ \(since .*; lock bake-lock-api in us-east-1\); pass --lock-wait DURATION/,
    );
    await release();
  });

  it('waits with growing pauses and takes the lock once the holder releases it', async () => {
    const releaseA = await acquireRecipeLock(store, request('db'), policy('job A'));
    const clock = fakeClock();
    const notes: string[] = [];
    // Job A finishes while B sleeps for the third time.
    const sleep = clock.sleep;
    clock.sleep = async (ms) => {
      await sleep(ms);
      if (clock.slept.length === 3) await releaseA();
    };
    const releaseB = await acquireRecipeLock(store, request('db'), policy('job B', 3_600_000), {
      clock,
      note: (n) => notes.push(n),
    });
    expect(clock.slept).toEqual([1_000, 2_000, 4_000]);
    expect(notes).toEqual([expect.stringMatching(/^db is already being built by job A .*: waiting up to 1h$/)]);
    expect((await lockPairs('db'))[0].Tags).toContainEqual({ Key: 'bake:lock-holder', Value: 'job B' });
    await releaseB();
  });

  it('gives up after the wait, saying how long it waited', async () => {
    const release = await acquireRecipeLock(store, request('cache'), policy('job A'));
    const clock = fakeClock();
    const error = await acquireRecipeLock(store, request('cache'), policy('job B', 60_000), { clock }).catch(
      (e: unknown) => e,
    );
    expect((error as Error).message).toMatch(/cache is already being built by job A .*gave up after waiting 1m$/);
    expect(clock.slept.reduce((a, b) => a + b, 0)).toBe(60_000);
    await release();
  });

  it("takes over a lock not refreshed for the stale limit (its agent died), and never releases the new holder's lock by mistake", async () => {
    // The dead agent took the lock and never refreshed it.
    await store.tryAcquire('batch', 'us-east-1', 'dead agent', 'f');
    const later = fakeClock(Date.now() + 7 * 3_600_000);
    const notes: string[] = [];
    const release = await acquireRecipeLock(store, request('batch'), policy('job C'), {
      clock: later,
      note: (n) => notes.push(n),
    });
    expect(notes[0]).toMatch(
      /^batch: taking over the build lock bake-lock-batch in us-east-1: held by dead agent since \S+, no sign of life since \S+ \(over 6h\)$/,
    );
    const [pair] = await lockPairs('batch');
    expect(pair.Tags).toContainEqual({ Key: 'bake:lock-holder', Value: 'job C' });
    await release();
    expect(await lockPairs('batch')).toEqual([]);
  });

  it('stays with a holder that keeps refreshing it, however long its bake takes', async () => {
    const start = Date.now();
    let holderNow = start;
    const holderClock = { ...fakeClock(), now: () => holderNow };
    const release = await acquireRecipeLock(
      store,
      request('long'),
      { ...policy('job A'), heartbeatMs: 20 },
      { clock: holderClock },
    );
    // Seven hours into job A's bake, longer than the stale limit of 6h: its lock has been refreshed meanwhile.
    holderNow = start + 7 * 3_600_000;
    const refreshed = new Date(holderNow).toISOString();
    await vi.waitFor(
      async () =>
        expect((await lockPairs('long'))[0].Tags).toContainEqual({ Key: 'bake:lock-alive', Value: refreshed }),
      { timeout: 5_000 },
    );
    const error = await acquireRecipeLock(store, request('long'), policy('job B'), {
      clock: fakeClock(holderNow + 60_000),
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RecipeLockedError);
    await release();
    expect(await lockPairs('long')).toEqual([]);
  });

  it('says once when its lock is gone (taken over or deleted) and keeps the bake going', async () => {
    const notes: string[] = [];
    const release = await acquireRecipeLock(
      store,
      request('gone'),
      { ...policy('job A'), heartbeatMs: 20 },
      { note: (n) => notes.push(n) },
    );
    const [pair] = await lockPairs('gone');
    await store.release('us-east-1', pair.KeyPairId!);
    await vi.waitFor(
      () =>
        expect(notes[0]).toBe(
          'gone: the build lock bake-lock-gone in us-east-1 is gone (taken over by another job after refreshes failed, or deleted): another bake of gone may run at the same time',
        ),
      { timeout: 5_000 },
    );
    // Several refreshes later, still one note.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(notes).toHaveLength(1);
    await release();
  });

  it('backs off and gives up when a stale lock will not go away, instead of spinning through EC2 calls', async () => {
    // EC2 answers DeleteKeyPair with success, but the pair is still there on the next call (eventual consistency, or a bug).
    let calls = 0;
    const stuck: RecipeLockStore = {
      async tryAcquire() {
        calls += 1;
        if (calls > 1_000) throw new Error('spinning');
        const dead = new Date(Date.now() - 24 * 3_600_000);
        return {
          acquired: false,
          held: { holder: 'job that died', since: dead, aliveAt: dead, keyPairId: 'key-0dead' },
        };
      },
      heartbeat: async () => {},
      release: async () => {},
    };
    const clock = fakeClock();
    const error = await acquireRecipeLock(stuck, request('stuck'), policy('job B', 3_600_000), {
      clock,
      note: () => {},
    }).catch((e: unknown) => e);
    expect((error as Error).message).toBe(
      'the build lock bake-lock-stuck in us-east-1 left by job that died cannot be taken over (deleting it did not take effect) after 8 attempts; giving up',
    );
    expect(calls).toBe(10);
    expect(clock.slept).toEqual([250, 500, 1_000, 2_000, 4_000, 8_000, 8_000, 8_000]);
  });

  it('retries a holder that vanished between calls with growing pauses, a bounded number of times', async () => {
    let calls = 0;
    const vanishing: RecipeLockStore = {
      async tryAcquire() {
        calls += 1;
        if (calls > 1_000) throw new Error('spinning');
        return { acquired: false, held: undefined };
      },
      heartbeat: async () => {},
      release: async () => {},
    };
    const clock = fakeClock();
    await expect(acquireRecipeLock(vanishing, request('flaky'), policy('job B'), { clock })).rejects.toThrow(
      'keeps changing hands after 8 attempts; giving up',
    );
    expect(calls).toBe(9);
    expect(clock.slept.length).toBe(8);
  });

  it('refreshes every minute, or a quarter of a shorter stale limit', () => {
    expect(heartbeatInterval(policy('a'))).toBe(60_000);
    expect(heartbeatInterval({ ...policy('a'), staleAfterMs: 120_000 })).toBe(30_000);
    expect(heartbeatInterval({ ...policy('a'), staleAfterMs: 1_000 })).toBe(1_000);
  });

  it('lets exactly one of many simultaneous takers win', async () => {
    const attempts = await Promise.all(
      Array.from({ length: 8 }, (_, i) => store.tryAcquire('race', 'us-east-1', `job ${i}`, 'f')),
    );
    const winners = attempts.filter((a) => a.acquired);
    expect(winners).toHaveLength(1);
    const winner = winners[0] as { keyPairId: string };
    for (const attempt of attempts.filter((a) => !a.acquired))
      expect(attempt).toMatchObject({ acquired: false, held: { keyPairId: winner.keyPairId } });
    await store.release('us-east-1', winner.keyPairId);
  });

  it('is scoped to the bakery: two bakeries of one account bake the same recipe name at once, each sees only its own holder', async () => {
    const teamA = ec2RecipeLocks((region) => t.ec2(region), 'git.example.com/team-a/images');
    const teamB = ec2RecipeLocks((region) => t.ec2(region), 'git.example.com/team-b/images');
    const scoped = (bakery: string) => ({ ...request('shared'), bakery });
    const releaseA = await acquireRecipeLock(
      teamA,
      scoped('git.example.com/team-a/images'),
      policy('https://jenkins.example/job/team-a/1/'),
    );
    // Before: both were bake-lock-shared, and team B waited on team A's build and saw its BUILD_URL.
    const releaseB = await acquireRecipeLock(
      teamB,
      scoped('git.example.com/team-b/images'),
      policy('https://jenkins.example/job/team-b/7/'),
    );
    const { KeyPairs = [] } = await t
      .ec2('us-east-1')
      .send(new DescribeKeyPairsCommand({ Filters: [{ Name: 'tag:bake:lock', Values: ['shared'] }] }));
    expect(KeyPairs.map((pair) => pair.KeyName).sort()).toEqual([
      'bake-lock-shared@git.example.com/team-a/images',
      'bake-lock-shared@git.example.com/team-b/images',
    ]);
    // A second job of team A still waits for team A's own build.
    await expect(
      acquireRecipeLock(
        teamA,
        scoped('git.example.com/team-a/images'),
        policy('https://jenkins.example/job/team-a/2/'),
      ),
    ).rejects.toThrow(
      /shared is already being built by https:\/\/jenkins\.example\/job\/team-a\/1\/ .*lock bake-lock-shared@git\.example\.com\/team-a\/images in us-east-1/,
    );
    await releaseA();
    await releaseB();
  });

  describe('held by a process on this host', () => {
    /** A real process, and its identity as a lock records it. */
    const holderProcess = async () => {
      const child = execa('sleep', ['120'], { reject: false });
      await new Promise((resolve) => setTimeout(resolve, 50));
      return { child, identity: `${hostOfProcesses()}/${child.pid}:${processStartTime(child.pid!)}` };
    };

    it('records the holder process on the lock', async () => {
      const release = await acquireRecipeLock(store, request('proc'), policy('me'));
      const [pair] = await lockPairs('proc');
      const recorded = pair.Tags?.find((tag) => tag.Key === 'bake:lock-process')?.Value;
      expect(recorded).toBe(`${hostOfProcesses()}/${process.pid}:${processStartTime(process.pid)}`);
      await release();
    });

    it('takes over at once a lock whose holder was killed (kill -9), without waiting for the stale limit', async () => {
      const holder = await holderProcess();
      await acquireRecipeLock(store, request('killed'), policy('root@agent (pid 1)'), { process: holder.identity });
      holder.child.kill('SIGKILL');
      await holder.child;
      const clock = fakeClock();
      const notes: string[] = [];
      const release = await acquireRecipeLock(store, request('killed'), policy('second'), {
        clock,
        note: (line) => notes.push(line),
      });
      expect(clock.slept).toEqual([]);
      expect(notes.join('\n')).toContain(`whose process (pid ${holder.child.pid}) on this host is gone`);
      const pairs = await lockPairs('killed');
      expect(pairs).toHaveLength(1);
      expect(pairs[0].Tags).toContainEqual({ Key: 'bake:lock-holder', Value: 'second' });
      await release();
    });

    it('leaves a lock whose holder still runs, or ran on another host (another boot or pid namespace)', async () => {
      const holder = await holderProcess();
      const releaseLive = await acquireRecipeLock(store, request('alive'), policy('alive-holder'), {
        process: holder.identity,
      });
      await expect(
        acquireRecipeLock(store, request('alive'), policy('second'), { clock: fakeClock() }),
      ).rejects.toThrow(RecipeLockedError);
      holder.child.kill('SIGKILL');
      await holder.child;
      await releaseLive();
      const elsewhere = holder.identity.replace(/^[^/]+/, '00000000-0000-0000-0000-000000000000');
      const releaseOther = await acquireRecipeLock(store, request('elsewhere'), policy('other-host'), {
        process: elsewhere,
      });
      await expect(
        acquireRecipeLock(store, request('elsewhere'), policy('second'), { clock: fakeClock() }),
      ).rejects.toThrow(/already being built by other-host/);
      await releaseOther();
    });
  });
});
