// The contract between api/openapi.yaml and the daemon, checked from outside:
//   static: the document's operations are the routes `cassinyd --list-routes`
//           prints, both ways; every example in the document validates
//           against its schema, and the spec examples are examples/*.yaml;
//   live:   (with --socket) every documented operation is answered by a
//           handler, not by the router's "no such route", with a status the
//           document lists and a body its schema accepts; every undocumented
//           method or path is answered by the router's 404/405.
// Prints "ok - ..."/"not ok - ..." per check and "contract: N passed, M failed".
//
// node contract.mjs --doc api/openapi.yaml --routes FILE --examples DIR
//                   [--socket SOCK --name SPEC --run RUN_ID --spec FILE]
// (SPEC is a spec applied with the YAML of FILE, RUN_ID a run of it that ended)
import { readFileSync, readdirSync } from 'node:fs';
import http from 'node:http';
import { parse, parseAllDocuments } from 'yaml';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

const args = {};
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
for (const k of ['doc', 'routes', 'examples'])
    if (!args[k]) {
        console.error(`usage: contract.mjs --doc FILE --routes FILE --examples DIR [--socket SOCK --name NAME --run ID --spec FILE]`);
        process.exit(2);
    }

let passed = 0, failed = 0;
const check = (ok, what, why) => {
    if (ok) { passed++; console.log(`ok - ${what}`); }
    else { failed++; console.log(`not ok - ${what}${why ? `: ${why}` : ''}`); }
    return ok;
};

const doc = parse(readFileSync(args.doc, 'utf8'));
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
const NO_ROUTE = 'urn:cassiny:problem:no-such-route';
const NO_METHOD = 'urn:cassiny:problem:method-not-allowed';

// ---- schemas: the document's, as JSON Schema 2020-12 (OpenAPI 3.1) ------------

const deref = (o) => {
    while (o && o.$ref) {
        const parts = o.$ref.replace(/^#\//, '').split('/').map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
        o = parts.reduce((x, p) => x[p], doc);
    }
    return o;
};
const clone = (x) => JSON.parse(JSON.stringify(x));
const toDefs = (s) => {
    if (Array.isArray(s)) return s.map(toDefs);
    if (!s || typeof s !== 'object') return s;
    const out = {};
    for (const [k, v] of Object.entries(s))
        out[k] = k === '$ref' && typeof v === 'string' ? v.replace('#/components/schemas/', '#/$defs/') : toDefs(v);
    return out;
};
// "Closed": an object schema with properties admits no property it does not
// name, so that a field the daemon sends and the document forgot is found.
// allOf members are inlined open and the whole is closed with
// unevaluatedProperties, which sees the members' properties.
const closed = (s, open = false) => {
    if (Array.isArray(s)) return s.map((x) => closed(x));
    if (!s || typeof s !== 'object') return s;
    if (s.$ref) return s;
    const out = {};
    for (const [k, v] of Object.entries(s)) {
        if (k === 'properties') out[k] = Object.fromEntries(Object.entries(v).map(([p, x]) => [p, closed(x)]));
        else if (k === 'allOf') out[k] = v.map((m) => closed(clone(deref(m)), true));
        else if (['items', 'additionalProperties', 'not'].includes(k) && typeof v === 'object') out[k] = closed(v);
        else if (['oneOf', 'anyOf'].includes(k)) out[k] = v.map((x) => closed(x));
        else out[k] = v;
    }
    if (!open && (s.properties || s.allOf) && s.additionalProperties === undefined && s.unevaluatedProperties === undefined)
        out.unevaluatedProperties = false;
    return out;
};
const ajv = new Ajv2020({ allErrors: true, strict: true, allowUnionTypes: true });
addFormats(ajv);
ajv.addKeyword({ keyword: 'example' }); // deprecated in 3.1, still allowed
const schemas = doc.components?.schemas ?? {};
const openDefs = toDefs(schemas);
const closedDefs = Object.fromEntries(Object.entries(schemas).map(([k, v]) => [k, toDefs(closed(v))]));
const cache = new Map();
const validator = (schema, strict) => {
    const key = JSON.stringify([schema, strict]);
    if (!cache.has(key)) {
        const root = toDefs(strict ? closed(schema) : schema);
        cache.set(key, ajv.compile({ ...root, $defs: strict ? closedDefs : openDefs }));
    }
    return cache.get(key);
};
const errText = (v) => ajv.errorsText(v.errors, { dataVar: 'body' }).slice(0, 400);
const validates = (schema, value, strict = false) => {
    try {
        const v = validator(schema, strict);
        return v(value) ? null : errText(v);
    } catch (e) {
        return `the schema does not compile: ${e.message}`;
    }
};

// ---- static: operations and routes -------------------------------------------

const operations = [];
for (const [path, item] of Object.entries(doc.paths ?? {}))
    for (const m of METHODS)
        if (item[m]) operations.push({ method: m.toUpperCase(), path, op: item[m], item });
const documented = new Set(operations.map((o) => `${o.method} ${o.path}`));
const routes = new Set(readFileSync(args.routes, 'utf8').split('\n').filter(Boolean));
check(routes.size >= 1, `cassinyd --list-routes lists ${routes.size} routes`);
for (const r of routes) check(documented.has(r), `route ${r} is in the document`);
for (const d of documented) check(routes.has(d), `${d} of the document is a route of the daemon`);

// ---- static: examples --------------------------------------------------------

// Spec examples are the repository's example files, spec for spec.
const files = Object.fromEntries(
    readdirSync(args.examples).filter((f) => f.endsWith('.yaml')).map((f) => [
        f.replace(/\.yaml$/, ''),
        parseAllDocuments(readFileSync(`${args.examples}/${f}`, 'utf8')).map((d) => d.toJS()),
    ]),
);
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
const mediaExamples = (media) => {
    const out = [];
    if (media.example !== undefined) out.push(['example', media.example]);
    for (const [k, e] of Object.entries(media.examples ?? {})) out.push([k, deref(e).value]);
    return out;
};
for (const { method, path, op, item } of operations) {
    const where = `${method} ${path}`;
    const specsBody = path === '/v1/specs' && method.toUpperCase() === 'POST';
    const body = deref(op.requestBody);
    for (const [type, media] of Object.entries(body?.content ?? {})) {
        const ex = mediaExamples(media);
        check(ex.length > 0, `${where} request ${type} has examples`);
        for (const [k, value] of ex) {
            let err = validates(media.schema, value);
            check(!err, `${where} request ${type} example ${k} validates against its schema`, err);
            // Only the specs' bodies are specs (a token request is not).
            if (!specsBody) continue;
            // A YAML body is a string: its documents are specs too.
            const specs = type === 'application/yaml' ? parseAllDocuments(value).map((d) => d.toJS()) : [value];
            if (media.schema?.$ref || type === 'application/yaml') {
                for (const s of specs) {
                    err = validates({ $ref: '#/components/schemas/SpecDocument' }, s);
                    check(!err, `${where} request ${type} example ${k}: each document is a SpecDocument`, err);
                }
            }
            check(files[k] && same(files[k], specs), `${where} request ${type} example ${k} is examples/${k}.yaml`,
                files[k] ? 'differs' : 'no such file');
        }
        if (specsBody)
            for (const f of Object.keys(files))
                check(ex.some(([k]) => k === f), `examples/${f}.yaml is an example of ${where} ${type}`);
    }
    for (const p of [...(item.parameters ?? []), ...(op.parameters ?? [])].map(deref))
        for (const [k, value] of p.example !== undefined ? [['example', p.example]] : Object.entries(p.examples ?? {}).map(([k, e]) => [k, deref(e).value])) {
            const err = validates(p.schema, value);
            check(!err, `${where} parameter ${p.name} example ${k} validates`, err);
        }
    for (const [status, r] of Object.entries(op.responses ?? {}))
        for (const [type, media] of Object.entries(deref(r).content ?? {}))
            for (const [k, value] of mediaExamples(media)) {
                const err = validates(media.schema, value);
                check(!err, `${where} ${status} ${type} example ${k} validates against its schema`, err);
            }
}
// Examples inside schemas (examples: [...]).
const walk = (s, at) => {
    if (!s || typeof s !== 'object') return;
    if (Array.isArray(s.examples) && (s.type || s.$ref || s.enum))
        s.examples.forEach((e, i) => {
            const { examples, ...bare } = s;
            const err = validates(bare, e);
            check(!err, `schema example ${at}[${i}] validates`, err);
        });
    for (const [k, v] of Object.entries(s)) if (typeof v === 'object' && k !== 'examples') walk(v, `${at}/${k}`);
};
walk(schemas, '#/components/schemas');

// ---- live -------------------------------------------------------------------

const request = (method, path, { body, type, stream } = {}) =>
    new Promise((resolve) => {
        const headers = { Connection: 'close' };
        if (body !== undefined) { headers['Content-Type'] = type; headers['Content-Length'] = Buffer.byteLength(body); }
        const req = http.request({ socketPath: args.socket, path, method, headers }, (res) => {
            const chunks = [];
            const done = () => resolve({ status: res.statusCode, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') });
            // An event stream does not end: its status and headers are the answer.
            if (stream && (res.headers['content-type'] ?? '').startsWith('text/event-stream')) {
                req.destroy();
                return done();
            }
            res.on('data', (c) => chunks.push(c));
            res.on('end', done);
            res.on('error', done);
        });
        req.on('error', (e) => resolve({ status: 0, headers: {}, text: String(e) }));
        req.setTimeout(30000, () => req.destroy(new Error('no answer in 30 s')));
        if (body !== undefined) req.write(body);
        req.end();
    });

const baseType = (t) => (t ?? '').split(';')[0].trim().toLowerCase();
// The document's answer for a status: the exact code, its NXX range, or default.
const responseFor = (op, status) => {
    const r = op.responses ?? {};
    return deref(r[String(status)] ?? r[`${String(status)[0]}XX`] ?? r.default);
};

// Checks one live answer against the document: a handler answered, with a
// status and media type the document lists, a body its schema accepts as it
// is and with no field it does not describe, and the headers it promises.
const checkAnswer = (where, op, res) => {
    if (!check(res.status > 0, `${where} is answered`, res.text)) return;
    let body = null;
    const json = /json$/.test(baseType(res.headers['content-type']));
    if (json) {
        try { body = JSON.parse(res.text); } catch { body = undefined; }
        check(body !== undefined || res.text === '', `${where}: ${res.status} body is JSON`);
    }
    const routerType = body && typeof body === 'object' ? body.type : undefined;
    check(routerType !== NO_ROUTE && routerType !== NO_METHOD, `${where}: ${res.status} from a handler, not the router`,
        `${routerType}: ${body?.detail}`);
    const r = responseFor(op, res.status);
    if (!check(r, `${where}: status ${res.status} is in the document`, res.text.slice(0, 200))) return;
    const type = baseType(res.headers['content-type']);
    const media = r.content?.[type];
    if (!check(media || (!r.content && res.text === ''), `${where}: ${res.status} ${type} is a documented media type`,
        `documented: ${Object.keys(r.content ?? {}).join(', ')}`)) return;
    if (media?.schema) {
        const value = json ? body : res.text;
        let err = validates(media.schema, value);
        check(!err, `${where}: ${res.status} body validates against the document's schema`, err);
        if (!err) {
            err = validates(media.schema, value, true);
            check(!err, `${where}: ${res.status} body has no field the document does not describe`, err);
        }
    }
    check(res.headers.allow === undefined, `${where}: ${res.status} has no Allow (only a 405 has)`, res.headers.allow);
    for (const [h, spec] of Object.entries(r.headers ?? {})) {
        if (h.toLowerCase() === 'retry-after') continue; // only when a limit is reached
        const v = res.headers[h.toLowerCase()];
        const hs = deref(spec).schema;
        check(v !== undefined, `${where}: ${res.status} carries ${h}`);
        // A header sent more than once (Set-Cookie) comes as a list: each validates.
        for (const one of v !== undefined && hs ? [v].flat() : []) {
            const err = validates(hs, hs.type === 'integer' ? Number(one) : one);
            check(!err, `${where}: ${h} ${one} validates`, err);
        }
    }
};

const fill = (path, name, run) => path.replace('{name}', name).replace('{id}', run);
// A value for each query parameter, from its schema: the extra requests
// that exercise the documented filters and options.
const queryOf = (op, item) => {
    const q = new URLSearchParams();
    for (const p of [...(item.parameters ?? []), ...(op.parameters ?? [])].map(deref)) {
        if (p.in !== 'query' || p.name === 'cursor') continue; // a cursor comes from `next`, below
        const s = deref(p.schema) ?? {};
        const v = s.enum ? s.enum[0] : s.type === 'integer' ? (s.minimum ?? 0) + 1
            : s.type === 'boolean' ? 'false' : p.name === 'name' ? args.name : p.name === 'run' ? args.run : 'x';
        q.set(p.name, String(v));
    }
    return q.toString();
};

if (args.socket) {
    // Spec examples through the daemon: a dry run accepts each as a spec
    // (200), or only its policy refuses it here (403: host paths missing).
    const post = operations.find((o) => o.method === 'POST' && o.path === '/v1/specs');
    for (const [type, media] of Object.entries(deref(post.op.requestBody).content))
        for (const [k, value] of mediaExamples(media)) {
            const body = typeof value === 'string' ? value : JSON.stringify(value);
            const res = await request('POST', '/v1/specs?dryRun=true', { body, type });
            const where = `dry run of the ${type} example ${k}`;
            check([200, 403].includes(res.status), `${where} is accepted as a spec (${res.status})`, res.text.slice(0, 300));
            checkAnswer(where, post.op, res);
        }

    // The probe's own spec, which the daemon's policy allows: a dry run is 200.
    const probeSpec = readFileSync(args.spec, 'utf8');
    const dry = await request('POST', '/v1/specs?dryRun=true', { body: probeSpec, type: 'application/yaml' });
    check(dry.status === 200, `dry run of the probe's spec answers 200 (${dry.status})`, dry.text.slice(0, 300));
    checkAnswer(`dry run of the probe's spec`, post.op, dry);

    // Every operation with a name and a run that do not exist (a well-formed
    // and a malformed id), then with the probe's; DELETE last, so that the
    // others see the spec.
    const order = [...operations].sort((a, b) => (a.method === 'DELETE') - (b.method === 'DELETE'));
    const passes = [
        ['oa-nosuch', 'r-00000000000000000000000000', 'missing'],
        ['oa-nosuch', 'r-nosuch', 'malformed id'],
        [args.name, args.run, 'probe'],
    ];
    for (const [name, run, what] of passes) {
        for (const { method, path, op, item } of order) {
            if (method === 'POST' && path === '/v1/specs') continue; // above: a real apply launches
            if (what !== 'probe' && !path.includes('{')) continue; // fixed paths: once is enough
            const url = fill(path, name, run);
            const stream = true; // an event stream is judged by its status and headers
            checkAnswer(`${method} ${url} (${what})`, op, await request(method, url, { stream }));
            const q = queryOf(op, item);
            if (q && method === 'GET')
                checkAnswer(`${method} ${url}?${q} (${what})`, op, await request(method, `${url}?${q}`, { stream }));
            if (method === 'GET') {
                const res = await request('HEAD', url, { stream });
                check(res.status > 0 && res.text === '', `HEAD ${url} (${what}) is answered (${res.status}) without a body`);
            }
        }
    }

    // Pages of the probe's runs (its run and the reproduction): `next` is a
    // cursor, and the page it names is answered.
    const list = operations.find((o) => o.method === 'GET' && o.path === '/v1/runs');
    const first = await request('GET', `/v1/runs?name=${args.name}&limit=1`);
    checkAnswer(`GET /v1/runs?name=${args.name}&limit=1`, list.op, first);
    const next = JSON.parse(first.text || '{}').next;
    if (check(typeof next === 'string', `a page of 1 of 2 runs has a next cursor (${next})`)) {
        const url = `/v1/runs?name=${args.name}&limit=1&cursor=${encodeURIComponent(next)}`;
        const res = await request('GET', url);
        check(res.status === 200, `GET ${url} answers 200 (${res.status})`);
        checkAnswer(`GET ${url}`, list.op, res);
    }

    // What the document does not have, the router answers.
    const answerIs = async (method, url, status, type, allow) => {
        const res = await request(method, url);
        const got = (res.headers.allow ?? '').split(/,\s*/).sort().join(', ');
        if (allow) check(got === allow, `${method} ${url}: Allow is ${allow}`, res.headers.allow);
        let body = {};
        try { body = JSON.parse(res.text); } catch { /* checked below */ }
        check(res.status === status && body.type === type, `${method} ${url} is the router's ${status} ${type}`,
            `${res.status} ${body.type}`);
        const err = validates({ $ref: '#/components/schemas/Problem' }, body, true);
        check(!err, `${method} ${url}: the problem validates against Problem`, err);
    };
    // A 405's Allow names the document's methods of the path, HEAD with GET.
    const allowOf = (item) => METHODS.filter((m) => item[m]).flatMap((m) => (m === 'get' ? ['GET', 'HEAD'] : [m.toUpperCase()]));
    for (const [path, item] of Object.entries(doc.paths))
        for (const m of ['GET', 'PUT', 'POST', 'DELETE', 'PATCH'])
            if (!item[m.toLowerCase()])
                await answerIs(m, fill(path, 'oa-nosuch', 'r-nosuch'), 405, NO_METHOD, allowOf(item).sort().join(', '));
    const templates = Object.keys(doc.paths).map((p) => new RegExp(`^${p.replace(/\{[^}]+\}/g, '[A-Za-z0-9._-]{1,127}')}$`));
    // Near misses of every documented path (one segment more, its parent,
    // another version, a name too long) and a few others.
    const near = new Set();
    for (const path of Object.keys(doc.paths)) {
        const p = fill(path, 'x', 'x');
        near.add(`${p}/extra`).add(`${p}/`).add(p.replace(/\/[^/]+$/, '') || '/').add(p.replace(/^\/v1\//, '/v2/'));
        if (path.includes('{')) near.add(fill(path, 'a'.repeat(128), 'a'.repeat(128)));
    }
    for (const u of ['/', '/v1', '/v1/nope', '/v1/openapi.json', '/v1/specs//rollback']) near.add(u);
    for (const url of [...near].filter((u) => !templates.some((t) => t.test(u)))) {
        await answerIs('GET', url, 404, NO_ROUTE);
        await answerIs('POST', url, 404, NO_ROUTE);
    }
}

console.log(`contract: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
