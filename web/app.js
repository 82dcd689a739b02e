// The demo page: runs src/web/demo.ts (bundled in usnet.js) and renders what
// it sees. When the exchange is over it sets window.__usnetDone = { ok,
// responses, states, ... } for test/web/chromium.test.ts.
import { ssRows, startDemo } from './usnet.js';

const $ = (id) => document.getElementById(id);
let demo = null;
let pcapUrl = null;
let frame = 0;
let ticker = 0;
// Every state the live tables have displayed during this run (the test checks the page was live).
let shown = new Set();

function esc(s) {
  return String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
}

function stateTag(s) {
  return `<span class="st st-${esc(s)}">${esc(s)}</span>`;
}

function renderTable(el, stack) {
  const rows = ssRows(stack);
  for (const r of rows) shown.add(r.state);
  el.innerHTML =
    rows
      .map(
        (r) =>
          `<tr><td>${stateTag(r.state)}</td><td>${r.recvQ}</td><td>${r.sendQ}</td><td>${esc(r.local)}</td>` +
          `<td>${esc(r.peer)}</td><td>${esc(r.timer)}</td></tr>`,
      )
      .join('') || '<tr><td colspan="6" class="muted">no sockets</td></tr>';
}

function renderHistory(d) {
  $('history').innerHTML = [...d.recorder.history.values()]
    .map(
      (h) =>
        `<div>${esc(h.host)} ${esc(h.local)} ↔ ${esc(h.peer)}: ${h.states.map(stateTag).join('→')}</div>`,
    )
    .join('');
}

function render() {
  frame = 0;
  if (demo === null) return;
  renderTable($('ss-client'), demo.a);
  renderTable($('ss-server'), demo.b);
  renderHistory(demo);
  if (demo.responses.length !== $('responses').children.length) renderResponses(demo.responses);
}

function scheduleRender() {
  if (frame === 0) frame = requestAnimationFrame(render);
}

function renderResponses(responses) {
  $('responses').innerHTML = responses
    .map(
      (r) =>
        `<tr><td>${r.client}</td><td>${r.localPort}</td><td>${esc(r.path)}</td><td>${r.status}</td>` +
        `<td>${r.length}</td><td>${esc(r.text ? r.text.slice(0, 40) : `fnv ${r.fnv}`)}</td></tr>`,
    )
    .join('');
}

async function run() {
  if (demo !== null) demo.stop();
  clearInterval(ticker);
  window.__usnetDone = undefined;
  shown = new Set();
  const delayMs = Number($('delay').value) || 0;
  const loss = (Number($('loss').value) || 0) / 100;
  $('status').textContent = 'running…';
  $('status').className = '';
  $('summary').textContent = '';
  $('responses').innerHTML = '';
  const log = $('log');
  log.textContent = '';
  // The server holds its CLOSE-WAIT for a moment so the half-closed connection can be seen.
  const d = startDemo({ delayMs, loss, closeDelayMs: 800 });
  demo = d;
  let pending = [];
  d.log.onLine = (line) => {
    pending.push(line.text);
    if (pending.length === 1)
      requestAnimationFrame(() => {
        log.append(`${pending.join('\n')}\n`);
        pending = [];
        log.scrollTop = log.scrollHeight;
      });
  };
  d.onStep = scheduleRender;
  const r = await d.result;
  if (demo !== d) return;
  renderResponses(r.responses);
  render();
  // TIME-WAIT lasts 60 s: keep the timers in the table counting down.
  ticker = setInterval(render, 500);
  $('status').textContent = r.ok
    ? `done in ${(r.elapsedMs / 1000).toFixed(2)} s`
    : `failed: ${r.error ?? 'see below'}`;
  $('status').className = r.ok ? 'ok' : 'bad';
  $('summary').textContent = `${r.segments} segments; states seen: ${r.states.join(', ')}`;
  if (pcapUrl !== null) URL.revokeObjectURL(pcapUrl);
  pcapUrl = URL.createObjectURL(new Blob([d.pcap.toBytes()], { type: 'application/vnd.tcpdump.pcap' }));
  $('pcap').disabled = false;
  window.__usnetDone = {
    ok: r.ok,
    error: r.error,
    responses: r.responses,
    states: r.states,
    history: r.history,
    segments: r.segments,
    shown: [...shown],
    logHead: d.log.lines.slice(0, 5).map((l) => l.text),
  };
}

$('run').addEventListener('click', () => {
  $('pcap').disabled = true;
  run();
});
$('pcap').addEventListener('click', () => {
  if (pcapUrl === null) return;
  const a = document.createElement('a');
  a.href = pcapUrl;
  a.download = 'usnet-demo.pcap';
  a.click();
});
const q = new URLSearchParams(location.search);
if (q.has('delay')) $('delay').value = q.get('delay');
if (q.has('loss')) $('loss').value = q.get('loss');
run().catch((e) => {
  $('status').textContent = `error: ${e.message}`;
  $('status').className = 'bad';
  window.__usnetDone = { ok: false, error: String(e?.stack ?? e), responses: [], states: [] };
});
