
/*
 * Copyright (C) ngx_turso_members authors
 *
 * Validation and normalization of membership request bodies.  Plain C and
 * jansson only, so that it can be unit-tested and fuzzed without nginx.
 *
 * Turso's API is written in Go, whose encoding/json matches object keys
 * case-insensitively (with Unicode simple folding) and lets the last
 * duplicate win.  The gateway therefore rejects duplicates and any key that
 * Go would take for a field name without being exactly that name, and
 * forwards only a canonical body it wrote itself.
 */


#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <jansson.h>

#include "ngx_turso_members_json.h"


#define NGX_TURSO_MEMBERS_JSON_FLAGS  (JSON_REJECT_DUPLICATES|JSON_DECODE_ANY)

/* jansson's text is cut to this many bytes in client-visible messages */
#define NGX_TURSO_MEMBERS_JSON_REASON_MAX  80

#define ngx_turso_members_json_space(c)                                       \
    ((c) == ' ' || (c) == '\t' || (c) == '\r' || (c) == '\n')


/* the members the flat scan takes at most; more go to jansson */
#define NGX_TURSO_MEMBERS_JSON_FLAT_MAX    8

/* a byte class of ngx_turso_members_json_plain[] */
#define NGX_TURSO_MEMBERS_JSON_TEXT        2

#define NGX_TURSO_MEMBERS_JSON_NULL        0
#define NGX_TURSO_MEMBERS_JSON_STRING      1
#define NGX_TURSO_MEMBERS_JSON_OTHER       2


typedef struct {
    const char     *name;
    size_t          len;
    unsigned        bit;
} ngx_turso_members_json_field_t;


/* a member's value, as jansson or the flat scan found it */
typedef struct {
    int                   type;     /* NGX_TURSO_MEMBERS_JSON_NULL, ... */
    int                   text;     /* 1: all bytes TEXT, 0: not, -1:
                                       unknown (jansson's string) */
    const unsigned char  *data;     /* a string's bytes, not terminated */
    size_t                len;
} ngx_turso_members_json_val_t;


static void *ngx_turso_members_json_malloc(size_t size);
static void ngx_turso_members_json_free(void *p);
static void ngx_turso_members_json_body_init(ngx_turso_members_body_t *body);
static int ngx_turso_members_json_take(
    const ngx_turso_members_body_spec_t *spec, const unsigned char *key,
    size_t key_len, const ngx_turso_members_json_val_t *value,
    ngx_turso_members_body_t *body, int *role_rc);
static int ngx_turso_members_json_done(
    const ngx_turso_members_body_spec_t *spec,
    ngx_turso_members_body_t *body, int rc, int role_rc);
static inline const unsigned char *ngx_turso_members_json_flat_string(
    const unsigned char *p, const unsigned char *last,
    ngx_turso_members_json_val_t *str);
static int ngx_turso_members_json_member(
    const ngx_turso_members_body_spec_t *spec, const unsigned char *key,
    size_t key_len, const ngx_turso_members_json_val_t *value,
    ngx_turso_members_body_t *body);
static int ngx_turso_members_json_value(
    const ngx_turso_members_json_field_t *field,
    const ngx_turso_members_json_val_t *value,
    ngx_turso_members_body_t *body);
static int ngx_turso_members_json_role_value(
    const ngx_turso_members_json_val_t *value,
    ngx_turso_members_body_t *body);
static int ngx_turso_members_json_check_spec(
    const ngx_turso_members_body_spec_t *spec,
    ngx_turso_members_body_t *body);
static void ngx_turso_members_json_syntax_error(
    ngx_turso_members_body_t *body, const json_error_t *err);
static void ngx_turso_members_json_error(ngx_turso_members_body_t *body,
    const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__ ((format (printf, 2, 3)))
#endif
    ;
static int ngx_turso_members_json_fold_eq(const unsigned char *key,
    size_t len, const char *name);
static int ngx_turso_members_json_printable(const unsigned char *s,
    size_t len);
static int ngx_turso_members_json_valid_text(const unsigned char *s,
    size_t len);
static int ngx_turso_members_json_valid_username(const unsigned char *s,
    size_t len, int text);
static int ngx_turso_members_json_valid_email(const unsigned char *s,
    size_t len, int text);
static size_t ngx_turso_members_json_utf8(const unsigned char *p,
    const unsigned char *last, unsigned *cp);
static void ngx_turso_members_json_trim(const unsigned char **s,
    size_t *len);
static int ngx_turso_members_json_eq_lower(const unsigned char *s,
    size_t len, const char *name);
static char *ngx_turso_members_json_append_field(char *p, char *last,
    int first, const char *name, size_t name_len, const char *value,
    size_t len, int plain);
static const unsigned char *ngx_turso_members_json_plain_run(
    const unsigned char *p, const unsigned char *last);
static size_t ngx_turso_members_json_escape_slow(char *dst, size_t size,
    const char *src, size_t len)
#if defined(__GNUC__)
    __attribute__ ((noinline))
#endif
    ;


/* in alphabetical order: the order of checks and of names in messages */
static const ngx_turso_members_json_field_t
    ngx_turso_members_json_fields[] =
{
    { "email", 5, NGX_TURSO_MEMBERS_FIELD_EMAIL },
    { "member", 6, NGX_TURSO_MEMBERS_FIELD_MEMBER },
    { "role", 4, NGX_TURSO_MEMBERS_FIELD_ROLE },
    { "username", 8, NGX_TURSO_MEMBERS_FIELD_USERNAME },
    { NULL, 0, 0 }
};

static const char  ngx_turso_members_json_hex[] = "0123456789abcdef";

/*
 * The bytes a JSON string holds as they are: printable ASCII but " and \
 * (non-zero).  3: also allowed in a username or an email as it is, not
 * a space or "/" (NGX_TURSO_MEMBERS_JSON_TEXT).
 */
static const unsigned char  ngx_turso_members_json_plain[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    1, 3, 0, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 1,
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 0, 3, 3, 3,
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};

/*
 * jansson's allocator is process-wide.  An nginx worker parses in one
 * thread, one body at a time, so while it parses, jansson allocates from
 * that request's pool (set around each parse, freed with the request):
 * no malloc() per request.  Elsewhere (unit tests, the fuzzer) it is
 * malloc() and free().
 */
static ngx_turso_members_json_alloc_pt   ngx_turso_members_json_alloc_fn;
static void                             *ngx_turso_members_json_alloc_data;
static int                               ngx_turso_members_json_alloc_set;


void
ngx_turso_members_json_allocator(ngx_turso_members_json_alloc_pt alloc,
    void *data)
{
    ngx_turso_members_json_alloc_fn = alloc;
    ngx_turso_members_json_alloc_data = data;

    /* jansson calls the wrappers, which look at the two above: once */

    if (!ngx_turso_members_json_alloc_set) {
        json_set_alloc_funcs(ngx_turso_members_json_malloc,
                             ngx_turso_members_json_free);
        ngx_turso_members_json_alloc_set = 1;
    }
}


static void *
ngx_turso_members_json_malloc(size_t size)
{
    if (ngx_turso_members_json_alloc_fn) {
        return ngx_turso_members_json_alloc_fn(
                   ngx_turso_members_json_alloc_data, size);
    }

    return malloc(size);
}


static void
ngx_turso_members_json_free(void *p)
{
    /* memory from a pool goes with the pool */

    if (ngx_turso_members_json_alloc_fn == NULL) {
        free(p);
    }
}


/*
 * Most bodies are a flat object of short printable ASCII strings, such as
 * {"username":"bob","role":"admin"}.  For those, jansson's tokenizer and
 * hash table cost several times what the checks do, so they are read by a
 * scan that accepts only that strict subset of JSON: an object whose keys
 * and values are strings of printable ASCII without escapes (or null), at
 * most NGX_TURSO_MEMBERS_JSON_FLAT_MAX members, no duplicate keys, JSON
 * whitespace only.  Anything else, valid or not, is jansson's to read, and
 * every error about the syntax is jansson's.  On the subset the two agree
 * by construction, and the fuzzer checks that they do on every input: the
 * same result, the same values, the same message.
 */

int
ngx_turso_members_json_parse(const unsigned char *data, size_t len,
    const ngx_turso_members_body_spec_t *spec, ngx_turso_members_body_t *body)
{
    int  rc;

    rc = ngx_turso_members_json_parse_flat(data, len, spec, body);

    if (rc != NGX_TURSO_MEMBERS_JSON_DECLINED) {
        return rc;
    }

    return ngx_turso_members_json_parse_jansson(data, len, spec, body);
}


#define ngx_turso_members_json_skip_space(p, last)                            \
    while ((p) < (last) && ngx_turso_members_json_space(*(p))) {             \
        (p)++;                                                                \
    }


int
ngx_turso_members_json_parse_flat(const unsigned char *data, size_t len,
    const ngx_turso_members_body_spec_t *spec, ngx_turso_members_body_t *body)
{
    int                            rc, role_rc;
    size_t                         i, j, n;
    const unsigned char           *p, *last;
    ngx_turso_members_json_val_t   keys[NGX_TURSO_MEMBERS_JSON_FLAT_MAX];
    ngx_turso_members_json_val_t   values[NGX_TURSO_MEMBERS_JSON_FLAT_MAX];

    p = data;
    last = data + len;
    n = 0;

    ngx_turso_members_json_skip_space(p, last);

    if (p == last || *p++ != '{') {
        return NGX_TURSO_MEMBERS_JSON_DECLINED;
    }

    ngx_turso_members_json_skip_space(p, last);

    if (p < last && *p == '}') {
        p++;
        goto end;
    }

    for ( ;; ) {

        if (n == NGX_TURSO_MEMBERS_JSON_FLAT_MAX) {
            return NGX_TURSO_MEMBERS_JSON_DECLINED;
        }

        p = ngx_turso_members_json_flat_string(p, last, &keys[n]);
        if (p == NULL) {
            return NGX_TURSO_MEMBERS_JSON_DECLINED;
        }

        ngx_turso_members_json_skip_space(p, last);

        if (p == last || *p++ != ':') {
            return NGX_TURSO_MEMBERS_JSON_DECLINED;
        }

        ngx_turso_members_json_skip_space(p, last);

        if (last - p >= 4 && memcmp(p, "null", 4) == 0) {
            values[n].type = NGX_TURSO_MEMBERS_JSON_NULL;
            p += 4;

        } else {
            p = ngx_turso_members_json_flat_string(p, last, &values[n]);
            if (p == NULL) {
                return NGX_TURSO_MEMBERS_JSON_DECLINED;
            }
        }

        n++;

        ngx_turso_members_json_skip_space(p, last);

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

        ngx_turso_members_json_skip_space(p, last);
    }

end:

    ngx_turso_members_json_skip_space(p, last);

    if (p != last) {
        return NGX_TURSO_MEMBERS_JSON_DECLINED;
    }

    /* a duplicate key is a syntax error: jansson words it */

    for (i = 1; i < n; i++) {
        for (j = 0; j < i; j++) {
            if (keys[i].len == keys[j].len
                && memcmp(keys[i].data, keys[j].data, keys[i].len) == 0)
            {
                return NGX_TURSO_MEMBERS_JSON_DECLINED;
            }
        }
    }

    ngx_turso_members_json_body_init(body);

    rc = NGX_TURSO_MEMBERS_JSON_OK;
    role_rc = NGX_TURSO_MEMBERS_JSON_OK;

    for (i = 0; i < n; i++) {
        rc = ngx_turso_members_json_take(spec, keys[i].data, keys[i].len,
                                         &values[i], body, &role_rc);
        if (rc != NGX_TURSO_MEMBERS_JSON_OK) {
            break;
        }
    }

    return ngx_turso_members_json_done(spec, body, rc, role_rc);
}


/*
 * A string of the flat subset at p: its bytes, whether they are all TEXT,
 * and where it ends
 */

static inline const unsigned char *
ngx_turso_members_json_flat_string(const unsigned char *p,
    const unsigned char *last, ngx_turso_members_json_val_t *str)
{
    unsigned              cls, v;
    const unsigned char  *start;

    if (p == last || *p++ != '"') {
        return NULL;
    }

    start = p;
    cls = 0xff;

    /*
     * Four bytes at a time while they are plain, then one: every plain
     * class has bit 0 set, so the classes AND to 0 only for a byte that
     * is not plain
     */

    while (last - p >= 4) {
        v = ngx_turso_members_json_plain[p[0]]
            & ngx_turso_members_json_plain[p[1]]
            & ngx_turso_members_json_plain[p[2]]
            & ngx_turso_members_json_plain[p[3]];

        if (v == 0) {
            break;
        }

        cls &= v;
        p += 4;
    }

    while (p < last && (v = ngx_turso_members_json_plain[*p])) {
        cls &= v;
        p++;
    }

    /* a backslash, a control character or a non-ASCII byte: declined */

    if (p == last || *p != '"') {
        return NULL;
    }

    str->type = NGX_TURSO_MEMBERS_JSON_STRING;
    str->text = (cls & NGX_TURSO_MEMBERS_JSON_TEXT) ? 1 : 0;
    str->data = start;
    str->len = p - start;

    return p + 1;
}


int
ngx_turso_members_json_parse_jansson(const unsigned char *data, size_t len,
    const ngx_turso_members_body_spec_t *spec, ngx_turso_members_body_t *body)
{
    int                            rc, role_rc;
    void                          *iter;
    json_t                        *root, *value;
    const unsigned char           *nul;
    const char                    *key;
    json_error_t                   err;
    ngx_turso_members_json_val_t   val;

    ngx_turso_members_json_body_init(body);

    if (len == 0) {
        ngx_turso_members_json_error(body,
                                     "request body is not valid JSON: "
                                     "the body is empty");
        return NGX_TURSO_MEMBERS_JSON_INVALID_JSON;
    }

    /* RFC 8259 forbids emitting a BOM; Go would refuse one too */
    if (len >= 3 && data[0] == 0xef && data[1] == 0xbb && data[2] == 0xbf) {
        ngx_turso_members_json_error(body,
                                     "request body is not valid JSON: "
                                     "byte order mark");
        return NGX_TURSO_MEMBERS_JSON_INVALID_JSON;
    }

    /*
     * A raw NUL byte is never JSON (in a string it must be escaped), but
     * jansson 2.14 lets one pass after a literal or a number: {"a":null\0}
     */

    nul = memchr(data, '\0', len);

    if (nul != NULL) {
        ngx_turso_members_json_error(body,
                                     "request body is not valid JSON: "
                                     "NUL byte at byte %d",
                                     (int) (nul - data));
        return NGX_TURSO_MEMBERS_JSON_INVALID_JSON;
    }

    root = json_loadb((const char *) data, len, NGX_TURSO_MEMBERS_JSON_FLAGS,
                      &err);
    if (root == NULL) {
        ngx_turso_members_json_syntax_error(body, &err);
        return NGX_TURSO_MEMBERS_JSON_INVALID_JSON;
    }

    if (!json_is_object(root)) {
        json_decref(root);
        ngx_turso_members_json_error(body,
                                     "request body must be a JSON object");
        return NGX_TURSO_MEMBERS_JSON_INVALID_BODY;
    }

    rc = NGX_TURSO_MEMBERS_JSON_OK;
    role_rc = NGX_TURSO_MEMBERS_JSON_OK;

    /* in the order of the body: jansson's objects keep insertion order */

    for (iter = json_object_iter(root);
         iter != NULL;
         iter = json_object_iter_next(root, iter))
    {
        /* strlen() is exact: keys with NUL bytes do not get this far */
        key = json_object_iter_key(iter);
        value = json_object_iter_value(iter);

        if (json_is_null(value)) {
            val.type = NGX_TURSO_MEMBERS_JSON_NULL;

        } else if (json_is_string(value)) {
            val.type = NGX_TURSO_MEMBERS_JSON_STRING;
            val.text = -1;
            val.data = (const unsigned char *) json_string_value(value);
            val.len = json_string_length(value);

        } else {
            val.type = NGX_TURSO_MEMBERS_JSON_OTHER;
        }

        rc = ngx_turso_members_json_take(spec, (const unsigned char *) key,
                                         strlen(key), &val, body, &role_rc);
        if (rc != NGX_TURSO_MEMBERS_JSON_OK) {
            break;
        }
    }

    json_decref(root);

    return ngx_turso_members_json_done(spec, body, rc, role_rc);
}


/*
 * An empty body: the strings need no zeroing past their first byte (a
 * field's value is terminated where it is copied)
 */

static void
ngx_turso_members_json_body_init(ngx_turso_members_body_t *body)
{
    body->present = 0;
    body->role = NULL;
    body->username_len = 0;
    body->email_len = 0;
    body->member_len = 0;
    body->username[0] = '\0';
    body->email[0] = '\0';
    body->member[0] = '\0';
    body->error[0] = '\0';
}


int
ngx_turso_members_json_body_eq(const ngx_turso_members_body_t *a,
    const ngx_turso_members_body_t *b)
{
    return a->present == b->present
           && a->role == b->role
           && a->username_len == b->username_len
           && a->email_len == b->email_len
           && a->member_len == b->member_len
           && memcmp(a->username, b->username, a->username_len + 1) == 0
           && memcmp(a->email, b->email, a->email_len + 1) == 0
           && memcmp(a->member, b->member, a->member_len + 1) == 0
           && strcmp(a->error, b->error) == 0;
}


/*
 * One member, in the order of the body.  After a bad role the other
 * fields are still checked, so that the error can name a valid username.
 */

static int
ngx_turso_members_json_take(const ngx_turso_members_body_spec_t *spec,
    const unsigned char *key, size_t key_len,
    const ngx_turso_members_json_val_t *value,
    ngx_turso_members_body_t *body, int *role_rc)
{
    int  rc;

    rc = ngx_turso_members_json_member(spec, key, key_len, value, body);

    if (rc == NGX_TURSO_MEMBERS_JSON_INVALID_ROLE
        && *role_rc == NGX_TURSO_MEMBERS_JSON_OK)
    {
        *role_rc = rc;
        return NGX_TURSO_MEMBERS_JSON_OK;
    }

    return rc;
}


static int
ngx_turso_members_json_done(const ngx_turso_members_body_spec_t *spec,
    ngx_turso_members_body_t *body, int rc, int role_rc)
{
    if (rc == NGX_TURSO_MEMBERS_JSON_OK) {
        rc = role_rc;
    }

    if (rc == NGX_TURSO_MEMBERS_JSON_OK) {
        rc = ngx_turso_members_json_check_spec(spec, body);
    }

    if (rc != NGX_TURSO_MEMBERS_JSON_OK) {
        /* a rejected body must not look half-accepted to the caller */
        body->present = 0;
        body->role = NULL;
    }

    return rc;
}


static int
ngx_turso_members_json_member(const ngx_turso_members_body_spec_t *spec,
    const unsigned char *key, size_t key_len,
    const ngx_turso_members_json_val_t *value,
    ngx_turso_members_body_t *body)
{
    const ngx_turso_members_json_field_t  *f;

    /* the names differ in length: one comparison at most */

    for (f = ngx_turso_members_json_fields; f->name != NULL; f++) {
        if (key_len != f->len
            || !ngx_turso_members_short_eq(key, f->name, key_len))
        {
            continue;
        }

        if ((spec->fields & f->bit) == 0) {
            /* another route's field: dropped like any unknown key */
            return NGX_TURSO_MEMBERS_JSON_OK;
        }

        return ngx_turso_members_json_value(f, value, body);
    }

    for (f = ngx_turso_members_json_fields; f->name != NULL; f++) {
        if (!ngx_turso_members_json_fold_eq(key, key_len, f->name)) {
            continue;
        }

        if (ngx_turso_members_json_printable(key, key_len)) {
            ngx_turso_members_json_error(body,
                                         "unexpected key \"%.*s\": keys are "
                                         "case-sensitive, expected \"%s\"",
                                         (int) key_len, (const char *) key,
                                         f->name);

        } else {
            ngx_turso_members_json_error(body,
                                         "unexpected key resembling \"%s\": "
                                         "keys are case-sensitive", f->name);
        }

        return NGX_TURSO_MEMBERS_JSON_INVALID_BODY;
    }

    return NGX_TURSO_MEMBERS_JSON_OK;
}


static int
ngx_turso_members_json_value(const ngx_turso_members_json_field_t *field,
    const ngx_turso_members_json_val_t *value, ngx_turso_members_body_t *body)
{
    char                 *dst;
    size_t                len;
    size_t               *dst_len;
    const unsigned char  *s;

    /* null leaves a field unset, as it does for Go's decoder */
    if (value->type == NGX_TURSO_MEMBERS_JSON_NULL) {
        return NGX_TURSO_MEMBERS_JSON_OK;
    }

    if (field->bit == NGX_TURSO_MEMBERS_FIELD_ROLE) {
        return ngx_turso_members_json_role_value(value, body);
    }

    if (value->type != NGX_TURSO_MEMBERS_JSON_STRING) {
        goto invalid;
    }

    s = value->data;
    len = value->len;

    switch (field->bit) {

    case NGX_TURSO_MEMBERS_FIELD_EMAIL:
        if (!ngx_turso_members_json_valid_email(s, len, value->text)) {
            goto invalid;
        }

        dst = body->email;
        dst_len = &body->email_len;
        break;

    case NGX_TURSO_MEMBERS_FIELD_MEMBER:
        if (!ngx_turso_members_json_valid_username(s, len, value->text)) {
            goto invalid;
        }

        dst = body->member;
        dst_len = &body->member_len;
        break;

    default: /* NGX_TURSO_MEMBERS_FIELD_USERNAME */
        if (!ngx_turso_members_json_valid_username(s, len, value->text)) {
            goto invalid;
        }

        dst = body->username;
        dst_len = &body->username_len;
        break;
    }

    memcpy(dst, s, len);
    dst[len] = '\0';
    *dst_len = len;
    body->present |= field->bit;

    return NGX_TURSO_MEMBERS_JSON_OK;

invalid:

    if (field->bit == NGX_TURSO_MEMBERS_FIELD_EMAIL) {
        ngx_turso_members_json_error(body,
                                     "\"email\" must be an email address of "
                                     "at most %d bytes without whitespace, "
                                     "control characters or \"/\"",
                                     NGX_TURSO_MEMBERS_EMAIL_MAX);

    } else {
        ngx_turso_members_json_error(body,
                                     "\"%s\" must be a non-empty string of "
                                     "at most %d bytes without whitespace, "
                                     "control characters or \"/\"",
                                     field->name,
                                     NGX_TURSO_MEMBERS_USERNAME_MAX);
    }

    return NGX_TURSO_MEMBERS_JSON_INVALID_BODY;
}


static int
ngx_turso_members_json_role_value(const ngx_turso_members_json_val_t *value,
    ngx_turso_members_body_t *body)
{
    size_t                len;
    const char           *role;
    const unsigned char  *s;

    if (value->type == NGX_TURSO_MEMBERS_JSON_STRING) {
        s = value->data;
        len = value->len;

        role = ngx_turso_members_role(s, len);
        if (role != NULL) {
            body->role = role;
            body->present |= NGX_TURSO_MEMBERS_FIELD_ROLE;
            return NGX_TURSO_MEMBERS_JSON_OK;
        }

        ngx_turso_members_json_trim(&s, &len);

        if (len == sizeof("owner") - 1
            && ngx_turso_members_json_eq_lower(s, len, "owner"))
        {
            ngx_turso_members_json_error(body,
                                         "the owner role cannot be assigned");
            return NGX_TURSO_MEMBERS_JSON_INVALID_ROLE;
        }
    }

    ngx_turso_members_json_error(body, "invalid role: must be one of admin, "
                                       "member, viewer");

    return NGX_TURSO_MEMBERS_JSON_INVALID_ROLE;
}


static int
ngx_turso_members_json_check_spec(const ngx_turso_members_body_spec_t *spec,
    ngx_turso_members_body_t *body)
{
    int                                    n, found;
    size_t                                 pos;
    const char                            *sep;
    const ngx_turso_members_json_field_t  *f;

    if ((spec->required & ~body->present) == 0 && spec->one_of == 0) {
        return NGX_TURSO_MEMBERS_JSON_OK;
    }

    for (f = ngx_turso_members_json_fields; f->name != NULL; f++) {
        if ((spec->required & f->bit) && !(body->present & f->bit)) {
            ngx_turso_members_json_error(body, "\"%s\" is required", f->name);
            return NGX_TURSO_MEMBERS_JSON_INVALID_BODY;
        }
    }

    if (spec->one_of == 0) {
        return NGX_TURSO_MEMBERS_JSON_OK;
    }

    n = 0;
    found = 0;

    for (f = ngx_turso_members_json_fields; f->name != NULL; f++) {
        if (spec->one_of & f->bit) {
            n++;

            if (body->present & f->bit) {
                found++;
            }
        }
    }

    if (found == 1) {
        return NGX_TURSO_MEMBERS_JSON_OK;
    }

    /* "exactly one of "a", "b" or "c" is required" */

    pos = 0;
    sep = (n == 1) ? "" : "exactly one of ";

    for (f = ngx_turso_members_json_fields; f->name != NULL; f++) {
        if ((spec->one_of & f->bit) == 0) {
            continue;
        }

        pos += snprintf(body->error + pos, sizeof(body->error) - pos,
                        "%s\"%s\"", sep, f->name);

        n--;
        sep = (n == 1) ? " or " : ", ";
    }

    snprintf(body->error + pos, sizeof(body->error) - pos, " is required");

    return NGX_TURSO_MEMBERS_JSON_INVALID_BODY;
}


static void
ngx_turso_members_json_syntax_error(ngx_turso_members_body_t *body,
    const json_error_t *err)
{
    size_t  i;
    char    reason[NGX_TURSO_MEMBERS_JSON_REASON_MAX + 1];

    /*
     * jansson's text may quote the offending input, invalid UTF-8 included;
     * the quote is dropped and what remains is made printable ASCII
     */

    for (i = 0;
         i < NGX_TURSO_MEMBERS_JSON_REASON_MAX && err->text[i] != '\0';
         i++)
    {
        if (strncmp(&err->text[i], " near ", 6) == 0) {
            break;
        }

        reason[i] = (err->text[i] >= 0x20 && err->text[i] < 0x7f)
                    ? err->text[i] : '?';
    }

    reason[i] = '\0';

    ngx_turso_members_json_error(body, "request body is not valid JSON: "
                                       "%s near byte %d",
                                 reason, err->position);
}


static void
ngx_turso_members_json_error(ngx_turso_members_body_t *body,
    const char *fmt, ...)
{
    va_list  args;

    va_start(args, fmt);
    vsnprintf(body->error, sizeof(body->error), fmt, args);
    va_end(args);
}


static int
ngx_turso_members_json_fold_eq(const unsigned char *key, size_t len,
    const char *name)
{
    unsigned char         c, n;
    const unsigned char  *p, *last;

    /*
     * Go's encoding/json compares keys with Unicode simple case folding;
     * besides ASCII case, the only code points folding to ASCII letters are
     * U+017F LATIN SMALL LETTER LONG S (s) and U+212A KELVIN SIGN (k)
     */

    p = key;
    last = key + len;

    while (*name != '\0') {

        if (p == last) {
            return 0;
        }

        n = (unsigned char) *name++;
        c = *p;

        if (c < 0x80) {
            if (c >= 'A' && c <= 'Z') {
                c |= 0x20;
            }

            if (c != n) {
                return 0;
            }

            p++;
            continue;
        }

        if (n == 's' && last - p >= 2 && p[0] == 0xc5 && p[1] == 0xbf) {
            p += 2;
            continue;
        }

        if (n == 'k' && last - p >= 3
            && p[0] == 0xe2 && p[1] == 0x84 && p[2] == 0xaa)
        {
            p += 3;
            continue;
        }

        return 0;
    }

    return p == last;
}


static int
ngx_turso_members_json_printable(const unsigned char *s, size_t len)
{
    size_t  i;

    for (i = 0; i < len; i++) {
        if (s[i] < 0x20 || s[i] >= 0x7f || s[i] == '"' || s[i] == '\\') {
            return 0;
        }
    }

    return 1;
}


int
ngx_turso_members_valid_username(const unsigned char *s, size_t len)
{
    return ngx_turso_members_json_valid_username(s, len, -1);
}


int
ngx_turso_members_valid_email(const unsigned char *s, size_t len)
{
    return ngx_turso_members_json_valid_email(s, len, -1);
}


/*
 * "text": what the flat scan found of the bytes (1: all TEXT, which is
 * what ngx_turso_members_json_valid_text() checks of printable ASCII;
 * 0: not all), or -1 (unknown: they are checked)
 */

static int
ngx_turso_members_json_valid_username(const unsigned char *s, size_t len,
    int text)
{
    if (len == 0 || len > NGX_TURSO_MEMBERS_USERNAME_MAX) {
        return 0;
    }

    /* also a path segment: "." and ".." would climb the upstream path */
    if ((len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.'))
    {
        return 0;
    }

    return (text >= 0) ? text : ngx_turso_members_json_valid_text(s, len);
}


static int
ngx_turso_members_json_valid_email(const unsigned char *s, size_t len,
    int text)
{
    size_t  i, at, n;

    if (len < 3 || len > NGX_TURSO_MEMBERS_EMAIL_MAX) {
        return 0;
    }

    n = 0;
    at = 0;

    for (i = 0; i < len; i++) {
        if (s[i] == '@') {
            at = i;
            n++;
        }
    }

    if (n != 1 || at == 0 || at == len - 1) {
        return 0;
    }

    return (text >= 0) ? text : ngx_turso_members_json_valid_text(s, len);
}


int
ngx_turso_members_valid_org(const unsigned char *s, size_t len)
{
    size_t         i;
    unsigned char  c;

    if (len == 0 || len > NGX_TURSO_MEMBERS_ORG_MAX) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        c = s[i];

        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
            || (c >= '0' && c <= '9') || c == '_' || c == '-')
        {
            continue;
        }

        return 0;
    }

    return 1;
}


static int
ngx_turso_members_json_valid_text(const unsigned char *s, size_t len)
{
    size_t                n;
    unsigned              cp;
    const unsigned char  *p, *last;

    p = s;
    last = s + len;

    while (p < last) {

        if (*p < 0x80) {
            /* controls, ASCII whitespace (all <= 0x20), DEL and "/" */
            if (*p <= 0x20 || *p == 0x7f || *p == '/') {
                return 0;
            }

            p++;
            continue;
        }

        n = ngx_turso_members_json_utf8(p, last, &cp);
        if (n == 0) {
            return 0;
        }

        /* C1 controls (U+0085 among them) and Unicode white space */
        if (cp <= 0x9f
            || cp == 0xa0
            || cp == 0x1680
            || (cp >= 0x2000 && cp <= 0x200a)
            || cp == 0x2028
            || cp == 0x2029
            || cp == 0x202f
            || cp == 0x205f
            || cp == 0x3000
            || cp == 0xfeff)
        {
            return 0;
        }

        p += n;
    }

    return 1;
}


static size_t
ngx_turso_members_json_utf8(const unsigned char *p, const unsigned char *last,
    unsigned *cp)
{
    size_t    i, n;
    unsigned  c, min;

    c = p[0];

    if (c < 0x80) {
        *cp = c;
        return 1;
    }

    if (c < 0xc2) {
        /* a continuation byte, or the lead of an overlong form */
        return 0;
    }

    if (c < 0xe0) {
        n = 2;
        c &= 0x1f;
        min = 0x80;

    } else if (c < 0xf0) {
        n = 3;
        c &= 0x0f;
        min = 0x800;

    } else if (c < 0xf5) {
        n = 4;
        c &= 0x07;
        min = 0x10000;

    } else {
        return 0;
    }

    if ((size_t) (last - p) < n) {
        return 0;
    }

    for (i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80) {
            return 0;
        }

        c = (c << 6) | (p[i] & 0x3f);
    }

    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) {
        return 0;
    }

    *cp = c;

    return n;
}


const char *
ngx_turso_members_role(const unsigned char *s, size_t len)
{
    ngx_turso_members_json_trim(&s, &len);

    switch (len) {

    case sizeof("admin") - 1:
        if (ngx_turso_members_json_eq_lower(s, len, "admin")) {
            return "admin";
        }

        break;

    case sizeof("member") - 1:
        if (ngx_turso_members_json_eq_lower(s, len, "member")) {
            return "member";
        }

        if (ngx_turso_members_json_eq_lower(s, len, "viewer")) {
            return "viewer";
        }

        break;
    }

    return NULL;
}


static void
ngx_turso_members_json_trim(const unsigned char **s, size_t *len)
{
    const unsigned char  *p, *last;

    p = *s;
    last = p + *len;

    while (p < last && ngx_turso_members_json_space(*p)) {
        p++;
    }

    while (last > p && ngx_turso_members_json_space(last[-1])) {
        last--;
    }

    *s = p;
    *len = last - p;
}


/*
 * s, of len bytes, is name but for ASCII case; name has len bytes, all
 * lower-case letters, so that only the letters of s can match them with
 * the 0x20 bit set
 */

static int
ngx_turso_members_json_eq_lower(const unsigned char *s, size_t len,
    const char *name)
{
    size_t  i;

    for (i = 0; i < len; i++) {
        if ((s[i] | 0x20) != (unsigned char) name[i]) {
            return 0;
        }
    }

    return 1;
}


size_t
ngx_turso_members_json_write(const ngx_turso_members_body_t *body,
    unsigned fields, const char *role, char *buf, size_t size)
{
    char  *p, *last;

    /* names with the comma before them: skipped for the first member */

    static const char  username[] = ",\"username\":\"";
    static const char  email[] = ",\"email\":\"";
    static const char  role_name[] = ",\"role\":\"";

    p = buf;
    last = buf + size;

    if (p == last) {
        return 0;
    }

    *p++ = '{';

    if ((fields & NGX_TURSO_MEMBERS_FIELD_USERNAME)
        && (body->present & NGX_TURSO_MEMBERS_FIELD_USERNAME))
    {
        p = ngx_turso_members_json_append_field(p, last, p - buf == 1,
                                                username,
                                                sizeof(username) - 1,
                                                body->username,
                                                body->username_len, 0);
        if (p == NULL) {
            return 0;
        }
    }

    if ((fields & NGX_TURSO_MEMBERS_FIELD_EMAIL)
        && (body->present & NGX_TURSO_MEMBERS_FIELD_EMAIL))
    {
        p = ngx_turso_members_json_append_field(p, last, p - buf == 1,
                                                email, sizeof(email) - 1,
                                                body->email, body->email_len,
                                                0);
        if (p == NULL) {
            return 0;
        }
    }

    if ((fields & NGX_TURSO_MEMBERS_FIELD_ROLE) && role != NULL) {
        p = ngx_turso_members_json_append_field(p, last, p - buf == 1,
                                                role_name,
                                                sizeof(role_name) - 1,
                                                role, strlen(role), 1);
        if (p == NULL) {
            return 0;
        }
    }

    if (p == last) {
        return 0;
    }

    *p++ = '}';

    return p - buf;
}


/*
 * ,"name":"value" (without the comma for the first member): name has
 * its comma, quotes and colon; NULL when it does not fit before last.
 * "plain": the value is known to need no escaping (a role's name).
 */

static char *
ngx_turso_members_json_append_field(char *p, char *last, int first,
    const char *name, size_t name_len, const char *value, size_t len,
    int plain)
{
    size_t                n;
    const unsigned char  *v;

    if (first) {
        name++;
        name_len--;
    }

    /* the least it takes: the value as it is, and the closing quote */
    if ((size_t) (last - p) < name_len + len + 1) {
        return NULL;
    }

    memcpy(p, name, name_len);
    p += name_len;

    v = (const unsigned char *) value;

    if (plain || ngx_turso_members_json_plain_run(v, v + len) == v + len) {
        /* nothing to escape, as almost always */

        for (n = 0; n < len; n++) {
            p[n] = value[n];
        }

    } else {
        n = ngx_turso_members_json_escape(p, last - p - 1, value, len);
        if (n == 0) {
            return NULL;
        }
    }

    p += n;
    *p++ = '"';

    return p;
}


/*
 * Whether any of the 8 bytes of w needs escaping or checking: below 0x20,
 * 0x7f and above, '"' or '\\'.  Exact: what it lets through is plain.
 */

#define NGX_TURSO_MEMBERS_JSON_ONES  0x0101010101010101ULL
#define NGX_TURSO_MEMBERS_JSON_HIGH  0x8080808080808080ULL

#define ngx_turso_members_json_zero_byte(v)                                   \
    (((v) - NGX_TURSO_MEMBERS_JSON_ONES) & ~(v) & NGX_TURSO_MEMBERS_JSON_HIGH)

#define ngx_turso_members_json_has_byte(w, c)                                 \
    ngx_turso_members_json_zero_byte((w) ^ ((c) * NGX_TURSO_MEMBERS_JSON_ONES))

#define ngx_turso_members_json_special8(w)                                    \
    (((w) & NGX_TURSO_MEMBERS_JSON_HIGH)                                      \
     | (((w) - 0x20 * NGX_TURSO_MEMBERS_JSON_ONES) & ~(w)                     \
        & NGX_TURSO_MEMBERS_JSON_HIGH)                                        \
     | ngx_turso_members_json_has_byte(w, 0x22)                               \
     | ngx_turso_members_json_has_byte(w, 0x5c)                               \
     | ngx_turso_members_json_has_byte(w, 0x7f))


/* the end of the run of plain bytes at p: 8 bytes at a time, then one */

static const unsigned char *
ngx_turso_members_json_plain_run(const unsigned char *p,
    const unsigned char *last)
{
    uint64_t  w;

    while (last - p >= 8) {
        memcpy(&w, p, 8);

        if (ngx_turso_members_json_special8(w)) {
            break;
        }

        p += 8;
    }

    while (p < last && ngx_turso_members_json_plain[*p]) {
        p++;
    }

    return p;
}


size_t
ngx_turso_members_json_escape(char *dst, size_t size, const char *src,
    size_t len)
{
    const unsigned char  *p, *last;

    p = (const unsigned char *) src;
    last = p + len;

    if (ngx_turso_members_json_plain_run(p, last) != last) {
        return ngx_turso_members_json_escape_slow(dst, size, src, len);
    }

    /* nothing to escape, as almost always */

    if (dst != NULL) {
        if (size < len) {
            return 0;
        }

        memcpy(dst, src, len);
    }

    return len;
}


static size_t
ngx_turso_members_json_escape_slow(char *dst, size_t size, const char *src,
    size_t len)
{
    size_t                n, adv, total;
    unsigned              cp;
    const char           *out;
    const unsigned char  *p, *q, *last;
    char                  tmp[6];

    total = 0;
    p = (const unsigned char *) src;
    last = p + len;

    while (p < last) {

        /* a run of printable ASCII goes in one copy */

        q = ngx_turso_members_json_plain_run(p, last);

        if (q > p) {
            n = (size_t) (q - p);

            if (dst != NULL) {
                if (size - total < n) {
                    return 0;
                }

                memcpy(dst + total, p, n);
            }

            total += n;
            p = q;
            continue;
        }

        out = tmp;
        adv = 1;

        switch (*p) {

        case '"':
        case '\\':
            tmp[0] = '\\';
            tmp[1] = (char) *p;
            n = 2;
            break;

        case '\n':
            out = "\\n";
            n = 2;
            break;

        case '\r':
            out = "\\r";
            n = 2;
            break;

        case '\t':
            out = "\\t";
            n = 2;
            break;

        default:

            if (*p < 0x20 || *p == 0x7f) {
                tmp[0] = '\\';
                tmp[1] = 'u';
                tmp[2] = '0';
                tmp[3] = '0';
                tmp[4] = ngx_turso_members_json_hex[*p >> 4];
                tmp[5] = ngx_turso_members_json_hex[*p & 0x0f];
                n = 6;

            } else if (*p < 0x80) {
                out = (const char *) p;
                n = 1;

            } else {
                n = ngx_turso_members_json_utf8(p, last, &cp);

                if (n == 0) {
                    /* invalid UTF-8 would make the whole document invalid */
                    out = "\\ufffd";
                    n = 6;

                } else {
                    out = (const char *) p;
                    adv = n;
                }
            }

            break;
        }

        if (dst != NULL) {
            if (size - total < n) {
                return 0;
            }

            memcpy(dst + total, out, n);
        }

        total += n;
        p += adv;
    }

    return total;
}


int
ngx_turso_members_json_error_string(const unsigned char *data, size_t len,
    char *msg, size_t size)
{
    int            rc;
    size_t         n;
    json_t        *root, *value;
    const char    *s;
    json_error_t   err;

    if (size == 0) {
        return 0;
    }

    root = json_loadb((const char *) data, len, 0, &err);
    if (root == NULL) {
        return 0;
    }

    rc = 0;
    value = json_is_object(root) ? json_object_get(root, "error") : NULL;

    if (json_is_string(value)) {
        s = json_string_value(value);
        n = json_string_length(value);

        if (n > size - 1) {
            n = size - 1;

            /* do not cut a UTF-8 sequence in two */
            while (n > 0 && ((unsigned char) s[n] & 0xc0) == 0x80) {
                n--;
            }
        }

        memcpy(msg, s, n);
        msg[n] = '\0';
        rc = 1;
    }

    json_decref(root);

    return rc;
}
