
/*
 * Copyright (C) ngx_turso_members authors
 *
 * Per-request helpers that the handler, the filters and the error writer
 * share: the request's context, its id, its trace context, the allocator
 * jansson parses with.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_turso_members_module.h"


static u_char *ngx_turso_members_hex32(u_char *p, uint32_t v);
static ngx_uint_t ngx_turso_members_traceparent(ngx_str_t *v);
static ngx_uint_t ngx_turso_members_tracestate(ngx_str_t *v);
static ngx_uint_t ngx_turso_members_hex(u_char *p, size_t n);
static ngx_uint_t ngx_turso_members_zeros(u_char *p, size_t n);


/* the longest traceparent of a later version, and tracestate, passed on */
#define NGX_TURSO_MEMBERS_TRACEPARENT_MAX  256
#define NGX_TURSO_MEMBERS_TRACESTATE_MAX   512
#define NGX_TURSO_MEMBERS_TRACESTATE_LIST  32


/* the context of a request the gateway handles */

ngx_turso_members_ctx_t *
ngx_turso_members_ctx_create(ngx_http_request_t *r)
{
    ngx_turso_members_ctx_t  *ctx;

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_turso_members_ctx_t));
    if (ctx == NULL) {
        return NULL;
    }

    ngx_http_set_ctx(r, ctx, ngx_turso_members_module);

    return ctx;
}


/*
 * The request's id: the client's X-Request-Id when there is exactly one
 * and it is a sane token, else one of the gateway's.  It goes upstream
 * and into every error.
 */

ngx_int_t
ngx_turso_members_request_id(ngx_http_request_t *r,
    ngx_turso_members_ctx_t *ctx)
{
    u_char           *p, *last;
    ngx_str_t         id;
    ngx_table_elt_t  *h;

    static ngx_str_t  name = ngx_string("X-Request-Id");

    if (ctx->request_id.len) {
        return NGX_OK;
    }

    if (ngx_turso_members_header_find(&r->headers_in.headers, &name, &h) == 1
        && h->value.len && h->value.len <= 128)
    {
        id = h->value;
        p = id.data;
        last = p + id.len;

        while (p < last
               && ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
                   || (*p >= '0' && *p <= '9')
                   || *p == '-' || *p == '_' || *p == '.' || *p == ':'))
        {
            p++;
        }

        if (p == last) {
            ctx->request_id = id;
            return NGX_OK;
        }
    }

    /*
     * Unique on the host without nginx's $request_id, whose 16 random
     * bytes cost OpenSSL's RAND_bytes() on every request: the time, the
     * worker, the connection (a counter shared by the workers) and the
     * request on it.
     */

    p = ngx_turso_members_hex32(ctx->id, (uint32_t) ngx_time());
    p = ngx_turso_members_hex32(p, (uint32_t) ngx_pid);
    p = ngx_turso_members_hex32(p, (uint32_t) r->connection->number);
    p = ngx_turso_members_hex32(p, (uint32_t) r->connection->requests);

    ctx->request_id.data = ctx->id;
    ctx->request_id.len = p - ctx->id;

    return NGX_OK;
}


/*
 * How many headers of a name a list has (those deleted, with hash 0, left
 * out), and the last of them: for the client's X-Request-Id and Origin,
 * and the answer's X-Request-Id.  An HTTP/0.9 request's list is empty.
 */

ngx_uint_t
ngx_turso_members_header_find(ngx_list_t *headers, ngx_str_t *name,
    ngx_table_elt_t **last)
{
    ngx_uint_t        i, n;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    n = 0;
    *last = NULL;

    part = &headers->part;
    h = part->elts;

    for (i = 0; /* void */; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].hash && h[i].key.len == name->len
            && ngx_strncasecmp(h[i].key.data, name->data, name->len) == 0)
        {
            *last = &h[i];
            n++;
        }
    }

    return n;
}


/*
 * The next word of a list separated by spaces, commas or tabs (a policy
 * list's value, turso_members_cors_origins'), from *pos; 0 at its end.
 */

ngx_uint_t
ngx_turso_members_next_word(u_char **pos, u_char *last, ngx_str_t *word)
{
    u_char  *p;

    p = *pos;

    while (p < last && (*p == ' ' || *p == ',' || *p == '\t')) {
        p++;
    }

    word->data = p;

    while (p < last && *p != ' ' && *p != ',' && *p != '\t') {
        p++;
    }

    word->len = p - word->data;
    *pos = p;

    return word->len != 0;
}


/*
 * Eight lowercase hex digits of v, the most significant first: what
 * ngx_sprintf("%08xD") writes, without parsing a format per request;
 * written out, as a loop costs twice as much.
 */

static u_char *
ngx_turso_members_hex32(u_char *p, uint32_t v)
{
    static u_char  hex[] = "0123456789abcdef";

    p[0] = hex[v >> 28];
    p[1] = hex[(v >> 24) & 0xf];
    p[2] = hex[(v >> 20) & 0xf];
    p[3] = hex[(v >> 16) & 0xf];
    p[4] = hex[(v >> 12) & 0xf];
    p[5] = hex[(v >> 8) & 0xf];
    p[6] = hex[(v >> 4) & 0xf];
    p[7] = hex[v & 0xf];

    return p + 8;
}


/* jansson allocates from the request's pool while it parses */

void *
ngx_turso_members_palloc(void *pool, size_t size)
{
    return ngx_palloc(pool, size);
}


/*
 * W3C Trace Context: a traceparent the gateway can read, and the
 * tracestate that goes with it, go upstream as the client sent them; a
 * malformed one, or two of them, go nowhere, and its tracestate with it.
 */

void
ngx_turso_members_trace_context(ngx_http_request_t *r,
    ngx_turso_members_ctx_t *ctx)
{
    ngx_uint_t        n[2];
    ngx_table_elt_t  *h[2];

    static ngx_str_t  parent_name = ngx_string("traceparent");
    static ngx_str_t  state_name = ngx_string("tracestate");

    if (ctx->trace_parsed) {
        return;
    }

    n[0] = ngx_turso_members_header_find(&r->headers_in.headers,
                                         &parent_name, &h[0]);
    n[1] = ngx_turso_members_header_find(&r->headers_in.headers,
                                         &state_name, &h[1]);

    ngx_turso_members_trace_set(ctx, h, n);
}


/*
 * The same from the headers found (the hand-off's walk of the client's
 * headers finds them on its way): h[0] and n[0] the last traceparent and
 * how many, h[1] and n[1] tracestate's.
 */

void
ngx_turso_members_trace_set(ngx_turso_members_ctx_t *ctx,
    ngx_table_elt_t **h, ngx_uint_t *n)
{
    if (ctx->trace_parsed) {
        return;
    }

    ctx->trace_parsed = 1;

    if (n[0] != 1 || !ngx_turso_members_traceparent(&h[0]->value)) {
        return;
    }

    ctx->trace[0] = h[0];
    ctx->trace_id.data = h[0]->value.data + 3;
    ctx->trace_id.len = 32;

    if (n[1] == 1 && ngx_turso_members_tracestate(&h[1]->value)) {
        ctx->trace[1] = h[1];
    }
}


/*
 * "version-traceid-parentid-flags": 2, 32, 16 and 2 lowercase hex digits,
 * neither id all zeros, version ff invalid.  A version after 00 may add
 * fields, each after a "-": the four known ones are read, and the header
 * passes on whole if the rest is hex digits and dashes.
 */

static ngx_uint_t
ngx_turso_members_traceparent(ngx_str_t *v)
{
    u_char  *p;
    size_t   i;

    p = v->data;

    if (v->len < 55 || v->len > NGX_TURSO_MEMBERS_TRACEPARENT_MAX
        || !ngx_turso_members_hex(p, 2) || p[2] != '-'
        || !ngx_turso_members_hex(p + 3, 32) || p[35] != '-'
        || !ngx_turso_members_hex(p + 36, 16) || p[52] != '-'
        || !ngx_turso_members_hex(p + 53, 2)
        || (p[0] == 'f' && p[1] == 'f'))
    {
        return 0;
    }

    if (ngx_turso_members_zeros(p + 3, 32)
        || ngx_turso_members_zeros(p + 36, 16))
    {
        return 0;
    }

    if (v->len == 55) {
        return 1;
    }

    if ((p[0] == '0' && p[1] == '0') || p[55] != '-') {
        return 0;
    }

    for (i = 56; i < v->len; i++) {
        if (p[i] != '-' && !ngx_turso_members_hex(p + i, 1)) {
            return 0;
        }
    }

    return 1;
}


/*
 * A comma-separated list of at most 32 "key=value" members (empty ones
 * allowed, spaces and tabs around each): a key of lowercase letters,
 * digits and "_-*\/@" starting with a letter or digit, a value of
 * printable ASCII but "," and "=" not ending in a space.
 */

static ngx_uint_t
ngx_turso_members_tracestate(ngx_str_t *v)
{
    u_char      *p, *last, *key, *eq, *end;
    ngx_uint_t   n;

    if (v->len == 0 || v->len > NGX_TURSO_MEMBERS_TRACESTATE_MAX) {
        return 0;
    }

    p = v->data;
    last = p + v->len;
    n = 0;

    while (p < last) {
        end = ngx_strlchr(p, last, ',');
        end = end ? end : last;

        while (p < end && (*p == ' ' || *p == '\t')) {
            p++;
        }

        while (end > p && (end[-1] == ' ' || end[-1] == '\t')) {
            end--;
        }

        if (p < end) {
            if (++n > NGX_TURSO_MEMBERS_TRACESTATE_LIST) {
                return 0;
            }

            key = p;

            while (p < end && ((*p >= 'a' && *p <= 'z')
                               || (*p >= '0' && *p <= '9') || *p == '_'
                               || *p == '-' || *p == '*' || *p == '/'
                               || *p == '@'))
            {
                p++;
            }

            eq = p;

            if (eq == key || eq == end || *eq != '=' || eq + 1 == end
                || !((*key >= 'a' && *key <= 'z')
                     || (*key >= '0' && *key <= '9')))
            {
                return 0;
            }

            for (p = eq + 1; p < end; p++) {
                if (*p < 0x20 || *p > 0x7e || *p == ',' || *p == '=') {
                    return 0;
                }
            }
        }

        p = ngx_strlchr(p, last, ',');
        p = p ? p + 1 : last;
    }

    return 1;
}


/* n lowercase hex digits */

static ngx_uint_t
ngx_turso_members_hex(u_char *p, size_t n)
{
    while (n--) {
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))) {
            return 0;
        }

        p++;
    }

    return 1;
}


static ngx_uint_t
ngx_turso_members_zeros(u_char *p, size_t n)
{
    while (n--) {
        if (*p++ != '0') {
            return 0;
        }
    }

    return 1;
}
