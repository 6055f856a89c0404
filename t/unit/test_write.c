
/*
 * Copyright (C) ngx_turso_members authors
 *
 * Unit tests of the canonical body writer.
 */


#include <jansson.h>

#include "test.h"
#include "ngx_turso_members_write.h"


void
ngx_turso_members_test_write(void)
{
    char                      *small;
    size_t                     n, i, want_len;
    const char                *want;
    ngx_turso_members_body_t   body;
    char                       buf[1024];

    memset(&body, 0, sizeof(body));
    body.present = U|R;
    memcpy(body.username, "bob", 4);
    body.username_len = 3;

    n = ngx_turso_members_json_write(&body, U|R, "member", buf, sizeof(buf));
    want = "{\"username\":\"bob\",\"role\":\"member\"}";
    ngx_turso_members_test_ok(n == strlen(want) && memcmp(buf, want, n) == 0,
                              "write: username and role");

    n = ngx_turso_members_json_write(&body, U|R, NULL, buf, sizeof(buf));
    want = "{\"username\":\"bob\"}";
    ngx_turso_members_test_ok(n == strlen(want) && memcmp(buf, want, n) == 0,
                              "write: no role");

    n = ngx_turso_members_json_write(&body, U, "admin", buf, sizeof(buf));
    ngx_turso_members_test_ok(n == strlen(want) && memcmp(buf, want, n) == 0,
                              "write: role not in fields");

    n = ngx_turso_members_json_write(&body, R, "admin", buf, sizeof(buf));
    want = "{\"role\":\"admin\"}";
    ngx_turso_members_test_ok(n == strlen(want) && memcmp(buf, want, n) == 0,
                              "write: role only, username not in fields");

    n = ngx_turso_members_json_write(&body, 0, "admin", buf, sizeof(buf));
    ngx_turso_members_test_ok(n == 2 && memcmp(buf, "{}", 2) == 0,
                              "write: no fields");

    memset(&body, 0, sizeof(body));
    body.present = E;
    memcpy(body.email, "a@b.c", 6);
    body.email_len = 5;
    memcpy(body.username, "stale", 6);
    body.username_len = 5;

    n = ngx_turso_members_json_write(&body, E|U|R, "viewer", buf,
                                     sizeof(buf));
    want = "{\"email\":\"a@b.c\",\"role\":\"viewer\"}";
    ngx_turso_members_test_ok(n == strlen(want) && memcmp(buf, want, n) == 0,
                              "write: email, username not present");

    body.present = E|U;
    n = ngx_turso_members_json_write(&body, E|U|R, "viewer", buf,
                                     sizeof(buf));
    want = "{\"username\":\"stale\",\"email\":\"a@b.c\",\"role\":\"viewer\"}";
    ngx_turso_members_test_ok(n == strlen(want) && memcmp(buf, want, n) == 0,
                              "write: fixed key order");

    memset(&body, 0, sizeof(body));
    body.present = U|M;
    memcpy(body.username, "a\"b\\c\x01", 7);
    body.username_len = 6;
    memcpy(body.member, "eve", 4);
    body.member_len = 3;

    n = ngx_turso_members_json_write(&body, U|M|R, "admin", buf,
                                     sizeof(buf));
    want = "{\"username\":\"a\\\"b\\\\c\\u0001\",\"role\":\"admin\"}";
    want_len = strlen(want);
    ngx_turso_members_test_ok(n == want_len && memcmp(buf, want, n) == 0,
                              "write: escaping, member never written");

    for (i = 0; i < want_len; i++) {
        /* exact-size heap buffers: any overrun is an ASan error */
        small = malloc(i ? i : 1);
        if (small == NULL) {
            abort();
        }

        n = ngx_turso_members_json_write(&body, U|R, "admin", small, i);
        free(small);

        if (n != 0) {
            break;
        }
    }

    ngx_turso_members_test_ok(i == want_len,
                              "write: 0 for every buffer shorter than %d",
                              (int) want_len);

    small = malloc(want_len);
    if (small == NULL) {
        abort();
    }

    n = ngx_turso_members_json_write(&body, U|R, "admin", small, want_len);
    ngx_turso_members_test_ok(n == want_len && memcmp(small, want, n) == 0,
                              "write: exact-size buffer");
    free(small);
}


/*
 * Every ASCII byte at every position of a 24-byte username of "a": the
 * body written is JSON whose username is those bytes.  Values reaching
 * the writer are valid UTF-8 without controls; a control is escaped all
 * the same.
 */

void
ngx_turso_members_test_escape(void)
{
    int                        bad;
    size_t                     n, pos;
    json_t                    *root, *v;
    unsigned                   c;
    json_error_t               err;
    ngx_turso_members_body_t   body;
    char                       buf[256];

    bad = 0;

    for (c = 0; c < 0x80; c++) {
        for (pos = 0; pos < 24; pos++) {
            memset(&body, 0, sizeof(body));
            memset(body.username, 'a', 24);
            body.username[pos] = (char) c;
            body.username_len = 24;
            body.present = U;

            n = ngx_turso_members_json_write(&body, U, NULL, buf,
                                             sizeof(buf));

            root = json_loadb(buf, n, JSON_ALLOW_NUL, &err);
            v = json_object_get(root, "username");

            if (n == 0 || !json_is_string(v)
                || json_string_length(v) != 24
                || memcmp(json_string_value(v), body.username, 24) != 0
                || (c >= 0x20 && c != '"' && c != '\\' && n != 39))
            {
                if (bad++ < 5) {
                    printf("#   byte 0x%02x at %d written wrong\n", c,
                           (int) pos);
                }
            }

            json_decref(root);
        }
    }

    ngx_turso_members_test_ok(bad == 0, "write: every ASCII byte at every "
                                        "position of a username, escaped "
                                        "when it must be");
}
