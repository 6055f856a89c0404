
/*
 * Copyright (C) ngx_turso_members authors
 *
 * Most bodies are a flat object of short printable ASCII strings, such as
 * {"username":"bob","role":"admin"}.  For those, jansson's tokenizer and
 * hash table cost several times what the checks do, so they are read by a
 * scan that accepts only that strict subset of JSON: an object whose keys
 * and values are strings of printable ASCII without escapes (or null), at
 * most NGX_TURSO_MEMBERS_FLAT_MAX members, no duplicate keys, JSON
 * whitespace only.  Anything else, valid or not, is jansson's to read, and
 * every error about the syntax is jansson's.  On the subset the two agree
 * by construction, and the unit tests (t/unit/test_flat.c) and the fuzzer
 * (fuzz/fuzz_json.c) check that they do on every input: the same result,
 * the same values, the same message.
 */


#include <stddef.h>
#include <string.h>

#include "ngx_turso_members_flat.h"


/* the members the flat scan takes at most; more go to jansson */
#define NGX_TURSO_MEMBERS_FLAT_MAX    8

#define ngx_turso_members_flat_space(c)                                       \
    ((c) == ' ' || (c) == '\t' || (c) == '\r' || (c) == '\n')

#define ngx_turso_members_flat_skip_space(p, last)                            \
    while ((p) < (last) && ngx_turso_members_flat_space(*(p))) {             \
        (p)++;                                                                \
    }


static int ngx_turso_members_flat_object(const unsigned char *p,
    const unsigned char *last, ngx_turso_members_value_t *keys,
    ngx_turso_members_value_t *values, size_t *n);
static const unsigned char *ngx_turso_members_flat_member(
    const unsigned char *p, const unsigned char *last,
    ngx_turso_members_value_t *key, ngx_turso_members_value_t *value);
static int ngx_turso_members_flat_duplicate(
    const ngx_turso_members_value_t *keys, size_t n);
static const unsigned char *ngx_turso_members_flat_string(
    const unsigned char *p, const unsigned char *last,
    ngx_turso_members_value_t *str);


/* the bytes a JSON string holds as they are: printable ASCII but " and \ */
static const unsigned char  ngx_turso_members_flat_plain[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};


int
ngx_turso_members_flat_parse(const unsigned char *data, size_t len,
    const ngx_turso_members_body_spec_t *spec, ngx_turso_members_body_t *body)
{
    int                         rc;
    size_t                      i, n;
    ngx_turso_members_value_t   keys[NGX_TURSO_MEMBERS_FLAT_MAX];
    ngx_turso_members_value_t   values[NGX_TURSO_MEMBERS_FLAT_MAX];

    rc = ngx_turso_members_flat_object(data, data + len, keys, values, &n);
    if (rc != NGX_TURSO_MEMBERS_JSON_OK) {
        return rc;
    }

    /* a duplicate key is a syntax error: jansson words it */

    if (ngx_turso_members_flat_duplicate(keys, n)) {
        return NGX_TURSO_MEMBERS_JSON_DECLINED;
    }

    ngx_turso_members_body_init(body);

    rc = NGX_TURSO_MEMBERS_JSON_OK;

    for (i = 0; i < n; i++) {
        rc = ngx_turso_members_body_member(spec, keys[i].data, keys[i].len,
                                           &values[i], body);
        if (rc != NGX_TURSO_MEMBERS_JSON_OK) {
            break;
        }
    }

    return ngx_turso_members_body_done(spec, body, rc);
}


/*
 * Whether the bytes are one object of the flat subset and nothing else
 * but whitespace: its members in keys and values, *n of them.
 */

static int
ngx_turso_members_flat_object(const unsigned char *p,
    const unsigned char *last, ngx_turso_members_value_t *keys,
    ngx_turso_members_value_t *values, size_t *n)
{
    *n = 0;

    ngx_turso_members_flat_skip_space(p, last);

    if (p == last || *p++ != '{') {
        return NGX_TURSO_MEMBERS_JSON_DECLINED;
    }

    ngx_turso_members_flat_skip_space(p, last);

    if (p < last && *p == '}') {
        p++;

    } else {

        for ( ;; ) {

            if (*n == NGX_TURSO_MEMBERS_FLAT_MAX) {
                return NGX_TURSO_MEMBERS_JSON_DECLINED;
            }

            p = ngx_turso_members_flat_member(p, last, &keys[*n],
                                              &values[*n]);
            if (p == NULL) {
                return NGX_TURSO_MEMBERS_JSON_DECLINED;
            }

            (*n)++;

            ngx_turso_members_flat_skip_space(p, last);

            if (p == last) {
                return NGX_TURSO_MEMBERS_JSON_DECLINED;
            }

            if (*p == '}') {
                p++;
                break;
            }

            if (*p++ != ',') {
                return NGX_TURSO_MEMBERS_JSON_DECLINED;
            }

            ngx_turso_members_flat_skip_space(p, last);
        }
    }

    ngx_turso_members_flat_skip_space(p, last);

    return (p == last) ? NGX_TURSO_MEMBERS_JSON_OK
                       : NGX_TURSO_MEMBERS_JSON_DECLINED;
}


/* one member at p, "key": a string or null; where it ends, or NULL */

static const unsigned char *
ngx_turso_members_flat_member(const unsigned char *p,
    const unsigned char *last, ngx_turso_members_value_t *key,
    ngx_turso_members_value_t *value)
{
    p = ngx_turso_members_flat_string(p, last, key);
    if (p == NULL) {
        return NULL;
    }

    ngx_turso_members_flat_skip_space(p, last);

    if (p == last || *p++ != ':') {
        return NULL;
    }

    ngx_turso_members_flat_skip_space(p, last);

    if (last - p >= 4 && memcmp(p, "null", 4) == 0) {
        value->type = NGX_TURSO_MEMBERS_VALUE_NULL;
        return p + 4;
    }

    return ngx_turso_members_flat_string(p, last, value);
}


/* whether two of the n keys are the same */

static int
ngx_turso_members_flat_duplicate(const ngx_turso_members_value_t *keys,
    size_t n)
{
    size_t  i, j;

    for (i = 1; i < n; i++) {
        for (j = 0; j < i; j++) {
            if (keys[i].len == keys[j].len
                && memcmp(keys[i].data, keys[j].data, keys[i].len) == 0)
            {
                return 1;
            }
        }
    }

    return 0;
}


/* a string of the flat subset at p: its bytes, and where it ends */

static const unsigned char *
ngx_turso_members_flat_string(const unsigned char *p,
    const unsigned char *last, ngx_turso_members_value_t *str)
{
    const unsigned char  *start;

    if (p == last || *p++ != '"') {
        return NULL;
    }

    start = p;

    /* four bytes at a time while they are plain, then one */

    while (last - p >= 4
           && (ngx_turso_members_flat_plain[p[0]]
               & ngx_turso_members_flat_plain[p[1]]
               & ngx_turso_members_flat_plain[p[2]]
               & ngx_turso_members_flat_plain[p[3]]))
    {
        p += 4;
    }

    while (p < last && ngx_turso_members_flat_plain[*p]) {
        p++;
    }

    /* a backslash, a control character or a non-ASCII byte: declined */

    if (p == last || *p != '"') {
        return NULL;
    }

    str->type = NGX_TURSO_MEMBERS_VALUE_STRING;
    str->data = start;
    str->len = p - start;

    return p + 1;
}
