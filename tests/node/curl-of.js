// Runs the inspector page's own "Copy as curl" (curlOf, as the agent serves it) in Debian's
// headless Chromium for one event, and writes the command to OUT_FILE, for
// tests/e2e/80-inspector.py to run in a shell. Every wait is playwright's, with a timeout.
//
// usage: node curl-of.js INSPECTOR_URL EVENT_ID OUT_FILE
'use strict';

const fs = require('node:fs');
const { chromium } = require('playwright-core');

const [inspectorUrl, eventId, outFile] = process.argv.slice(2);

async function main() {
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium', headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
  try {
    const page = await browser.newPage();
    page.setDefaultTimeout(10000);
    await page.goto(inspectorUrl);
    await page.waitForSelector('#live.on');
    await page.waitForFunction(() => typeof curlOf === 'function' && state.forward);
    const cmd = await page.evaluate(async (id) => {
      const r = await fetch('/api/events/' + encodeURIComponent(id));
      const c = (await r.json()).captures[0];
      return curlOf({ head: c.head, body: bytesOfB64(c.body_b64) });
    }, eventId);
    fs.writeFileSync(outFile, cmd);
  } finally {
    await browser.close();
  }
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : String(e));
  process.exit(1);
});
