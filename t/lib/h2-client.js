#!/usr/bin/env node
/*
 * One HTTP/2 request without TLS (prior knowledge), for the harness where
 * curl gives up: curl drops a complete answer when nginx resets the stream
 * of a request body it did not read (e.g. an early 413).
 *
 *   node t/lib/h2-client.js PORT METHOD PATH BODY_FILE|- [Name: value ...]
 *
 * Prints one JSON object: {status, headers, body_base64, error, reset}.
 */

'use strict';

const http2 = require('http2');
const fs = require('fs');

const [port, method, path, bodyFile, ...hdrs] = process.argv.slice(2);
const out = { status: null, headers: {}, body_base64: '', error: null, reset: null };
const chunks = [];
let done = false;

function finish() {
    if (done) return;
    done = true;
    out.body_base64 = Buffer.concat(chunks).toString('base64');
    process.stdout.write(JSON.stringify(out) + '\n');
    process.exit(0);
}

setTimeout(() => { out.error = out.error || 'timeout'; finish(); }, 5000).unref();

const client = http2.connect(`http://127.0.0.1:${port}`);
client.on('error', (e) => { out.error = String(e.message); finish(); });

const headers = { ':method': method, ':path': path };
for (const h of hdrs) {
    const i = h.indexOf(':');
    headers[h.slice(0, i).trim().toLowerCase()] = h.slice(i + 1).trim();
}
const body = bodyFile && bodyFile !== '-' ? fs.readFileSync(bodyFile) : null;
if (body) headers['content-length'] = body.length;

const req = client.request(headers, { endStream: !body });
req.on('response', (h) => {
    out.status = h[':status'];
    for (const [k, v] of Object.entries(h)) if (k[0] !== ':') out.headers[k] = String(v);
});
req.on('data', (c) => chunks.push(c));
req.on('end', finish);
req.on('close', () => { out.reset = req.rstCode; finish(); });
req.on('error', (e) => { out.error = String(e.message); });
if (body) req.end(body);
