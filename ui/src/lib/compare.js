// Comparison of two runs, side by side, from their run JSON (GET /v1/runs/{id}) and the specs of
// their revisions. Computed here, not by the daemon. Pure (unit-tested).

// {"spec": {"a": [1, {"b": 2}]}} -> Map {"spec.a[0]" => 1, "spec.a[1].b" => 2}. Empty objects
// and arrays are leaves, so that "{}" against an absent key is still a difference.
export function flatten(value, prefix = '', out = new Map()) {
    if (Array.isArray(value) && value.length) {
        value.forEach((v, i) => flatten(v, `${prefix}[${i}]`, out));
    } else if (value && typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length) {
        for (const k of Object.keys(value).sort()) flatten(value[k], prefix ? `${prefix}.${k}` : k, out);
    } else {
        out.set(prefix || '.', value);
    }
    return out;
}

const same = (x, y) => JSON.stringify(x) === JSON.stringify(y);

// The spec differences: one row per leaf path that differs, sorted by path.
// change: 'changed' (in both, different), 'removed' (only in a), 'added' (only in b).
export function specDiff(a, b) {
    const fa = flatten(a ?? {}), fb = flatten(b ?? {});
    const paths = [...new Set([...fa.keys(), ...fb.keys()])].sort();
    const rows = [];
    for (const p of paths) {
        const ina = fa.has(p), inb = fb.has(p);
        if (ina && inb && same(fa.get(p), fb.get(p))) continue;
        rows.push({ path: p, a: fa.get(p), b: fb.get(p), change: ina && inb ? 'changed' : ina ? 'removed' : 'added' });
    }
    return rows;
}

// The image rows: the reference as written, the image ID, and the repo digests.
export function imageDiff(ra, rb) {
    const ia = ra?.image ?? {}, ib = rb?.image ?? {};
    const digests = (i) => [...(i.repoDigests ?? [])].sort().join('\n');
    return [
        { field: 'reference', a: ia.ref ?? null, b: ib.ref ?? null },
        { field: 'image ID', a: ia.id ?? null, b: ib.id ?? null },
        { field: 'repo digests', a: digests(ia) || null, b: digests(ib) || null },
    ].map((r) => ({ ...r, same: r.a === r.b }));
}

// Files file by file, by path: 'same' (same sha256 and size), 'changed', 'only-a', 'only-b'.
export function fileDiff(la, lb) {
    const ma = new Map((la ?? []).map((f) => [f.path, f]));
    const mb = new Map((lb ?? []).map((f) => [f.path, f]));
    const paths = [...new Set([...ma.keys(), ...mb.keys()])].sort();
    return paths.map((path) => {
        const fa = ma.get(path), fb = mb.get(path);
        let status;
        if (!fb) status = 'only-a';
        else if (!fa) status = 'only-b';
        else status = fa.sha256 === fb.sha256 && (fa.size ?? null) === (fb.size ?? null) ? 'same' : 'changed';
        return { path, status, a: fa ?? null, b: fb ?? null };
    });
}

function count(rows) {
    const c = { same: 0, changed: 0, 'only-a': 0, 'only-b': 0 };
    for (const r of rows) c[r.status]++;
    return c;
}

// The whole comparison. specA/specB are the canonical spec documents of the two runs' revisions
// (null when unknown: then only the revision digests are compared).
export function compareRuns(ra, rb, specA = null, specB = null) {
    const spec = specA && specB ? specDiff(specA, specB) : null;
    const sameRevision = ra.revision === rb.revision;
    const image = imageDiff(ra, rb);
    const outputs = fileDiff(ra.outputs, rb.outputs);
    const haveInputFiles = Array.isArray(ra.inputs) && Array.isArray(rb.inputs);
    const inputs = haveInputFiles ? fileDiff(ra.inputs, rb.inputs) : null;
    const oc = count(outputs);
    const ic = inputs ? count(inputs) : null;
    const inputsSame = inputs
        ? ic.changed + ic['only-a'] + ic['only-b'] === 0
        : (ra.inputsDigest ?? null) === (rb.inputsDigest ?? null);
    const outputsSame = oc.changed + oc['only-a'] + oc['only-b'] === 0;
    const specSame = spec ? spec.length === 0 : sameRevision;
    const imageSame = image.every((r) => r.field === 'repo digests' || r.same);
    return {
        sameRevision, spec, specSame, image, imageSame, inputs, inputsSame,
        outputs, outputsSame, outputCounts: oc,
        identical: specSame && imageSame && inputsSame && outputsSame,
        summary: summarize({ specSame, imageSame, inputsSame, outputsSame, outputs, oc, spec }),
    };
}

function plural(n, word) {
    return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function summarize({ specSame, imageSame, inputsSame, outputsSame, outputs, oc, spec }) {
    if (specSame && imageSame && inputsSame && outputsSame) {
        return outputs.length
            ? `Identical: same spec, image and inputs, and all ${plural(outputs.length, 'output file')} have the same hashes.`
            : 'Identical: same spec, image and inputs; neither run has output files.';
    }
    const parts = [];
    if (!specSame) parts.push(spec ? `the spec differs in ${plural(spec.length, 'field')}` : 'the spec revision differs');
    if (!imageSame) parts.push('the image differs');
    if (!inputsSame) parts.push('the inputs differ');
    if (!outputsSame) {
        const names = outputs.filter((r) => r.status !== 'same').map((r) => r.path);
        const shown = names.slice(0, 3).join(', ') + (names.length > 3 ? `, and ${names.length - 3} more` : '');
        const what = [];
        if (oc.changed) what.push(`${oc.changed} changed`);
        if (oc['only-a']) what.push(`${oc['only-a']} only in A`);
        if (oc['only-b']) what.push(`${oc['only-b']} only in B`);
        parts.push(`outputs differ (${what.join(', ')}: ${shown})`);
    }
    const s = parts.join('; ');
    return `Different: ${s}.`;
}

// Two texts as rows side by side, from a line diff: {a, b, kind} with kind 'same', 'changed'
// (a removed line facing an added one), 'only-a' or 'only-b'; a/b are null where a side has none.
export function sideBySide(textA, textB, diffLines) {
    const rows = [];
    const lines = (v) => v.replace(/\n$/, '').split('\n');
    const parts = diffLines(textA ?? '', textB ?? '');
    for (let i = 0; i < parts.length; i++) {
        const p = parts[i];
        if (!p.added && !p.removed) {
            for (const l of lines(p.value)) rows.push({ a: l, b: l, kind: 'same' });
        } else if (p.removed && parts[i + 1]?.added) {
            const la = lines(p.value), lb = lines(parts[i + 1].value);
            for (let j = 0; j < Math.max(la.length, lb.length); j++) {
                const a = la[j] ?? null, b = lb[j] ?? null;
                rows.push({ a, b, kind: a !== null && b !== null ? 'changed' : a !== null ? 'only-a' : 'only-b' });
            }
            i++;
        } else {
            for (const l of lines(p.value)) rows.push(p.removed ? { a: l, b: null, kind: 'only-a' } : { a: null, b: l, kind: 'only-b' });
        }
    }
    return rows;
}
