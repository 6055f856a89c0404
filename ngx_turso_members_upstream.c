
/*
 * Copyright (C) ngx_turso_members authors
 *
 * The hand-off to the upstream request: the only place where the token
 * meets a request.
 *
 * The upstream gets a list of headers the gateway made: the token, the
 * canonical body's Content-Type, the request id and the few client headers
 * that cannot change how the upstream reads the request.  That list takes
 * the place of the client's in r->headers_in, and the upstream path the
 * place of the client's in r->unparsed_uri, only while the location's
 * content handler (proxy_pass) runs, which is when the proxy module
 * builds the upstream request; before and after, the request holds the
 * client's.  So nothing else that reads or copies the request —
 * a mirror or any subrequest, an internal redirect, the logs — can see
 * the token.
 *
 * The gateway's handler (ngx_turso_members_handler.c) is the location's
 * content handler, set at configuration time in front of proxy_pass's,
 * which it runs here only for the main request it validated: a
 * subrequest, one that clones the request (slice, a cache's background
 * update) too, is refused before.  And nothing can redirect the request
 * inside the call: ngx_turso_members_merge_loc_conf() takes error_page and
 * post_action out of a gateway location, and a request the gateway took
 * cannot be redirected (r->uri_changes).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_turso_members_module.h"


static ngx_int_t ngx_turso_members_upstream_header(ngx_list_t *list,
    ngx_table_elt_t *header, ngx_str_t *value);


/* the client headers the upstream may see: none of them changes the request */

static ngx_str_t  ngx_turso_members_passed[] = {
    ngx_string("Accept"),
    ngx_string("Accept-Language"),
    ngx_string("User-Agent"),
    ngx_null_string
};


/*
 * The headers the gateway itself gives the upstream request, hashed once.
 * Not Authorization: its hash stays 0, which the proxy module does not
 * look at but nginx's $http_NAME variables do, skipping the header, so
 * that no variable evaluated while the token is in r->headers_in (a
 * proxy_cache_key, a proxy_set_header) reads it, and keeps it cached.
 */

static ngx_table_elt_t  ngx_turso_members_own[] = {
    { .key = ngx_string("Authorization"),
      .lowcase_key = (u_char *) "authorization" },
    { .key = ngx_string("X-Request-Id"),
      .lowcase_key = (u_char *) "x-request-id" },
    { .key = ngx_string("Content-Type"),
      .value = ngx_string("application/json"),
      .lowcase_key = (u_char *) "content-type" }
};

#define NGX_TURSO_MEMBERS_OWN_AUTHORIZATION  0
#define NGX_TURSO_MEMBERS_OWN_REQUEST_ID     1
#define NGX_TURSO_MEMBERS_OWN_CONTENT_TYPE   2


/* at configuration time */

void
ngx_turso_members_upstream_init(void)
{
    ngx_uint_t        i;
    ngx_table_elt_t  *h;

    for (i = NGX_TURSO_MEMBERS_OWN_AUTHORIZATION + 1;
         i < sizeof(ngx_turso_members_own) / sizeof(ngx_table_elt_t);
         i++)
    {
        h = &ngx_turso_members_own[i];
        h->hash = ngx_hash_key(h->lowcase_key, h->key.len);
    }
}


/* called once the request is validated: the upstream request's headers */

ngx_int_t
ngx_turso_members_upstream_prepare(ngx_http_request_t *r,
    ngx_turso_members_ctx_t *ctx, ngx_str_t *authorization)
{
    ngx_str_t        *name;
    ngx_uint_t        i;
    ngx_list_t       *list;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    list = &ctx->upstream_headers;

    if (ngx_list_init(list, r->pool, 8, sizeof(ngx_table_elt_t)) != NGX_OK) {
        return NGX_ERROR;
    }

    part = &r->headers_in.headers.part;
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

        for (name = ngx_turso_members_passed; name->len; name++) {
            if (h[i].key.len == name->len
                && ngx_strncasecmp(h[i].key.data, name->data, name->len)
                   == 0)
            {
                if (ngx_turso_members_upstream_header(list, &h[i], NULL)
                    != NGX_OK)
                {
                    return NGX_ERROR;
                }

                break;
            }
        }
    }

    if (ngx_turso_members_upstream_header(list,
                 &ngx_turso_members_own[NGX_TURSO_MEMBERS_OWN_AUTHORIZATION],
                 authorization)
        != NGX_OK
        || ngx_turso_members_upstream_header(list,
                 &ngx_turso_members_own[NGX_TURSO_MEMBERS_OWN_REQUEST_ID],
                 &ctx->request_id)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    /* a valid W3C trace context, as sent (ngx_turso_members_request.c) */

    ngx_turso_members_trace_context(r, ctx);

    for (i = 0; i < 2 && ctx->trace[i]; i++) {
        if (ngx_turso_members_upstream_header(list, ctx->trace[i], NULL)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    if (ctx->route->body.fields
        && ngx_turso_members_upstream_header(list,
                 &ngx_turso_members_own[NGX_TURSO_MEMBERS_OWN_CONTENT_TYPE],
                 NULL)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    /* the client's Upgrade would turn an upstream's 101 into a tunnel */

    r->headers_in.upgrade = NULL;

    return NGX_OK;
}


/*
 * The location's own content handler (proxy_pass's), run with the upstream
 * request's headers for a request the gateway validated.
 */

ngx_int_t
ngx_turso_members_upstream_run(ngx_http_request_t *r,
    ngx_turso_members_ctx_t *ctx)
{
    ngx_int_t                      rc;
    ngx_turso_members_loc_conf_t  *tlcf;

    tlcf = ngx_http_get_module_loc_conf(r, ngx_turso_members_module);

    if (tlcf->content_handler == NULL) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "turso_members: the location has no \"proxy_pass\"");
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "turso_members upstream request with the gateway's "
                   "headers");

    ctx->client_headers = r->headers_in.headers;
    r->headers_in.headers = ctx->upstream_headers;

    /*
     * proxy_pass with no URI part sends r->unparsed_uri as it is: the
     * upstream path the gateway escaped, as the variable form does
     */

    ctx->client_uri = r->unparsed_uri;
    ctx->client_uri_valid = r->valid_unparsed_uri;
    r->unparsed_uri = ctx->upstream_uri;
    r->valid_unparsed_uri = 1;

    ctx->handing_off = 1;

    rc = tlcf->content_handler(r);

    ngx_turso_members_upstream_done(r, ctx);

    return rc;
}


/*
 * The upstream request is built, or an answer starts before it could be
 * sent (nginx answers a failure to reach any server at once, within
 * proxy_pass's handler: the header filter calls this first, so that no
 * filter and no subrequest of the answer sees the gateway's headers).
 * The client's headers are back, and the token leaves the context.
 */

void
ngx_turso_members_upstream_done(ngx_http_request_t *r,
    ngx_turso_members_ctx_t *ctx)
{
    if (!ctx->handing_off) {
        return;
    }

    r->headers_in.headers = ctx->client_headers;
    r->unparsed_uri = ctx->client_uri;
    r->valid_unparsed_uri = ctx->client_uri_valid;
    ctx->handing_off = 0;

    ngx_memzero(&ctx->upstream_headers, sizeof(ngx_list_t));
}


/* a header of the list: a client's, or one of the gateway's with a value */

static ngx_int_t
ngx_turso_members_upstream_header(ngx_list_t *list, ngx_table_elt_t *header,
    ngx_str_t *value)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(list);
    if (h == NULL) {
        return NGX_ERROR;
    }

    /* nginx only reads a request header's names: static memory will do */

    *h = *header;

    if (value) {
        h->value = *value;
    }

#if (nginx_version >= 1023000)
    h->next = NULL;
#endif

    return NGX_OK;
}
