import { useState } from 'preact/hooks';
import { diffLines } from 'diff';
import { stringify } from 'yaml';
import { api, enc, revisionSpec } from '../api.js';
import { Link, Status, useAsync, ErrorBox, Empty, navigate } from '../ui.js';
import { compareRuns, sideBySide } from '../lib/compare.js';
import { formatBytes, formatTime, shortDigest } from '../lib/format.js';

const LABEL = { same: 'same', changed: 'changed', 'only-a': 'only in A', 'only-b': 'only in B' };
const show = (v) => (v === undefined ? '—' : typeof v === 'string' ? v : JSON.stringify(v));

async function load(a, b) {
    const [ra, rb] = await Promise.all([api('GET', `/v1/runs/${enc(a)}`), api('GET', `/v1/runs/${enc(b)}`)]);
    const [sa, sb] = await Promise.all([revisionSpec(ra.name, ra.revision, null, ra.id), revisionSpec(rb.name, rb.revision, null, rb.id)]);
    return { ra, rb, sa, sb, c: compareRuns(ra, rb, sa, sb) };
}

function Files({ rows, what }) {
    if (!rows) return null;
    if (!rows.length) return <Empty>Neither run has {what}.</Empty>;
    return (
        <table class="files">
            <thead><tr><th scope="col">File</th><th scope="col">Verdict</th><th scope="col">A: size, SHA-256</th><th scope="col">B: size, SHA-256</th></tr></thead>
            <tbody>
                {rows.map((r) => (
                    <tr key={r.path} class={`row-${r.status}`} data-file={r.path} data-verdict={r.status}>
                        <td>{r.path}</td>
                        <td><span class={`verdict-tag ${r.status}`}>{LABEL[r.status]}</span></td>
                        <td>{r.a ? <>{r.a.size !== undefined && `${formatBytes(r.a.size)} `}<code class="digest">{shortDigest(r.a.sha256)}</code></> : '—'}</td>
                        <td>{r.b ? <>{r.b.size !== undefined && `${formatBytes(r.b.size)} `}<code class="digest">{shortDigest(r.b.sha256)}</code></> : '—'}</td>
                    </tr>
                ))}
            </tbody>
        </table>
    );
}

function SpecYaml({ sa, sb }) {
    const rows = sideBySide(stringify(sa), stringify(sb), diffLines);
    return (
        <table class="yaml-diff" aria-label="The two specs as YAML, line by line">
            <thead><tr><th scope="col">A</th><th scope="col">B</th></tr></thead>
            <tbody>{rows.map((r) => (
                <tr class={`line-${r.kind}`}><td><pre>{r.a ?? ''}</pre></td><td><pre>{r.b ?? ''}</pre></td></tr>
            ))}</tbody>
        </table>
    );
}

function Pick({ a, b }) {
    const [fa, setA] = useState(a || '');
    const [fb, setB] = useState(b || '');
    return (
        <form class="filters" onSubmit={(e) => { e.preventDefault(); navigate(`/ui/compare?a=${enc(fa.trim())}&b=${enc(fb.trim())}`); }}>
            <div><label for="cmp-a">Run A</label><input id="cmp-a" value={fa} onInput={(e) => setA(e.currentTarget.value)} placeholder="r-…" /></div>
            <div><label for="cmp-b">Run B</label><input id="cmp-b" value={fb} onInput={(e) => setB(e.currentTarget.value)} placeholder="r-…" /></div>
            <button type="submit" disabled={!fa.trim() || !fb.trim()}>Compare</button>
        </form>
    );
}

export function Compare({ search }) {
    const p = new URLSearchParams(search);
    const a = p.get('a'), b = p.get('b');
    const q = useAsync(() => (a && b ? load(a, b) : Promise.resolve(null)), [a, b]);
    if (!a || !b) {
        return (
            <section><h1 tabIndex={-1}>Compare two runs</h1>
                <Empty>Give two run IDs here, or tick two runs in the <Link href="/ui/runs">runs table</Link> and press Compare selected.</Empty>
                <Pick a={a} b={b} />
            </section>
        );
    }
    if (!q.data) return <section><h1 tabIndex={-1}>Compare two runs</h1>{q.error ? <ErrorBox error={q.error} what="Could not read the runs" /> : <p>Loading…</p>}<Pick a={a} b={b} /></section>;
    const { ra, rb, sa, sb, c } = q.data;
    const head = (r, label) => (
        <div class="side">
            <h2>{label}: <Link href={`/ui/runs/${r.id}`}>{r.id}</Link></h2>
            <p>{r.name} · {r.kind} · <Status status={r.status} /> · {formatTime(r.createdAt)}</p>
        </div>
    );
    return (
        <section>
            <h1 tabIndex={-1}>Compare two runs</h1>
            <div class="sides">{head(ra, 'A')}{head(rb, 'B')}</div>
            <p class={`verdict ${c.identical ? 'same' : 'differ'}`} role="status" id="verdict">{c.summary}</p>

            <h2>Spec {c.specSame ? <span class="verdict-tag same">same</span> : <span class="verdict-tag changed">differs</span>}</h2>
            {c.spec === null
                ? <p>Revisions: A <code>{shortDigest(ra.revision)}</code>, B <code>{shortDigest(rb.revision)}</code>{c.sameRevision ? ' (the same revision).' : '. The spec of one of them could not be read, so only the revision digests are compared.'}</p>
                : c.spec.length === 0
                    ? <p>Same revision content: no field differs.</p>
                    : (
                        <>
                            <table class="spec-diff">
                                <thead><tr><th scope="col">Field</th><th scope="col">A</th><th scope="col">B</th></tr></thead>
                                <tbody>{c.spec.map((r) => <tr class={`row-${r.change}`}><td><code>{r.path}</code></td><td>{show(r.a)}</td><td>{show(r.b)}</td></tr>)}</tbody>
                            </table>
                            <details><summary>Both specs as YAML, line by line</summary><SpecYaml sa={sa} sb={sb} /></details>
                        </>
                    )}

            <h2>Image {c.imageSame ? <span class="verdict-tag same">same</span> : <span class="verdict-tag changed">differs</span>}</h2>
            <table class="spec-diff">
                <thead><tr><th scope="col">Field</th><th scope="col">A</th><th scope="col">B</th></tr></thead>
                <tbody>{c.image.map((r) => <tr class={r.same ? 'row-same' : 'row-changed'}><td>{r.field}</td><td><code class="digest">{r.a ?? '—'}</code></td><td><code class="digest">{r.b ?? '—'}</code></td></tr>)}</tbody>
            </table>

            <h2>Inputs {c.inputsSame ? <span class="verdict-tag same">same</span> : <span class="verdict-tag changed">differ</span>}</h2>
            {c.inputs
                ? <Files rows={c.inputs} what="inputs" />
                : <p>Inputs digest: A <code class="digest">{ra.inputsDigest ?? '—'}</code>, B <code class="digest">{rb.inputsDigest ?? '—'}</code>.</p>}

            <h2>Outputs {c.outputsSame ? <span class="verdict-tag same">same</span> : <span class="verdict-tag changed">differ</span>}</h2>
            <Files rows={c.outputs} what="output files" />
        </section>
    );
}
