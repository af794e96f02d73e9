// The REST API, same origin, with the session cookie. Every call but GET/HEAD carries the
// CSRF header the daemon checks against the cassiny-csrf cookie.

export class ApiError extends Error {
    constructor(status, problem) {
        super(problem?.detail || problem?.title || `cassinyd answered ${status}`);
        this.status = status;
        this.problem = problem;
    }
}

export function csrfToken() {
    const m = /(?:^|;\s*)cassiny-csrf=([^;]*)/.exec(document.cookie);
    return m ? decodeURIComponent(m[1]) : '';
}

let onUnauthorized = () => {};
export function setUnauthorizedHandler(fn) {
    onUnauthorized = fn;
}

// api('GET', '/v1/runs') -> parsed JSON (or text for text/*). Throws ApiError with the
// problem+json body on an error status.
export async function api(method, path, { body, type, raw, signal, quiet401 } = {}) {
    const headers = {};
    if (method !== 'GET' && method !== 'HEAD') headers['X-CSRF-Token'] = csrfToken();
    let payload;
    if (body !== undefined) {
        if (typeof body === 'string') {
            payload = body;
            headers['Content-Type'] = type || 'application/yaml';
        } else {
            payload = JSON.stringify(body);
            headers['Content-Type'] = 'application/json';
        }
    }
    const r = await fetch(path, { method, headers, body: payload, credentials: 'same-origin', signal });
    if (raw) return r;
    const ct = r.headers.get('Content-Type') || '';
    let data = null;
    if (r.status !== 204) data = ct.includes('json') ? await r.json().catch(() => null) : await r.text();
    if (!r.ok) {
        if (r.status === 401 && !quiet401) onUnauthorized();
        throw new ApiError(r.status, typeof data === 'object' ? data : { detail: String(data || '').slice(0, 300) });
    }
    return data;
}

export const enc = encodeURIComponent;

// The spec document of a revision: a run's (GET /v1/runs/{id}/spec, whatever the spec's
// current revision is now), or else from the name's history (GET /v1/specs/{name}/revisions),
// or `current` (a GET /v1/specs/{name} answer the caller has already) when it is that
// revision. null when none says (a name deleted since, or not the caller's).
// A revision is the hash of its spec, so what it maps to never changes: seen once, it is kept
// for the session. Cleared at logout.
const PREFIX = 'cassiny-revision:';
const specCache = {
    get(rev) {
        try {
            const v = sessionStorage.getItem(PREFIX + rev);
            return v ? JSON.parse(v) : null;
        } catch {
            return null;
        }
    },
    set(rev, doc) {
        try {
            sessionStorage.setItem(PREFIX + rev, JSON.stringify(doc));
        } catch { /* full or disabled: only not kept */ }
    },
};
export function forgetRevisions() {
    try {
        for (const k of Object.keys(sessionStorage)) if (k.startsWith(PREFIX)) sessionStorage.removeItem(k);
    } catch { /* disabled */ }
}
const histories = new Map(); // name -> the history being fetched, so a page asks once
function history(name) {
    if (!histories.has(name)) {
        const p = api('GET', `/v1/specs/${enc(name)}/revisions`).then(({ revisions }) => {
            for (const r of revisions) specCache.set(r.revision, r.spec);
            return revisions;
        });
        histories.set(name, p);
        p.finally(() => histories.delete(name)).catch(() => {});
    }
    return histories.get(name);
}
export async function revisionSpec(name, revision, current = null, runId = null) {
    const cached = specCache.get(revision);
    if (cached) return cached;
    if (current?.spec && current.revision === revision) {
        specCache.set(revision, current.spec);
        return current.spec;
    }
    let doc = null;
    try {
        if (runId) doc = (await api('GET', `/v1/runs/${enc(runId)}/spec`)).spec ?? null;
        else doc = (await history(name)).find((r) => r.revision === revision)?.spec ?? null;
    } catch (e) {
        if (e.status === 401) throw e;
    }
    if (doc) specCache.set(revision, doc);
    return doc;
}
