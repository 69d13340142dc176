#!/usr/bin/env node
// Signs a webhook body the way its provider does, with the provider's own
// library where one exists, and prints the headers to send as JSON:
//   {"headers": [["Name", "value"], ...]}
//
//   node sign.js PROVIDER SECRET BODYFILE [EXTRA]
//
// PROVIDER: github (@octokit/webhooks-methods), stripe (stripe), svix (svix),
// standard-webhooks (standardwebhooks), twilio (twilio; EXTRA is the full
// public URL the request is posted to, BODYFILE form-encoded), and, by their
// documented HMAC schemes, slack, shopify and zoom. EXTRA for the others is an
// optional Unix timestamp (seconds) to sign with instead of now.
"use strict";

const crypto = require("node:crypto");
const fs = require("node:fs");

function usage() {
  process.stderr.write("usage: node sign.js PROVIDER SECRET BODYFILE [EXTRA]\n");
  process.exit(2);
}

// The libraries that take a string must see exactly the file's bytes.
function text(body) {
  const s = body.toString("utf8");
  if (!Buffer.from(s, "utf8").equals(body)) {
    throw new Error("body is not valid UTF-8; this provider's library signs strings");
  }
  return s;
}

function hmac(alg, secret, data, enc) {
  return crypto.createHmac(alg, secret).update(data).digest(enc);
}

const signers = {
  async github(secret, body) {
    const { sign } = await import("@octokit/webhooks-methods");
    return [
      ["X-GitHub-Event", "push"],
      ["X-GitHub-Delivery", crypto.randomUUID()],
      ["X-Hub-Signature-256", await sign(secret, text(body))],
    ];
  },
  async stripe(secret, body, ts) {
    const stripe = require("stripe")("sk_test_unused_for_signing");
    const header = stripe.webhooks.generateTestHeaderString({
      payload: text(body),
      secret,
      timestamp: ts,
    });
    return [["Stripe-Signature", header]];
  },
  async svix(secret, body, ts) {
    const { Webhook } = require("svix");
    const id = "msg_" + crypto.randomBytes(12).toString("hex");
    const sig = new Webhook(secret).sign(id, new Date(ts * 1000), text(body));
    return [
      ["svix-id", id],
      ["svix-timestamp", String(ts)],
      ["svix-signature", sig],
    ];
  },
  async "standard-webhooks"(secret, body, ts) {
    const { Webhook } = require("standardwebhooks");
    const id = "msg_" + crypto.randomBytes(12).toString("hex");
    const sig = new Webhook(secret).sign(id, new Date(ts * 1000), body);
    return [
      ["webhook-id", id],
      ["webhook-timestamp", String(ts)],
      ["webhook-signature", sig],
    ];
  },
  async twilio(secret, body, _ts, url) {
    if (!url) throw new Error("twilio needs the public URL as EXTRA");
    const twilio = require("twilio");
    const params = Object.fromEntries(new URLSearchParams(text(body)));
    return [["X-Twilio-Signature", twilio.getExpectedTwilioSignature(secret, url, params)]];
  },
  // https://api.slack.com/authentication/verifying-requests-from-slack
  async slack(secret, body, ts) {
    const base = Buffer.concat([Buffer.from(`v0:${ts}:`), body]);
    return [
      ["X-Slack-Request-Timestamp", String(ts)],
      ["X-Slack-Signature", "v0=" + hmac("sha256", secret, base, "hex")],
    ];
  },
  // https://shopify.dev/docs/apps/build/webhooks/subscribe/https#step-2-validate-the-origin-of-your-webhook-to-ensure-its-coming-from-shopify
  async shopify(secret, body) {
    return [
      ["X-Shopify-Topic", "orders/create"],
      ["X-Shopify-Webhook-Id", crypto.randomUUID()],
      ["X-Shopify-Hmac-Sha256", hmac("sha256", secret, body, "base64")],
    ];
  },
  // https://developers.zoom.us/docs/api/webhooks/#verify-with-zooms-header
  async zoom(secret, body, ts) {
    const base = Buffer.concat([Buffer.from(`v0:${ts}:`), body]);
    return [
      ["x-zm-request-timestamp", String(ts)],
      ["x-zm-signature", "v0=" + hmac("sha256", secret, base, "hex")],
    ];
  },
};

async function main() {
  const [provider, secret, bodyFile, extra] = process.argv.slice(2);
  if (!provider || secret === undefined || !bodyFile) usage();
  const signer = signers[provider];
  if (!signer) {
    process.stderr.write(`sign.js: unknown provider ${provider}\n`);
    process.exit(2);
  }
  const body = fs.readFileSync(bodyFile);
  const ts = provider !== "twilio" && extra ? Number(extra) : Math.floor(Date.now() / 1000);
  const headers = await signer(secret, body, ts, extra);
  process.stdout.write(JSON.stringify({ headers }) + "\n");
}

main().catch((e) => {
  process.stderr.write(`sign.js: ${e.message}\n`);
  process.exit(1);
});
