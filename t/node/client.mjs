#!/usr/bin/env node
/*
 * Drives the official Turso Node client (@tursodatabase/api, pinned in
 * package.json) for t/090-node-client.t.
 *
 *   node t/node/client.mjs PLAN.json
 *
 * PLAN: {"baseUrl": "http://127.0.0.1:N/v1/", "org": "acme",
 *        "token": "...", "steps": [{"call": "addMember",
 *        "args": ["bob", "admin"]}, ...]}
 * "call" is a method of client.organizations.  Prints one JSON array, a
 * result per step, in order:
 *   {"ok": true, "value": <what the method resolved to>}
 *   {"ok": false, "name": e.name, "class": e.constructor.name,
 *    "status": e.status, "message": e.message}
 */

import { readFileSync } from 'node:fs';
import { createClient } from '@tursodatabase/api';

const plan = JSON.parse(readFileSync(process.argv[2], 'utf8'));

const client = createClient({
    org: plan.org,
    token: plan.token,
    baseUrl: plan.baseUrl,
});

const results = [];

for (const step of plan.steps) {
    try {
        const value = await client.organizations[step.call](...(step.args || []));
        results.push({ ok: true, value: value === undefined ? null : value });
    } catch (e) {
        results.push({
            ok: false,
            name: e && e.name,
            class: e && e.constructor && e.constructor.name,
            status: e && e.status === undefined ? null : e.status,
            message: e && e.message,
        });
    }
}

process.stdout.write(JSON.stringify(results) + '\n');
