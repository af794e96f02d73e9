import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mapErrors, locatePath, splitPath, documentAt } from '../src/lib/yamlerrors.js';

const text = `apiVersion: cassiny/v1
kind: Job
metadata: {name: train}
spec:
  image: cassiny/notebook:bookworm
  resources:
    cpus: 1
    memory: lots
  inputs:
    - source: /srv/a
      target: /a
`;

test('paths split into keys and indices', () => {
    assert.deepEqual(splitPath('spec.inputs[0].source'), ['spec', 'inputs', 0, 'source']);
    assert.deepEqual(splitPath('.'), []);
});

test('an error with a line from the daemon is printed like cassinyctl', () => {
    const p = { status: 422, title: 'Unprocessable Content', detail: 'invalid',
        errors: [{ path: 'spec.resources.memory', line: 8, column: 13, message: 'not a quantity' }] };
    const [e] = mapErrors(p, text, 'job.yaml');
    assert.equal(e.line, 8);
    assert.equal(e.located, false);
    assert.equal(e.text, 'job.yaml:8:13: spec.resources.memory: not a quantity');
});

test('an error without a line is located from its path in the text', () => {
    assert.deepEqual(locatePath(text, 'spec.resources.memory'), { line: 8, column: 5 });
    assert.deepEqual(locatePath(text, 'spec.inputs[0].target'), { line: 11, column: 7 });
    // A missing key points at its parent.
    assert.deepEqual(locatePath(text, 'spec.resources.gpus'), { line: 6, column: 3 });
    const [e] = mapErrors({ errors: [{ path: 'spec.inputs[0].target', message: 'not allowed' }] }, text);
    assert.equal(e.line, 11);
    assert.equal(e.located, true);
    assert.equal(e.text, '-: spec.inputs[0].target: not allowed');
});

test('a problem without errors becomes one message, as the CLI says it', () => {
    const [e] = mapErrors({ status: 403, title: 'Forbidden', detail: 'image not allowed' }, text);
    assert.equal(e.line, null);
    assert.equal(e.text, 'cassinyctl: image not allowed (403 Forbidden)');
});

test('a text that does not parse locates nothing and does not throw', () => {
    assert.doesNotThrow(() => locatePath('a: [\n  b: ]]', 'spec.image'));
    assert.equal(locatePath('a: [\n  b: ]]', 'spec.image')?.line ?? 1, 1);
    assert.equal(locatePath('', 'spec'), null);
});

test('the document of a line in a multi-document text', () => {
    const t = 'kind: Job\n---\nkind: Model\n---\n# c\nkind: Notebook\n';
    assert.equal(documentAt(t, 1), 0);
    assert.equal(documentAt(t, 3), 1);
    assert.equal(documentAt(t, 6), 2);
    assert.equal(documentAt('---\nkind: Job\n', 2), 0);
});
