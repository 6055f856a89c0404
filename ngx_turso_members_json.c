
/*
 * Copyright (C) ngx_turso_members authors
 *
 * The JSON reading, with jansson: a request body that is not the flat
 * scan's (ngx_turso_members_flat.c), and the message of an upstream's
 * error.  Both readers feed the same member checks
 * (ngx_turso_members_body.c).
 */


#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "ngx_turso_members_flat.h"
#include "ngx_turso_members_json.h"


#define NGX_TURSO_MEMBERS_JSON_FLAGS  (JSON_REJECT_DUPLICATES|JSON_DECODE_ANY)

/* jansson's text is cut to this many bytes in client-visible messages */
#define NGX_TURSO_MEMBERS_JSON_REASON_MAX  80


static void *ngx_turso_members_json_malloc(size_t size);
static void ngx_turso_members_json_free(void *p);
static int ngx_turso_members_json_not_json(const unsigned char *data,
    size_t len, ngx_turso_members_body_t *body);
static int ngx_turso_members_json_members(json_t *root,
    const ngx_turso_members_body_spec_t *spec, ngx_turso_members_body_t *body);
static void ngx_turso_members_json_syntax_error(
    ngx_turso_members_body_t *body, const json_error_t *err);


/*
 * jansson's allocator is process-wide; the module sets it around each
 * parse (handler.c, error.c) to allocate from the request's pool, for the
 * project's rule that a request's memory is its pool's: what jansson
 * holds goes with the request whatever path ends it, and a parse pays no
 * malloc() and free() per key and value.  Safe because a worker parses
 * in one thread, one body at a time, and nothing between the set and the
 * reset parses anything else.  Elsewhere (unit tests, the fuzzer) it is
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


/* the flat scan first: what it declines, jansson reads */

int
ngx_turso_members_json_parse(const unsigned char *data, size_t len,
    const ngx_turso_members_body_spec_t *spec, ngx_turso_members_body_t *body)
{
    int  rc;

    rc = ngx_turso_members_flat_parse(data, len, spec, body);

    if (rc != NGX_TURSO_MEMBERS_JSON_DECLINED) {
        return rc;
    }

    return ngx_turso_members_json_parse_jansson(data, len, spec, body);
}


int
ngx_turso_members_json_parse_jansson(const unsigned char *data, size_t len,
    const ngx_turso_members_body_spec_t *spec, ngx_turso_members_body_t *body)
{
    int            rc;
    json_t        *root;
    json_error_t   err;

    ngx_turso_members_body_init(body);

    if (ngx_turso_members_json_not_json(data, len, body)) {
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
        ngx_turso_members_body_error(body,
                                     "request body must be a JSON object");
        return NGX_TURSO_MEMBERS_JSON_INVALID_BODY;
    }

    rc = ngx_turso_members_json_members(root, spec, body);

    json_decref(root);

    return ngx_turso_members_body_done(spec, body, rc);
}


/*
 * What is not JSON and jansson would not say so, or not in words a
 * client can use: the body's message, and 1.
 */

static int
ngx_turso_members_json_not_json(const unsigned char *data, size_t len,
    ngx_turso_members_body_t *body)
{
    const unsigned char  *nul;

    if (len == 0) {
        ngx_turso_members_body_error(body,
                                     "request body is not valid JSON: "
                                     "the body is empty");
        return 1;
    }

    /* RFC 8259 forbids emitting a BOM; Go would refuse one too */
    if (len >= 3 && data[0] == 0xef && data[1] == 0xbb && data[2] == 0xbf) {
        ngx_turso_members_body_error(body,
                                     "request body is not valid JSON: "
                                     "byte order mark");
        return 1;
    }

    /*
     * A raw NUL byte is never JSON (in a string it must be escaped), but
     * jansson 2.14 lets one pass after a literal or a number: {"a":null\0}
     */

    nul = memchr(data, '\0', len);

    if (nul != NULL) {
        ngx_turso_members_body_error(body,
                                     "request body is not valid JSON: "
                                     "NUL byte at byte %d",
                                     (int) (nul - data));
        return 1;
    }

    return 0;
}


/* the object's members through the checks, in the order of the body */

static int
ngx_turso_members_json_members(json_t *root,
    const ngx_turso_members_body_spec_t *spec, ngx_turso_members_body_t *body)
{
    int                         rc;
    void                       *iter;
    json_t                     *value;
    const char                 *key;
    ngx_turso_members_value_t   val;

    rc = NGX_TURSO_MEMBERS_JSON_OK;

    /* jansson's objects keep insertion order */

    for (iter = json_object_iter(root);
         iter != NULL;
         iter = json_object_iter_next(root, iter))
    {
        /* strlen() is exact: keys with NUL bytes do not get this far */
        key = json_object_iter_key(iter);
        value = json_object_iter_value(iter);

        if (json_is_null(value)) {
            val.type = NGX_TURSO_MEMBERS_VALUE_NULL;

        } else if (json_is_string(value)) {
            val.type = NGX_TURSO_MEMBERS_VALUE_STRING;
            val.data = (const unsigned char *) json_string_value(value);
            val.len = json_string_length(value);

        } else {
            val.type = NGX_TURSO_MEMBERS_VALUE_OTHER;
        }

        rc = ngx_turso_members_body_member(spec, (const unsigned char *) key,
                                           strlen(key), &val, body);
        if (rc != NGX_TURSO_MEMBERS_JSON_OK) {
            break;
        }
    }

    return rc;
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

    ngx_turso_members_body_error(body, "request body is not valid JSON: "
                                       "%s near byte %d",
                                 reason, err->position);
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
