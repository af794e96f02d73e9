import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as P from '../src/lib/paging.js';

test('the query has the filters that are set, the limit and the cursor', () => {
    assert.equal(P.runsQuery({ name: ' train ', kind: '', status: 'failed' }, null), 'name=train&status=failed&limit=50');
    assert.equal(P.runsQuery({}, 'abc', 10), 'limit=10&cursor=abc');
});

test('forward with the server\'s cursors, back through the stack', () => {
    let p = P.initialPager();
    assert.equal(P.currentCursor(p), null);
    assert.equal(P.hasNext(p), false);
    p = P.pageLoaded(p, 'c1');
    assert.equal(P.hasNext(p), true);
    p = P.nextPage(p);
    assert.equal(P.currentCursor(p), 'c1');
    p = P.pageLoaded(p, 'c2');
    p = P.nextPage(p);
    assert.equal(P.currentCursor(p), 'c2');
    p = P.pageLoaded(p, null);
    assert.equal(P.hasNext(p), false);
    assert.equal(P.nextPage(p), p);
    p = P.prevPage(p);
    assert.equal(P.currentCursor(p), 'c1');
    p = P.prevPage(p);
    assert.equal(P.currentCursor(p), null);
    assert.equal(P.hasPrev(p), false);
    assert.equal(P.prevPage(p), p);
    // Forward again from the first page drops the stale cursors after it.
    p = P.nextPage(P.pageLoaded(p, 'x1'));
    assert.deepEqual(p.cursors, [null, 'x1']);
});

test('filters round-trip through the page URL', () => {
    const f = P.filtersFromSearch('?kind=Job&status=ready&other=1');
    assert.deepEqual(f, { name: '', kind: 'Job', status: 'ready' });
    assert.equal(P.searchFromFilters(f), '?kind=Job&status=ready');
    assert.equal(P.searchFromFilters({ name: '', kind: '', status: '' }), '');
    assert.equal(P.searchFromFilters({ name: 'a' }, 5), '?name=a&limit=5');
    assert.equal(P.pageSizeFromSearch('?limit=5'), 5);
    assert.equal(P.pageSizeFromSearch('?limit=0'), 50);
    assert.equal(P.pageSizeFromSearch('?limit=1001'), 50);
    assert.equal(P.pageSizeFromSearch('?limit=x'), 50);
    assert.equal(P.pageSizeFromSearch(''), 50);
});

test('run events update rows in place, and add new ones on the first page when they match', () => {
    const runs = [{ id: 'r-1', name: 'a', kind: 'Job', status: 'running', createdAt: 't' }];
    const up = P.applyRunEvent(runs, { id: 'r-1', status: 'succeeded' }, {}, false);
    assert.equal(up[0].status, 'succeeded');
    assert.equal(up[0].name, 'a');
    assert.equal(runs[0].status, 'running');
    const ev = { id: 'r-2', name: 'b', kind: 'Job', status: 'pending', createdAt: 't2' };
    assert.deepEqual(P.applyRunEvent(runs, ev, {}, true).map((r) => r.id), ['r-2', 'r-1']);
    assert.equal(P.applyRunEvent(runs, ev, {}, false), runs);
    assert.equal(P.applyRunEvent(runs, ev, { name: 'a' }, true), runs);
    assert.equal(P.applyRunEvent(runs, ev, { kind: 'Model' }, true), runs);
    assert.equal(P.applyRunEvent(runs, ev, { status: 'failed' }, true), runs);
});
