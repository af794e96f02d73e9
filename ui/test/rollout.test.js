import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rolloutState, historyRows } from '../src/lib/rollout.js';

const specs = { 'sha256:1': { spec: { version: 'v1', replicas: 2 } }, 'sha256:2': { spec: { version: 'v2', replicas: 2 } } };
const v1 = { id: 'r-1', revision: 'sha256:1', status: 'ready', createdAt: '2026-01-01T00:00:00Z', containers: ['c1', 'c2'] };
const v2 = { id: 'r-2', revision: 'sha256:2', status: 'starting', createdAt: '2026-01-01T01:00:00Z', containers: ['c3'] };

test('a rollout in progress: both runs with their replicas, newest first', () => {
    const st = rolloutState([v2, { ...v1, containers: ['c2'] }], specs, { status: 'ready', revision: 'sha256:1', spec: specs['sha256:1'] });
    assert.equal(st.rolling, true);
    assert.equal(st.want, 2);
    assert.deepEqual(st.replicaRuns.map((r) => [r.id, r.version, r.containers.length]), [['r-2', 'v2', 1], ['r-1', 'v1', 1]]);
    assert.equal(st.servingVersion, 'v1');
});

test('after the rollout: one run, the new version serves, the old one is history', () => {
    const done = [{ ...v2, status: 'ready', containers: ['c3', 'c4'] }, { ...v1, status: 'stopped', reason: 'replaced by r-2', containers: [] }];
    const st = rolloutState(done, specs, { status: 'ready', revision: 'sha256:2', spec: specs['sha256:2'] });
    assert.equal(st.rolling, false);
    assert.deepEqual(st.replicaRuns.map((r) => r.id), ['r-2']);
    assert.equal(st.servingVersion, 'v2');
    const h = historyRows(done, specs, 'sha256:2');
    assert.deepEqual(h.map((r) => [r.version, r.current, r.lastStatus, r.lastReason]), [['v2', true, 'ready', null], ['v1', false, 'stopped', 'replaced by r-2']]);
});

test('a revision run twice is one history row with both runs; unknown versions are null', () => {
    const runs = [v1, { ...v1, id: 'r-3', createdAt: '2026-01-02T00:00:00Z', status: 'ready' }, { ...v2, revision: 'sha256:9', status: 'failed' }];
    const h = historyRows(runs, specs, 'sha256:1');
    assert.deepEqual(h.map((r) => [r.revision, r.runs.map((x) => x.id), r.version]), [['sha256:1', ['r-3', 'r-1'], 'v1'], ['sha256:9', ['r-2'], null]]);
    assert.equal(h[0].first, '2026-01-01T00:00:00Z');
});

test('which replicas are in rotation during a rollout', () => {
    const d = { status: 'ready', revision: 'sha256:1', spec: specs['sha256:1'] };
    // v2's first replica is created, not yet healthy; v1 has both.
    let st = rolloutState([v2, v1], specs, d);
    assert.deepEqual(st.replicaRuns[0].slots.map((s) => s.state), ['waiting for its health check', 'none']);
    assert.deepEqual(st.replicaRuns[1].slots.map((s) => s.state), ['in rotation', 'in rotation']);
    // It passed, one v1 replica went: v2's first is in rotation.
    st = rolloutState([v2, { ...v1, containers: ['c2'] }], specs, d);
    assert.equal(st.replicaRuns[0].healthy, 1);
    // The second v2 replica is created: the first stays in rotation, the second waits.
    st = rolloutState([{ ...v2, containers: ['c3', 'c4'] }, { ...v1, containers: ['c2'] }], specs, d);
    assert.deepEqual(st.replicaRuns[0].slots.map((s) => s.state), ['in rotation', 'waiting for its health check']);
});
