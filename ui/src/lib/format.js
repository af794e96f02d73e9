// Formatting of what the API returns, for people. Pure functions (unit-tested with node:test).

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

export function formatBytes(n) {
    if (typeof n !== 'number' || !Number.isFinite(n) || n < 0) return '—';
    let i = 0;
    let v = n;
    while (v >= 1024 && i < UNITS.length - 1) {
        v /= 1024;
        i++;
    }
    return i === 0 ? `${n} B` : `${v < 10 && !Number.isInteger(v) ? v.toFixed(1) : Math.round(v)} ${UNITS[i]}`;
}

// Seconds as "1h 02m", "3m 05s", "42s"; null for what is not a number.
export function formatDuration(seconds) {
    if (typeof seconds !== 'number' || !Number.isFinite(seconds)) return null;
    const s = Math.max(0, Math.round(seconds));
    const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600);
    const m = Math.floor((s % 3600) / 60), r = s % 60;
    const pad = (x) => String(x).padStart(2, '0');
    if (d) return `${d}d ${pad(h)}h`;
    if (h) return `${h}h ${pad(m)}m`;
    if (m) return `${m}m ${pad(r)}s`;
    return `${r}s`;
}

// How long a run took (or has been going), from its RFC 3339 times.
export function runDuration(run, now = Date.now()) {
    const start = Date.parse(run.startedAt || run.createdAt);
    if (Number.isNaN(start)) return null;
    const end = run.finishedAt ? Date.parse(run.finishedAt) : now;
    return formatDuration((end - start) / 1000);
}

// "3 min ago", "in 2 h", for a time relative to now.
export function formatAgo(iso, now = Date.now()) {
    const t = Date.parse(iso);
    if (!iso || Number.isNaN(t)) return '—';
    const s = Math.round((now - t) / 1000);
    const a = Math.abs(s);
    let txt;
    if (a < 5) return 'just now';
    else if (a < 60) txt = `${a} s`;
    else if (a < 3600) txt = `${Math.round(a / 60)} min`;
    else if (a < 86400) txt = `${Math.round(a / 3600)} h`;
    else txt = `${Math.round(a / 86400)} d`;
    return s >= 0 ? `${txt} ago` : `in ${txt}`;
}

// The local date and time of an RFC 3339 string, to the second, sortable.
export function formatTime(iso) {
    const t = Date.parse(iso);
    if (!iso || Number.isNaN(t)) return '—';
    const d = new Date(t);
    const p = (x) => String(x).padStart(2, '0');
    return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

// sha256:0123456789abcdef... -> 0123456789ab (the 12 digits the CLI shows too).
export function shortDigest(d) {
    if (typeof d !== 'string' || !d) return '—';
    const hex = d.startsWith('sha256:') ? d.slice(7) : d;
    return hex.slice(0, 12);
}

// The spec's durations (integers in seconds once canonical, or "1h", "30m" as written).
export function durationSeconds(v) {
    if (typeof v === 'number') return v;
    if (typeof v !== 'string') return null;
    const m = /^(\d+)(ms|s|m|h|d)?$/.exec(v.trim());
    if (!m) return null;
    const n = Number(m[1]);
    return { ms: n / 1000, s: n, m: n * 60, h: n * 3600, d: n * 86400 }[m[2] || 's'];
}

// Idle time left of a ready notebook: its idleTimeout minus the time since Jupyter's last
// activity, as the run reports it, or since it became ready when that is later (the daemon's
// culler counts so). null when the notebook has no timeout, or the run does not say when it
// was last active.
export function idleLeft(run, spec, now = Date.now()) {
    const timeout = durationSeconds(spec?.spec?.idleTimeout ?? run?.idleTimeoutSeconds);
    if (!timeout || timeout <= 0) return { timeout: null, left: null };
    let last = Date.parse(run?.lastActivity);
    if (!run || run.status !== 'ready' || Number.isNaN(last)) return { timeout, left: null };
    const ready = Date.parse(run.readyAt);
    if (!Number.isNaN(ready) && ready > last) last = ready;
    return { timeout, left: Math.max(0, timeout - (now - last) / 1000) };
}

// The spec's resources as one line: "1.5 CPUs, 2Gi memory, 1 GPU".
export function formatResources(res) {
    if (!res || typeof res !== 'object') return 'engine defaults';
    const parts = [];
    if (res.cpus !== undefined) parts.push(`${res.cpus} CPU${Number(res.cpus) === 1 ? '' : 's'}`);
    if (res.memory !== undefined) parts.push(`${typeof res.memory === 'number' ? formatBytes(res.memory) : res.memory} memory`);
    if (res.gpus) parts.push(`${res.gpus} GPU${res.gpus === 1 ? '' : 's'}`);
    return parts.length ? parts.join(', ') : 'engine defaults';
}

const FINAL = new Set(['succeeded', 'failed', 'stopped']);
export const isFinal = (status) => FINAL.has(status);
export const STATUSES = ['pending', 'queued', 'creating', 'starting', 'ready', 'running', 'succeeded', 'failed', 'stopped'];
export const KINDS = ['Notebook', 'Job', 'Model'];
