/**
 * The browser build in a real browser: builds dist/web (esbuild), serves it
 * on 127.0.0.1, opens the demo page in Debian's headless Chromium through
 * playwright-core, waits for the page to report (window.__usnetDone) and
 * checks the HTTP bodies, keep-alive and the TCP states it saw, then takes a
 * screenshot. Chromium runs with flags that keep it from reaching any outside
 * host, and a fresh profile.
 *
 * Without /usr/bin/chromium the test fails under CI=true (.ci/run installs
 * it) and is skipped with the reason otherwise.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { buildWeb, serveWeb } from '../../scripts/build-web.mjs';
import { bigBody, DATA_JSON, type DemoResult, fnv1a, HELLO_TEXT, INDEX_TEXT } from '../../src/web/demo.js';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const missing = !existsSync(CHROMIUM);
const skip =
  missing && process.env.CI !== 'true'
    ? `${CHROMIUM} not found (apt-get install chromium; .ci/run does)`
    : false;

it('the demo page runs two stacks and an HTTP exchange in headless Chromium', {
  skip,
  timeout: 180_000,
}, async (t) => {
  if (missing) assert.fail(`${CHROMIUM} is missing, and CI=true requires the browser test to run`);
  const { chromium } = await import('playwright-core');
  await buildWeb({ quiet: true });
  const server = await serveWeb(0);
  const port = (server.address() as AddressInfo).port;
  const profile = mkdtempSync(join(tmpdir(), 'usnet-chromium-'));
  const shot = join(mkdtempSync(join(tmpdir(), 'usnet-shot-')), 'demo.png');
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
    viewport: { width: 1280, height: 1000 },
    timeout: 60_000,
  });
  const problems: string[] = [];
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console: ${m.text()}`);
    });
    // Anything but our own server is refused: the page must need nothing else.
    await page.route('**/*', (route) => {
      const u = new URL(route.request().url());
      if (u.hostname === '127.0.0.1' && u.port === String(port)) return route.continue();
      if (u.protocol === 'blob:' || u.protocol === 'data:') return route.continue();
      problems.push(`outside request: ${u.href}`);
      return route.abort();
    });
    await page.goto(`http://127.0.0.1:${port}/index.html`, { timeout: 30_000 });
    await page.waitForFunction(
      () => (window as unknown as { __usnetDone?: unknown }).__usnetDone !== undefined,
      null,
      {
        timeout: 90_000,
      },
    );
    const done = (await page.evaluate(
      () => (window as unknown as { __usnetDone: unknown }).__usnetDone,
    )) as DemoResult & {
      logHead: string[];
      shown: string[];
    };
    t.diagnostic(`states seen: ${done.states.join(', ')}; ${done.segments} segments`);
    t.diagnostic(`states the live tables displayed: ${done.shown.join(', ')}`);
    assert.equal(done.error, undefined);
    assert.equal(done.ok, true);
    const byPath = new Map(done.responses.map((r) => [r.path, r]));
    assert.equal(byPath.get('/')?.text, INDEX_TEXT);
    assert.equal(byPath.get('/hello.txt')?.text, HELLO_TEXT);
    assert.equal(byPath.get('/data.json')?.text, DATA_JSON);
    const big = byPath.get('/big.bin');
    assert.equal(big?.length, 200_000);
    assert.equal(big?.fnv, fnv1a(bigBody(200_000)));
    for (const r of done.responses) assert.equal(r.status, 200);
    // Keep-alive: client 1's three requests share one connection (one local port).
    const ports = new Set(done.responses.filter((r) => r.client === 1).map((r) => r.localPort));
    assert.equal(ports.size, 1);
    assert.ok(done.states.includes('ESTAB'));
    assert.ok(done.states.includes('TIME-WAIT'));
    assert.ok(done.states.includes('FIN-WAIT-2') || done.states.includes('FIN-WAIT-1'));
    assert.match(
      done.logHead[0],
      /^0\.000000 IP 198\.18\.0\.1\.\d+ > 198\.18\.0\.2\.80: Flags \[S\], seq \d+, win \d+/,
    );
    // The tables were live: they displayed the connections while open and while closing, not only at the end.
    assert.ok(done.shown.includes('ESTAB'), 'ESTAB displayed');
    assert.ok(
      done.shown.includes('FIN-WAIT-2') || done.shown.includes('CLOSE-WAIT'),
      'a closing state displayed (the server holds CLOSE-WAIT for 300 ms)',
    );
    // What the page shows at the end: the TIME-WAIT rows.
    const client = await page.textContent('#ss-client');
    const srv = await page.textContent('#ss-server');
    assert.match(client ?? '', /TIME-WAIT/);
    assert.match(srv ?? '', /TIME-WAIT/);
    assert.match((await page.textContent('#log')) ?? '', /Flags \[F\.\]/);
    await page.screenshot({ path: shot, fullPage: true });
    assert.ok(statSync(shot).size > 10_000);
    t.diagnostic(`screenshot: ${shot}`);
    assert.deepEqual(problems, []);
  } finally {
    await context.close();
    server.close();
    rmSync(profile, { recursive: true, force: true });
  }
});
