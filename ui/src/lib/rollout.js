// What a model's runs say about its replicas and history. Pure (unit-tested).

const version = (specs, rev) => specs?.[rev]?.spec?.version ?? null;

// The runs that have or are getting replicas, newest first, and whether a rollout is on:
// a run starting while another serves, or any run still creating its replicas.
export function rolloutState(runs, specs, detail) {
    const live = runs.filter((r) => ['pending', 'queued', 'creating', 'starting', 'ready'].includes(r.status));
    const replicaRuns = live
        .map((r) => ({ ...r, containers: r.containers ?? [], version: version(specs, r.revision) }))
        .sort((a, b) => (a.createdAt < b.createdAt ? 1 : -1));
    const rolling = replicaRuns.some((r) => r.status !== 'ready');
    const want = Math.max(1, detail?.spec?.spec?.replicas ?? 1, ...replicaRuns.map((r) => r.containers.length));
    // A rollout creates new replica k (the run's containers grow at its creation), waits for its
    // health check, puts it in rotation, and only then drains one old replica: so the new run's
    // replicas before its last are healthy, and its last is too once as many old ones are gone.
    const retired = replicaRuns.filter((r) => r.status === 'ready').reduce((n, r) => n + Math.max(0, want - r.containers.length), 0);
    for (const r of replicaRuns) {
        const k = r.containers.length;
        r.healthy = r.status === 'ready' ? k : Math.max(0, k - 1) + (k > 0 && retired >= k ? 1 : 0);
        r.slots = Array.from({ length: want }, (_, i) => ({
            container: r.containers[i] ?? null,
            state: !r.containers[i] ? 'none' : i < r.healthy ? 'in rotation' : 'waiting for its health check',
        }));
    }
    const servingVersion = detail?.status === 'ready' ? version(specs, detail.revision) : null;
    return { replicaRuns, rolling, want, servingVersion };
}

// One row per revision, newest first: its version, its runs (newest first), and how its last
// run ended. `current` is the spec's revision.
export function historyRows(runs, specs, current) {
    const by = new Map();
    for (const r of runs) {
        if (!by.has(r.revision)) by.set(r.revision, []);
        by.get(r.revision).push(r);
    }
    const rows = [...by.entries()].map(([revision, rs]) => {
        rs.sort((a, b) => (a.createdAt < b.createdAt ? 1 : -1));
        return {
            revision, version: version(specs, revision), runs: rs, current: revision === current,
            first: rs[rs.length - 1].createdAt, last: rs[0].createdAt,
            lastStatus: rs[0].status, lastReason: rs[0].reason ?? null,
        };
    });
    return rows.sort((a, b) => (a.last < b.last ? 1 : -1));
}
