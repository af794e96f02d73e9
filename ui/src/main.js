import { render } from 'preact';
import { useState } from 'preact/hooks';
import './style.css';

function Login() {
    const [token, setToken] = useState('');
    const [error, setError] = useState('');
    async function submit(e) {
        e.preventDefault();
        const r = await fetch('/ui/api/login', {
            method: 'POST',
            credentials: 'same-origin',
            headers: { 'Content-Type': 'application/json' },
            body: JSON.stringify({ token }),
        });
        if (r.status === 204) location.reload();
        else setError('That token was refused: check it with cassinyctl token list.');
    }
    return (
        <main>
            <h1>Cassiny</h1>
            <form onSubmit={submit}>
                <label for="token">API token</label>
                <input id="token" type="password" autocomplete="off" value={token}
                    onInput={(e) => setToken(e.currentTarget.value)} />
                <button type="submit">Log in</button>
                {error && <p class="error" role="alert">{error}</p>}
            </form>
        </main>
    );
}

render(<Login />, document.getElementById('app'));
