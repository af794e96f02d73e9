// The YAML editor of the apply page (CodeMirror 6), loaded only on that page.
import { EditorState, StateEffect, StateField, RangeSet } from '@codemirror/state';
import { EditorView, Decoration, keymap, lineNumbers, highlightActiveLine, drawSelection, GutterMarker, gutter } from '@codemirror/view';
import { defaultKeymap, history, historyKeymap } from '@codemirror/commands';
import { syntaxHighlighting, defaultHighlightStyle, indentOnInput, bracketMatching } from '@codemirror/language';
import { yaml } from '@codemirror/lang-yaml';

const setErrors = StateEffect.define();
const errorLine = Decoration.line({ class: 'cm-error-line' });
class ErrorMarker extends GutterMarker {
    toDOM() {
        const s = document.createElement('span');
        s.className = 'cm-error-marker';
        s.textContent = '!';
        s.setAttribute('aria-hidden', 'true');
        return s;
    }
}
const marker = new ErrorMarker();

function lineRanges(state, lines, value) {
    const seen = new Set();
    const ranges = [];
    for (const n of [...lines].sort((a, b) => a - b)) {
        if (n < 1 || n > state.doc.lines || seen.has(n)) continue;
        seen.add(n);
        ranges.push(value.range(state.doc.line(n).from));
    }
    return RangeSet.of(ranges);
}

const errorField = StateField.define({
    create: () => ({ deco: Decoration.none, marks: RangeSet.empty }),
    update(v, tr) {
        v = { deco: v.deco.map(tr.changes), marks: v.marks.map(tr.changes) };
        for (const e of tr.effects) {
            if (e.is(setErrors)) v = { deco: lineRanges(tr.state, e.value, errorLine), marks: lineRanges(tr.state, e.value, marker) };
        }
        return v;
    },
    provide: (f) => [EditorView.decorations.from(f, (v) => v.deco), gutter({ class: 'cm-error-gutter', markers: (view) => view.state.field(f).marks })],
});

// CodeMirror's styles go through style-mod, which writes a <style> element into a document
// (refused under style-src 'self') but a constructed stylesheet into a shadow root: so the
// editor lives in one, and its own styles are a theme rather than rules of style.css.
const theme = EditorView.theme({
    '&': { minHeight: '18rem', fontSize: '14px', backgroundColor: '#fff' },
    '&.cm-focused': { outline: '3px solid #ffbf47' },
    '.cm-content': { fontFamily: 'ui-monospace, "DejaVu Sans Mono", Menlo, monospace', minHeight: '18rem' },
    '.cm-gutters': { backgroundColor: '#f4f6f8', color: '#4b5563', borderRight: '1px solid #c9d1d9' },
    '.cm-error-line': { backgroundColor: '#fde2df' },
    '.cm-error-marker': { color: '#b42318', fontWeight: '700', padding: '0 .2rem' },
    '.cm-activeLine': { backgroundColor: '#eef4fb' },
});

// (caller owns the returned editor; destroy() removes it)
export function createEditor(host, { doc = '', label, onChange }) {
    const root = host.shadowRoot ?? host.attachShadow({ mode: 'open' });
    const view = new EditorView({
        root,
        parent: root,
        state: EditorState.create({
            doc,
            extensions: [
                lineNumbers(), history(), drawSelection(), highlightActiveLine(), indentOnInput(), bracketMatching(),
                syntaxHighlighting(defaultHighlightStyle, { fallback: true }), yaml(), errorField, theme,
                keymap.of([...defaultKeymap, ...historyKeymap]),
                EditorView.lineWrapping,
                EditorView.contentAttributes.of({ 'aria-label': label, 'aria-multiline': 'true', id: 'spec-editor' }),
                EditorView.updateListener.of((u) => u.docChanged && onChange?.(u.state.doc.toString())),
            ],
        }),
    });
    return {
        view,
        text: () => view.state.doc.toString(),
        setText(t) {
            view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: t } });
        },
        setErrorLines(lines) {
            view.dispatch({ effects: setErrors.of(lines) });
        },
        gotoLine(n, col = 1) {
            if (n < 1 || n > view.state.doc.lines) return;
            const line = view.state.doc.line(n);
            const pos = Math.min(line.to, line.from + Math.max(0, col - 1));
            view.dispatch({ selection: { anchor: pos }, scrollIntoView: true });
            view.focus();
        },
        focus: () => view.focus(),
        destroy: () => view.destroy(),
    };
}
