// One EventSource on /v1/events for the whole app; pages subscribe to run events. The browser
// reconnects by itself with Last-Event-ID when a stream ends.
let source = null;
const runListeners = new Set();
const stateListeners = new Set();
let state = 'connecting';

function setState(s) {
    state = s;
    for (const fn of stateListeners) fn(s);
}

export function startEvents() {
    if (source) return;
    source = new EventSource('/v1/events', { withCredentials: true });
    source.addEventListener('open', () => setState('live'));
    source.addEventListener('error', () => setState(source.readyState === EventSource.CLOSED ? 'closed' : 'reconnecting'));
    source.addEventListener('run', (e) => {
        let run;
        try {
            run = JSON.parse(e.data);
        } catch {
            return;
        }
        for (const fn of runListeners) fn(run);
    });
}

export function stopEvents() {
    if (source) source.close();
    source = null;
    setState('closed');
}

export function onRun(fn) {
    runListeners.add(fn);
    return () => runListeners.delete(fn);
}

export function onState(fn) {
    stateListeners.add(fn);
    fn(state);
    return () => stateListeners.delete(fn);
}
