
/*
 * Copyright (C) ngx_turso_members authors
 *
 * Unit tests of the flat scan: which bodies it reads, and that on every
 * body it reads it agrees with jansson (the result, the values, the
 * message).  fuzz/fuzz_json.c checks the same on every input it tries.
 */


#include "test.h"
#include "ngx_turso_members_flat.h"
#include "ngx_turso_members_json.h"


void
ngx_turso_members_test_flat(void)
{
    int                        rc;
    size_t                     n, len;
    unsigned char             *copy;
    ngx_turso_members_body_t   body;

    static const struct {
        const char  *input;
        int          taken;
    } cases[] = {
        { "{\"username\":\"bob\",\"role\":\" Admin \"}", 1 },
        { " \t\r\n{ \"username\" : \"bob\" , \"role\" : null } \n", 1 },
        { "{}", 1 },
        { "{ }", 1 },
        { "{\"username\":\"bob\",\"role\":\"superuser\"}", 1 },
        { "{\"Role\":\"admin\",\"username\":\"bob\"}", 1 },
        { "{\"a\":\"1\",\"b\":\"2\",\"c\":\"3\",\"d\":\"4\",\"e\":\"5\","
          "\"f\":\"6\",\"g\":\"7\",\"username\":\"bob\"}", 1 },
        /* nine members */
        { "{\"a\":\"1\",\"b\":\"2\",\"c\":\"3\",\"d\":\"4\",\"e\":\"5\","
          "\"f\":\"6\",\"g\":\"7\",\"h\":\"8\",\"username\":\"bob\"}", 0 },
        { "{\"username\":\"bob\",\"username\":\"eve\"}", 0 },
        { "{\"username\":\"b\\u006fb\"}", 0 },
        { "{\"username\":\"b\\\"b\"}", 0 },
        { "{\"username\":\"b\xc3\xa9\"}", 0 },
        { "{\"username\":\"b\x7f\"}", 0 },
        { "{\"username\":\"b\tb\"}", 0 },
        { "{\"username\":\"bob\",\"role\":1}", 0 },
        { "{\"username\":\"bob\",\"x\":true}", 0 },
        { "{\"username\":\"bob\",\"x\":{}}", 0 },
        { "{\"username\":\"bob\",\"x\":[]}", 0 },
        { "{\"username\":\"bob\",\"role\":nul}", 0 },
        { "{\"username\":\"bob\",\"role\":nullx}", 0 },
        { "{\"username\":\"bob\",}", 0 },
        { "{\"username\":\"bob\"", 0 },
        { "{\"username\":\"bob", 0 },
        { "{\"username\" \"bob\"}", 0 },
        { "{\"username\":\"bob\"}}", 0 },
        { "{\"username\":\"bob\"} x", 0 },
        { "{\"username\":\"bob\"}\f", 0 },
        { "\xef\xbb\xbf{\"username\":\"bob\"}", 0 },
        { "[\"username\"]", 0 },
        { "\"username\"", 0 },
        { "", 0 },
        { "{", 0 },
        { NULL, 0 }
    };

    for (n = 0; cases[n].input != NULL; n++) {
        len = strlen(cases[n].input);
        copy = malloc(len ? len : 1);
        if (copy == NULL) {
            abort();
        }

        memcpy(copy, cases[n].input, len);

        rc = ngx_turso_members_flat_parse(copy, len,
                                          &ngx_turso_members_test_add, &body);

        ngx_turso_members_test_ok((rc != NGX_TURSO_MEMBERS_JSON_DECLINED)
                                  == cases[n].taken,
                                  "flat scan %s case %d",
                                  cases[n].taken ? "reads" : "declines",
                                  (int) n);
        free(copy);
    }
}


/*
 * The flat scan, where it reads the body, agrees with jansson: every
 * body test_json.c tries is read again by jansson alone
 */

void
ngx_turso_members_test_flat_agrees(const char *name,
    const ngx_turso_members_body_spec_t *spec, const unsigned char *input,
    size_t len, int rc, const ngx_turso_members_body_t *body)
{
    int                        ref_rc;
    ngx_turso_members_body_t  *ref;

    ref = malloc(sizeof(ngx_turso_members_body_t));
    if (ref == NULL) {
        abort();
    }

    memset(ref, 0x5a, sizeof(ngx_turso_members_body_t));

    ref_rc = ngx_turso_members_json_parse_jansson(input, len, spec, ref);

    ngx_turso_members_test_ok(ref_rc == rc
                              && ngx_turso_members_body_eq(ref, body),
                              "parse: %s: the same through jansson alone",
                              name);

    free(ref);
}
