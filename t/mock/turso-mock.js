#!/usr/bin/env node
/*
 * A stateful stand-in for Turso's Platform API membership routes, for the
 * gateway's tests.  No dependencies.  It answers like the documented API
 * (see shared turso-api.md) and records every request it receives, so a
 * test can assert exactly what the gateway forwarded.
 *
 *   node t/mock/turso-mock.js --port N [--token T] [--host 127.0.0.1]
 *                             [--h2port M]
 *
 * --h2port: the same API over cleartext HTTP/2 (h2c, prior knowledge) on a
 * second port, for nginx's proxy_http_version 2; its requests are recorded
 * with the others (http_version "2.0", rawHeaders with the pseudo-headers).
 *
 * Control endpoints (no auth):
 *   GET  /__mock/requests  recorded requests, oldest first
 *   POST /__mock/reset     forget requests, restore state, drop scripts
 *   POST /__mock/script    queue scripted answers, one per next request:
 *        {"status":409,"body":"text","headers":{...},
 *         "body_base64":"..." (bytes, in place of "body"),
 *         "fault":"none|reset|close_after_headers|hang|chunked|delay",
 *         "delay_ms":N,"size":N,"url":"/v1/..."}
 *        An entry without "status" falls through to the normal handling
 *        (after its delay).  An entry with "url" answers the first request
 *        for that URL only (for requests made in parallel).
 *   POST /__mock/tokens    the tokens the mock takes, as Turso scopes them:
 *        {"<token>": "<organization slug>" | "*", ...} ("*": unrestricted).
 *        A token not in the map is answered 401; a token of another
 *        organization 403.  Kept across resets; the default is
 *        {"<--token>": "*"}.
 */

'use strict';

const http = require('http');
const http2 = require('http2');

const args = { port: 0, token: 'test-token', host: '127.0.0.1' };
for (let i = 2; i < process.argv.length; i += 2) {
    args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
}

const USERS = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank'];
const ROLES = ['admin', 'member', 'viewer'];

let state, recorded, scripts;
let tokens = { [args.token]: '*' };

function reset() {
    state = {
        acme: {
            team: true,
            members: new Map([['alice', 'owner'], ['carol', 'admin']]),
            invites: new Map(),
        },
        personal: {
            team: false,
            members: new Map([['alice', 'owner']]),
            invites: new Map(),
        },
        globex: {
            team: true,
            members: new Map([['alice', 'owner'], ['erin', 'admin']]),
            invites: new Map(),
        },
    };
    recorded = [];
    scripts = [];
}
reset();

/*
 * Go's encoding/json decoding into a struct: object keys match field names
 * case-insensitively and the last occurrence wins.  JSON.parse loses the
 * order of duplicates, so the top-level object is scanned here; values are
 * handed to JSON.parse.  Returns a Map of lowercased key -> value, or throws.
 */
function goDecode(text) {
    let i = 0;
    const ws = () => { while (/\s/.test(text[i] || '')) i++; };
    const str = () => {
        const m = /^"(?:[^"\\\u0000-\u001f]|\\.)*"/.exec(text.slice(i));
        if (!m) throw new Error('bad string');
        i += m[0].length;
        return JSON.parse(m[0]);
    };
    const value = () => {            /* find one value's end, parse it */
        ws();
        const start = i;
        const scalar = !'"{['.includes(text[i]);
        let depth = 0;
        for (;;) {
            const c = text[i];
            if (c === undefined) throw new Error('truncated');
            if (c === '"') {
                str();
            } else if (c === '{' || c === '[') {
                depth++; i++;
            } else if (c === '}' || c === ']') {
                if (depth === 0) break;
                depth--; i++;
            } else if (c === ',' && depth === 0) {
                break;
            } else {
                i++;
            }
            if (!scalar && depth === 0) break;
        }
        return JSON.parse(text.slice(start, i));
    };
    const out = new Map();
    ws();
    if (text[i++] !== '{') throw new Error('not an object');
    ws();
    if (text[i] === '}') { i++; } else {
        for (;;) {
            ws();
            const k = str();
            ws();
            if (text[i++] !== ':') throw new Error('expected :');
            /* Go's EqualFold: also long s and the Kelvin sign */
            out.set(k.replace(/\u017f/g, 's').replace(/\u212a/g, 'k')
                     .toLowerCase(), value());
            ws();
            const c = text[i++];
            if (c === '}') break;
            if (c !== ',') throw new Error('expected , or }');
        }
    }
    ws();
    if (i !== text.length) throw new Error('trailing data');
    return out;
}

function send(res, status, obj, extra) {
    const body = Buffer.from(typeof obj === 'string' ? obj : JSON.stringify(obj));
    res.writeHead(status, Object.assign({
        'Content-Type': 'application/json',
        'Content-Length': body.length,
    }, extra || {}));
    res.end(body);
}

const err = (res, status, msg) => send(res, status, { error: msg });

function roleOf(v, res) {
    if (v === undefined || v === null || v === '') return 'member';
    if (typeof v !== 'string') { err(res, 400, 'invalid request body'); return null; }
    if (!ROLES.includes(v)) { err(res, 400, 'invalid role'); return null; }
    return v;
}

function memberObj(org, u) {
    return { username: u, role: org.members.get(u), email: u + '@example.com' };
}

function addMember(res, org, slug, user, roleValue) {
    if (!org.team) return err(res, 400, 'members can only be added to team organizations');
    const role = roleOf(roleValue, res);
    if (role === null) return;
    if (typeof user !== 'string' || user === '') return err(res, 400, 'invalid request body');
    if (!USERS.includes(user)) return err(res, 404, 'could not find user [username]');
    if (org.members.has(user)) {
        return err(res, 409, 'user [username] is already a member of organization [organizationSlug]');
    }
    org.members.set(user, role);
    send(res, 200, { member: user, role: role });
}

function invite(res, org, slug, b, v2) {
    if (!org.team) return err(res, 400, 'members can only be added to team organizations');
    const role = roleOf(b.get('role'), res);
    if (role === null) return;
    let email = b.get('email');
    const username = b.get('username');
    const hasEmail = typeof email === 'string' && email !== '';
    const hasUser = v2 && typeof username === 'string' && username !== '';
    if (hasEmail === hasUser) {
        return err(res, 400, v2 ? 'exactly one of email or username is required'
                                : 'email is required');
    }
    if (hasUser) {
        if (!USERS.includes(username)) return err(res, 404, 'could not find user [username]');
        email = username + '@example.com';
    }
    /* a pending invite for the same email is replaced */
    org.invites.set(email, { id: org.invites.size + 1, email: email, role: role,
                             created_at: new Date(0).toISOString() });
    send(res, 200, { invited: { email: email, role: role, organization: slug } });
}

function route(req, res, body) {
    const auth = req.headers.authorization || '';
    const bearer = auth.startsWith('Bearer ') ? auth.slice(7) : null;
    if (bearer === null || !Object.prototype.hasOwnProperty.call(tokens, bearer)) {
        return err(res, 401, 'token contains an invalid number of segments');
    }
    const path = req.url.split('?')[0];
    const m = /^\/(v1|v2)\/organizations\/([^/]+)\/(members|invites|invite)(?:\/([^/]+))?$/
        .exec(path);
    /* an organization-scoped token acts on its organization only */
    if (m && tokens[bearer] !== '*' && tokens[bearer] !== m[2]) {
        return err(res, 403, 'you are not a member of organization ' + m[2]);
    }
    if (!m) return err(res, 404, 'not found');
    const [, ver, rawSlug, coll, rawItem] = m;
    let slug, item;
    try {
        slug = decodeURIComponent(rawSlug);
        item = rawItem === undefined ? undefined : decodeURIComponent(rawItem);
    } catch (e) { return err(res, 404, 'not found'); }
    const key = `${req.method} ${ver} ${coll}${item === undefined ? '' : ' item'}`;
    const known = [
        'GET v1 members', 'POST v1 members', 'GET v1 members item',
        'PATCH v1 members item', 'DELETE v1 members item', 'POST v1 members item',
        'GET v2 invites', 'POST v2 invites', 'DELETE v2 invites item',
        'POST v1 invites', 'POST v1 invite',
    ];
    if (!known.includes(key)) return err(res, 404, 'not found');

    const org = Object.prototype.hasOwnProperty.call(state, slug) ? state[slug] : null;
    if (!org) return err(res, 404, 'could not find organization ' + slug);

    let b = new Map();
    if (req.method === 'POST' || req.method === 'PATCH') {
        try { b = goDecode(body.toString('utf8')); } catch (e) {
            return err(res, 400, 'invalid request body');
        }
    }

    switch (key) {
    case 'GET v1 members':
        return send(res, 200, { members: [...org.members.keys()].map((u) => memberObj(org, u)) });
    case 'POST v1 members':
        return addMember(res, org, slug, b.get('username'), b.get('role'));
    case 'POST v1 members item':        /* the Node client's form */
        return addMember(res, org, slug, b.has('member') ? b.get('member') : item, b.get('role'));
    case 'GET v1 members item':
        if (!org.members.has(item)) return err(res, 404, 'could not find member');
        return send(res, 200, { member: memberObj(org, item) });
    case 'PATCH v1 members item': {
        if (!b.has('role') || b.get('role') === null) return err(res, 400, 'invalid role');
        const role = roleOf(b.get('role'), res);
        if (role === null) return;
        if (!org.members.has(item)) return err(res, 404, 'could not find user [username]');
        if (org.members.get(item) === 'owner') return err(res, 403, "cannot change the owner's role");
        org.members.set(item, role);
        return send(res, 200, { member: memberObj(org, item) });
    }
    case 'DELETE v1 members item':
        if (!org.members.has(item)) {
            return err(res, 404, 'user [username] is not a member of org [organizationSlug]');
        }
        org.members.delete(item);
        return send(res, 200, { member: item });
    case 'GET v2 invites':
        return send(res, 200, { invites: [...org.invites.values()] });
    case 'POST v2 invites':
        return invite(res, org, slug, b, true);
    case 'DELETE v2 invites item':
        if (!org.invites.delete(item)) return err(res, 404, 'invite not found');
        return send(res, 200, {});
    default:                            /* POST v1 invites, POST v1 invite */
        return invite(res, org, slug, b, false);
    }
}

/* Answers a request as one scripted entry says. */
function scripted(req, res, s, body) {
    const fault = s.fault || 'none';
    if (fault === 'reset') return req.socket.resetAndDestroy();
    if (fault === 'hang') {
        setTimeout(() => req.socket.destroy(), 30000).unref();
        return;
    }
    if (s.status === undefined) return route(req, res, body);

    let out = s.body_base64 !== undefined
              ? Buffer.from(String(s.body_base64), 'base64')
              : Buffer.from(s.body === undefined ? '' : String(s.body));
    if (s.size && s.size > out.length) {
        out = Buffer.concat([out, Buffer.alloc(s.size - out.length, ' ')]);
    }
    const headers = Object.assign({}, s.headers || {});
    if (fault === 'close_after_headers') {
        let head = `HTTP/1.1 ${s.status} Scripted\r\n`;
        for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`;
        head += `Content-Length: ${out.length + 1000}\r\n\r\n`;
        req.socket.write(head);
        req.socket.end(out);
        return;
    }
    if (fault === 'chunked') {
        res.writeHead(s.status, headers);   /* no length: node chunks it */
        const half = Math.floor(out.length / 2);
        res.write(out.subarray(0, half));
        res.end(out.subarray(half));
        return;
    }
    headers['Content-Length'] = out.length;
    res.writeHead(s.status, headers);
    res.end(out);
}

function control(req, res, body) {
    const what = `${req.method} ${req.url.split('?')[0]}`;
    if (what === 'GET /__mock/requests') return send(res, 200, recorded);
    if (what === 'POST /__mock/reset') { reset(); return send(res, 200, { ok: true }); }
    if (what === 'POST /__mock/tokens') {
        let map;
        try { map = JSON.parse(body.toString('utf8')); } catch (e) {
            return err(res, 400, 'tokens must be a JSON object');
        }
        if (map === null || typeof map !== 'object' || Array.isArray(map)) {
            return err(res, 400, 'tokens must be a JSON object');
        }
        tokens = map;
        return send(res, 200, { ok: true });
    }
    if (what === 'POST /__mock/script') {
        let list;
        try { list = JSON.parse(body.toString('utf8')); } catch (e) {
            return err(res, 400, 'script must be a JSON array');
        }
        if (!Array.isArray(list)) return err(res, 400, 'script must be a JSON array');
        scripts.push(...list);
        return send(res, 200, { queued: scripts.length });
    }
    return err(res, 404, 'no such control endpoint');
}

function handle(req, res) {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
        const body = Buffer.concat(chunks);
        if (req.url.startsWith('/__mock/')) return control(req, res, body);

        const headers = {};
        for (let i = 0; i < req.rawHeaders.length; i += 2) {
            const k = req.rawHeaders[i].toLowerCase();
            headers[k] = k in headers ? headers[k] + ', ' + req.rawHeaders[i + 1]
                                      : req.rawHeaders[i + 1];
        }
        recorded.push({
            method: req.method,
            url: req.url,
            http_version: req.httpVersion,
            headers: headers,
            rawHeaders: req.rawHeaders,
            body: body.toString('utf8'),
            body_base64: body.toString('base64'),
            body_length: body.length,
        });

        const i = scripts.findIndex((e) => e.url === undefined
                                          || e.url === req.url);
        const s = i < 0 ? undefined : scripts.splice(i, 1)[0];
        if (!s) return route(req, res, body);
        const delay = Number(s.delay_ms || 0);
        if (delay > 0) {
            setTimeout(() => scripted(req, res, s, body), delay);
        } else {
            scripted(req, res, s, body);
        }
    });
}

const server = http.createServer(handle);

/* nginx keeps upstream connections alive; never be the side that closes
 * an idle one in the middle of a test run */
server.keepAliveTimeout = 120000;
server.headersTimeout = 130000;
server.requestTimeout = 0;

server.listen(Number(args.port), args.host, () => {
    console.log(`turso-mock listening on ${args.host}:${server.address().port}`);
});

if (args.h2port) {
    /* no settings timeout: nginx keeps the connection for its next request */
    const h2 = http2.createServer({}, handle);
    h2.setTimeout(0);
    h2.listen(Number(args.h2port), args.host);
}

for (const sig of ['SIGTERM', 'SIGINT']) {
    process.on(sig, () => process.exit(0));
}
