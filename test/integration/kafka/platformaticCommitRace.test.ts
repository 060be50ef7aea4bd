/**
 * The @platformatic/kafka adapter sends a commit that the broker refused for a rebalance once more after the member's
 * next join (consumer.ts, #commitAsMember). A member's generation changes at its JoinGroup response, before its
 * SyncGroup ends the rebalance: a commit made in between carries the new generation, and its refusal can be read
 * after the join. The adapter then waited for the join after that one — 30 s in a group that stays settled — and so
 * did the member's fetching, which reads its committed positions only once the commits in flight are done. Seen as
 * 21 s without a record in one of three rounds of the 2-worker benchmark.
 *
 * The test makes that order certain with the client's diagnostics channel, on the real broker: the leader's JoinGroup
 * response is held (so the follower's SyncGroup waits for it), the follower commits as it sends its SyncGroup, and the
 * commit's refusal is held until the follower has joined.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { Socket } from 'node:net';
import { describe, expect, it, onTestFinished } from 'vitest';
import { createPlatformaticClient } from '../../../src/kafka/platformaticClient.js';
import { ConsumerProbe, PortSession, SUITE_CONSUMER_TIMING } from '../../conformance/portSession.js';
import { settle, sleep, waitFor } from '../../conformance/waiting.js';
import { bootstrapServers, uniqueName } from '../../support/kafka.js';

const JOIN_GROUP = 11;
const SYNC_GROUP = 14;
const OFFSET_COMMIT = 8;

interface ApiRequest {
  readonly apiKey: number;
  readonly connection: { readonly ownerId: number; readonly socket: Socket };
}

/** Which client (clientId) owns each @platformatic/kafka instance, from the library's `instances` channel. */
function instanceNames(): Map<number, string> {
  const names = new Map<number, string>();
  const onInstance = (message: unknown) => {
    // connections and pools are announced too, numbered on their own: only clients own connections
    const { type, instance } = message as { type: string; instance: { instanceId: number; clientId: string } };
    if (type === 'consumer' || type === 'producer' || type === 'admin')
      names.set(instance.instanceId, instance.clientId);
  };
  subscribe('plt:kafka:instances', onInstance);
  onTestFinished(() => {
    unsubscribe('plt:kafka:instances', onInstance);
  });
  return names;
}

/** Calls `onRequest` as each request of any @platformatic/kafka connection is sent (its tracing channel's start). */
function onRequests(onRequest: (request: ApiRequest) => void): void {
  const name = 'tracing:plt:kafka:connections:api:start';
  const handler = (context: unknown) => onRequest(context as ApiRequest);
  subscribe(name, handler);
  onTestFinished(() => {
    unsubscribe(name, handler);
  });
}

describe('platformatic adapter: a commit refused for a rebalance, its refusal read after the join', () => {
  it('is sent again at once under the new generation, and the member fetches on', async () => {
    const names = instanceNames();
    const client = (clientId: string) => createPlatformaticClient({ brokers: bootstrapServers(), clientId });
    const session = new PortSession({ client: () => client(uniqueName('race-admin')), uniqueName });
    const topic = await session.topic('race', 3);
    const producer = await session.producer();
    await producer.send(Array.from({ length: 30 }, (_, i) => ({ topic, partition: i % 3, key: null, value: `v${i}` })));
    const groupId = uniqueName('race-group');
    /** A member of the group on its own client, named `clientId`; `started` resolves once it joined. */
    const start = (clientId: string, onAssigned?: () => void) => {
      const c = client(clientId);
      const probe = new ConsumerProbe(c.consumer({ groupId, ...SUITE_CONSUMER_TIMING }), {
        groupId,
        topics: [topic],
        fromBeginning: true,
        ...(onAssigned ? { onAssigned } : {}),
      });
      onTestFinished(() => probe.consumer.disconnect().catch(() => {}));
      return { probe, started: probe.start() };
    };

    // a: the leader (first to join); b: a follower, running
    const leaderName = uniqueName('race-leader');
    const followerName = uniqueName('race-follower');
    const a = start(leaderName);
    await a.started;
    await a.probe.waitForAssignment('the leader to join');
    let heldCommit: Socket | undefined;
    let commitMade: Promise<unknown> | undefined;
    const b = start(followerName, () => {
      // the follower joined: the held refusal is read after it
      heldCommit?.resume();
    });
    await b.started;
    await waitFor(
      () => b.probe.assignments.length === 1 && a.probe.assignments.length === 2,
      'the follower to join and the leader to rejoin',
    );

    const ownerOf = (request: ApiRequest) => names.get(request.connection.ownerId) ?? '';
    let heldJoin: Socket | undefined;
    let armed = true;
    onRequests((request) => {
      if (!armed) return;
      const owner = ownerOf(request);
      console.log('REQ', request.apiKey, owner, request.connection.ownerId, JSON.stringify([...names]));
      if (request.apiKey === JOIN_GROUP && owner.startsWith(leaderName) && heldJoin === undefined) {
        // the leader's JoinGroup response waits: nobody can sync until the leader has
        heldJoin = request.connection.socket;
        heldJoin.pause();
      } else if (request.apiKey === SYNC_GROUP && owner.startsWith(followerName) && commitMade === undefined) {
        // the follower has its new generation: it commits now, while the group completes its rebalance
        commitMade = settle(b.probe.consumer.commit([{ topic, partition: 1, offset: 5n }]));
      } else if (request.apiKey === OFFSET_COMMIT && owner.startsWith(followerName) && heldCommit === undefined) {
        heldCommit = request.connection.socket;
        heldCommit.pause();
      }
    });

    // c joins: a and b rejoin; a's JoinGroup response is held
    const c = start(uniqueName('race-third'));
    await waitFor(() => heldCommit !== undefined, "the follower's commit during its SyncGroup");
    // the broker has refused the commit (the group is completing its rebalance); let the leader go on
    await sleep(500);
    heldJoin?.resume();
    await c.started;
    await waitFor(() => b.probe.assignments.length === 2, 'the follower to join again');
    armed = false;

    // the refusal is read now, after the join: the commit must be sent again at once, not after the next join
    const outcome = await Promise.race([commitMade, sleep(10_000).then(() => 'still waiting after 10 s')]);
    expect(outcome).toEqual({ ok: true, value: undefined });
    const committed = await (await session.admin()).committedOffsets(groupId, topic);
    expect(committed.get(1)).toBe(5n);
    // and the follower fetches its partition (its fetching waited for the commits in flight)
    const mine = b.probe.assignment?.[0];
    expect(mine).toBeDefined();
    await waitFor(
      () => b.probe.batchesOf(topic, mine?.partition ?? -1, b.probe.assignments.at(-1)?.seq ?? 0).length > 0,
      "the follower's partition to be fetched",
      { timeoutMs: 10_000 },
    );
  });
});
