
/*
 * Copyright (C) ngx_turso_members authors
 *
 * The response filters: every error leaving a gateway location becomes
 * the gateway's JSON error.  An upstream error is buffered (its first
 * bytes kept, to tell which thing was not found and for the log) and
 * answered once it has ended; successes pass through untouched.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_turso_members_module.h"


static ngx_int_t ngx_turso_members_header_filter(ngx_http_request_t *r);
static ngx_int_t ngx_turso_members_answer_header(ngx_http_request_t *r,
    ngx_turso_members_ctx_t *ctx) ngx_turso_members_noinline;
static ngx_int_t ngx_turso_members_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);
static ngx_int_t ngx_turso_members_answer_body(ngx_http_request_t *r,
    ngx_turso_members_ctx_t *ctx, ngx_chain_t *in) ngx_turso_members_noinline;
static ngx_int_t ngx_turso_members_send_replacement(ngx_http_request_t *r,
    ngx_turso_members_ctx_t *ctx);
static ngx_int_t ngx_turso_members_held_success(ngx_http_request_t *r,
    ngx_turso_members_ctx_t *ctx, ngx_chain_t *in);
static void ngx_turso_members_log_upstream(ngx_http_request_t *r,
    ngx_turso_members_ctx_t *ctx);
static ngx_uint_t ngx_turso_members_upstream_log_level(ngx_uint_t status);


static ngx_http_output_header_filter_pt  ngx_turso_members_next_header_filter;
static ngx_http_output_body_filter_pt    ngx_turso_members_next_body_filter;


ngx_int_t
ngx_turso_members_filter_init(ngx_conf_t *cf)
{
    ngx_turso_members_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_turso_members_header_filter;

    ngx_turso_members_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_turso_members_body_filter;

    return NGX_OK;
}


static ngx_int_t
ngx_turso_members_header_filter(ngx_http_request_t *r)
{
    ngx_turso_members_ctx_t       *ctx;
    ngx_turso_members_loc_conf_t  *tlcf;

    tlcf = ngx_http_get_module_loc_conf(r, ngx_turso_members_module);
    ctx = ngx_http_get_module_ctx(r, ngx_turso_members_module);

    if (r != r->main || (!tlcf->enable && ctx == NULL)) {
        return ngx_turso_members_next_header_filter(r);
    }

    return ngx_turso_members_answer_header(r, ctx);
}


/* the header of an answer of a gateway location */

static ngx_int_t
ngx_turso_members_answer_header(ngx_http_request_t *r,
    ngx_turso_members_ctx_t *ctx)
{
    ngx_uint_t  status;

    if (ctx) {
        /* the hand-off ends (an answer may start within its call) */
        ngx_turso_members_upstream_end(r, ctx);
    }

    status = r->headers_out.status;

    if (ctx && (ctx->own_error || ctx->buffering || ctx->replacing)) {
        return ngx_turso_members_next_header_filter(r);
    }

    if (r->upstream && r->http_version == NGX_HTTP_VERSION_9) {

        /*
         * The proxy module relays an answer that is not HTTP as HTTP/0.9,
         * raw; the client asked in HTTP/1.x or HTTP/2 and gets an error
         */

        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "turso_members: the upstream's answer is not HTTP");

        /* the client's, saved when the hand-off began */
        r->http_version = ctx ? ctx->http_version : NGX_HTTP_VERSION_11;

        status = NGX_HTTP_BAD_GATEWAY;
    }

    if (r->upstream && status < NGX_HTTP_OK) {

        /*
         * A 1xx the proxy module took for the answer (it expects none:
         * it sends no Expect and no Upgrade); what follows it is not a
         * body, and the connection cannot be used again
         */

        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "turso_members: the upstream answered %ui, "
                      "an interim status, as its answer", status);

        if (ctx == NULL) {
            ctx = ngx_turso_members_ctx_create(r);
            if (ctx == NULL) {
                return NGX_ERROR;
            }
        }

        /*
         * read as an answer with an empty body (the proxy module reads
         * the length after this filter), on a connection then closed
         */

        r->upstream->headers_in.content_length_n = 0;
        r->upstream->headers_in.chunked = 0;
        r->upstream->headers_in.connection_close = 1;

        ngx_turso_members_clear_headers(r);

        ctx->code = NGX_TURSO_MEMBERS_UPSTREAM_ERROR;
        ctx->replacing = 1;

        return ngx_turso_members_send_replacement(r, ctx);
    }

    if (status < NGX_HTTP_SPECIAL_RESPONSE) {

        /*
         * Turso's clients parse every success as JSON (the Node client
         * throws on an empty one): an empty 2xx of the upstream gets "{}"
         */

        if (ctx && ctx->route && r->upstream && status >= NGX_HTTP_OK) {

            if (ngx_turso_members_id_header(r, ctx) != NGX_OK) {
                return NGX_ERROR;
            }

            if (status == NGX_HTTP_NO_CONTENT
                || r->headers_out.content_length_n == 0)
            {
                ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                               "turso_members filter: empty success, "
                               "sent as {}");
                ctx->replacing = 1;
                return ngx_turso_members_send_replacement(r, ctx);
            }

            if (r->headers_out.content_length_n == -1 && !r->header_only) {
                /* empty or not: the first bytes tell; nothing is held */
                ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                               "turso_members filter: success of unknown "
                               "length, header held");
                ctx->holding = 1;
                return NGX_OK;
            }
        }

        return ngx_turso_members_next_header_filter(r);
    }

    if (ctx == NULL) {
        /* an error nginx answered before the gateway ran, e.g. a 413 */

        ctx = ngx_turso_members_ctx_create(r);
        if (ctx == NULL) {
            return NGX_ERROR;
        }
    }

    if (r->err_status || r->upstream == NULL) {

        /* nginx's own error page: its status tells all there is to know */

        ctx->code = ngx_turso_members_nginx_code(r, status);
        ctx->replacing = 1;

        if (r->upstream && r->upstream->headers_in.x_accel_redirect) {

            /* nginx refused to follow it: the request is the gateway's */

            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "turso_members: the upstream redirected the "
                          "request: refused");

            ctx->code = NGX_TURSO_MEMBERS_UPSTREAM_ERROR;
            ngx_str_set(&ctx->message, "the Turso API answered with a "
                        "redirect, which the gateway does not follow");
            ngx_turso_members_clear_headers(r);
        }

        if (r->headers_out.location) {
            /* nginx's redirect to the location's path with a slash */
            r->headers_out.location->hash = 0;
            r->headers_out.location = NULL;
        }

        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "turso_members filter: nginx's %ui replaced", status);

        return ngx_turso_members_send_replacement(r, ctx);
    }

    /*
     * the upstream's error: wait for its body, and keep its first bytes
     * where they are read: a 404's message tells what was not found, and
     * the log line at "info" ("error" for 401 and 403) quotes them
     */

    ctx->upstream_status = status;
    ctx->buffering = 1;
    ctx->keep_body = (status == NGX_HTTP_NOT_FOUND
                      || r->connection->log->log_level
                         >= ngx_turso_members_upstream_log_level(status));

    r->filter_need_in_memory = 1;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "turso_members filter: upstream %ui, body awaited, "
                   "kept: %ui", status, (ngx_uint_t) ctx->keep_body);

    return NGX_OK;
}


static ngx_int_t
ngx_turso_members_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    ngx_turso_members_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_turso_members_module);

    if (ctx == NULL || r != r->main
        || !(ctx->holding || ctx->buffering || ctx->replacing))
    {
        return ngx_turso_members_next_body_filter(r, in);
    }

    return ngx_turso_members_answer_body(r, ctx, in);
}


/* a body the gateway holds back, buffers or replaces */

static ngx_int_t
ngx_turso_members_answer_body(ngx_http_request_t *r,
    ngx_turso_members_ctx_t *ctx, ngx_chain_t *in)
{
    off_t         size;
    size_t        n;
    ngx_buf_t    *b, *ub;
    ngx_uint_t    last, flush;
    ngx_chain_t  *cl;

    if (ctx->holding) {
        return ngx_turso_members_held_success(r, ctx, in);
    }

    /* the body being replaced is consumed, never sent */

    last = 0;
    flush = 0;

    for (cl = in; cl; cl = cl->next) {
        b = cl->buf;

        if (ctx->buffering && ctx->keep_body && ngx_buf_in_memory(b)
            && b->last > b->pos)
        {
            ub = ctx->upstream_body;

            if (ub == NULL) {
                size = r->upstream
                       ? r->upstream->headers_in.content_length_n : 0;

                if (size <= 0 || size > NGX_TURSO_MEMBERS_UPSTREAM_BODY_MAX) {
                    size = NGX_TURSO_MEMBERS_UPSTREAM_BODY_MAX;
                }

                ub = ngx_create_temp_buf(r->pool, (size_t) size);
                if (ub == NULL) {
                    return NGX_ERROR;
                }

                ctx->upstream_body = ub;
            }

            n = ngx_min((size_t) (b->last - b->pos),
                        (size_t) (ub->end - ub->last));
            ub->last = ngx_cpymem(ub->last, b->pos, n);
        }

        b->pos = b->last;

        if (b->in_file) {
            b->file_pos = b->file_last;
        }

        if (b->last_buf) {
            last = 1;
        }

        if (b->flush) {
            flush = 1;
        }
    }

    /*
     * An upstream that fails in the middle of its error body, buffered or
     * not, is finalized (u->cleanup gone) and ends the response with a
     * flush, then the connection: the answer is known from the status
     * alone, and goes now.
     */

    if (ctx->buffering && !last && flush && r->upstream
        && r->upstream->cleanup == NULL)
    {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "turso_members: upstream failed while sending its "
                      "error body");
        last = 1;
    }

    if (ctx->replacing) {
        return NGX_OK;
    }

    if (!last) {
        return NGX_OK;
    }

    ctx->buffering = 0;
    ctx->replacing = 1;

    ctx->code = ngx_turso_members_upstream_code(r, ctx, ctx->upstream_status);

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "turso_members filter: upstream %ui sent as \"%V\"",
                   ctx->upstream_status,
                   &ngx_turso_members_codes[ctx->code].code);

    ngx_turso_members_log_upstream(r, ctx);

    ngx_turso_members_clear_headers(r);

    return ngx_turso_members_send_replacement(r, ctx);
}


/*
 * A success of unknown length: its header goes with its first bytes, or,
 * when it ends empty, the answer becomes "{}".
 */

static ngx_int_t
ngx_turso_members_held_success(ngx_http_request_t *r,
    ngx_turso_members_ctx_t *ctx, ngx_chain_t *in)
{
    ngx_int_t     rc;
    ngx_uint_t    last;
    ngx_chain_t  *cl;

    last = 0;

    for (cl = in; cl; cl = cl->next) {

        if (ngx_buf_size(cl->buf)) {
            ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                           "turso_members filter: success has a body, "
                           "header sent");
            ctx->holding = 0;

            rc = ngx_turso_members_next_header_filter(r);

            if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
                return rc;
            }

            return ngx_turso_members_next_body_filter(r, in);
        }

        if (cl->buf->last_buf) {
            last = 1;
        }
    }

    if (!last && !(r->upstream && r->upstream->cleanup == NULL)) {
        /* nothing yet, and the upstream goes on */
        return NGX_OK;
    }

    ctx->holding = 0;
    ctx->replacing = 1;

    if (!last) {

        /* the upstream failed before the first byte: nothing went yet */

        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "turso_members: upstream failed before its success "
                      "body");

        ngx_turso_members_clear_headers(r);
        ctx->code = NGX_TURSO_MEMBERS_UPSTREAM_ERROR;

    } else {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "turso_members filter: success ended empty, "
                       "sent as {}");
    }

    return ngx_turso_members_send_replacement(r, ctx);
}


/* sends the postponed header and the gateway's body in place of the error */

static ngx_int_t
ngx_turso_members_send_replacement(ngx_http_request_t *r,
    ngx_turso_members_ctx_t *ctx)
{
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_chain_t   out;

    if (ctx->code == NGX_TURSO_MEMBERS_OK) {
        b = ngx_calloc_buf(r->pool);
        if (b == NULL) {
            return NGX_ERROR;
        }

        b->pos = (u_char *) "{}";
        b->last = b->pos + 2;
        b->memory = 1;
        b->last_buf = 1;
        b->last_in_chain = 1;

    } else if (ngx_turso_members_error_body(r, ctx, &b) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_turso_members_json_headers(r, ctx, b) != NGX_OK) {
        return NGX_ERROR;
    }

    rc = ngx_turso_members_next_header_filter(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_turso_members_next_body_filter(r, &out);
}


/*
 * The level of the line that quotes an upstream error: "error" for a 401
 * or 403 (the gateway's token was refused), else "info".
 */

static ngx_uint_t
ngx_turso_members_upstream_log_level(ngx_uint_t status)
{
    return (status == NGX_HTTP_UNAUTHORIZED || status == NGX_HTTP_FORBIDDEN)
           ? NGX_LOG_ERR : NGX_LOG_INFO;
}


/*
 * The line that quotes an upstream error: its first 512 bytes, with every
 * run of 8 or more bytes of any token of the location masked, before the
 * cut (a token straddling it leaves nothing) and after the escaping (which
 * could make one).  A refused token is named by its id and organization.
 */

static void
ngx_turso_members_log_upstream(ngx_http_request_t *r,
    ngx_turso_members_ctx_t *ctx)
{
    u_char                        *p, *raw;
    size_t                         len, size;
    ngx_str_t                      id, label;
    ngx_buf_t                     *b;
    ngx_uint_t                     level;
    const char                    *why;
    ngx_turso_members_loc_conf_t  *tlcf;

    level = ngx_turso_members_upstream_log_level(ctx->upstream_status);

    if (r->connection->log->log_level < level) {
        return;
    }

    tlcf = ngx_http_get_module_loc_conf(r, ngx_turso_members_module);

    b = ctx->upstream_body;
    len = 0;
    p = NULL;

    if (b && b->last > b->pos) {
        size = b->last - b->pos;
        len = ngx_min(size, 512);

        raw = ngx_pnalloc(r->pool, size);
        p = ngx_pnalloc(r->pool, 6 * len);
        if (raw == NULL || p == NULL) {
            return;
        }

        ngx_memcpy(raw, b->pos, size);

        ngx_turso_members_token_mask(r->pool, tlcf, ctx->sent, raw, size,
                                     len);

        len = (u_char *) ngx_escape_json(p, raw, len) - p;

        ngx_turso_members_token_mask(r->pool, tlcf, ctx->sent, p, len, len);
    }

    /* a refused token: which one, and what it means */

    why = "";
    ngx_str_null(&id);
    ngx_str_null(&label);

    if (ctx->upstream_status == NGX_HTTP_UNAUTHORIZED) {
        why = ": the token is invalid, expired or revoked; token ";

    } else if (ctx->upstream_status == NGX_HTTP_FORBIDDEN) {
        why = ": the token has no rights on this organization (minted for "
              "another organization, or without the scope or the role); "
              "token ";
    }

    if (*why) {
        ngx_str_set(&id, "-");

        /* the upstream answered: the request went with ctx->sent */

        if (ctx->sent) {
            id = ctx->sent->id;
            label = ctx->token->label;
        }
    }

    ngx_log_error(level, r->connection->log, 0,
                  "turso_members: upstream answered %ui, sent as %V, "
                  "organization \"%V\"%s%V%V; upstream body: \"%*s\"",
                  ctx->upstream_status,
                  &ngx_turso_members_codes[ctx->code].code, &ctx->org, why,
                  &id, &label, len, p);
}
