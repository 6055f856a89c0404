
/*
 * Copyright (C) ngx_turso_members authors
 *
 * The hand-off to the upstream request: the only place where the token
 * meets a request.
 *
 * The upstream gets a list of headers the gateway made: the token, the
 * canonical body's Content-Type, the request id and the few client headers
 * that cannot change how the upstream reads the request.  The hand-off is
 * one contract, ngx_turso_members_upstream_begin() and _end():
 *
 * - begin puts the gateway's list in place of the client's in
 *   r->headers_in, the upstream path in place of r->unparsed_uri, no
 *   arguments in place of r->args, and clears r->headers_in.upgrade;
 *   it saves each, and the HTTP version, in the context;
 * - proxy_pass's handler (the location's content handler) runs, and
 *   builds the upstream request within its call, since the body is read;
 * - end puts the client's values back, and makes every cached variable
 *   that reads them ($http_NAME, $arg_NAME, $request_uri, $args) read
 *   them again.  Upgrade comes back only when the answer starts (the
 *   header filter calls end): the proxy module reads it when the
 *   upstream's answer arrives, to decide on a tunnel.  The HTTP version
 *   the proxy module sets for an answer that is not HTTP is replaced by
 *   the saved one in the header filter;
 * - then the check: if the upstream request was not built within the
 *   call (nginx deferred it: a proxy_cache lock, cache file I/O in a
 *   thread), it is never built: its builder is replaced by one that
 *   refuses, with an alert, and the client gets the JSON 500.
 *
 * Before begin and after end the request holds the client's values: so
 * nothing else that reads or copies the request — a mirror or any
 * subrequest, an internal redirect, the logs — can see the token.
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


static void ngx_turso_members_upstream_begin(ngx_http_request_t *r,
    ngx_turso_members_ctx_t *ctx);
static void ngx_turso_members_upstream_restore(ngx_http_request_t *r,
    ngx_turso_members_ctx_t *ctx);
static void ngx_turso_members_upstream_flush(ngx_http_request_t *r);
static ngx_uint_t ngx_turso_members_upstream_reads(ngx_str_t *name);
static ngx_int_t ngx_turso_members_upstream_refuse(ngx_http_request_t *r);
static ngx_int_t ngx_turso_members_upstream_header(ngx_list_t *list,
    ngx_table_elt_t *header, ngx_str_t *value);


/* the client headers the upstream may see: none of them changes the request */

static ngx_str_t  ngx_turso_members_passed[] = {
    ngx_string("Accept"),
    ngx_string("Accept-Language"),
    ngx_string("User-Agent"),
    ngx_null_string
};


static ngx_str_t  ngx_turso_members_trace_names[] = {
    ngx_string("traceparent"),
    ngx_string("tracestate")
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
    ngx_uint_t        i, k, ntrace[2];
    ngx_list_t       *list;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h, *trace[2];

    list = &ctx->upstream_headers;

    ntrace[0] = 0;
    ntrace[1] = 0;
    trace[0] = NULL;
    trace[1] = NULL;

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

        /* W3C trace context, checked below (ngx_turso_members_request.c) */

        for (k = 0; k < 2; k++) {
            if (h[i].hash
                && h[i].key.len == ngx_turso_members_trace_names[k].len
                && ngx_strncasecmp(h[i].key.data,
                                   ngx_turso_members_trace_names[k].data,
                                   h[i].key.len)
                   == 0)
            {
                trace[k] = &h[i];
                ntrace[k]++;
            }
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

    /* a valid W3C trace context, as sent */

    ngx_turso_members_trace_set(ctx, trace, ntrace);

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

    return NGX_OK;
}


/*
 * The location's own content handler (proxy_pass's), run with the upstream
 * request's headers for a request the gateway validated; what it returns,
 * for ngx_http_finalize_request().
 */

ngx_int_t
ngx_turso_members_upstream_run(ngx_http_request_t *r,
    ngx_turso_members_ctx_t *ctx)
{
    ngx_int_t                      rc;
    ngx_http_upstream_t           *u;
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

    ngx_turso_members_upstream_begin(r, ctx);

    rc = tlcf->content_handler(r);

    ngx_turso_members_upstream_restore(r, ctx);

    /*
     * The upstream module builds the request (create_request) into
     * u->request_bufs within the call, unless nginx defers the build
     * (ngx_http_upstream_init_request(): a proxy_cache lock held by
     * another request, cache file I/O in a thread, r->aio); deferred, it
     * would run with the client's headers.  Or no build is needed (an
     * answer from the cache): then none may happen later either.
     */

    u = r->upstream;

    if (u && u->request_bufs == NULL) {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "turso_members upstream request not built "
                       "within the call");

        u->create_request = ngx_turso_members_upstream_refuse;
    }

    return rc;
}


/* the gateway's values in the request, the client's kept in the context */

static void
ngx_turso_members_upstream_begin(ngx_http_request_t *r,
    ngx_turso_members_ctx_t *ctx)
{
    ctx->client_headers = r->headers_in.headers;
    r->headers_in.headers = ctx->upstream_headers;

    /*
     * proxy_pass with no URI part sends r->unparsed_uri as it is: the
     * upstream path the gateway escaped, as the variable form does; the
     * form with a URI part adds r->args: the client's go nowhere
     */

    ctx->client_uri = r->unparsed_uri;
    ctx->client_uri_valid = r->valid_unparsed_uri;
    r->unparsed_uri = ctx->upstream_uri;
    r->valid_unparsed_uri = 1;

    ctx->client_args = r->args;
    ngx_str_null(&r->args);

    /* the client's Upgrade would turn an upstream's 101 into a tunnel */

    ctx->client_upgrade = r->headers_in.upgrade;
    r->headers_in.upgrade = NULL;

    ctx->http_version = r->http_version;

    /* a variable read before reads the gateway's values from now on */

    ngx_turso_members_upstream_flush(r);

    ctx->handing_off = 1;
    ctx->upgrade_off = 1;
}


/*
 * The client's request back: right after proxy_pass's handler, but for
 * Upgrade; and when the answer starts (the header filter calls this
 * first, and the answer may start within that call: nginx answers a
 * failure to reach any server at once), Upgrade too.  So no filter and no
 * subrequest of the answer sees the gateway's values, and the token
 * leaves the context.
 */

void
ngx_turso_members_upstream_end(ngx_http_request_t *r,
    ngx_turso_members_ctx_t *ctx)
{
    ngx_turso_members_upstream_restore(r, ctx);

    if (ctx->upgrade_off) {
        r->headers_in.upgrade = ctx->client_upgrade;
        ctx->upgrade_off = 0;
    }
}


static void
ngx_turso_members_upstream_restore(ngx_http_request_t *r,
    ngx_turso_members_ctx_t *ctx)
{
    if (!ctx->handing_off) {
        return;
    }

    r->headers_in.headers = ctx->client_headers;
    r->unparsed_uri = ctx->client_uri;
    r->valid_unparsed_uri = ctx->client_uri_valid;
    r->args = ctx->client_args;

    ngx_turso_members_upstream_flush(r);

    ctx->handing_off = 0;

    ngx_memzero(&ctx->upstream_headers, sizeof(ngx_list_t));
}


/*
 * The variables whose values the hand-off changes are read again at
 * their next use: nginx keeps an indexed variable's value for the rest
 * of the request once it is read (a proxy_set_header, a proxy_cache_key,
 * a log_format, a "set" before), so one read during the call would show
 * the gateway's values to the log, one read before would give the
 * client's to the upstream request.
 */

static void
ngx_turso_members_upstream_flush(ngx_http_request_t *r)
{
    ngx_uint_t                      i, *index;
    ngx_turso_members_main_conf_t  *tmcf;

    tmcf = ngx_http_get_module_main_conf(r, ngx_turso_members_module);

    if (tmcf->swapped == NULL) {
        return;
    }

    index = tmcf->swapped->elts;

    for (i = 0; i < tmcf->swapped->nelts; i++) {
        r->variables[index[i]].valid = 0;
        r->variables[index[i]].not_found = 0;
    }
}


/*
 * Which indexed variables those are, by name, once the configuration is
 * complete (the directives and every module's postconfiguration have
 * indexed theirs): a request then resets only them.
 */

ngx_int_t
ngx_turso_members_upstream_init_module(ngx_cycle_t *cycle)
{
    ngx_uint_t                      i, *index;
    ngx_http_variable_t            *v;
    ngx_http_core_main_conf_t      *cmcf;
    ngx_turso_members_main_conf_t  *tmcf;

    tmcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_turso_members_module);
    cmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_core_module);

    if (tmcf == NULL || cmcf == NULL || !tmcf->enabled) {
        return NGX_OK;
    }

    tmcf->swapped = ngx_array_create(cycle->pool, 4, sizeof(ngx_uint_t));
    if (tmcf->swapped == NULL) {
        return NGX_ERROR;
    }

    v = cmcf->variables.elts;

    for (i = 0; i < cmcf->variables.nelts; i++) {
        if (ngx_turso_members_upstream_reads(&v[i].name)) {
            index = ngx_array_push(tmcf->swapped);
            if (index == NULL) {
                return NGX_ERROR;
            }

            *index = i;
        }
    }

    return NGX_OK;
}


/* whether a variable reads what the hand-off swaps, by its name */

static ngx_uint_t
ngx_turso_members_upstream_reads(ngx_str_t *name)
{
    ngx_str_t  *n;

    static ngx_str_t  prefixes[] = {
        ngx_string("http_"),
        ngx_string("arg_"),
        ngx_null_string
    };

    static ngx_str_t  names[] = {
        ngx_string("request_uri"),
        ngx_string("args"),
        ngx_string("query_string"),
        ngx_string("is_args"),
        ngx_null_string
    };

    for (n = prefixes; n->len; n++) {
        if (name->len > n->len
            && ngx_strncmp(name->data, n->data, n->len) == 0)
        {
            return 1;
        }
    }

    for (n = names; n->len; n++) {
        if (name->len == n->len
            && ngx_strncmp(name->data, n->data, n->len) == 0)
        {
            return 1;
        }
    }

    return 0;
}


/*
 * The builder of an upstream request nginx deferred past proxy_pass's
 * handler: it would have the client's headers, not the gateway's.  The
 * 500 becomes the gateway's JSON internal_error.
 */

static ngx_int_t
ngx_turso_members_upstream_refuse(ngx_http_request_t *r)
{
    ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                  "turso_members: the upstream request would be built "
                  "after proxy_pass's handler returned, without the "
                  "gateway's headers (\"proxy_cache\" in a gateway "
                  "location?): refused");

    return NGX_ERROR;
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
