#!/usr/bin/env node
/*
 * Drives the example portal (examples/portal/index.html) in headless
 * Chromium (Debian's chromium, through playwright-core pinned in
 * package.json) for t/166-portal-browser.t.
 *
 *   node t/node/portal.mjs PLAN.json
 *
 * PLAN: {"portal": "http://127.0.0.1:P/", "other": "http://127.0.0.1:Q/",
 *        "gateway": "http://127.0.0.1:G", "org": "acme",
 *        "chromium": "/usr/bin/chromium", "screenshot": "FILE.png",
 *        "timeout_factor": 1}
 * Runs every action of the page from "portal", then opens the same page
 * from "other", and prints one JSON object: {"steps": [{"name", "page"}]}
 * where "page" is what the page shows: its members, invites, error and
 * notice.  Every wait is bounded (10 s, the whole run 90 s, times
 * "timeout_factor").
 */

import { readFileSync } from 'node:fs';
import { chromium } from 'playwright-core';

const plan = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const FACTOR = plan.timeout_factor || 1;     /* slow nginx builds */
const WAIT = 10000 * FACTOR;

setTimeout(() => {
    process.stderr.write('portal.mjs: no result in time\n');
    process.exit(3);
}, 90000 * FACTOR).unref();

const browser = await chromium.launch({
    executablePath: plan.chromium || '/usr/bin/chromium',
    headless: true,
    chromiumSandbox: false,        /* --no-sandbox: CI runs as root */
    timeout: WAIT,
    args: ['--disable-gpu', '--disable-quic', '--no-first-run',
           '--disable-background-networking', '--disable-component-update',
           '--disable-sync'],
});

const steps = [];
const console_lines = [];

try {
    const page = await browser.newPage();
    page.setDefaultTimeout(WAIT);
    page.on('console', (m) => console_lines.push(m.type() + ': ' + m.text()));

    const url = (base) => base + '?gateway=' + encodeURIComponent(plan.gateway)
                          + '&org=' + encodeURIComponent(plan.org);

    /* what a person sees on the page now */
    const shown = () => page.evaluate(() => {
        const text = (id) => document.getElementById(id).textContent.trim();
        const rows = (id) => [...document.querySelectorAll('#' + id + ' tr')]
            .map((tr) => [...tr.children].map((td) => {
                const sel = td.querySelector('select');
                return sel ? sel.value : td.textContent.trim();
            }).filter((v, i) => i < 3));
        return {
            members: rows('members'),
            invites: rows('invites').map((r) => r.slice(0, 2)),
            error: document.getElementById('error').hidden ? null : {
                code: text('error-code'),
                status: text('error-status'),
                message: text('error-message'),
                request_id: text('error-request-id'),
            },
            notice: document.getElementById('notice').hidden
                    ? null : text('notice'),
            ready: document.body.dataset.ready || null,
        };
    });

    let actions = 0;

    /* an action, then waits until the page has finished it */
    const step = async (name, fn) => {
        await fn();
        actions++;
        await page.waitForSelector('body[data-actions="' + actions + '"]',
                                   { state: 'attached' });
        steps.push({ name, page: await shown() });
    };

    await page.goto(url(plan.portal));
    await page.waitForSelector('body[data-ready]', { state: 'attached' });
    steps.push({ name: 'load', page: await shown() });

    const add = (username, role) => async () => {
        await page.fill('#add-username', username);
        await page.selectOption('#add-role', role);
        await page.click('#add-submit');
    };

    await step('add bob as viewer', add('bob', 'viewer'));
    /* a role the page does not offer (a page older than the gateway's
       policy, or edited): the gateway's refusal, as the page shows it */
    await step('add dave as admin', async () => {
        await page.evaluate(() => {
            const o = document.createElement('option');
            o.value = o.textContent = 'admin';
            document.getElementById('add-role').append(o);
        });
        await add('dave', 'admin')();
    });
    await step('add carol again', add('carol', 'member'));

    await step('change bob to member', async () => {
        await page.selectOption('tr[data-username="bob"] select', 'member');
        await page.click('tr[data-username="bob"] button.change-role');
    });

    await step('invite erin', async () => {
        await page.fill('#invite-email', 'erin@example.com');
        await page.selectOption('#invite-role', 'viewer');
        await page.click('#invite-submit');
    });

    await step('remove bob', async () => {
        await page.click('tr[data-username="bob"] button.remove');
    });

    if (plan.screenshot) {
        await page.screenshot({ path: plan.screenshot, fullPage: true });
    }

    /* the same page from an origin the gateway does not list */
    const other = await browser.newPage();
    other.setDefaultTimeout(WAIT);
    await other.goto(url(plan.other));
    await other.waitForSelector('body[data-ready]', { state: 'attached' });
    steps.push({ name: 'other origin', page: await other.evaluate(() => ({
        ready: document.body.dataset.ready,
        error: document.getElementById('error').hidden ? null : {
            code: document.getElementById('error-code').textContent,
            message: document.getElementById('error-message').textContent,
        },
        members: document.querySelectorAll('#members tr').length,
    })) });

} catch (e) {
    steps.push({ name: 'failed', error: String(e && e.stack || e) });
} finally {
    await browser.close();
}

process.stdout.write(JSON.stringify({ steps, console: console_lines }) + '\n');
process.exit(0);
