import { useEffect, useState } from 'preact/hooks';
import { api } from '../api.js';
import { Link, Status, ErrorBox, Empty, navigate, useRunEvents } from '../ui.js';
import * as P from '../lib/paging.js';
import { formatTime, runDuration, shortDigest, STATUSES, KINDS } from '../lib/format.js';

export function Runs({ search }) {
    const filters = P.filtersFromSearch(search);
    const limit = P.pageSizeFromSearch(search);
    const [form, setForm] = useState(filters);
    const [pager, setPager] = useState(P.initialPager());
    const [runs, setRuns] = useState(null);
    const [error, setError] = useState(null);
    const [selected, setSelected] = useState([]);
    const cursor = P.currentCursor(pager);

    useEffect(() => {
        setForm(filters);
        setPager(P.initialPager());
    }, [search]);

    useEffect(() => {
        let stale = false;
        api('GET', `/v1/runs?${P.runsQuery(filters, cursor, limit)}`).then(
            (r) => {
                if (stale) return;
                setRuns(r.runs);
                setError(null);
                setPager((p) => P.pageLoaded(p, r.next));
            },
            (e) => !stale && setError(e),
        );
        return () => { stale = true; };
    }, [search, cursor]);

    useRunEvents((batch) => {
        setRuns((rs) => rs && batch.reduce((acc, ev) => P.applyRunEvent(acc, ev, filters, pager.index === 0), rs));
    }, [search, pager.index]);

    const submit = (e) => {
        e.preventDefault();
        navigate(`/ui/runs${P.searchFromFilters(form, limit)}`);
    };
    const toggle = (id) => setSelected((s) => (s.includes(id) ? s.filter((x) => x !== id) : [...s.slice(-1), id]));
    const field = (k) => ({ value: form[k], onInput: (e) => setForm({ ...form, [k]: e.currentTarget.value }), onChange: (e) => setForm({ ...form, [k]: e.currentTarget.value }) });
    const filtered = filters.name || filters.kind || filters.status;

    return (
        <section>
            <h1 tabIndex={-1}>Runs</h1>
            <form class="filters" onSubmit={submit} role="search" aria-label="Filter runs">
                <div><label for="f-name">Name</label><input id="f-name" {...field('name')} placeholder="any" /></div>
                <div><label for="f-kind">Kind</label>
                    <select id="f-kind" {...field('kind')}><option value="">any</option>{KINDS.map((k) => <option>{k}</option>)}</select></div>
                <div><label for="f-status">Status</label>
                    <select id="f-status" {...field('status')}><option value="">any</option>{STATUSES.map((k) => <option>{k}</option>)}</select></div>
                <button type="submit">Filter</button>
                {filtered && <Link href="/ui/runs" class="button secondary">Clear</Link>}
            </form>
            <ErrorBox error={error} what="Could not list the runs" />
            <p class="toolbar">
                <span>{selected.length === 2 ? 'Two runs selected.' : 'Tick two runs to compare them.'}</span>
                <button type="button" disabled={selected.length !== 2}
                    onClick={() => navigate(`/ui/compare?a=${selected[0]}&b=${selected[1]}`)}>Compare selected</button>
            </p>
            {runs && runs.length === 0 && (
                filtered
                    ? <Empty>No run matches these filters. Clear them to see every run.</Empty>
                    : <Empty>No runs yet. <Link href="/ui/apply">Apply a spec</Link> to launch a notebook, a job or a model.</Empty>
            )}
            {runs && runs.length > 0 && (
                <table class="runs">
                    <caption class="sr-only">Runs, newest first</caption>
                    <thead><tr><th scope="col"><span class="sr-only">Select</span></th><th scope="col">Run</th><th scope="col">Name</th><th scope="col">Kind</th><th scope="col">Status</th><th scope="col">Created</th><th scope="col">Took</th><th scope="col">Owner</th><th scope="col">Revision</th></tr></thead>
                    <tbody>
                        {runs.map((r) => (
                            <tr key={r.id} data-run={r.id}>
                                <td><input type="checkbox" aria-label={`Select ${r.id} for comparison`} checked={selected.includes(r.id)} onChange={() => toggle(r.id)} /></td>
                                <td><Link href={`/ui/runs/${r.id}`}>{r.id}</Link></td>
                                <td>{r.name}</td>
                                <td>{r.kind}</td>
                                <td><Status status={r.status} /></td>
                                <td>{formatTime(r.createdAt)}</td>
                                <td>{runDuration(r) ?? '—'}</td>
                                <td>{r.owner || '—'}</td>
                                <td><code>{shortDigest(r.revision)}</code></td>
                            </tr>
                        ))}
                    </tbody>
                </table>
            )}
            <nav class="pager" aria-label="Pages of runs">
                <button type="button" class="secondary" disabled={!P.hasPrev(pager)} onClick={() => setPager(P.prevPage)}>Newer</button>
                <span aria-live="polite" id="page-no">Page {pager.index + 1}</span>
                <button type="button" class="secondary" disabled={!P.hasNext(pager)} onClick={() => setPager(P.nextPage)}>Older</button>
            </nav>
        </section>
    );
}
