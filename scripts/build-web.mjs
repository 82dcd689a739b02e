#!/usr/bin/env node
// Builds the browser bundle and the demo page into dist/web/:
//   dist/web/usnet.js      ES module: the core, TCP, in-memory links, capture,
//                          the real-time driver and the node:net-style web API
//                          (src/web/index.ts), bundled with esbuild for browsers
//   dist/web/usnet.min.js  the same, minified
//   dist/web/index.html    the demo page (copied from web/)
//   dist/web/app.js        its script
//
//   node scripts/build-web.mjs            build
//   node scripts/build-web.mjs --serve    build, then serve dist/web on http://127.0.0.1:8080/
//                                          (--port N to pick another port; loopback only)
//
// `platform: 'browser'` makes esbuild refuse any node:* import, so a
// successful build is also the check that the bundled code is browser-clean.
import { copyFileSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { dirname, extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const outDir = join(root, 'dist', 'web');

export async function buildWeb({ quiet = false } = {}) {
  mkdirSync(outDir, { recursive: true });
  const r = await esbuild.build({
    entryPoints: [join(root, 'src', 'web', 'index.ts')],
    outfile: join(outDir, 'usnet.js'),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2022'],
    sourcemap: true,
    legalComments: 'none',
    logLevel: quiet ? 'silent' : 'warning',
    metafile: true,
  });
  // The same, minified, for pages that only want the size down.
  await esbuild.build({
    entryPoints: [join(root, 'src', 'web', 'index.ts')],
    outfile: join(outDir, 'usnet.min.js'),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2022'],
    minify: true,
    legalComments: 'none',
    logLevel: quiet ? 'silent' : 'warning',
  });
  for (const name of readdirSync(join(root, 'web'))) {
    const src = join(root, 'web', name);
    if (statSync(src).isFile()) copyFileSync(src, join(outDir, name));
  }
  const bytes = statSync(join(outDir, 'usnet.js')).size;
  const minBytes = statSync(join(outDir, 'usnet.min.js')).size;
  if (!quiet)
    console.log(
      `dist/web/usnet.js: ${(bytes / 1024).toFixed(0)} KiB (${Object.keys(r.metafile.inputs).length} modules); ` +
        `usnet.min.js: ${(minBytes / 1024).toFixed(0)} KiB`,
    );
  return { outDir, bytes, minBytes };
}

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.map': 'application/json',
  '.css': 'text/css',
};

/** A static server for dist/web on 127.0.0.1 (port 0: an ephemeral one). Resolves to the http.Server. */
export function serveWeb(port = 0) {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const rel = normalize(decodeURIComponent(url.pathname === '/' ? '/index.html' : url.pathname)).replace(
      /^[/\\]+/,
      '',
    );
    const file = join(outDir, rel);
    if (!file.startsWith(outDir + sep)) {
      res.writeHead(403).end();
      return;
    }
    let body;
    try {
      body = readFileSync(file);
    } catch {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n');
      return;
    }
    res.writeHead(200, {
      'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream',
      'Cache-Control': 'no-store',
    });
    res.end(body);
  });
  return new Promise((resolveServer, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolveServer(server));
  });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  await buildWeb();
  if (args.includes('--serve')) {
    const i = args.indexOf('--port');
    const port = i >= 0 ? Number(args[i + 1]) : 8080;
    const server = await serveWeb(port);
    const addr = server.address();
    console.log(`serving dist/web on http://127.0.0.1:${addr.port}/ (Ctrl-C to stop)`);
  }
}
