import { useEffect, useState } from 'preact/hooks';
import { api, enc } from '../api.js';
import { Link, Status, useAsync, useRunEvents, ErrorBox, Empty, ConfirmButton } from '../ui.js';
import { formatResources, formatDuration, idleLeft, shortDigest, formatAgo, isFinal } from '../lib/format.js';

async function loadNotebooks() {
    const { specs } = await api('GET', '/v1/specs');
    const nbs = specs.filter((s) => s.kind === 'Notebook');
    return Promise.all(nbs.map((s) => api('GET', `/v1/specs/${enc(s.name)}`)));
}

function useNow(ms) {
    const [now, setNow] = useState(Date.now());
    useEffect(() => {
        const t = setInterval(() => setNow(Date.now()), ms);
        return () => clearInterval(t);
    }, [ms]);
    return now;
}

function IdleCell({ nb, now }) {
    const { timeout, left } = idleLeft(nb.run, nb.spec, now);
    if (!timeout) return <span>never stopped for idleness</span>;
    if (left === null) return <span>stops after {formatDuration(timeout)} idle</span>;
    return <span>{formatDuration(left)} left of {formatDuration(timeout)}</span>;
}

function Notebook({ nb, now, reload }) {
    const run = nb.run;
    const live = run && !isFinal(run.status);
    const start = () => api('POST', '/v1/specs', { body: nb.spec }).then(reload);
    const stop = () => api('POST', `/v1/runs/${enc(run.id)}/stop`).then(reload);
    const [purge, setPurge] = useState(false);
    const del = () => api('DELETE', `/v1/specs/${enc(nb.name)}${purge ? '?purge=true' : ''}`).then(reload);
    return (
        <article class="card" aria-labelledby={`nb-${nb.name}`} data-notebook={nb.name}>
            <header class="card-head">
                <h2 id={`nb-${nb.name}`}>{nb.name}</h2>
                <Status status={nb.status} />
            </header>
            <dl class="facts">
                <dt>Owner</dt><dd>{nb.owner || '—'}</dd>
                <dt>Image</dt><dd>{run?.image?.ref || nb.spec?.spec?.image}</dd>
                <dt>Image ID</dt><dd><code title={run?.image?.id || ''}>{shortDigest(run?.image?.id)}</code></dd>
                <dt>Resources</dt><dd>{formatResources(nb.spec?.spec?.resources)}</dd>
                <dt>Idle</dt><dd><IdleCell nb={nb} now={now} /></dd>
                <dt>Run</dt><dd>{run ? <Link href={`/ui/runs/${run.id}`}>{run.id}</Link> : '—'}{run ? ` · started ${formatAgo(run.startedAt || run.createdAt, now)}` : ''}</dd>
                {run?.reason && <><dt>Reason</dt><dd>{run.reason}</dd></>}
            </dl>
            <div class="actions">
                {run?.status === 'ready' && run.url
                    ? <a class="button" href={run.url} target="_blank" rel="noopener noreferrer">Open<span class="sr-only"> {nb.name} in Jupyter</span></a>
                    : run?.status === 'ready'
                        ? <span class="hint">Only its owner gets the address.</span>
                        : null}
                {!live && <ConfirmButton label="Start" title={`Start ${nb.name}?`} confirmLabel="Start"
                    body="A new run of the same revision is launched; the workspace is kept." action={start} />}
                {live && <ConfirmButton label="Stop" title={`Stop ${nb.name}?`} confirmLabel="Stop"
                    body="Jupyter is stopped; unsaved notebooks are lost, files in the workspace are kept." action={stop} />}
                <ConfirmButton label="Delete" danger title={`Delete ${nb.name}?`} confirmLabel="Delete"
                    body="The notebook is stopped and its spec removed; its runs stay in the history." action={del}>
                    <label class="inline"><input type="checkbox" checked={purge} onChange={(e) => setPurge(e.currentTarget.checked)} /> Also remove the workspace volume</label>
                </ConfirmButton>
            </div>
        </article>
    );
}

export function Notebooks() {
    const q = useAsync(loadNotebooks, []);
    const now = useNow(5000);
    useRunEvents((batch) => {
        if (batch.some((r) => r.kind === 'Notebook')) q.reload();
    }, [q.reload]);
    return (
        <section>
            <h1 tabIndex={-1}>Notebooks</h1>
            <ErrorBox error={q.error} what="Could not list the notebooks" />
            {q.loading && !q.data && <p aria-live="polite">Loading…</p>}
            {q.data && q.data.length === 0 && (
                <Empty>No notebooks yet. <Link href="/ui/apply">Apply a Notebook spec</Link> (examples/notebook.yaml is one) to launch a Jupyter server.</Empty>
            )}
            <div class="cards">
                {q.data?.map((nb) => <Notebook key={nb.name} nb={nb} now={now} reload={q.reload} />)}
            </div>
        </section>
    );
}
