import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compareRuns, fileDiff, flatten, specDiff, imageDiff } from '../src/lib/compare.js';

const H = (c) => c.repeat(64);
const run = (over = {}) => ({
    id: 'r-1', name: 'train', kind: 'Job', status: 'succeeded', revision: 'sha256:' + H('a'),
    image: { ref: 'cassiny/notebook:bookworm', id: 'sha256:' + H('1'), repoDigests: [] },
    inputsDigest: 'sha256:' + H('9'),
    outputs: [
        { path: 'model.pkl', size: 10, sha256: H('b') },
        { path: 'metrics.json', size: 5, sha256: H('c') },
    ],
    ...over,
});
const doc = (over = {}) => ({ apiVersion: 'cassiny/v1', kind: 'Job', metadata: { name: 'train' },
    spec: { image: 'cassiny/notebook:bookworm', command: ['python3', 'train.py'], env: { A: '1' }, ...over } });

test('a reproduction with the same outputs is identical', () => {
    const c = compareRuns(run(), run({ id: 'r-2', outputs: [...run().outputs].reverse() }), doc(), doc());
    assert.equal(c.identical, true);
    assert.deepEqual(c.outputs.map((r) => r.status), ['same', 'same']);
    assert.match(c.summary, /^Identical: .*all 2 output files have the same hashes/);
});

test('a job that writes the time: the changed file is named', () => {
    const b = run({ id: 'r-2', outputs: [{ path: 'model.pkl', size: 10, sha256: H('b') }, { path: 'metrics.json', size: 5, sha256: H('d') }] });
    const c = compareRuns(run(), b, doc(), doc());
    assert.equal(c.identical, false);
    assert.equal(c.outputsSame, false);
    assert.deepEqual(c.outputCounts, { same: 1, changed: 1, 'only-a': 0, 'only-b': 0 });
    assert.equal(c.summary, 'Different: outputs differ (1 changed: metrics.json).');
});

test('files only in one run, and a size change with the same hash, are differences', () => {
    const rows = fileDiff(
        [{ path: 'a', size: 1, sha256: H('1') }, { path: 'b', size: 1, sha256: H('2') }],
        [{ path: 'b', size: 2, sha256: H('2') }, { path: 'c', size: 1, sha256: H('3') }]);
    assert.deepEqual(rows.map((r) => [r.path, r.status]), [['a', 'only-a'], ['b', 'changed'], ['c', 'only-b']]);
    assert.deepEqual(fileDiff(undefined, []), []);
});

test('spec differences by path: changed, added, removed, in arrays too', () => {
    const rows = specDiff(doc(), doc({ command: ['python3', 'train2.py'], env: {}, timeoutSeconds: 60 }));
    assert.deepEqual(rows.map((r) => [r.path, r.change]), [
        ['spec.command[1]', 'changed'],
        ['spec.env', 'added'],
        ['spec.env.A', 'removed'],
        ['spec.timeoutSeconds', 'added'],
    ]);
    assert.equal(rows[0].a, 'train.py');
    assert.equal(rows[0].b, 'train2.py');
    assert.deepEqual(specDiff(doc(), doc()), []);
    assert.deepEqual([...flatten({ a: [] })], [['a', []]]);
});

test('a different image ID is an image difference; digests alone are shown, not a verdict', () => {
    const b = run({ id: 'r-2', image: { ref: 'cassiny/notebook:bookworm', id: 'sha256:' + H('2'), repoDigests: ['x@sha256:' + H('5')] } });
    const rows = imageDiff(run(), b);
    assert.deepEqual(rows.map((r) => [r.field, r.same]), [['reference', true], ['image ID', false], ['repo digests', false]]);
    const c = compareRuns(run(), b, doc(), doc());
    assert.equal(c.imageSame, false);
    assert.match(c.summary, /the image differs/);
    const d = compareRuns(run(), run({ image: { ...run().image, repoDigests: ['y'] } }), doc(), doc());
    assert.equal(d.imageSame, true);
});

test('without the specs the revisions decide; inputs by file when the runs list them', () => {
    const c = compareRuns(run(), run({ revision: 'sha256:' + H('f') }));
    assert.equal(c.spec, null);
    assert.equal(c.specSame, false);
    assert.match(c.summary, /the spec revision differs/);
    const i = compareRuns(run({ inputs: [{ path: 'x', sha256: H('1') }] }), run({ inputs: [{ path: 'x', sha256: H('2') }] }), doc(), doc());
    assert.equal(i.inputsSame, false);
    assert.deepEqual(i.inputs.map((r) => r.status), ['changed']);
    const d = compareRuns(run(), run({ inputsDigest: 'sha256:' + H('8') }), doc(), doc());
    assert.equal(d.inputsSame, false);
});

test('more than three changed files are summarized', () => {
    const outs = (c) => ['a', 'b', 'c', 'd', 'e'].map((p) => ({ path: p, size: 1, sha256: H(c) }));
    const c = compareRuns(run({ outputs: outs('1') }), run({ outputs: outs('2') }), doc(), doc());
    assert.equal(c.summary, 'Different: outputs differ (5 changed: a, b, c, and 2 more).');
});

test('specs as YAML side by side, line by line', async () => {
    const { diffLines } = await import('diff');
    const { sideBySide } = await import('../src/lib/compare.js');
    const rows = sideBySide('a: 1\nb: 2\nc: 3\n', 'a: 1\nb: 5\nc: 3\nd: 4\n', diffLines);
    assert.deepEqual(rows, [
        { a: 'a: 1', b: 'a: 1', kind: 'same' },
        { a: 'b: 2', b: 'b: 5', kind: 'changed' },
        { a: 'c: 3', b: 'c: 3', kind: 'same' },
        { a: null, b: 'd: 4', kind: 'only-b' },
    ]);
    assert.deepEqual(sideBySide('x\n', '', diffLines), [{ a: 'x', b: null, kind: 'only-a' }]);
});
