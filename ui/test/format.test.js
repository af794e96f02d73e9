import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as F from '../src/lib/format.js';

test('bytes', () => {
    assert.equal(F.formatBytes(0), '0 B');
    assert.equal(F.formatBytes(1023), '1023 B');
    assert.equal(F.formatBytes(1536), '1.5 KiB');
    assert.equal(F.formatBytes(4 * 1024 ** 3), '4 GiB');
    assert.equal(F.formatBytes(20 * 1024 * 1024), '20 MiB');
    assert.equal(F.formatBytes(undefined), '—');
    assert.equal(F.formatBytes(-1), '—');
});

test('durations', () => {
    assert.equal(F.formatDuration(42), '42s');
    assert.equal(F.formatDuration(185), '3m 05s');
    assert.equal(F.formatDuration(3720), '1h 02m');
    assert.equal(F.formatDuration(90000), '1d 01h');
    assert.equal(F.formatDuration(null), null);
    assert.equal(F.durationSeconds('2h'), 7200);
    assert.equal(F.durationSeconds(30), 30);
    assert.equal(F.durationSeconds('90'), 90);
    assert.equal(F.durationSeconds('soon'), null);
    const now = Date.parse('2026-01-01T00:10:00Z');
    assert.equal(F.runDuration({ createdAt: '2026-01-01T00:00:00Z', startedAt: '2026-01-01T00:00:05Z', finishedAt: '2026-01-01T00:01:05Z' }, now), '1m 00s');
    assert.equal(F.runDuration({ createdAt: '2026-01-01T00:09:00Z', startedAt: null, finishedAt: null }, now), '1m 00s');
});

test('relative times and digests', () => {
    const now = Date.parse('2026-01-01T12:00:00Z');
    assert.equal(F.formatAgo('2026-01-01T11:58:00Z', now), '2 min ago');
    assert.equal(F.formatAgo('2026-01-01T14:00:00Z', now), 'in 2 h');
    assert.equal(F.formatAgo('2026-01-01T12:00:01Z', now), 'just now');
    assert.equal(F.formatAgo(null, now), '—');
    assert.equal(F.shortDigest('sha256:0123456789abcdef'), '0123456789ab');
    assert.equal(F.shortDigest(null), '—');
});

test('idle time left from the run\'s last activity and the spec\'s timeout', () => {
    const now = Date.parse('2026-01-01T12:00:00Z');
    const spec = { spec: { idleTimeout: 3600 } };
    const run = { status: 'ready', lastActivity: '2026-01-01T11:45:00Z' };
    assert.deepEqual(F.idleLeft(run, spec, now), { timeout: 3600, left: 2700 });
    assert.deepEqual(F.idleLeft({ ...run, lastActivity: '2026-01-01T10:00:00Z' }, spec, now), { timeout: 3600, left: 0 });
    assert.deepEqual(F.idleLeft({ status: 'ready' }, spec, now), { timeout: 3600, left: null });
    assert.deepEqual(F.idleLeft({ ...run, status: 'stopped' }, spec, now), { timeout: 3600, left: null });
    assert.deepEqual(F.idleLeft(run, { spec: {} }, now), { timeout: null, left: null });
    assert.deepEqual(F.idleLeft(run, { spec: { idleTimeout: '1h' } }, now), { timeout: 3600, left: 2700 });
    // Woken: ready after Jupyter's last activity (its start): counted from the ready time.
    assert.deepEqual(F.idleLeft({ ...run, readyAt: '2026-01-01T11:55:00Z' }, spec, now), { timeout: 3600, left: 3300 });
    assert.deepEqual(F.idleLeft({ ...run, readyAt: '2026-01-01T11:00:00Z' }, spec, now), { timeout: 3600, left: 2700 });
});

test('resources', () => {
    assert.equal(F.formatResources({ cpus: 1.5, memory: '2Gi' }), '1.5 CPUs, 2Gi memory');
    assert.equal(F.formatResources({ cpus: 1, gpus: 1 }), '1 CPU, 1 GPU');
    assert.equal(F.formatResources({ cpus: 0.25, memory: 33554432, gpus: 0 }), '0.25 CPUs, 32 MiB memory');
    assert.equal(F.formatResources(null), 'engine defaults');
});
