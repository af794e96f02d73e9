// The dashboard in a real Chromium against a real cassinyd (run.sh sets the environment).
// Prints "ok - ..." / "not ok - ..." per test and "# e2e done" at its end.
import { chromium } from 'playwright-core';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const env = process.env;
const BASE = env.CASS_UI_BASE;
const SHOTS = env.CASS_UI_SHOTS;
const TAG = env.CASS_UI_TAG;
const TOK = { admin: env.CASS_UI_ADMIN, alice: env.CASS_UI_ALICE, bob: env.CASS_UI_BOB };
const NB = `churn-${TAG}`;
const MODEL = `iris-${TAG}`;
const cspViolations = [];
let failures = 0;

function fail(msg) {
    throw new Error(msg);
}

async function api(who, method, path, body) {
    const headers = { Authorization: `Bearer ${TOK[who]}` };
    if (body !== undefined) headers['Content-Type'] = 'application/yaml';
    const r = await fetch(BASE + path, { method, headers, body });
    const text = await r.text();
    let json = null;
    try { json = JSON.parse(text); } catch { /* not JSON */ }
    return { status: r.status, json, text };
}

async function waitRun(who, id, want, secs) {
    const end = Date.now() + secs * 1000;
    let st;
    while (Date.now() < end) {
        st = (await api(who, 'GET', `/v1/runs/${id}`)).json?.status;
        if (want.includes(st)) return st;
        if (['failed', 'stopped', 'succeeded'].includes(st)) break;
        await new Promise((r) => setTimeout(r, 500));
    }
    fail(`run ${id} is ${st}, not ${want.join('/')}, after ${secs}s`);
}

async function launch(who, yaml) {
    const r = await api(who, 'POST', '/v1/specs', yaml);
    if (r.status !== 202) fail(`apply answered ${r.status}: ${r.text.slice(0, 200)}`);
    return r.json.specs[0].run.id;
}

const browser = await chromium.launch({
    executablePath: env.CASS_UI_CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
});

async function newPage() {
    const ctx = await browser.newContext({ viewport: { width: 1366, height: 860 } });
    const page = await ctx.newPage();
    page.setDefaultTimeout(20000);
    page.on('console', (m) => {
        if (/Content Security Policy/i.test(m.text())) cspViolations.push(`${page.url()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => cspViolations.push(`${page.url()}: page error ${e.message}`));
    return { ctx, page };
}

async function shot(page, name) {
    await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

// Every form control on the page has a label a screen reader reads.
async function unlabelled(page) {
    return page.evaluate(() => [...document.querySelectorAll('input, select, textarea')]
        .filter((el) => el.type !== 'hidden' && !(el.labels?.length) && !el.getAttribute('aria-label') && !el.getAttribute('aria-labelledby'))
        .map((el) => el.outerHTML.slice(0, 80)));
}

const pagesChecked = new Map();
async function checkLabels(page, name) {
    pagesChecked.set(name, await unlabelled(page));
}

async function test(name, fn, page) {
    try {
        await fn();
        console.log(`ok - ${name}`);
    } catch (e) {
        failures++;
        console.log(`not ok - ${name}: ${String(e.message).split('\n')[0]}`);
        if (page) await shot(page, `failed-${name.replace(/[^a-z0-9]+/gi, '-').slice(0, 60)}`).catch(() => {});
    }
}

async function login(page, who) {
    await page.goto(`${BASE}/ui/`);
    await page.fill('#token', TOK[who]);
    await page.click('button[type=submit]');
    await page.waitForSelector('#whoami');
}

// Replaces the editor's text the way a paste does (a paste event with the text on its
// clipboard data, which CodeMirror takes as one edit).
async function paste(page, text) {
    const content = page.locator('.cm-content');
    await content.click();
    await page.keyboard.press('Control+A');
    await content.evaluate((el, t) => {
        const dt = new DataTransfer();
        dt.setData('text/plain', t);
        el.dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true }));
    }, text);
}

// The notebook's card on a fresh notebooks page.
async function notebookCard(p) {
    await p.goto(`${BASE}/ui/notebooks`);
    return p.locator(`article[data-notebook="${NB}"]`);
}
// Presses the button that asks first (in scope), then (after `inDialog`, if given) the
// dialog's confirmation.
async function confirmed(p, scope, label, inDialog) {
    await scope.locator(`button[aria-haspopup=dialog]:text("${label}")`).click();
    if (inDialog) await inDialog(p.locator('dialog[open]'));
    await p.click('dialog[open] button[type=submit]');
}

const alice = await newPage();
const bob = await newPage();
const admin = await newPage();
let nbRun = null;

// --- log in, who am I
await test('the login page asks for a token and refuses a wrong one with a sentence', async () => {
    const p = alice.page;
    await p.goto(`${BASE}/ui/`);
    await p.waitForSelector('label[for=token]');
    await shot(p, 'login');
    await p.fill('#token', 'not-a-token');
    await p.click('button[type=submit]');
    const alert = await p.waitForSelector('[role=alert]');
    if (!/refused/.test(await alert.textContent())) fail('no refusal sentence');
}, alice.page);

await test('alice logs in with her token; the page says who she is; the cookie is HttpOnly and SameSite=Strict', async () => {
    await login(alice.page, 'alice');
    const who = await alice.page.textContent('#whoami');
    if (!/alice\s*\(write\)/.test(who)) fail(`whoami says "${who}"`);
    const c = (await alice.ctx.cookies()).find((x) => x.name === 'cassiny-session');
    if (!c || !c.httpOnly || c.sameSite !== 'Strict') fail(`session cookie ${JSON.stringify(c)}`);
    if (alice.page.url().includes(TOK.alice)) fail('the token is in the URL');
}, alice.page);

// --- notebooks
await test('the example notebook appears, live, and becomes ready with its image ID and resources', async () => {
    const p = alice.page;
    await p.goto(`${BASE}/ui/notebooks`);
    await p.waitForSelector('h1:text("Notebooks")');
    // Applied after the page is open: it must appear without a reload.
    nbRun = await launch('alice', readFileSync(env.CASS_UI_NOTEBOOK, 'utf8'));
    const card = p.locator(`article[data-notebook="${NB}"]`);
    await card.waitFor({ timeout: 20000 });
    await card.locator('.status-ready').waitFor({ timeout: 240000 });
    const text = await card.textContent();
    if (!text.includes('cassiny/notebook:bookworm')) fail('no image tag');
    if (!/Image ID[0-9a-f]{12}/.test(text)) fail('no image ID');
    if (!text.includes('1.5 CPUs, 4 GiB memory')) fail(`resources not shown: ${text}`);
    if (!/stops after 2h 00m idle|left of 2h 00m/.test(text)) fail('no idle timeout');
    await checkLabels(p, 'notebooks');
    await shot(p, 'notebooks');
}, alice.page);

await test('its Open button leads to a Jupyter that answers', async () => {
    const p = alice.page;
    const card = p.locator(`article[data-notebook="${NB}"]`);
    const [tab] = await Promise.all([alice.ctx.waitForEvent('page'), card.locator('a:has-text("Open")').click()]);
    // What the browser could not fetch, and why (net::ERR_...), and what it was answered: a
    // failure below then says which request failed and how, not only "Failed to fetch".
    const netlog = [];
    const masked = (url) => url.replace(/token=[^&]*/, 'token=…');
    tab.on('requestfailed', (r) => netlog.push(`${r.method()} ${masked(r.url())} failed: ${r.failure()?.errorText}`));
    tab.on('response', (r) => netlog.push(`${r.request().method()} ${masked(r.url())} ${r.status()}`));
    tab.on('framenavigated', (f) => { if (f === tab.mainFrame()) netlog.push(`navigated to ${masked(f.url())}`); });
    const explain = (what) => fail(`${what}; the tab's requests: ${netlog.slice(-12).join(' | ')}`);
    await tab.waitForLoadState('domcontentloaded', { timeout: 60000 });
    // Jupyter's page: the classic file list (tree) or JupyterLab's config, whichever the image serves.
    await tab.waitForSelector('#notebook_list, script#jupyter-config-data', { state: 'attached', timeout: 90000 });
    if (!/\/notebooks\/[^/]+\/(lab|tree)/.test(tab.url())) fail(`the tab is at ${tab.url()}`);
    // Jupyter's own API answers through the same address, with the cookie it set.
    const st = await tab.evaluate(async (url) => {
        try {
            return (await fetch(new URL('api/status', url))).status;
        } catch (e) {
            return `${e.name}: ${e.message}`;
        }
    }, tab.url().replace(/(\/notebooks\/[^/]+\/).*$/, '$1'));
    if (st !== 200) explain(`Jupyter's api/status answered ${st}`);
    await tab.waitForTimeout(1500);
    await shot(tab, 'jupyter');
    await tab.close();
}, alice.page);

await test('bob, without admin, does not see alice\'s notebook nor her runs', async () => {
    const p = bob.page;
    await login(p, 'bob');
    await p.goto(`${BASE}/ui/notebooks`);
    await p.waitForSelector('.empty');
    if (await p.locator(`article[data-notebook="${NB}"]`).count()) fail('alice\'s notebook is shown to bob');
    if (!/No notebooks yet\. Apply a Notebook spec/.test(await p.textContent('.empty'))) fail('no sentence saying what to do');
    await shot(p, 'notebooks-bob');
    await p.goto(`${BASE}/ui/runs`);
    await p.waitForSelector('.empty');
    if (await p.locator(`tr[data-run="${nbRun}"]`).count()) fail('alice\'s run is listed for bob');
    await p.goto(`${BASE}/ui/runs/${nbRun}`);
    const err = await p.waitForSelector('[role=alert]');
    if (!/404/.test(await err.textContent())) fail(`bob reading alice's run: ${await err.textContent()}`);
}, bob.page);

await test('the admin sees alice\'s notebook, without its address', async () => {
    const p = admin.page;
    await login(p, 'admin');
    const card = await notebookCard(p);
    await card.waitFor();
    if (!(await card.textContent()).includes('alice')) fail('owner not shown');
    if (await card.locator('a:has-text("Open")').count()) fail('the admin got alice\'s notebook address');
}, admin.page);

await test('Stop and Start, each after a confirmation, followed live', async () => {
    const p = alice.page;
    const card = await notebookCard(p);
    await card.locator('.status-ready').waitFor();
    await card.locator('button[aria-haspopup=dialog]:text("Stop")').click();
    const dlg = p.locator('dialog[open]');
    if (!(await dlg.textContent()).includes(`Stop ${NB}?`)) fail('no confirmation');
    await dlg.locator('button:text("Cancel")').click();
    if ((await api('alice', 'GET', `/v1/runs/${nbRun}`)).json.status !== 'ready') fail('Cancel stopped it');
    await confirmed(p, card, 'Stop');
    await card.locator('.status-stopped').waitFor({ timeout: 60000 });
    await confirmed(p, card, 'Start');
    await card.locator('.status-ready').waitFor({ timeout: 240000 });
    const now = (await api('alice', 'GET', `/v1/specs/${NB}`)).json;
    if (now.runId === nbRun) fail('Start did not launch a new run');
}, alice.page);

// --- jobs, reproduce, compare
const job = (name, cmd) => `apiVersion: cassiny/v1
kind: Job
metadata: {name: ${name}}
spec:
  image: cassiny/notebook:bookworm
  command: [sh, -c, "${cmd}"]
  outputs: /outputs
  resources: {cpus: 1, memory: 256Mi}
`;

async function reproduceAndCompare(p, id) {
    await p.goto(`${BASE}/ui/runs/${id}`);
    await confirmed(p, p.locator('main'), 'Reproduce');
    await p.waitForURL((u) => /\/ui\/runs\/r-/.test(u.pathname) && !u.pathname.endsWith(id));
    const copy = p.url().split('/').pop();
    // The page follows the new run live to its end and then shows the daemon's comparison.
    await p.waitForSelector('h1 .status-succeeded', { timeout: 120000 });
    await p.waitForSelector('#repro-h', { timeout: 10000 });
    await p.click('a:text("Compare with the original")');
    await p.waitForSelector('#verdict');
    return copy;
}

await test('a job\'s run page shows its outputs with sizes and hashes, its logs and its spec', async () => {
    const p = alice.page;
    const id = await launch('alice', job(`same-${TAG}`, 'echo hello > /outputs/hello.txt; seq 1 1000 > /outputs/numbers.txt; echo wrote them'));
    await waitRun('alice', id, ['succeeded'], 120);
    await p.goto(`${BASE}/ui/runs/${id}`);
    await p.waitForSelector('table.outputs');
    const rows = await p.locator('table.outputs tbody tr').allTextContents();
    if (rows.length !== 2 || !rows[0].startsWith('hello.txt6 B') || !rows[1].startsWith('numbers.txt')) fail(`outputs: ${rows}`);
    if (!/[0-9a-f]{64}/.test(rows[0])) fail('no sha256');
    await p.waitForSelector('pre.logs:text("wrote them")');
    if (!(await p.textContent('pre.yaml')).includes('kind: Job')) fail('no spec YAML');
    await checkLabels(p, 'run');
    await shot(p, 'run');
    globalThis.sameJob = id;
}, alice.page);

await test('Reproduce, then the comparison with the reproduction says identical', async () => {
    const p = alice.page;
    await reproduceAndCompare(p, globalThis.sameJob);
    const v = await p.textContent('#verdict');
    if (!v.startsWith('Identical')) fail(`verdict: ${v}`);
    if ((await p.locator('tr[data-verdict=same]').count()) !== 2) fail('not 2 same files');
    await shot(p, 'compare-identical');
}, alice.page);

await test('for a job that writes the time, the comparison names the changed file', async () => {
    const p = alice.page;
    const id = await launch('alice', job(`time-${TAG}`, 'date +%s%N > /outputs/time.txt; echo constant > /outputs/same.txt'));
    await waitRun('alice', id, ['succeeded'], 120);
    await reproduceAndCompare(p, id);
    const v = await p.textContent('#verdict');
    if (!/^Different: outputs differ \(1 changed: time\.txt\)/.test(v)) fail(`verdict: ${v}`);
    if (!(await p.locator('tr[data-file="time.txt"][data-verdict=changed]').count())) fail('time.txt not marked changed');
    if (!(await p.locator('tr[data-file="same.txt"][data-verdict=same]').count())) fail('same.txt not marked same');
    await checkLabels(p, 'compare');
    await shot(p, 'compare-changed');
}, alice.page);

await test('the runs table: newest first, filtered by kind and name, two runs picked for comparison', async () => {
    const p = alice.page;
    await p.goto(`${BASE}/ui/runs`);
    await p.waitForSelector('table.runs');
    const created = await p.locator('table.runs tbody tr td:nth-child(6)').allTextContents();
    if ([...created].sort().reverse().join() !== created.join()) fail(`not newest first: ${created}`);
    await p.selectOption('#f-kind', 'Job');
    await p.fill('#f-name', `time-${TAG}`);
    await p.click('form.filters button[type=submit]');
    await p.waitForURL(/kind=Job/);
    await p.waitForFunction(() => document.querySelectorAll('table.runs tbody tr').length === 2);
    const names = await p.locator('table.runs tbody tr td:nth-child(3)').allTextContents();
    if (names.some((n) => n !== `time-${TAG}`)) fail(`filter let through ${names}`);
    await p.locator('table.runs tbody tr input[type=checkbox]').nth(0).check();
    await p.locator('table.runs tbody tr input[type=checkbox]').nth(1).check();
    await checkLabels(p, 'runs');
    await shot(p, 'runs');
    await p.click('button:text("Compare selected")');
    await p.waitForSelector('#verdict');
    if (!(await p.textContent('#verdict')).includes('time.txt')) fail('comparison from the table');
}, alice.page);

// --- apply: validation errors with their lines, dry run, apply
const model = (v) => `apiVersion: cassiny/v1
kind: Model
metadata: {name: ${MODEL}}
spec:
  image: cassiny/model-server:bookworm
  artifact: ${env.CASS_UI_MODELS}/${v}/model.joblib
  version: ${v}
  replicas: 2
  resources: {cpus: 500m, memory: 512Mi}
`;

await test('an invalid spec pasted shows the error on its line, as the CLI says it', async () => {
    const p = alice.page;
    await p.goto(`${BASE}/ui/apply`);
    await p.waitForSelector('.cm-content');
    await paste(p, `apiVersion: cassiny/v1\nkind: Job\nmetadata:\n  name: broken\nspec:\n  image: cassiny/notebook:bookworm\n  command: [python3, -V]\n  resources:\n    memory: lots\n`);
    await p.click('button:text("Dry run")');
    const item = p.locator('.problems li[data-line="9"]');
    await item.waitFor();
    const t = await item.textContent();
    if (!t.includes('spec.resources.memory') || !t.includes('-:9:13: spec.resources.memory: must be a memory size')) fail(`error item: ${t}`);
    const marked = await p.locator('.cm-error-line').allTextContents();
    if (marked.length !== 1 || !marked[0].includes('memory: lots')) fail(`marked lines: ${marked}`);
    if (await p.isEnabled('button:text("Apply")')) fail('Apply enabled on an invalid spec');
    await checkLabels(p, 'apply');
    await shot(p, 'apply-error');
}, alice.page);

await test('a model applied from the apply page: dry run first, then apply; it serves v1', async () => {
    const p = alice.page;
    await paste(p, model('v1'));
    await p.click('button:text("Dry run")');
    await p.waitForSelector('#dry-h');
    if (!(await p.textContent('#dry-h + table')).includes('store a new revision')) fail('dry run result');
    await shot(p, 'apply-dry-run');
    await p.click('button:text("Apply")');
    await p.waitForSelector('#applied-h');
    await p.goto(`${BASE}/ui/models/${MODEL}`);
    await p.waitForSelector('#serving-version:text("version v1")', { timeout: 180000 });
}, alice.page);

await test('a rollout to v2, shown live replica by replica, ends on the new version', async () => {
    const p = alice.page;
    // The page stays open; the new revision comes from elsewhere (the API) and the page follows.
    const r = await api('alice', 'POST', '/v1/specs', model('v2'));
    if (r.status !== 202) fail(`apply v2: ${r.status}`);
    await p.waitForSelector('.replicas[data-rolling=yes]', { timeout: 30000 });
    await p.waitForSelector('.replica-run:nth-child(2)', { timeout: 30000 });
    await shot(p, 'model-rollout-live');
    await p.waitForSelector('#serving-version:text("version v2")', { timeout: 240000 });
    await p.waitForSelector('.replicas[data-rolling=no]');
    const tl = await p.locator('.timeline li').allTextContents();
    if (!tl.some((l) => /replica 2 of 2 is healthy/.test(l))) fail(`the timeline: ${tl.join(' | ')}`);
    if (!tl.some((l) => /drained and stopped/.test(l))) fail(`no old replica retired in the timeline: ${tl.join(' | ')}`);
    if ((await p.locator('.replica-run').count()) !== 1) fail('more than one run serves after the rollout');
    if ((await p.locator('.replica-run .slots li.up').count()) !== 2) fail('not 2 replicas up');
    await checkLabels(p, 'model');
    await shot(p, 'model-rollout-done');
    await p.goto(`${BASE}/ui/models`);
    await p.waitForSelector(`tr[data-model="${MODEL}"]`);
    await shot(p, 'models');
}, alice.page);

await test('Rollback goes back to v1, live', async () => {
    const p = alice.page;
    await p.goto(`${BASE}/ui/models/${MODEL}`);
    await p.waitForSelector('#serving-version:text("version v2")');
    // Loaded anew, the history still knows which version each revision served.
    const versions = await p.locator('#hist-h ~ table tbody tr td:nth-child(2)').allTextContents();
    if (versions.join() !== 'v2,v1') fail(`the history's versions: ${versions}`);
    await confirmed(p, p.locator('#hist-h + .actions'), 'Roll back');
    await p.waitForSelector('#serving-version:text("version v1")', { timeout: 240000 });
}, alice.page);

await test('the runs table pages through every run with the cursor, newest first, and back', async () => {
    const p = alice.page;
    const all = (await api('alice', 'GET', '/v1/runs?limit=1000')).json.runs.map((r) => r.id);
    if (all.length < 7) fail(`only ${all.length} runs to page through`);
    await p.goto(`${BASE}/ui/runs?limit=3`);
    const seen = [];
    let first = null;
    for (let page = 1; ; page++) {
        await p.waitForSelector(`#page-no:text("Page ${page}")`);
        await p.waitForFunction((n) => document.querySelectorAll('table.runs tbody tr').length > 0 && document.querySelector('#page-no').textContent === `Page ${n}`, page);
        await p.waitForTimeout(200);
        const ids = await p.locator('table.runs tbody tr').evaluateAll((rows) => rows.map((r) => r.dataset.run));
        if (page === 1) first = ids;
        seen.push(...ids);
        if (!(await p.isEnabled('button:text("Older")'))) break;
        if (page > 50) fail('more pages than runs');
        await p.click('button:text("Older")');
    }
    if (seen.join() !== all.join()) fail(`pages gave ${seen.length} runs, the API ${all.length}`);
    await p.click('button:text("Newer")');
    await p.click('button:text("Newer")');
    while (await p.isEnabled('button:text("Newer")')) await p.click('button:text("Newer")');
    await p.waitForSelector('#page-no:text("Page 1")');
    await p.waitForTimeout(300);
    const again = await p.locator('table.runs tbody tr').evaluateAll((rows) => rows.map((r) => r.dataset.run));
    if (again.join() !== first.join()) fail('back on page 1, other runs');
}, alice.page);

await test('Delete, after a confirmation, removes the notebook; the page then says what to do', async () => {
    const p = alice.page;
    const card = await notebookCard(p);
    await confirmed(p, card, 'Delete', (dlg) => dlg.locator('input[type=checkbox]').check());
    await card.waitFor({ state: 'detached', timeout: 60000 });
    await p.waitForSelector('.empty:text("No notebooks yet")');
    if ((await api('alice', 'GET', `/v1/specs/${NB}`)).status !== 404) fail('the spec is still there');
}, alice.page);

await test('no page broke the Content-Security-Policy or threw', async () => {
    if (cspViolations.length) fail(cspViolations.slice(0, 3).join(' | '));
});

await test('every form control of every page has a label', async () => {
    const bad = [...pagesChecked].filter(([, v]) => v.length);
    if (pagesChecked.size < 5) fail(`only ${pagesChecked.size} pages checked`);
    if (bad.length) fail(bad.map(([k, v]) => `${k}: ${v.join(', ')}`).join('; '));
});

await test('log out: the cookie goes, the API answers 401, the login form is back', async () => {
    const p = alice.page;
    await p.goto(`${BASE}/ui/notebooks`);
    await p.click('button:text("Log out")');
    await p.waitForSelector('#token');
    if ((await alice.ctx.cookies()).some((c) => c.name === 'cassiny-session' && c.value)) fail('the session cookie is still there');
    const st = await p.evaluate(async () => (await fetch('/v1/specs')).status);
    if (st !== 401) fail(`/v1/specs after logout: ${st}`);
}, alice.page);

await browser.close();
console.log(`# e2e done: ${failures} failed`);
process.exit(failures ? 1 : 0);
