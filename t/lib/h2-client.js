#!/usr/bin/env node
/*
 * One HTTP/2 request without TLS (prior knowledge), for the harness where
 * curl gives up: curl drops a complete answer when nginx resets the stream
 * of a request body it did not read (e.g. an early 413).
 *
 *   node t/lib/h2-client.js PORT METHOD PATH BODY_FILE|- [Name: value ...]
 *
 * Prints one JSON object: {status, headers, body_base64, error, reset}.
 *
 * Environment:
 *   H2_CLIENT_WINDOW=N  the client's initial stream window (SETTINGS): the
 *                       server sends N bytes of a body, then waits for the
 *                       window updates the client sends as it reads
 *   H2_CLIENT_THEN=PATH once the answer has ended, a GET of PATH on the
 *                       same connection; its answer goes in "then"
 */

'use strict';

const http2 = require('http2');
const fs = require('fs');

const [port, method, path, bodyFile, ...hdrs] = process.argv.slice(2);
const window = process.env.H2_CLIENT_WINDOW;
const then = process.env.H2_CLIENT_THEN;
const out = { status: null, headers: {}, body_base64: '', error: null, reset: null };
let done = false;

function finish() {
    if (done) return;
    done = true;
    process.stdout.write(JSON.stringify(out) + '\n');
    process.exit(0);
}

setTimeout(() => { out.error = out.error || 'timeout'; finish(); }, 5000).unref();

const settings = window === undefined ? {} : { initialWindowSize: Number(window) };
const client = http2.connect(`http://127.0.0.1:${port}`, { settings });
client.on('error', (e) => { out.error = String(e.message); finish(); });

/* one request; fills res, then calls next once (end, reset or error) */
function request(headers, body, res, next) {
    const chunks = [];
    let ended = false;
    const end = () => {
        if (ended) return;
        ended = true;
        res.body_base64 = Buffer.concat(chunks).toString('base64');
        next();
    };
    const req = client.request(headers, { endStream: !body });
    req.on('response', (h) => {
        res.status = h[':status'];
        for (const [k, v] of Object.entries(h)) if (k[0] !== ':') res.headers[k] = String(v);
    });
    req.on('data', (c) => chunks.push(c));
    req.on('end', end);
    req.on('close', () => { res.reset = req.rstCode; end(); });
    req.on('error', (e) => { res.error = String(e.message); });
    if (body) req.end(body);
}

const headers = { ':method': method, ':path': path };
for (const h of hdrs) {
    const i = h.indexOf(':');
    headers[h.slice(0, i).trim().toLowerCase()] = h.slice(i + 1).trim();
}
const body = bodyFile && bodyFile !== '-' ? fs.readFileSync(bodyFile) : null;
if (body) headers['content-length'] = body.length;

request(headers, body, out, () => {
    if (!then || client.destroyed) return finish();
    out.then = { status: null, headers: {}, body_base64: '', error: null, reset: null };
    request({ ':method': 'GET', ':path': then }, null, out.then, finish);
});
