// Drives the agent's web inspector in Debian's headless Chromium (playwright-core, no
// downloaded browser) for tests/e2e/80-inspector.py: sends webhooks to the relay itself,
// checks what the page shows, and writes what it saw to a JSON file for the Python side to
// compare with the bytes the app received. Every wait is playwright's, with a timeout.
//
// usage: node inspector.js INSPECTOR_URL WEBHOOK_URL SECRET ARTIFACT_DIR OUT_JSON
'use strict';

const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const { chromium } = require('playwright-core');

const [inspectorUrl, webhookUrl, secret, artifacts, outFile] = process.argv.slice(2);

function send(pathname, body, tamper) {
  const key = tamper ? secret + 'x' : secret;
  const sig = 'sha256=' + crypto.createHmac('sha256', key).update(body).digest('hex');
  const url = new URL(webhookUrl + pathname);
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: url.hostname, port: url.port, path: url.pathname + url.search, method: 'POST',
      headers: {
        'Content-Type': 'application/json', 'X-GitHub-Event': 'push',
        'X-GitHub-Delivery': 'd-' + crypto.randomBytes(6).toString('hex'),
        'X-Hub-Signature-256': sig, 'User-Agent': 'GitHub-Hookshot/inspector',
      },
      timeout: 10000,
    }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode, id: res.headers['hookwire-event-id'] }));
    });
    req.on('timeout', () => req.destroy(new Error('the webhook got no answer in 10 s')));
    req.on('error', reject);
    req.end(body);
  });
}

function check(cond, what) {
  if (!cond) throw new Error('check failed: ' + what);
}

async function main() {
  fs.mkdirSync(artifacts, { recursive: true });
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium', headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
  const out = {};
  let page = null;
  try {
    page = await browser.newPage({ viewport: { width: 1600, height: 900 } });
    page.setDefaultTimeout(10000);
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(inspectorUrl);
    await page.waitForSelector('#live.on');
    // A reload would drop this mark: the rows must come without one.
    await page.evaluate(() => { window.hookwireNoReload = true; });

    // 1. A webhook appears in the list within a second.
    const body = JSON.stringify({ action: 'opened', number: 7, text: 'héllo' });
    const sent = Date.now();
    const first = await send('/gh/push?src=browser', body, false);
    check(first.status === 200, 'the webhook is answered 200, got ' + first.status);
    // The relay passes the app's answer through: the event id is read from the new row.
    const fresh = page.locator('#rows tr.capture').filter({ hasText: '/gh/push?src=browser' }).first();
    await fresh.waitFor({ timeout: 1000 });
    out.appeared_ms = Date.now() - sent;
    first.id = await fresh.getAttribute('data-id');
    const row = page.locator(`#rows tr.capture[data-id="${first.id}"]`).first();
    check(await page.evaluate(() => window.hookwireNoReload === true), 'the page was not reloaded');
    await page.locator(`#rows tr.capture[data-id="${first.id}"] td.status`).filter({ hasText: '200' }).waitFor();
    out.event_id = first.id;
    out.row_text = await row.innerText();
    await page.screenshot({ path: path.join(artifacts, 'list.png'), fullPage: true });

    // 2. The detail view: request line, header lines, body.
    await row.click();
    await page.locator('#req-line').filter({ hasText: 'POST /gh/push?src=browser HTTP/1.1' }).waitFor();
    await page.locator('#ans-head').filter({ hasText: 'HTTP/1.1 200' }).waitFor();
    out.request_line = await page.locator('#req-line').textContent();
    out.header_lines = (await page.locator('#req-headers').textContent()).split('\n');
    out.body_raw = await page.locator('#body-raw').textContent();
    out.body_json = await page.locator('#body-json').textContent();
    out.json_tab_active = await page.locator('#body-tabs button[data-view="json"]').getAttribute('class');
    await page.screenshot({ path: path.join(artifacts, 'detail.png'), fullPage: true });

    // 3. Copy as curl shows a command for the app.
    await page.click('#copy-curl');
    out.curl = await page.locator('#curl').textContent();

    // 4. Replay as is: through the relay, a new attempt in the list.
    await page.click('#replay');
    await page.locator('#action-result').filter({ hasText: 'queued at the relay' }).waitFor();
    await page.locator(`#rows tr.capture[data-id="${first.id}"] td.kind`).filter({ hasText: 'replayed #2' }).waitFor();
    await page.locator(`#rows tr.capture[data-id="${first.id}"]`).filter({ hasText: 'replayed #2' })
      .locator('td.status').filter({ hasText: '200' }).waitFor();

    // 5. Edited replay: a new body, sent to the app, shown as an "edited" exchange.
    await page.locator(`#rows tr.capture[data-id="${first.id}"]`).filter({ hasText: 'live' }).click();
    await page.locator('#req-line').filter({ hasText: 'POST /gh/push' }).waitFor();
    await page.click('#edit');
    out.edited_body = JSON.stringify({ action: 'edited', number: 8 });
    await page.fill('#edit-body', out.edited_body);
    await page.click('#edit-send');
    await page.locator('#action-result').filter({ hasText: 'the app answered 200' }).waitFor();
    await page.locator(`#rows tr.capture[data-id="${first.id}"] td.kind`).filter({ hasText: 'edited' }).waitFor();

    // 6. A refused webhook (bad signature at the relay's edge) with its reason.
    const bad = await send('/gh/forged', JSON.stringify({ forged: true }), true);
    check(bad.status === 401, 'the tampered webhook is refused 401, got ' + bad.status);
    const refused = page.locator('#rows tr.refused').filter({ hasText: 'bad signature' });
    await refused.first().waitFor();
    out.refused_text = await refused.first().innerText();
    await refused.first().click();
    await page.locator('#reason').filter({ hasText: 'bad signature' }).waitFor();
    out.refused_line = await page.locator('#req-line').textContent();
    await page.screenshot({ path: path.join(artifacts, 'refused.png'), fullPage: true });

    // 7. Filters: the status class "refused" leaves only the refusal.
    await page.selectOption('#filter-status', 'refused');
    await page.locator('#rows tr.capture').first().waitFor({ state: 'detached' });
    out.filtered_rows = await page.locator('#rows tr').count();
    // Text and path filters: the webhook's three exchanges by path, none by a text they lack.
    await page.selectOption('#filter-status', '');
    // The list re-renders on the next frame: wait for the filtered state itself.
    const rowsWhere = (fn) => page.waitForFunction(fn, null, { timeout: 5000 });
    await page.fill('#filter-path', '/gh/push');
    await rowsWhere(() => [...document.querySelectorAll('#rows tr td.path')]
      .every((td) => td.textContent.startsWith('/gh/push')) && !document.querySelector('#rows tr.refused'));
    out.path_rows = await page.locator('#rows tr').count();
    await page.fill('#filter-path', '');
    await page.fill('#filter-text', 'edited');
    await rowsWhere(() => [...document.querySelectorAll('#rows tr td.kind')]
      .every((td) => td.textContent === 'edited'));
    out.text_rows = await page.locator('#rows tr').count();
    await page.fill('#filter-text', '');

    // 8. A body past what the agent keeps (1 MiB): the detail takes the relay's whole copy,
    // and an edited replay sent unchanged gives the app every byte.
    const big = JSON.stringify({ pad: 'x'.repeat(1500000) });
    const large = await send('/gh/large', big, false);
    check(large.status === 200, 'the large webhook is answered 200, got ' + large.status);
    const bigRow = page.locator('#rows tr.capture').filter({ hasText: '/gh/large' }).first();
    await bigRow.locator('td.status').filter({ hasText: '200' }).waitFor();
    // The relay records a live webhook after its answer: the detail is opened once it has.
    const bigId = await bigRow.getAttribute('data-id');
    await page.waitForFunction(async (id) => {
      const r = await fetch('/api/events/' + id);
      return r.ok && !!(await r.json()).relay;
    }, bigId, { timeout: 10000, polling: 200 });
    await bigRow.click();
    await page.locator('#req-line').filter({ hasText: 'POST /gh/large' }).waitFor();
    await page.click('#edit');
    await page.locator('#editor').waitFor();
    out.large_editor_len = (await page.locator('#edit-body').inputValue()).length;
    await page.click('#edit-send');
    await page.locator('#action-result').filter({ hasText: 'the app answered 200' }).waitFor();
    out.large_len = big.length;
    out.page_errors = errors;
  } catch (e) {
    // What the page showed when a step failed: the screenshot and the status line.
    if (page) {
      await page.screenshot({ path: path.join(artifacts, 'failure.png'), fullPage: true }).catch(() => {});
      const status = await page.locator('#action-result').textContent().catch(() => '');
      e.message += ' (the page said: ' + status + ')';
    }
    throw e;
  } finally {
    await browser.close();
  }
  fs.writeFileSync(outFile, JSON.stringify(out, null, 1));
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : String(e));
  process.exit(1);
});
