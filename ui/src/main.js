import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import './style.css';
import { api, setUnauthorizedHandler, forgetRevisions } from './api.js';
import { startEvents, stopEvents, onState } from './events.js';
import { Link, useLocation, navigate, ErrorBox } from './ui.js';
import { Notebooks } from './pages/notebooks.js';
import { Runs } from './pages/runs.js';
import { RunPage } from './pages/run.js';
import { Compare } from './pages/compare.js';
import { Models, ModelPage } from './pages/models.js';
import { Apply } from './pages/apply.js';

function Login({ onLogin }) {
    const [token, setToken] = useState('');
    const [error, setError] = useState(null);
    const [busy, setBusy] = useState(false);
    async function submit(e) {
        e.preventDefault();
        setBusy(true);
        setError(null);
        try {
            await api('POST', '/ui/api/login', { body: { token: token.trim() }, quiet401: true });
            setToken('');
            onLogin();
        } catch (err) {
            setError(err.status === 401 ? new Error('That token was refused: it is unknown, revoked or expired. Ask your admin for one (cassinyctl token create).') : err);
        } finally {
            setBusy(false);
        }
    }
    return (
        <main id="main" class="login">
            <h1>Cassiny</h1>
            <p>Log in with an API token. It is kept in an HttpOnly cookie for this site only.</p>
            <form onSubmit={submit}>
                <label for="token">API token</label>
                <input id="token" name="token" type="password" autocomplete="off" required value={token}
                    onInput={(e) => setToken(e.currentTarget.value)} />
                <button type="submit" disabled={busy || !token.trim()}>Log in</button>
            </form>
            <ErrorBox error={error} />
        </main>
    );
}

function LiveState() {
    const [s, setS] = useState('connecting');
    useEffect(() => onState(setS), []);
    const text = { live: 'Live', connecting: 'Connecting…', reconnecting: 'Reconnecting…', closed: 'Not live: reload the page' }[s];
    return <span class={`live live-${s}`} role="status" title="Updates from the daemon's event stream">{text}</span>;
}

const NAV = [
    ['/ui/notebooks', 'Notebooks'],
    ['/ui/runs', 'Runs'],
    ['/ui/models', 'Models'],
    ['/ui/compare', 'Compare'],
    ['/ui/apply', 'Apply'],
];

function route(path, search) {
    const p = path.replace(/^\/ui\/?/, '').replace(/\/$/, '');
    const parts = p.split('/').map(decodeURIComponent);
    switch (parts[0]) {
    case '':
    case 'notebooks': return <Notebooks />;
    case 'runs': return parts[1] ? <RunPage key={parts[1]} id={parts[1]} /> : <Runs search={search} />;
    case 'compare': return <Compare search={search} />;
    case 'models': return parts[1] ? <ModelPage key={parts[1]} name={parts[1]} /> : <Models />;
    case 'apply': return <Apply />;
    default: return <section><h1 tabIndex={-1}>Not found</h1><p>There is no page {path}. Go to the <Link href="/ui/notebooks">notebooks</Link> or the <Link href="/ui/runs">runs</Link>.</p></section>;
    }
}

function Shell({ me, onLogout }) {
    const loc = useLocation();
    useEffect(() => {
        startEvents();
        return stopEvents;
    }, []);
    // A new page: its heading takes the focus, so a screen reader hears where it is.
    useEffect(() => {
        document.querySelector('main h1')?.focus({ preventScroll: true });
        const h = document.querySelector('main h1')?.textContent;
        document.title = h ? `${h} · Cassiny` : 'Cassiny';
    }, [loc.path, loc.search]);
    const logout = async () => {
        if (!me.local) await api('POST', '/ui/api/logout').catch(() => {});
        forgetRevisions();
        onLogout();
    };
    return (
        <>
            <a class="skip" href="#main">Skip to the page</a>
            <header class="top">
                <span class="brand">Cassiny</span>
                <nav aria-label="Pages">
                    <ul>{NAV.map(([href, label]) => (
                        <li><Link href={href} aria-current={loc.path.startsWith(href) || (href === '/ui/notebooks' && /^\/ui\/?$/.test(loc.path)) ? 'page' : undefined}>{label}</Link></li>
                    ))}</ul>
                </nav>
                <LiveState />
                <span class="me" id="whoami">{me.user} <span class="scope">({me.scope}{me.local ? ', local' : ''})</span></span>
                {!me.local && <button type="button" class="secondary" onClick={logout}>Log out</button>}
            </header>
            <main id="main">{route(loc.path, loc.search)}</main>
        </>
    );
}

function App() {
    const [me, setMe] = useState(undefined);
    const [error, setError] = useState(null);
    const check = () => api('GET', '/ui/api/whoami', { quiet401: true }).then(setMe, (e) => {
        if (e.status === 401) setMe(null);
        else setError(e);
    });
    useEffect(() => {
        setUnauthorizedHandler(() => setMe(null));
        check();
    }, []);
    if (error) return <main id="main"><h1>Cassiny</h1><ErrorBox error={error} what="The daemon did not say who you are" /><p>Reload the page to try again.</p></main>;
    if (me === undefined) return <main id="main"><p>Loading…</p></main>;
    if (me === null) return <Login onLogin={check} />;
    return <Shell me={me} onLogout={() => { stopEvents(); setMe(null); navigate('/ui/', { replace: true }); }} />;
}

render(<App />, document.getElementById('app'));
