import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { api } from '../api.js';
import { Link, Status, ErrorBox } from '../ui.js';
import { mapErrors } from '../lib/yamlerrors.js';
import { shortDigest } from '../lib/format.js';

const EXAMPLE = `apiVersion: cassiny/v1
kind: Job
metadata:
  name: hello
spec:
  image: cassiny/notebook:bookworm
  command: [python3, -c, "print('hello')"]
  resources: {cpus: 1, memory: 512Mi}
`;

export function Apply() {
    const host = useRef(null);
    const ed = useRef(null);
    const [text, setText] = useState(EXAMPLE);
    const [checked, setChecked] = useState(null); // the text the last dry run passed
    const [dry, setDry] = useState(null);
    const [errors, setErrors] = useState([]);
    const [applied, setApplied] = useState(null);
    const [busy, setBusy] = useState(false);
    const [fileName, setFileName] = useState('-');
    const [editorError, setEditorError] = useState(null);

    useEffect(() => {
        let gone = false;
        import('../editor.js').then(({ createEditor }) => {
            if (gone || !host.current) return;
            ed.current = createEditor(host.current, { doc: text, label: 'Spec (YAML)', onChange: setText });
        }, setEditorError);
        return () => { gone = true; ed.current?.destroy(); ed.current = null; };
    }, []);

    // Before the browser paints: the list of problems and the lines they mark appear together
    // (an effect would mark them a frame or more later, after the list).
    useLayoutEffect(() => {
        ed.current?.setErrorLines(errors.filter((e) => e.line).map((e) => e.line));
    }, [errors]);

    const send = async (dryRun) => {
        setBusy(true);
        setApplied(null);
        const body = ed.current ? ed.current.text() : text;
        try {
            const r = await api('POST', `/v1/specs${dryRun ? '?dryRun=true' : ''}`, { body, type: 'application/yaml' });
            setErrors([]);
            if (dryRun) { setDry(r); setChecked(body); } else { setApplied(r); setDry(null); setChecked(null); }
        } catch (e) {
            if (e.status === 401) throw e;
            setDry(null);
            setChecked(null);
            setErrors(mapErrors(e.problem, body, fileName));
        } finally {
            setBusy(false);
        }
    };
    const upload = async (e) => {
        const f = e.currentTarget.files?.[0];
        if (!f) return;
        const t = await f.text();
        setFileName(f.name);
        if (ed.current) ed.current.setText(t);
        setText(t);
        setErrors([]);
        setDry(null);
    };
    const canApply = checked !== null && checked === text && !errors.length;

    return (
        <section>
            <h1 tabIndex={-1}>Apply a spec</h1>
            <p>Paste or upload one or more YAML specs (documents separated by <code>---</code>). A dry run validates them the way <code>cassinyctl apply --dry-run</code> does; Apply is enabled once the text on screen passed one.</p>
            <div class="toolbar">
                <label for="upload" class="inline">Upload a YAML file</label>
                <input id="upload" type="file" accept=".yaml,.yml,application/yaml,text/yaml" onChange={upload} />
            </div>
            {editorError
                ? <><label for="spec-editor">Spec (YAML)</label><textarea id="spec-editor" class="plain-editor" value={text} onInput={(e) => setText(e.currentTarget.value)} rows={20} /></>
                : <><p class="label" id="editor-label">Spec (YAML) <span class="hint">— Tab leaves the editor; Ctrl-Z undoes</span></p><div class="editor" ref={host} /></>}
            <div class="actions">
                <button type="button" onClick={() => send(true)} disabled={busy}>Dry run</button>
                <button type="button" onClick={() => send(false)} disabled={busy || !canApply} aria-describedby="apply-hint">Apply</button>
                <span id="apply-hint" class="hint">{canApply ? 'The dry run passed: Apply stores and launches it.' : 'Run a dry run of this text first.'}</span>
            </div>
            {errors.length > 0 && (
                <section class="problems" aria-labelledby="problems-h" role="alert">
                    <h2 id="problems-h">{errors.length === 1 ? 'The spec has a problem' : `The spec has ${errors.length} problems`}</h2>
                    <ul>{errors.map((e) => (
                        <li data-line={e.line ?? ''}>
                            {e.line
                                ? <button type="button" class="link" onClick={() => ed.current?.gotoLine(e.line, e.column ?? 1)}>line {e.line}{e.column ? `, column ${e.column}` : ''}</button>
                                : null}
                            {e.line ? ': ' : ''}<code>{e.path ?? ''}</code> {e.message}
                            <div class="cli"><code>{e.text}</code></div>
                        </li>
                    ))}</ul>
                </section>
            )}
            {dry && (
                <section aria-labelledby="dry-h" role="status">
                    <h2 id="dry-h">Dry run: valid</h2>
                    <table><thead><tr><th scope="col">Kind</th><th scope="col">Name</th><th scope="col">Revision</th><th scope="col">Would</th><th scope="col">Line</th></tr></thead>
                        <tbody>{dry.specs.map((s) => <tr><td>{s.kind}</td><td>{s.name}</td><td><code>{shortDigest(s.revision)}</code></td><td>{s.changed ? 'store a new revision and launch it' : 'change nothing (same revision)'}</td><td>{s.line}</td></tr>)}</tbody></table>
                </section>
            )}
            {applied && (
                <section aria-labelledby="applied-h" role="status">
                    <h2 id="applied-h">Applied</h2>
                    <ul>{applied.specs.map((s) => <li>{s.kind} {s.name}: {s.changed ? 'launched' : 'unchanged'} — run <Link href={`/ui/runs/${s.run.id}`}>{s.run.id}</Link> <Status status={s.run.status} /></li>)}</ul>
                </section>
            )}
            <ErrorBox error={editorError} what="The editor did not load; a plain text area stands in" />
        </section>
    );
}
