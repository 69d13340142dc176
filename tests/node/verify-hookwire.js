#!/usr/bin/env node
// Checks a hookwire delivery's signature with the official standardwebhooks
// library, as a backend would: Hookwire-Event-Id, Hookwire-Timestamp and
// Hookwire-Signature are handed to it as its three webhook-* headers.
//
//   node verify-hookwire.js SIGNING_SECRET BODYFILE HEADERS_JSON
//
// SIGNING_SECRET is the receiver's signing-secret (whsec_BASE64, or raw text);
// HEADERS_JSON an object or a list of [name, value] pairs (names in any case).
// Prints "ok" and exits 0 when the signature verifies, else says why, exit 1.
"use strict";

const fs = require("node:fs");
const { Webhook } = require("standardwebhooks");

function main() {
  const [secret, bodyFile, headersJson] = process.argv.slice(2);
  if (!secret || !bodyFile || !headersJson) {
    process.stderr.write("usage: node verify-hookwire.js SIGNING_SECRET BODYFILE HEADERS_JSON\n");
    process.exit(2);
  }
  const parsed = JSON.parse(headersJson);
  const pairs = Array.isArray(parsed) ? parsed : Object.entries(parsed);
  const h = {};
  for (const [name, value] of pairs) {
    const k = name.toLowerCase();
    if (!(k in h)) h[k] = value;
  }
  // The library decodes whsec_ secrets itself; a raw one is passed as raw.
  const wh = secret.startsWith("whsec_")
    ? new Webhook(secret)
    : new Webhook(Buffer.from(secret, "utf8").toString("base64"));
  const body = fs.readFileSync(bodyFile);
  wh.verify(body, {
    "webhook-id": h["hookwire-event-id"],
    "webhook-timestamp": h["hookwire-timestamp"],
    "webhook-signature": h["hookwire-signature"],
  });
  process.stdout.write("ok\n");
}

try {
  main();
} catch (e) {
  process.stderr.write(`verify-hookwire.js: ${e.message}\n`);
  process.exit(1);
}
