// The hookwire inspector's page: the list of webhooks (this agent's exchanges with the
// app, the relay's history and its refusals), live over server-sent events, and one
// webhook's detail with replay, edited replay and "copy as curl". Everything a webhook
// carries is shown with textContent, never parsed as HTML: its bytes are anyone's.
'use strict';

const $ = (id) => document.getElementById(id);
const state = {
  rows: new Map(),      // key -> row
  capturedIds: new Set(),
  cursor: null,         // the relay's next page, or null
  selected: null,       // key of the row shown in the detail
  detail: null,         // what the detail shows: {row, request, captures, relay}
  forward: '',
};

async function api(method, path, body) {
  const opts = { method, headers: {} };
  // The inspector takes a request that changes something only as JSON, body or not.
  if (method !== 'GET') opts.headers['Content-Type'] = 'application/json';
  if (body !== undefined) opts.body = JSON.stringify(body);
  const r = await fetch(path, opts);
  let data = null;
  try { data = await r.json(); } catch (e) { data = null; }
  return { status: r.status, data };
}

// Strings from the API carry bytes as code points 0-255; bodies come in base64.
function bytesOfB64(b64) {
  const s = atob(b64 || '');
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

function fmtTime(ms) {
  const d = new Date(ms);
  return d.toLocaleTimeString([], { hour12: false }) + '.' + String(d.getMilliseconds()).padStart(3, '0');
}

function fmtDuration(ms) {
  if (ms === null || ms === undefined || ms === '') return '';
  return ms < 1000 ? ms.toFixed(1) + 'ms' : (ms / 1000).toFixed(1) + 's';
}

function fmtSize(n) {
  if (n === null || n === undefined) return '';
  return n < 1024 ? n + ' B' : n < 1048576 ? (n / 1024).toFixed(1) + ' KiB' : (n / 1048576).toFixed(1) + ' MiB';
}

function rowFromCapture(c) {
  return {
    key: 'c' + c.seq, source: 'capture', id: c.id, seq: c.seq, time: c.at_ms, method: c.method,
    path: c.path, status: c.status, duration: c.done ? c.duration_ms : null, size: c.size,
    verify: c.verify, kind: c.kind + (c.attempt > 1 && c.kind !== 'edited' ? ' #' + c.attempt : ''),
    reason: c.error, done: c.done,
  };
}

function rowFromEvent(e) {
  return {
    key: 'e' + e.id, source: 'relay', id: e.id, seq: 0, time: e.received_ms, method: e.method,
    path: e.path + (e.query ? '?' + e.query : ''), status: e.last_status || 0, duration: null,
    size: e.body_len, verify: e.verify || 'none', kind: e.status + (e.attempts > 1 ? ' #' + e.attempts : ''),
    reason: e.last_error, done: true,
  };
}

function rowFromRefusal(f) {
  const line = String(f.head || '').split('\r\n')[0].split(' ');
  return {
    key: 'r' + f.id, source: 'refused', id: f.id, seq: 0, time: f.at_ms, method: line[0] || '',
    path: line[1] || '', status: f.status, duration: null, size: f.body_len, verify: '',
    kind: 'refused', reason: f.reason, done: true, refusal: f,
  };
}

function addCapture(c) {
  state.capturedIds.add(c.id);
  state.rows.set('c' + c.seq, rowFromCapture(c));
}

function statusClass(r) {
  if (r.source === 'refused') return 'refused';
  if (!r.status) return r.done ? 'error' : '';
  return String(Math.floor(r.status / 100));
}

function visible(r) {
  if (r.source === 'relay' && state.capturedIds.has(r.id)) return false;
  const text = $('filter-text').value.trim().toLowerCase();
  const cls = $('filter-status').value;
  const path = $('filter-path').value.trim();
  if (cls && statusClass(r) !== cls) return false;
  if (path && !r.path.startsWith(path)) return false;
  if (text) {
    const hay = [r.id, r.method, r.path, String(r.status), r.kind, r.reason || ''].join(' ').toLowerCase();
    if (!hay.includes(text)) return false;
  }
  return true;
}

function cell(tr, text, cls) {
  const td = document.createElement('td');
  td.textContent = text;
  if (cls) td.className = cls;
  tr.appendChild(td);
}

let renderQueued = false;
function render() {
  if (renderQueued) return;
  renderQueued = true;
  requestAnimationFrame(() => {
    renderQueued = false;
    const rows = [...state.rows.values()].filter(visible)
      .sort((a, b) => b.time - a.time || b.seq - a.seq);
    const tbody = $('rows');
    const frag = document.createDocumentFragment();
    for (const r of rows) {
      const tr = document.createElement('tr');
      tr.dataset.key = r.key;
      tr.dataset.id = r.id;
      tr.className = 'row ' + r.source + (r.key === state.selected ? ' selected' : '');
      cell(tr, fmtTime(r.time), 'time');
      cell(tr, r.method, 'method');
      cell(tr, r.path, 'path');
      const st = r.status ? String(r.status) : (r.done ? 'failed' : '…');
      cell(tr, st + (r.reason ? ' ' + r.reason : ''), 'status s' + (r.status ? Math.floor(r.status / 100) : 'err'));
      cell(tr, fmtDuration(r.duration), 'duration');
      cell(tr, fmtSize(r.size), 'size');
      cell(tr, r.verify === 'verified' ? 'yes' : r.verify === 'failed' ? 'FAILED' : r.verify ? 'n/a' : '', 'verify');
      cell(tr, r.kind, 'kind');
      tr.addEventListener('click', () => select(r.key));
      frag.appendChild(tr);
    }
    tbody.replaceChildren(frag);
    $('empty').hidden = state.rows.size > 0;
    $('older').hidden = !state.cursor;
  });
}

async function loadCaptures() {
  const r = await api('GET', '/api/captures');
  if (r.status === 200) r.data.captures.forEach(addCapture);
}

async function loadEvents(cursor) {
  const r = await api('GET', '/api/events?limit=50' + (cursor ? '&cursor=' + cursor : ''));
  if (r.status !== 200) {
    $('list-error').textContent = 'relay history: ' + ((r.data && r.data.error) || r.status);
    return;
  }
  $('list-error').textContent = '';
  for (const e of r.data.events) state.rows.set('e' + e.id, rowFromEvent(e));
  if (cursor || state.cursor === null) state.cursor = r.data.next_cursor || null;
}

async function loadRefused() {
  const r = await api('GET', '/api/refused');
  if (r.status === 200) for (const f of r.data.refused) state.rows.set('r' + f.id, rowFromRefusal(f));
}

// ---- detail ----------------------------------------------------------------

function splitHead(head) {
  const text = String(head || '');
  const end = text.indexOf('\r\n\r\n');
  const lines = (end >= 0 ? text.slice(0, end) : text).split('\r\n');
  return { line: lines[0] || '', headers: lines.slice(1) };
}

function headerValue(headers, name) {
  const n = name.toLowerCase() + ':';
  const h = headers.find((l) => l.toLowerCase().startsWith(n));
  return h ? h.slice(n.length).trim() : '';
}

function hexDump(bytes) {
  const out = [];
  for (let i = 0; i < bytes.length; i += 16) {
    const chunk = bytes.slice(i, i + 16);
    const hex = [...chunk].map((b) => b.toString(16).padStart(2, '0')).join(' ');
    const txt = [...chunk].map((b) => (b >= 32 && b < 127 ? String.fromCharCode(b) : '.')).join('');
    out.push(i.toString(16).padStart(8, '0') + '  ' + hex.padEnd(48) + '  ' + txt);
  }
  return out.join('\n');
}

function showBody(bytes, contentType, note) {
  let text = null, json = null, form = null;
  try { text = new TextDecoder('utf-8', { fatal: true }).decode(bytes); } catch (e) { text = null; }
  if (text !== null) {
    try { json = JSON.stringify(JSON.parse(text), null, 2); } catch (e) { json = null; }
    if (/application\/x-www-form-urlencoded/i.test(contentType)) form = [...new URLSearchParams(text)];
  }
  $('body-raw').textContent = text !== null ? text : '(binary: see hex)';
  $('body-json').textContent = json || '';
  const tb = $('body-form').querySelector('tbody');
  tb.replaceChildren();
  for (const [k, v] of form || []) {
    const tr = document.createElement('tr');
    cell(tr, k); cell(tr, v);
    tb.appendChild(tr);
  }
  $('body-hex').textContent = hexDump(bytes);
  const views = { raw: text !== null, json: json !== null, form: form !== null, hex: true };
  for (const b of $('body-tabs').querySelectorAll('button')) b.disabled = !views[b.dataset.view];
  $('body-note').textContent = note || (bytes.length + ' bytes');
  showView(json !== null ? 'json' : form !== null ? 'form' : text !== null ? 'raw' : 'hex');
}

function showView(v) {
  for (const b of $('body-tabs').querySelectorAll('button')) b.classList.toggle('active', b.dataset.view === v);
  for (const n of ['raw', 'json', 'form', 'hex']) $('body-' + n).hidden = n !== v;
}

function attemptRow(tbody, t, how, status, dur, err) {
  const tr = document.createElement('tr');
  cell(tr, t ? fmtTime(t) : ''); cell(tr, how); cell(tr, status ? String(status) : '');
  cell(tr, fmtDuration(dur)); cell(tr, err || '');
  tbody.appendChild(tr);
}

// Shows row key in the detail; refresh (a new attempt of the same event came) keeps the
// editor, the curl line and the last action's result as they are.
async function select(key, refresh) {
  state.selected = key;
  render();
  const row = state.rows.get(key);
  if (!row) return;
  $('detail').hidden = false;
  if (!refresh) {
    $('editor').hidden = true;
    $('curl').hidden = true;
    $('action-result').textContent = '';
  }
  $('detail-id').textContent = row.id + (row.source === 'capture' ? ' · exchange ' + row.seq : '');
  $('reason').textContent = row.source === 'refused' ? 'Refused by the relay (' + row.status + '): ' + row.reason : '';
  $('replay').disabled = row.source === 'refused';
  $('edit').disabled = row.source === 'refused';
  $('copy-curl').disabled = row.source === 'refused';
  let detail = { row, head: '', body: new Uint8Array(), answerHead: '', answerBody: null, captures: [], relay: null };
  if (row.source === 'refused') {
    detail.head = row.refusal.head;
    detail.body = bytesOfB64(row.refusal.body_b64);
  } else {
    const r = await api('GET', '/api/events/' + row.id);
    if (state.selected !== key) return;
    if (r.status !== 200) {
      $('reason').textContent = (r.data && r.data.error) || 'cannot load the event (' + r.status + ')';
    } else {
      detail.captures = r.data.captures;
      detail.relay = r.data.relay;
      const c = r.data.captures.find((x) => 'c' + x.seq === key) || r.data.captures[0];
      if (c) {
        detail.head = c.head;
        detail.body = bytesOfB64(c.body_b64);
        detail.answerHead = c.answer_head;
        detail.answerBody = bytesOfB64(c.answer_b64);
        detail.cut = c.body_cut;
        // A capture cut or dropped for the budget: the relay's record holds the whole body.
        if (c.body_cut && r.data.relay && typeof r.data.body_b64 === 'string') {
          detail.body = bytesOfB64(r.data.body_b64);
          detail.cut = false;
        }
      } else if (r.data.relay) {
        const e = r.data.relay;
        detail.head = e.method + ' ' + e.path + (e.query ? '?' + e.query : '') + ' HTTP/1.1\r\n' + e.headers + '\r\n';
        detail.body = bytesOfB64(r.data.body_b64);
      }
    }
  }
  state.detail = detail;
  const h = splitHead(detail.head);
  $('req-line').textContent = h.line;
  $('req-headers').textContent = h.headers.join('\n');
  showBody(detail.body, headerValue(h.headers, 'content-type'), detail.cut ? 'cut: only the first bytes were kept' : '');
  $('ans-head').textContent = detail.answerHead ? splitHead(detail.answerHead).line + '\n' + splitHead(detail.answerHead).headers.join('\n') : '(not seen by this agent)';
  $('ans-body').textContent = detail.answerBody ? new TextDecoder().decode(detail.answerBody) : '';
  $('ans-body').hidden = !detail.answerBody || !detail.answerBody.length;
  const tb = $('attempts').querySelector('tbody');
  tb.replaceChildren();
  if (row.source === 'refused') attemptRow(tb, row.time, 'refused by the relay', row.status, null, row.reason);
  for (const c of detail.captures) attemptRow(tb, c.at_ms, c.kind + (c.kind === 'edited' ? '' : ' #' + c.attempt), c.status, c.done ? c.duration_ms : null, c.error);
  for (const a of (detail.relay && detail.relay.attempts_list) || []) attemptRow(tb, a.at_ms, 'relay record', a.http_status, a.duration_ms, a.error);
}

function shellQuote(s) {
  return "'" + s.replace(/'/g, "'\\''") + "'";
}

function curlOf(detail) {
  const h = splitHead(detail.head);
  const [method, target] = h.line.split(' ');
  const base = state.forward.replace(/\/$/, '');
  // A method is any HTTP token, and a token may hold & | ' $: only a plain word goes unquoted.
  const parts = ['curl', '-X', /^[A-Z]+$/.test(method) ? method : shellQuote(method), shellQuote(base + target)];
  const skip = /^(content-length|transfer-encoding|connection):/i;
  for (const line of h.headers) if (!skip.test(line)) parts.push('-H', shellQuote(line));
  let text = null;
  try { text = new TextDecoder('utf-8', { fatal: true }).decode(detail.body); } catch (e) { text = null; }
  // --data-raw, not --data-binary: curl reads a file for a body that starts with @.
  if (detail.body.length && text !== null) parts.push('--data-raw', shellQuote(text));
  else if (detail.body.length) parts.push('--data-binary', '@body.bin', '# binary body: save it as body.bin');
  // A comment, so last on the line: what it says must not cut the command short.
  if (detail.cut) {
    parts.push(text !== null ? '# the body was not kept whole: this sends only its first bytes'
      : '(and it was not kept whole)');
  }
  return parts.join(' ');
}

async function replay() {
  const row = state.rows.get(state.selected);
  $('action-result').textContent = 'replaying…';
  const r = await api('POST', '/api/events/' + row.id + '/replay');
  $('action-result').textContent = r.status === 202 ? 'queued at the relay: it arrives as a new attempt'
    : 'replay failed: ' + ((r.data && r.data.error) || r.status);
}

// Editing sends the text in the editor: a body not kept whole, or not text, cannot be
// shown there, and sending it edited would change it unseen. Replay sends it as it came.
function openEditor() {
  const d = state.detail;
  const h = splitHead(d.head);
  let text = null;
  try { text = new TextDecoder('utf-8', { fatal: true }).decode(d.body); } catch (e) { text = null; }
  if (d.cut || text === null) {
    $('editor').hidden = true;
    $('action-result').textContent = d.cut
      ? 'this body was not kept whole here, and the relay has no record of it (yet): Replay sends it as it came'
      : 'this body is not text: Replay sends it as it came';
    return;
  }
  $('edit-headers').value = h.headers.filter((l) => !/^content-length:/i.test(l)).join('\n');
  $('edit-body').value = text;
  $('editor').hidden = false;
}

async function sendEdited() {
  const row = state.rows.get(state.selected);
  $('action-result').textContent = 'sending…';
  const r = await api('POST', '/api/events/' + row.id + '/replay',
    { headers: $('edit-headers').value, body: $('edit-body').value });
  $('action-result').textContent = r.status === 200 ? 'the app answered ' + r.data.status
    : 'edited replay failed: ' + ((r.data && r.data.error) || r.status);
}

function connectStream() {
  const es = new EventSource('/api/stream');
  es.onopen = () => { $('live').className = 'on'; $('live').textContent = 'live'; };
  es.onerror = () => { $('live').className = 'off'; $('live').textContent = 'reconnecting'; };
  es.addEventListener('capture', (m) => {
    const c = JSON.parse(m.data);
    addCapture(c);
    render();
    if (state.selected && state.rows.get(state.selected) && state.rows.get(state.selected).id === c.id && c.done) {
      select(state.selected, true);
    }
  });
}

async function init() {
  for (const id of ['filter-text', 'filter-status', 'filter-path']) $(id).addEventListener('input', render);
  for (const b of $('body-tabs').querySelectorAll('button')) b.addEventListener('click', () => showView(b.dataset.view));
  $('replay').addEventListener('click', replay);
  $('edit').addEventListener('click', openEditor);
  $('edit-send').addEventListener('click', sendEdited);
  $('copy-curl').addEventListener('click', async () => {
    const cmd = curlOf(state.detail);
    $('curl').textContent = cmd;
    $('curl').hidden = false;
    try { await navigator.clipboard.writeText(cmd); $('action-result').textContent = 'copied'; } catch (e) {
      $('action-result').textContent = 'select the command below to copy it';
    }
  });
  $('older').addEventListener('click', async () => { await loadEvents(state.cursor); render(); });
  const info = await api('GET', '/api/info');
  if (info.status === 200) {
    state.forward = info.data.forward;
    $('forward').textContent = (info.data.public_url || info.data.relay) + ' → ' + info.data.forward;
  }
  connectStream();
  await Promise.all([loadCaptures(), loadEvents(null), loadRefused()]);
  render();
  // Refusals happen at the relay, out of this agent's sight: asked for every two seconds.
  setInterval(async () => { await loadRefused(); render(); }, 2000);
}

init();
