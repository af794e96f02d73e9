// Bundles src/ into dist/: index.html plus content-hashed app-<hash>.js and app-<hash>.css.
// Asset paths are absolute (/ui/...) because client-side routes such as /ui/runs/ID serve the
// same index.html. No inline scripts or styles: the page is served under a CSP of script-src/style-src 'self'.
import * as esbuild from 'esbuild';
import { readFile, writeFile, rm, mkdir, copyFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, process.argv[2] || 'dist');

await rm(out, { recursive: true, force: true });
await mkdir(out, { recursive: true });

const result = await esbuild.build({
    entryPoints: { app: join(here, 'src/main.js') },
    splitting: true, // the YAML editor is a chunk of its own, loaded on the apply page
    chunkNames: '[name]-[hash]',
    bundle: true,
    minify: true,
    format: 'esm',
    target: ['es2020'],
    jsx: 'automatic',
    jsxImportSource: 'preact',
    loader: { '.js': 'jsx' },
    entryNames: '[name]-[hash]',
    outdir: out,
    metafile: true,
    legalComments: 'eof',
    logLevel: 'warning',
});

let js = null, css = null;
for (const [file, o] of Object.entries(result.metafile.outputs)) {
    if (file.endsWith('.js') && o.entryPoint?.endsWith('src/main.js')) js = basename(file);
    else if (file.endsWith('.css')) css = basename(file);
}
if (!js) throw new Error('build.mjs: esbuild wrote no script');

let html = await readFile(join(here, 'src/index.html'), 'utf8');
html = html.replace('%APP_JS%', `/ui/${js}`).replace('%APP_CSS%', css ? `/ui/${css}` : '');
if (!css) html = html.replace(/^.*<link rel="stylesheet" href="">.*\n/m, '');
await writeFile(join(out, 'index.html'), html);
await copyFile(join(here, 'src/favicon.svg'), join(out, 'favicon.svg'));
console.log(`build.mjs: ${out}: index.html ${js}${css ? ' ' + css : ''}`);
