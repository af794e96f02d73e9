import { useEffect, useRef, useState } from 'preact/hooks';
import { stringify } from 'yaml';
import { api, enc, revisionSpec } from '../api.js';
import { Link, Status, useAsync, useRunEvents, ErrorBox, ConfirmButton, navigate, Empty } from '../ui.js';
import { formatBytes, formatTime, runDuration, isFinal } from '../lib/format.js';

const MAX_LOG = 2_000_000; // characters kept on screen; older ones are dropped

function Logs({ run }) {
    const live = !isFinal(run.status);
    const [follow, setFollow] = useState(live);
    const [text, setText] = useState('');
    const [state, setState] = useState('loading');
    const pre = useRef(null);
    useEffect(() => {
        const ctl = new AbortController();
        setText('');
        setState('loading');
        (async () => {
            const r = await api('GET', `/v1/runs/${enc(run.id)}/logs?tail=5000${follow ? '&follow=true' : ''}`, { raw: true, signal: ctl.signal });
            if (!r.ok) {
                setState(`the daemon answered ${r.status}`);
                return;
            }
            setState(follow ? 'following' : 'done');
            const reader = r.body.getReader();
            const dec = new TextDecoder();
            for (;;) {
                const { value, done } = await reader.read();
                if (done) break;
                const chunk = dec.decode(value, { stream: true });
                setText((t) => (t + chunk).slice(-MAX_LOG));
            }
            setState('done');
        })().catch((e) => e.name !== 'AbortError' && setState(e.message));
        return () => ctl.abort();
    }, [run.id, follow]);
    useEffect(() => {
        if (follow && pre.current) pre.current.scrollTop = pre.current.scrollHeight;
    }, [text]);
    return (
        <section aria-labelledby="logs-h">
            <h2 id="logs-h">Logs</h2>
            <p class="toolbar">
                <label class="inline"><input type="checkbox" checked={follow} onChange={(e) => setFollow(e.currentTarget.checked)} /> Follow</label>
                <span aria-live="polite">{state === 'following' ? 'Following: new lines appear as they come.' : state === 'done' ? '' : state}</span>
            </p>
            {text
                ? <pre class="logs" ref={pre} tabIndex={0} aria-label="Log output">{text}</pre>
                : <Empty>{state === 'loading' ? 'Loading the logs…' : follow ? 'No output yet; lines appear here as the run writes them.' : 'This run wrote no output. Tick Follow to wait for some.'}</Empty>}
        </section>
    );
}

function Fact({ k, children }) {
    if (children === null || children === undefined || children === '' || (Array.isArray(children) && !children.length)) return null;
    return <><dt>{k}</dt><dd>{children}</dd></>;
}

function Outputs({ run }) {
    if (run.kind !== 'Job') return null;
    const outs = run.outputs || [];
    return (
        <section aria-labelledby="out-h">
            <h2 id="out-h">Outputs</h2>
            {outs.length === 0
                ? <Empty>{isFinal(run.status) ? 'This job wrote no files to its outputs directory.' : 'The outputs are hashed and listed here when the job ends.'}</Empty>
                : (
                    <table class="outputs">
                        <thead><tr><th scope="col">File</th><th scope="col" class="num">Size</th><th scope="col">SHA-256</th></tr></thead>
                        <tbody>{outs.map((o) => <tr key={o.path}><td>{o.path}</td><td class="num">{formatBytes(o.size)}</td><td><code class="digest">{o.sha256}</code></td></tr>)}</tbody>
                    </table>
                )}
        </section>
    );
}

function Reproduction({ run }) {
    const c = run.comparison;
    if (!c) return null;
    const list = (what, xs) => xs?.length ? <li>{what}: {xs.join(', ')}</li> : null;
    return (
        <section aria-labelledby="repro-h" class={c.identical ? 'verdict same' : 'verdict differ'}>
            <h2 id="repro-h">Reproduction of <Link href={`/ui/runs/${c.original}`}>{c.original}</Link></h2>
            <p>{c.identical ? 'Identical: every output file has the same hash as the original\'s.' : 'The outputs differ from the original\'s.'}</p>
            <ul>{list('Changed', c.changed)}{list('Only in the original', c.removed)}{list('Only in this run', c.added)}
                {c.inputsChanged ? <li>The inputs changed since the original ran.</li> : null}</ul>
            <p><Link href={`/ui/compare?a=${c.original}&b=${run.id}`} class="button secondary">Compare side by side</Link></p>
        </section>
    );
}

function CompareWith({ run }) {
    const others = useAsync(() => api('GET', `/v1/runs?name=${enc(run.name)}&limit=20`), [run.id]);
    const [to, setTo] = useState('');
    const list = (others.data?.runs || []).filter((r) => r.id !== run.id);
    if (!list.length) return null;
    return (
        <form class="inline-form" onSubmit={(e) => { e.preventDefault(); if (to) navigate(`/ui/compare?a=${to}&b=${run.id}`); }}>
            <label for="cmp-with">Compare with</label>
            <select id="cmp-with" value={to} onChange={(e) => setTo(e.currentTarget.value)}>
                <option value="">another run of {run.name}…</option>
                {list.map((r) => <option value={r.id}>{r.id} · {r.status} · {formatTime(r.createdAt)}</option>)}
            </select>
            <button type="submit" class="secondary" disabled={!to}>Compare</button>
        </form>
    );
}

export function RunPage({ id }) {
    const q = useAsync(() => api('GET', `/v1/runs/${enc(id)}`), [id]);
    const spec = useAsync(() => (q.data ? revisionSpec(q.data.name, q.data.revision, null, q.data.id) : Promise.resolve(null)), [q.data?.revision]);
    useRunEvents((batch) => {
        if (batch.some((r) => r.id === id)) q.reload();
    }, [id, q.reload]);
    const run = q.data;
    if (q.error && !run) return <section><h1 tabIndex={-1}>Run {id}</h1><ErrorBox error={q.error} what="Could not read the run" /><p><Link href="/ui/runs">Back to the runs</Link></p></section>;
    if (!run) return <section><h1 tabIndex={-1}>Run {id}</h1><p>Loading…</p></section>;
    const reproduce = async () => {
        const r = await api('POST', `/v1/runs/${enc(run.id)}/reproduce`);
        navigate(`/ui/runs/${r.id}`);
    };
    const stop = () => api('POST', `/v1/runs/${enc(run.id)}/stop`).then(q.reload);
    return (
        <section>
            <h1 tabIndex={-1}>{run.name} <span class="muted">{run.kind} run</span> <Status status={run.status} /></h1>
            <div class="actions">
                {run.kind !== 'Model' && <ConfirmButton label="Reproduce" title={`Reproduce ${run.id}?`} confirmLabel="Reproduce"
                    body={`A new run is launched from this run's recorded revision and image ID${run.kind === 'Job' ? '; its outputs are compared with these when it ends' : ''}.`} action={reproduce} />}
                {!isFinal(run.status) && <ConfirmButton label="Stop" title={`Stop ${run.id}?`} confirmLabel="Stop" danger
                    body="Its containers are stopped; the run is recorded as stopped by you." action={stop} />}
                {run.reproducedFrom && <Link class="button secondary" href={`/ui/compare?a=${run.reproducedFrom}&b=${run.id}`}>Compare with the original</Link>}
                <CompareWith run={run} />
            </div>
            <ErrorBox error={q.error} />
            <Reproduction run={run} />
            <dl class="facts wide">
                <Fact k="Run ID">{run.id}</Fact>
                <Fact k="Owner">{run.owner}</Fact>
                <Fact k="Spec"><Link href={run.kind === 'Model' ? `/ui/models/${run.name}` : `/ui/runs?name=${enc(run.name)}`}>{run.name}</Link></Fact>
                <Fact k="Revision"><code class="digest">{run.revision}</code></Fact>
                <Fact k="Image">{run.image?.ref}</Fact>
                <Fact k="Image ID"><code class="digest">{run.image?.id || 'not resolved yet'}</code></Fact>
                <Fact k="Repo digests">{(run.image?.repoDigests || []).map((d) => <div><code class="digest">{d}</code></div>)}</Fact>
                <Fact k="Reproduced from">{run.reproducedFrom && <Link href={`/ui/runs/${run.reproducedFrom}`}>{run.reproducedFrom}</Link>}</Fact>
                <Fact k="Reason">{run.reason}</Fact>
                <Fact k="Error">{run.error && <span class="error-text">{run.error}</span>}</Fact>
                <Fact k="Exit code">{run.exitCode ?? null}</Fact>
                <Fact k="Queue position">{run.queuePosition}</Fact>
                <Fact k="URL">{run.url && (run.kind === 'Notebook' && run.status === 'ready' ? <a href={run.url} target="_blank" rel="noopener noreferrer">Open in Jupyter</a> : <code>{run.url}</code>)}</Fact>
                <Fact k="Ports">{(run.ports || []).map((p) => `${p.hostIp}:${p.hostPort} → ${p.containerPort}`).join(', ')}</Fact>
                <Fact k="Containers">{(run.containers || []).map((c) => <div><code>{c.slice(0, 12)}</code></div>)}</Fact>
                <Fact k="Created">{formatTime(run.createdAt)}</Fact>
                <Fact k="Started">{run.startedAt && formatTime(run.startedAt)}</Fact>
                <Fact k="Ready">{run.readyAt && formatTime(run.readyAt)}</Fact>
                <Fact k="Finished">{run.finishedAt && formatTime(run.finishedAt)}</Fact>
                <Fact k="Took">{runDuration(run)}</Fact>
                <Fact k="Inputs digest"><code class="digest">{run.inputsDigest}</code></Fact>
                <Fact k="Outputs digest"><code class="digest">{run.outputsDigest}</code></Fact>
                <Fact k="Artifacts">{(run.artifacts || []).map((a) => <div>{a.path} <code class="digest">{a.sha256}</code></div>)}</Fact>
                <Fact k="Restarts">{run.restarts || null}</Fact>
                <Fact k="Replacements">{run.replacements || null}</Fact>
                <Fact k="Degraded">{run.degraded}</Fact>
                <Fact k="Out of memory">{run.oomKilled ? 'yes, killed for lack of memory' : null}</Fact>
                <Fact k="Logs">{run.logTruncated ? 'the kept logs are cut short' : null}</Fact>
            </dl>
            {run.inputs?.length > 0 && (
                <section aria-labelledby="in-h"><h2 id="in-h">Inputs</h2>
                    <table class="outputs"><thead><tr><th scope="col">File</th><th scope="col">SHA-256</th></tr></thead>
                        <tbody>{run.inputs.map((o) => <tr key={o.path}><td>{o.path}</td><td><code class="digest">{o.sha256}</code></td></tr>)}</tbody></table>
                </section>
            )}
            <Outputs run={run} />
            <Logs run={run} />
            <section aria-labelledby="spec-h">
                <h2 id="spec-h">Spec</h2>
                {spec.data
                    ? <pre class="yaml" tabIndex={0} aria-label="The spec of this run's revision, as YAML">{stringify(spec.data)}</pre>
                    : <Empty>{spec.loading ? 'Loading the spec…' : 'The spec of this run could not be read.'}</Empty>}
            </section>
        </section>
    );
}
