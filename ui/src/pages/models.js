import { useEffect, useRef, useState } from 'preact/hooks';
import { api, enc, revisionSpec } from '../api.js';
import { Link, Status, useAsync, useRunEvents, ErrorBox, Empty, ConfirmButton } from '../ui.js';
import { formatTime, shortDigest, isFinal } from '../lib/format.js';
import { rolloutState, historyRows } from '../lib/rollout.js';

export function Models() {
    const q = useAsync(async () => {
        const { specs } = await api('GET', '/v1/specs');
        return Promise.all(specs.filter((s) => s.kind === 'Model').map((s) => api('GET', `/v1/specs/${enc(s.name)}`)));
    }, []);
    useRunEvents((b) => b.some((r) => r.kind === 'Model') && q.reload(), [q.reload]);
    return (
        <section>
            <h1 tabIndex={-1}>Models</h1>
            <ErrorBox error={q.error} what="Could not list the models" />
            {q.loading && !q.data && <p>Loading…</p>}
            {q.data?.length === 0 && <Empty>No models are served. <Link href="/ui/apply">Apply a Model spec</Link> (examples/model.yaml) to serve one behind the gateway.</Empty>}
            {q.data?.length > 0 && (
                <table>
                    <thead><tr><th scope="col">Model</th><th scope="col">Status</th><th scope="col">Version</th><th scope="col">Replicas</th><th scope="col">Endpoint</th><th scope="col">Owner</th></tr></thead>
                    <tbody>{q.data.map((m) => (
                        <tr key={m.name} data-model={m.name}>
                            <td><Link href={`/ui/models/${m.name}`}>{m.name}</Link></td>
                            <td><Status status={m.status} />{m.degraded ? <span class="error-text"> degraded: {m.degraded}</span> : null}</td>
                            <td>{m.spec?.spec?.version ?? '—'}</td>
                            <td>{m.run?.containers?.length ?? 0} of {m.spec?.spec?.replicas ?? '?'}</td>
                            <td>{m.run?.url ? <code>{m.run.url}</code> : '—'}</td>
                            <td>{m.owner}</td>
                        </tr>
                    ))}</tbody>
                </table>
            )}
        </section>
    );
}

async function loadModel(name) {
    const detail = await api('GET', `/v1/specs/${enc(name)}`);
    const { runs } = await api('GET', `/v1/runs?name=${enc(name)}&kind=Model&limit=200`);
    // The live runs in full (containers), the others as listed.
    const full = await Promise.all(runs.map((r) => (isFinal(r.status) ? r : api('GET', `/v1/runs/${enc(r.id)}`))));
    const revs = [...new Set(full.map((r) => r.revision))];
    const specs = {};
    await Promise.all(revs.map(async (rev) => { specs[rev] = await revisionSpec(name, rev, detail).catch(() => null); }));
    if (detail.spec) specs[detail.revision] = detail.spec;
    return { detail, runs: full, specs };
}

function Timeline({ entries }) {
    if (!entries.length) return null;
    return (
        <ol class="timeline" aria-label="Rollout, as it happened" aria-live="polite">
            {entries.map((e) => <li key={e.key}><time>{formatTime(e.time)}</time> {e.text}</li>)}
        </ol>
    );
}

export function ModelPage({ name }) {
    const q = useAsync(() => loadModel(name), [name]);
    const [timeline, setTimeline] = useState([]);
    const prev = useRef(null);
    useRunEvents((b) => b.some((r) => r.name === name) && q.reload(), [name, q.reload], 100);
    const st = q.data ? rolloutState(q.data.runs, q.data.specs, q.data.detail) : null;
    // While a rollout goes on, the replica lists change without a status change: look every second.
    useEffect(() => {
        if (!st?.rolling) return;
        const t = setInterval(q.reload, 1000);
        return () => clearInterval(t);
    }, [st?.rolling, q.reload]);
    // What changed since the last look, as lines of the live view.
    useEffect(() => {
        if (!st) return;
        const before = prev.current;
        prev.current = st;
        if (!before) return;
        const lines = [];
        const now = new Date().toISOString();
        const label = (r) => (r.version ? `version ${r.version}` : `revision ${shortDigest(r.revision)}`);
        for (const r of st.replicaRuns) {
            const was = before.replicaRuns.find((x) => x.id === r.id);
            if (!was) {
                lines.push(`${label(r)} (${r.id}): rollout started, ${r.status}`);
                continue;
            }
            if (r.containers.length > was.containers.length) lines.push(`${label(r)}: replica ${r.containers.length} of ${st.want} started, waiting for its health check`);
            if (r.containers.length < was.containers.length) lines.push(`${label(r)}: a replica was drained and stopped (${r.containers.length} left)`);
            for (let h = was.healthy + 1; h <= r.healthy; h++) lines.push(`${label(r)}: replica ${h} of ${st.want} is healthy and in rotation`);
            if (was.status !== r.status) lines.push(`${label(r)}: ${r.status}${r.reason ? ` (${r.reason})` : ''}`);
        }
        for (const w of before.replicaRuns) {
            if (st.replicaRuns.find((x) => x.id === w.id)) continue;
            const r = q.data.runs.find((x) => x.id === w.id);
            if (w.containers.length) lines.push(`${label(w)}: ${w.containers.length === 1 ? 'its last replica was' : 'its replicas were'} drained and stopped`);
            lines.push(`${label(w)}: ${r?.status ?? 'gone'}${r?.reason ? ` (${r.reason})` : ''}`);
        }
        if (lines.length) setTimeline((t) => [...t, ...lines.map((text, i) => ({ key: `${now}-${t.length + i}`, time: now, text }))]);
    }, [q.data]);

    if (!q.data) return <section><h1 tabIndex={-1}>Model {name}</h1>{q.error ? <ErrorBox error={q.error} what="Could not read the model" /> : <p>Loading…</p>}</section>;
    const { detail, runs, specs } = q.data;
    const history = historyRows(runs, specs, detail.revision);
    const rollback = (to) => () => api('POST', `/v1/specs/${enc(name)}/rollback${to ? `?to=${enc(to)}` : ''}`).then(q.reload);
    return (
        <section>
            <h1 tabIndex={-1}>{name} <span class="muted">model</span> <Status status={detail.status} /></h1>
            <dl class="facts wide">
                <dt>Endpoint</dt><dd>{detail.run?.url ? <code>{detail.run.url}</code> : 'none while no replica serves'}</dd>
                <dt>Serving</dt><dd id="serving-version">{st.servingVersion ? `version ${st.servingVersion}` : '—'} (revision <code>{shortDigest(detail.revision)}</code>)</dd>
                <dt>Owner</dt><dd>{detail.owner}</dd>
                {detail.degraded && <><dt>Degraded</dt><dd class="error-text">{detail.degraded}</dd></>}
            </dl>

            <section aria-labelledby="replicas-h">
                <h2 id="replicas-h">Replicas {st.rolling && <span class="rolling" role="status">rollout in progress</span>}</h2>
                {st.replicaRuns.length === 0
                    ? <Empty>No replica runs. Start one by applying the spec again, or roll back to a revision below.</Empty>
                    : (
                        <div class="replicas" data-rolling={st.rolling ? 'yes' : 'no'}>
                            {st.replicaRuns.map((r) => (
                                <div class="replica-run" key={r.id} data-run={r.id}>
                                    <h3>{r.version ? `Version ${r.version}` : `Revision ${shortDigest(r.revision)}`} <Status status={r.status} /></h3>
                                    <p><Link href={`/ui/runs/${r.id}`}>{r.id}</Link>{r.degraded ? <span class="error-text"> · degraded: {r.degraded}</span> : null}{r.replacements ? ` · ${r.replacements} replaced` : ''}</p>
                                    <ul class="slots" aria-label={`Replicas of ${r.id}`}>
                                        {r.slots.map((sl, i) => (
                                            <li class={sl.state === 'in rotation' ? 'up' : sl.container ? 'wait' : 'down'}>
                                                replica {i + 1}: {sl.container ? <><code>{sl.container.slice(0, 12)}</code> {sl.state}</> : r.status === 'ready' ? 'none' : 'not started yet'}
                                            </li>
                                        ))}
                                    </ul>
                                </div>
                            ))}
                        </div>
                    )}
                <Timeline entries={timeline} />
                {!timeline.length && <p class="hint">Changes to the replicas appear here as they happen (a rollout replaces them one at a time).</p>}
            </section>

            <section aria-labelledby="hist-h">
                <h2 id="hist-h">Revision history</h2>
                <div class="actions">
                    <ConfirmButton label="Roll back" title={`Roll ${name} back?`} confirmLabel="Roll back"
                        body="A new run of the previous revision that served is rolled out one replica at a time, with no failed request." action={rollback(null)}
                        disabled={history.length < 2} />
                </div>
                <table>
                    <thead><tr><th scope="col">Revision</th><th scope="col">Version</th><th scope="col">First run</th><th scope="col">Runs</th><th scope="col">Last status</th><th scope="col"><span class="sr-only">Action</span></th></tr></thead>
                    <tbody>{history.map((h) => (
                        <tr key={h.revision} data-revision={h.revision}>
                            <td><code>{shortDigest(h.revision)}</code>{h.current ? ' (current)' : ''}</td>
                            <td>{h.version ?? '—'}</td>
                            <td>{formatTime(h.first)}</td>
                            <td>{h.runs.map((r) => <Link href={`/ui/runs/${r.id}`} class="run-chip">{r.status}</Link>)}</td>
                            <td>{h.lastStatus}{h.lastReason ? ` (${h.lastReason})` : ''}</td>
                            <td>{!h.current && isFinal(h.lastStatus) && <ConfirmButton label="Roll back here" title={`Roll ${name} back to ${shortDigest(h.revision)}?`} confirmLabel="Roll back"
                                body="A new run of this revision is rolled out one replica at a time." action={rollback(h.revision)} />}</td>
                        </tr>
                    ))}</tbody>
                </table>
            </section>
        </section>
    );
}
