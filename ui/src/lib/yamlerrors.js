// Validation errors of POST /v1/specs (problem+json, one `errors` item per problem) mapped to
// lines of the text in the editor, printed the way cassinyctl prints them. Pure (unit-tested).
import { parseAllDocuments, LineCounter, isMap, isSeq, isScalar } from 'yaml';

// "spec.inputs[0].source" -> ["spec", "inputs", 0, "source"]
export function splitPath(path) {
    if (!path || path === '.') return [];
    const out = [];
    for (const part of path.split('.')) {
        const re = /([^[\]]+)|\[(\d+)\]/g;
        let m;
        while ((m = re.exec(part))) out.push(m[2] !== undefined ? Number(m[2]) : m[1]);
    }
    return out;
}

// The 1-based line and column of a path in the text's documents (the deepest node that exists:
// a missing key points at its parent). null when the text does not parse far enough.
export function locatePath(text, path, docIndex = 0) {
    const lc = new LineCounter();
    let docs;
    try {
        docs = parseAllDocuments(text, { lineCounter: lc, keepSourceTokens: false });
    } catch {
        return null;
    }
    if (!Array.isArray(docs)) docs = [docs];
    const doc = docs[docIndex];
    if (!doc || !doc.contents) return null;
    let node = doc.contents, range = node.range;
    for (const key of splitPath(path)) {
        let next = null, keyNode = null;
        if (isMap(node)) {
            const pair = node.items.find((p) => (isScalar(p.key) ? p.key.value : p.key) === key);
            if (pair) { next = pair.value; keyNode = pair.key; }
        } else if (isSeq(node) && typeof key === 'number') {
            next = node.items[key] ?? null;
        }
        if (!next && !keyNode) break;
        range = (keyNode ?? next).range ?? range;
        node = next;
        if (!node) break;
    }
    if (!range) return null;
    const { line, col } = lc.linePos(range[0]);
    return { line, column: col };
}

// The index of the document that holds a 1-based line ("---" separated).
export function documentAt(text, line) {
    const lines = text.split('\n');
    let doc = 0, seenContent = false;
    for (let i = 0; i < Math.min(line - 1, lines.length); i++) {
        if (/^---(\s|$)/.test(lines[i])) {
            if (seenContent) doc++;
            seenContent = false;
        } else if (lines[i].trim() && !lines[i].trim().startsWith('#')) {
            seenContent = true;
        }
    }
    return doc;
}

// One entry per problem: {line, column, path, message, located, text}. `located` says whether
// the line came from the daemon (false: found here from the path). `text` is the line cassinyctl
// prints for it: "FILE:LINE:COL: PATH: MESSAGE" or "FILE: PATH: MESSAGE".
export function mapErrors(problem, source, file = '-') {
    const items = Array.isArray(problem?.errors) ? problem.errors : [];
    if (!items.length) {
        const detail = problem?.detail || problem?.title || 'the daemon refused the spec';
        return [{ line: null, column: null, path: null, message: detail, located: false,
            text: `cassinyctl: ${detail}${problem?.status ? ` (${problem.status} ${problem.title ?? ''})`.trimEnd() : ''}` }];
    }
    return items.map((it) => {
        const path = it.path || '.';
        const message = it.message ?? '';
        let line = Number.isInteger(it.line) && it.line > 0 ? it.line : null;
        let column = Number.isInteger(it.column) && it.column > 0 ? it.column : null;
        let located = false;
        if (!line && source && it.path) {
            const at = locatePath(source, it.path);
            if (at) { line = at.line; column = at.column; located = true; }
        }
        const text = line && !located
            ? `${file}:${line}:${column ?? 0}: ${path}: ${message}`
            : `${file}: ${path}: ${message}`;
        return { line, column, path, message, located, text };
    });
}
