/*
 * The Add Member gateway of ngx_turso_members, written for njs 0.7 (Debian
 * 12's libnginx-mod-http-js): the comparison point of bench/run.sh.
 *
 * njs has no access-phase directive, so the gateway is a js_content
 * handler that validates the body and sends the canonical body through a
 * subrequest to an internal proxy location (/_njs_upstream/, which also
 * sets "Authorization: Bearer <token>": a subrequest's headers cannot be
 * changed from njs).  Rules and error bodies are the module's, as in
 * bench/gateway.lua, for POST /v1/organizations/{org}/members only.
 *
 * Differences from the module: JSON.parse keeps the last of duplicate keys
 * instead of refusing the body (the canonical body still carries only the
 * value that was checked); r.requestText turns invalid UTF-8 into U+FFFD,
 * which the username rule then refuses; syntax error messages differ.
 */

const allowed = { admin: true, member: true, viewer: true };
const fields = { username: true, role: true, email: true, member: true };
const roles = { admin: 'admin', member: 'member', viewer: 'viewer' };
const defaultRole = 'member';

const MAX_BODY = 16384;


function field(name, value) {
    return value ? ',"' + name + '":' + JSON.stringify(value) : '';
}


function sendError(r, status, code, msg, org, user) {
    r.headersOut['Content-Type'] = 'application/json';
    r.return(status, '{"error":' + JSON.stringify(msg) + ',"code":"' + code
                     + '","status":' + status + field('organization', org)
                     + field('username', user)
                     + field('request_id', r.variables.njs_request_id)
                     + '}');
}


/*
 * The client's X-Request-Id when it is 1 to 128 of A-Z a-z 0-9 . _ : -,
 * else $request_id: sent upstream (proxy_set_header X-Request-Id
 * $njs_request_id, a js_var the subrequest shares) and in every error.
 */

function requestId(r) {
    var id = r.headersIn['X-Request-Id'];

    if (id !== undefined && /^[A-Za-z0-9._:-]{1,128}$/.test(id)) {
        return id;
    }

    return r.variables.request_id;
}


/* 1 to 255 bytes, no whitespace, controls, DEL, "/", U+FFFD; not . or .. */

function validUsername(s) {
    if (typeof s !== 'string') {
        return false;
    }

    if (/^[!-.0-~]{1,255}$/.test(s)) {
        return s !== '.' && s !== '..';
    }

    if (s.length === 0
        || /[\s\x00-\x1f\x7f-\xa0\/\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff\ufffd]/
           .test(s))
    {
        return false;
    }

    var n = 0;

    for (var i = 0; i < s.length; i++) {
        var c = s.charCodeAt(i);

        /* a surrogate pair: 2 code units, 4 bytes */
        n += (c < 0x80) ? 1 : (c < 0x800) ? 2
             : (c >= 0xd800 && c <= 0xdfff) ? 2 : 3;
    }

    return n <= 255;
}


/* Go's encoding/json folds keys: ASCII case, U+017F (s), U+212A (k) */

function folded(k) {
    return k.toLowerCase().replace(/\u017f/g, 's').replace(/\u212a/g, 'k');
}


function upstreamError(r, status, org, user) {
    switch (status) {
    case 409:
        return sendError(r, 409, 'member_exists', 'user ' + user
                         + ' is already a member of organization ' + org,
                         org, user);
    case 404:
        return sendError(r, 404, 'user_not_found',
                         'could not find user ' + user, org, user);
    case 401:
    case 403:
        return sendError(r, 502, 'upstream_unauthorized',
                         "the gateway's Turso API token was refused",
                         org, user);
    case 429:
        return sendError(r, 429, 'rate_limited',
                         'the Turso API is rate limiting the gateway',
                         org, user);
    }

    if (status >= 400 && status < 500) {
        return sendError(r, status, 'upstream_rejected',
                         'the Turso API rejected the request', org, user);
    }

    return sendError(r, 502, 'upstream_error', 'the Turso API failed',
                     org, user);
}


async function handle(r) {
    r.variables.njs_request_id = requestId(r);

    var m = /^\/v1\/organizations\/([^\/]+)\/members$/.exec(r.uri);

    if (!m) {
        return sendError(r, 404, 'route_not_supported',
                         'route not supported by this gateway');
    }

    if (r.method !== 'POST') {
        r.headersOut['Allow'] = 'GET, POST';
        return sendError(r, 405, 'method_not_allowed',
                         'method not allowed on this route');
    }

    var org = m[1];

    if (!/^[A-Za-z0-9_-]{1,64}$/.test(org)) {
        return sendError(r, 400, 'invalid_organization',
                         'invalid organization: 1 to 64 letters, digits, '
                         + '"-" or "_"');
    }

    var clen = Number(r.headersIn['Content-Length']);

    if (clen > MAX_BODY) {
        return sendError(r, 413, 'body_too_large',
                         'request body is too large', org);
    }

    var data;

    try {
        data = r.requestText;
    } catch (e) {
        /* in a temporary file: larger than the buffer, so than the cap */
        return sendError(r, 413, 'body_too_large',
                         'request body is too large', org);
    }

    if (!data) {
        return sendError(r, 400, 'invalid_json', 'request body is not valid '
                         + 'JSON: the body is empty', org);
    }

    var obj;

    try {
        obj = JSON.parse(data);
    } catch (e) {
        return sendError(r, 400, 'invalid_json',
                         'request body is not valid JSON: ' + e.message, org);
    }

    if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) {
        return sendError(r, 400, 'invalid_body',
                         'request body must be a JSON object', org);
    }

    var username, role, roleErr;
    var keys = Object.keys(obj);

    for (var i = 0; i < keys.length; i++) {
        var k = keys[i];
        var v = obj[k];

        if (fields[k] === true) {
            if (k === 'username') {
                if (v !== null) {
                    if (!validUsername(v)) {
                        return sendError(r, 400, 'invalid_body',
                            '"username" must be a non-empty string of at '
                            + 'most 255 bytes without whitespace, control '
                            + 'characters or "/"', org);
                    }

                    username = v;
                }

            } else if (k === 'role') {
                if (v !== null) {
                    var t = (typeof v === 'string')
                            ? v.replace(/^[ \t\r\n]+|[ \t\r\n]+$/g, '')
                               .toLowerCase()
                            : null;

                    role = (t !== null && roles.hasOwnProperty(t))
                           ? roles[t] : undefined;

                    if (!role) {
                        roleErr = (t === 'owner')
                                  ? 'the owner role cannot be assigned'
                                  : 'invalid role: must be one of admin, '
                                    + 'member, viewer';
                    }
                }
            }

            /* "email" and "member" belong to other routes: dropped */
            continue;
        }

        var f = folded(k);

        if (fields[f] === true) {
            if (/^[ -!#-\[\]-~]*$/.test(k)) {
                /* named: a good username before it, as the module does */
                return sendError(r, 400, 'invalid_body', 'unexpected key "'
                                 + k + '": keys are case-sensitive, '
                                 + 'expected "' + f + '"', org, username);
            }

            return sendError(r, 400, 'invalid_body', 'unexpected key '
                             + 'resembling "' + f + '": keys are '
                             + 'case-sensitive', org, username);
        }
    }

    if (roleErr) {
        /* the error names the user when the rest of the body is good */
        return sendError(r, 400, 'invalid_role', roleErr, org, username);
    }

    if (username === undefined) {
        return sendError(r, 400, 'invalid_body', '"username" is required',
                         org);
    }

    role = role || defaultRole;

    if (!allowed[role]) {
        return sendError(r, 403, 'role_not_allowed', 'role ' + role
                         + ' may not be granted through this gateway',
                         org, username);
    }

    var reply = await r.subrequest('/_njs_upstream/v1/organizations/' + org
                                   + '/members',
                                   { method: 'POST',
                                     body: '{"username":'
                                           + JSON.stringify(username)
                                           + ',"role":"' + role + '"}' });

    if (reply.status >= 400) {
        return upstreamError(r, reply.status, org, username);
    }

    var ct = reply.headersOut['Content-Type'];

    if (ct) {
        r.headersOut['Content-Type'] = ct;
    }

    r.return(reply.status, reply.responseText);
}


export default { handle };
