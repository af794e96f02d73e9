// Cursor paging of /v1/runs: the server gives `next`, an opaque cursor; going back needs the
// cursors of the pages before, kept here as a stack. Pure (unit-tested).

export const PAGE_SIZE = 50;
const FILTERS = ['name', 'kind', 'status'];

// The query string of one page for the filters (empty ones left out) and the cursor.
export function runsQuery(filters, cursor, limit = PAGE_SIZE) {
    const q = new URLSearchParams();
    for (const k of FILTERS) {
        const v = (filters?.[k] ?? '').trim();
        if (v) q.set(k, v);
    }
    q.set('limit', String(limit));
    if (cursor) q.set('cursor', cursor);
    return q.toString();
}

// The state of the pager: the cursor of each page seen so far (null for the first).
export function initialPager() {
    return { cursors: [null], index: 0, next: null };
}

// After a page came back with its `next`.
export function pageLoaded(p, next) {
    return { ...p, next: next || null };
}

export function nextPage(p) {
    if (!p.next) return p;
    const cursors = p.cursors.slice(0, p.index + 1);
    cursors.push(p.next);
    return { cursors, index: p.index + 1, next: null };
}

export function prevPage(p) {
    if (p.index === 0) return p;
    return { cursors: p.cursors, index: p.index - 1, next: null };
}

export const currentCursor = (p) => p.cursors[p.index];
export const hasPrev = (p) => p.index > 0;
export const hasNext = (p) => !!p.next;

// Filters as the page's own URL keeps them (?name=&kind=&status=), so a filtered table can be
// linked and survives a reload.
export function filtersFromSearch(search) {
    const q = new URLSearchParams(search);
    const f = {};
    for (const k of FILTERS) f[k] = q.get(k) || '';
    return f;
}

// The page size of ?limit= (1 to 1000, the API's bounds), else PAGE_SIZE.
export function pageSizeFromSearch(search) {
    const n = Number(new URLSearchParams(search).get('limit'));
    return Number.isInteger(n) && n >= 1 && n <= 1000 ? n : PAGE_SIZE;
}

export function searchFromFilters(filters, limit = PAGE_SIZE) {
    const q = new URLSearchParams();
    for (const k of FILTERS) if (filters[k]) q.set(k, filters[k]);
    if (limit !== PAGE_SIZE) q.set('limit', String(limit));
    const s = q.toString();
    return s ? `?${s}` : '';
}

// A run event from /v1/events applied to the page on screen: a run already there is updated
// in place; a new run goes on top only on the first page and only if it passes the filters
// (a run's kind and name never change, its status does).
export function applyRunEvent(runs, ev, filters, firstPage) {
    const i = runs.findIndex((r) => r.id === ev.id);
    if (i >= 0) {
        const copy = runs.slice();
        copy[i] = { ...runs[i], ...ev };
        return copy;
    }
    if (!firstPage) return runs;
    if (filters.name && ev.name !== filters.name) return runs;
    if (filters.kind && ev.kind !== filters.kind) return runs;
    if (filters.status && ev.status !== filters.status) return runs;
    if (!ev.createdAt) return runs;
    return [ev, ...runs];
}
