// Small shared pieces: routing, links, status badges, confirmation dialogs, empty states.
import { useEffect, useRef, useState, useCallback } from 'preact/hooks';
import { onRun } from './events.js';

export const BASE = '/ui';

const routeListeners = new Set();
export function navigate(to, { replace = false } = {}) {
    const url = to.startsWith('/') ? to : `${BASE}/${to}`;
    if (replace) history.replaceState(null, '', url);
    else history.pushState(null, '', url);
    for (const fn of routeListeners) fn();
}
window.addEventListener('popstate', () => {
    for (const fn of routeListeners) fn();
});

export function useLocation() {
    const [loc, setLoc] = useState({ path: location.pathname, search: location.search });
    useEffect(() => {
        const fn = () => setLoc({ path: location.pathname, search: location.search });
        routeListeners.add(fn);
        return () => routeListeners.delete(fn);
    }, []);
    return loc;
}

export function Link({ href, children, ...rest }) {
    const click = (e) => {
        if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
        e.preventDefault();
        navigate(href);
    };
    return <a href={href} onClick={click} {...rest}>{children}</a>;
}

export function Status({ status }) {
    return <span class={`status status-${status || 'none'}`}>{status || 'no run'}</span>;
}

// Data loaded by an async function, loaded again when deps change or when reload() is called.
export function useAsync(fn, deps) {
    const [st, setSt] = useState({ loading: true, error: null, data: null });
    const gen = useRef(0);
    const load = useCallback(() => {
        const g = ++gen.current;
        fn().then(
            (data) => g === gen.current && setSt({ loading: false, error: null, data }),
            (error) => g === gen.current && setSt((s) => ({ loading: false, error, data: s.data })),
        );
    }, deps);
    useEffect(load, [load]);
    return { ...st, reload: load, set: (data) => setSt((s) => ({ ...s, data: typeof data === 'function' ? data(s.data) : data })) };
}

// Calls fn for the run events that pass `filter`, at most once per `ms` for a burst.
export function useRunEvents(fn, deps, ms = 300) {
    useEffect(() => {
        let timer = null, pending = [];
        const off = onRun((run) => {
            pending.push(run);
            if (timer) return;
            timer = setTimeout(() => {
                const batch = pending;
                pending = [];
                timer = null;
                fn(batch);
            }, ms);
        });
        return () => {
            off();
            clearTimeout(timer);
        };
    }, deps);
}

export function ErrorBox({ error, what }) {
    if (!error) return null;
    return (
        <div class="error" role="alert">
            <strong>{what ? `${what}: ` : ''}</strong>
            {error.message}
            {error.status ? ` (${error.status})` : ''}
        </div>
    );
}

export function Empty({ children }) {
    return <p class="empty">{children}</p>;
}

// A modal confirmation on the native <dialog> (focus kept inside, Escape cancels).
export function Confirm({ open, title, children, confirmLabel, danger, onConfirm, onCancel }) {
    const ref = useRef(null);
    useEffect(() => {
        const d = ref.current;
        if (!d) return;
        if (open && !d.open) d.showModal();
        if (!open && d.open) d.close();
    }, [open]);
    return (
        <dialog ref={ref} aria-labelledby="confirm-title" onCancel={(e) => { e.preventDefault(); onCancel(); }}>
            <form method="dialog" onSubmit={(e) => { e.preventDefault(); onConfirm(); }}>
                <h2 id="confirm-title">{title}</h2>
                {children}
                <div class="actions">
                    <button type="button" class="secondary" onClick={onCancel}>Cancel</button>
                    <button type="submit" class={danger ? 'danger' : ''}>{confirmLabel}</button>
                </div>
            </form>
        </dialog>
    );
}

// A button that asks first, then runs action; shows its error.
export function ConfirmButton({ label, title, body, confirmLabel, danger, action, disabled, children }) {
    const [open, setOpen] = useState(false);
    const [busy, setBusy] = useState(false);
    const [error, setError] = useState(null);
    const go = async () => {
        setBusy(true);
        setError(null);
        try {
            await action();
            setOpen(false);
        } catch (e) {
            setError(e);
        } finally {
            setBusy(false);
        }
    };
    return (
        <>
            <button type="button" aria-haspopup="dialog" class={danger ? 'danger' : 'secondary'} disabled={disabled || busy} onClick={() => setOpen(true)}>{label}</button>
            <Confirm open={open} title={title} confirmLabel={busy ? 'Working…' : confirmLabel || label} danger={danger}
                onConfirm={go} onCancel={() => { setOpen(false); setError(null); }}>
                <p>{body}</p>
                {children}
                <ErrorBox error={error} />
            </Confirm>
        </>
    );
}

export function Copyable({ value, label }) {
    if (!value) return <span>—</span>;
    return <code class="digest" title={label}>{value}</code>;
}
