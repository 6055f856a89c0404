
/*
 * Copyright (C) ngx_turso_members authors
 *
 * The headers of a gateway location's answers: those of an answer the
 * gateway writes itself, the request id every answer carries, and which
 * of an upstream's headers survive when its error is replaced (none but
 * the Retry-After of a 429 or 503).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_turso_members_module.h"


/* a Retry-After longer than this is not passed on */
#define NGX_TURSO_MEMBERS_RETRY_AFTER_MAX  128


static ngx_table_elt_t *ngx_turso_members_retry_after(ngx_http_request_t *r);


/*
 * Sets the status and the headers of an answer the gateway writes (an
 * error, or "{}" for an empty success); the headers a response already
 * had (nginx's own, or the upstream's) stay unless they describe the body.
 */

ngx_int_t
ngx_turso_members_json_headers(ngx_http_request_t *r,
    ngx_turso_members_ctx_t *ctx, ngx_buf_t *b)
{
    ngx_turso_members_loc_conf_t  *tlcf;

    tlcf = ngx_http_get_module_loc_conf(r, ngx_turso_members_module);

    r->headers_out.status = ctx->http_status
                            ? ctx->http_status
                            : ngx_turso_members_codes[ctx->code].status;
    r->headers_out.status_line.len = 0;

    if (ctx->code != NGX_TURSO_MEMBERS_OK
        && tlcf->error_format == NGX_TURSO_MEMBERS_FORMAT_PROBLEM)
    {
        ngx_str_set(&r->headers_out.content_type, "application/problem+json");

    } else {
        ngx_str_set(&r->headers_out.content_type, "application/json");
    }

    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;
    ngx_str_null(&r->headers_out.charset);

    ngx_http_clear_content_length(r);
    r->headers_out.content_length_n = b->last - b->pos;

    if (r->headers_out.content_encoding) {
        r->headers_out.content_encoding->hash = 0;
        r->headers_out.content_encoding = NULL;
    }

    ngx_http_clear_accept_ranges(r);
    ngx_http_clear_last_modified(r);
    ngx_http_clear_etag(r);

    return ngx_turso_members_id_header(r, ctx);
}


/*
 * The request's id in the answer's X-Request-Id, every answer of a
 * gateway location: a portal quotes it, an operator finds the request in
 * the logs and upstream.  It replaces one the upstream may have sent.
 */

ngx_int_t
ngx_turso_members_id_header(ngx_http_request_t *r,
    ngx_turso_members_ctx_t *ctx)
{
    ngx_table_elt_t  *h;

    static ngx_str_t  name = ngx_string("X-Request-Id");

    if (ngx_turso_members_request_id(r, ctx) != NGX_OK) {
        return NGX_ERROR;
    }

    while (ngx_turso_members_header_find(&r->headers_out.headers, &name, &h))
    {
        h->hash = 0;
    }

    return ngx_turso_members_add_header(r, &name, &ctx->request_id);
}


/* a header of the answer, its name and value static or the pool's */

ngx_int_t
ngx_turso_members_add_header(ngx_http_request_t *r, ngx_str_t *key,
    ngx_str_t *value)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
#if (nginx_version >= 1023000)
    h->next = NULL;
#endif
    h->key = *key;
    h->value = *value;

    return NGX_OK;
}


/*
 * No header of an upstream's answer describes the gateway's own, but the
 * Retry-After of a 429 or 503: the portal backs off as the upstream asks.
 */

void
ngx_turso_members_clear_headers(ngx_http_request_t *r)
{
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h, *keep;

    keep = (r->headers_out.status == NGX_HTTP_TOO_MANY_REQUESTS
            || r->headers_out.status == NGX_HTTP_SERVICE_UNAVAILABLE)
           ? ngx_turso_members_retry_after(r) : NULL;

    part = &r->headers_out.headers.part;
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

        if (&h[i] != keep) {
            h[i].hash = 0;
        }
    }

    r->headers_out.content_encoding = NULL;
    r->headers_out.location = NULL;
    r->headers_out.refresh = NULL;
    r->headers_out.www_authenticate = NULL;
    r->headers_out.expires = NULL;
    r->headers_out.content_range = NULL;
}


/*
 * The upstream's Retry-After that goes to the client, as it was sent: on
 * an upstream's 429 or 503 only, when it is the one Retry-After (two are
 * two answers, and the client falls back on its own backoff) and its
 * value is what the header may hold (RFC 9110, 10.2.3): 1 to 128 digits,
 * or an HTTP-date as senders write it ("Sun, 06 Nov 1994 08:49:37 GMT").
 * Any other text is of no use to a client, and may be anything, the
 * gateway's token echoed included.
 */

static ngx_table_elt_t *
ngx_turso_members_retry_after(ngx_http_request_t *r)
{
    u_char                   *p, *last;
    u_char                    date[64];
    time_t                    t;
    ngx_table_elt_t          *h;
    ngx_turso_members_ctx_t  *ctx;

    static ngx_str_t  name = ngx_string("Retry-After");

    ctx = ngx_http_get_module_ctx(r, ngx_turso_members_module);

    if (ctx == NULL
        || (ctx->upstream_status != NGX_HTTP_TOO_MANY_REQUESTS
            && ctx->upstream_status != NGX_HTTP_SERVICE_UNAVAILABLE))
    {
        return NULL;
    }

    if (ngx_turso_members_header_find(&r->headers_out.headers, &name, &h)
        != 1)
    {
        return NULL;
    }

    if (h->value.len == 0
        || h->value.len > NGX_TURSO_MEMBERS_RETRY_AFTER_MAX)
    {
        return NULL;
    }

    last = h->value.data + h->value.len;

    for (p = h->value.data; p < last && *p >= '0' && *p <= '9'; p++) {
        /* void */
    }

    if (p == last) {
        return h;
    }

    /* a date: the one nginx writes for the time it reads from it */

    if (h->value.len != sizeof("Sun, 06 Nov 1994 08:49:37 GMT") - 1) {
        return NULL;
    }

    t = ngx_parse_http_time(h->value.data, h->value.len);

    if (t == NGX_ERROR
        || ngx_http_time(date, t) != date + h->value.len
        || ngx_strncmp(date, h->value.data, h->value.len) != 0)
    {
        return NULL;
    }

    return h;
}
