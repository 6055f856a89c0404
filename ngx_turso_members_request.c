
/*
 * Copyright (C) ngx_turso_members authors
 *
 * Per-request helpers that the handler, the filters and the error writer
 * share: the request's context, its id, the allocator jansson parses with.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_turso_members_module.h"


static void ngx_turso_members_be32(u_char *p, uint32_t v);


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
    u_char           *p, *last, raw[16];
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

    ngx_turso_members_be32(raw, (uint32_t) ngx_time());
    ngx_turso_members_be32(raw + 4, (uint32_t) ngx_pid);
    ngx_turso_members_be32(raw + 8, (uint32_t) r->connection->number);
    ngx_turso_members_be32(raw + 12, (uint32_t) r->connection->requests);

    /* ngx_hex_dump(), not ngx_sprintf("%08xD"...): a fifth of the cost */

    ctx->request_id.data = ctx->id;
    ctx->request_id.len = ngx_hex_dump(ctx->id, raw, sizeof(raw)) - ctx->id;

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


static void
ngx_turso_members_be32(u_char *p, uint32_t v)
{
    p[0] = (u_char) (v >> 24);
    p[1] = (u_char) (v >> 16);
    p[2] = (u_char) (v >> 8);
    p[3] = (u_char) v;
}


/* jansson allocates from the request's pool while it parses */

void *
ngx_turso_members_palloc(void *pool, size_t size)
{
    return ngx_palloc(pool, size);
}
