
/*
 * Copyright (C) ngx_turso_members authors
 *
 * The response filters: every error leaving a gateway location becomes
 * the gateway's JSON error.  An upstream error is buffered (its first
 * bytes kept, to tell which thing was not found and for the log) and
 * answered once it has ended; successes pass through untouched.  The
 * header filter decides what happens to an answer (ctx->answer, the
 * NGX_TURSO_MEMBERS_ANSWER_* states in ngx_turso_members_module.h); the
 * body filter follows.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_turso_members_module.h"


static ngx_int_t ngx_turso_members_header_filter(ngx_http_request_t *r);
static ngx_int_t ngx_turso_members_answer_header(ngx_http_request_t *r,
    ngx_turso_members_ctx_t *ctx) ngx_turso_members_noinline;
static void ngx_turso_members_answer_not_http(ngx_http_request_t *r,
    ngx_turso_members_ctx_t *ctx);
static ngx_int_t ngx_turso_members_answer_interim(ngx_http_request_t *r,
    ngx_turso_members_ctx_t *ctx, ngx_uint_t status);
static ngx_int_t ngx_turso_members_answer_success(ngx_http_request_t *r,
    ngx_turso_members_ctx_t *ctx, ngx_uint_t status);
static ngx_int_t ngx_turso_members_answer_nginx_error(ngx_http_request_t *r,
    ngx_turso_members_ctx_t *ctx, ngx_uint_t status);
static ngx_int_t ngx_turso_members_answer_upstream_error(
    ngx_http_request_t *r, ngx_turso_members_ctx_t *ctx, ngx_uint_t status);
static ngx_int_t ngx_turso_members_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);
static ngx_int_t ngx_turso_members_answer_body(ngx_http_request_t *r,
    ngx_turso_members_ctx_t *ctx, ngx_chain_t *in) ngx_turso_members_noinline;
static ngx_int_t ngx_turso_members_held_success(ngx_http_request_t *r,
    ngx_turso_members_ctx_t *ctx, ngx_chain_t *in);
static ngx_int_t ngx_turso_members_upstream_error_body(ngx_http_request_t *r,
    ngx_turso_members_ctx_t *ctx, ngx_chain_t *in);
static ngx_int_t ngx_turso_members_keep_body(ngx_http_request_t *r,
    ngx_turso_members_ctx_t *ctx, ngx_buf_t *b);
static void ngx_turso_members_consume(ngx_chain_t *in, ngx_uint_t *last,
    ngx_uint_t *flush);
static ngx_int_t ngx_turso_members_send_replacement(ngx_http_request_t *r,
    ngx_turso_members_ctx_t *ctx);
static void ngx_turso_members_log_upstream(ngx_http_request_t *r,
    ngx_turso_members_ctx_t *ctx);
static ngx_int_t ngx_turso_members_log_quote(ngx_http_request_t *r,
    ngx_turso_members_ctx_t *ctx, ngx_str_t *text);
static const char *ngx_turso_members_log_encoding(ngx_http_request_t *r);
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


/* the header of an answer of a gateway location: what becomes of it */

static ngx_int_t
ngx_turso_members_answer_header(ngx_http_request_t *r,
    ngx_turso_members_ctx_t *ctx)
{
    ngx_uint_t  status;

    if (ctx) {
        /* the hand-off ends (an answer may start within its call) */
        ngx_turso_members_upstream_end(r, ctx);

        if (ctx->answer == NGX_TURSO_MEMBERS_ANSWER_OWN
            || ctx->answer == NGX_TURSO_MEMBERS_ANSWER_BUFFER
            || ctx->answer == NGX_TURSO_MEMBERS_ANSWER_REPLACED)
        {
            /* decided already: the gateway's own header */
            return ngx_turso_members_next_header_filter(r);
        }
    }

    status = r->headers_out.status;

    if (r->upstream && r->http_version == NGX_HTTP_VERSION_9) {
        ngx_turso_members_answer_not_http(r, ctx);
        status = NGX_HTTP_BAD_GATEWAY;
    }

    if (r->upstream && status < NGX_HTTP_OK) {
        return ngx_turso_members_answer_interim(r, ctx, status);
    }

    if (status < NGX_HTTP_SPECIAL_RESPONSE) {
        return ngx_turso_members_answer_success(r, ctx, status);
    }

    if (ctx == NULL) {
        /* an error nginx answered before the gateway ran, e.g. a 413 */

        ctx = ngx_turso_members_ctx_create(r);
        if (ctx == NULL) {
            return NGX_ERROR;
        }
    }

    if (r->err_status || r->upstream == NULL) {
        return ngx_turso_members_answer_nginx_error(r, ctx, status);
    }

    return ngx_turso_members_answer_upstream_error(r, ctx, status);
}


/*
 * The proxy module relays an answer that is not HTTP as HTTP/0.9, raw;
 * the client asked in HTTP/1.x or HTTP/2 and gets an error in its own
 * version: the answer is then an upstream error (a 502)
 */

static void
ngx_turso_members_answer_not_http(ngx_http_request_t *r,
    ngx_turso_members_ctx_t *ctx)
{
    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "turso_members: the upstream's answer is not HTTP");

    /* the client's, saved when the hand-off began */
    r->http_version = (ctx && ctx->http_version) ? ctx->http_version
                                                 : NGX_HTTP_VERSION_11;
}


/*
 * A 1xx the proxy module took for the answer (it expects none: it sends
 * no Expect and no Upgrade); what follows it is not a body, and the
 * connection cannot be used again
 */

static ngx_int_t
ngx_turso_members_answer_interim(ngx_http_request_t *r,
    ngx_turso_members_ctx_t *ctx, ngx_uint_t status)
{
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
     * read as an answer with an empty body (the proxy module reads the
     * length after this filter), on a connection then closed
     */

    r->upstream->headers_in.content_length_n = 0;
    r->upstream->headers_in.chunked = 0;
    r->upstream->headers_in.connection_close = 1;

    ngx_turso_members_clear_headers(r);

    ctx->code = NGX_TURSO_MEMBERS_UPSTREAM_ERROR;

    return ngx_turso_members_send_replacement(r, ctx);
}


/*
 * A success (or nginx's own 1xx-3xx) passes, but for the upstream's empty
 * 2xx: Turso's clients parse every success as JSON (the Node client
 * throws on an empty one), it gets "{}"
 */

static ngx_int_t
ngx_turso_members_answer_success(ngx_http_request_t *r,
    ngx_turso_members_ctx_t *ctx, ngx_uint_t status)
{
    if (ctx == NULL || ctx->route == NULL || r->upstream == NULL
        || status < NGX_HTTP_OK)
    {
        return ngx_turso_members_next_header_filter(r);
    }

    if (ngx_turso_members_id_header(r, ctx) != NGX_OK) {
        return NGX_ERROR;
    }

    if (status == NGX_HTTP_NO_CONTENT
        || r->headers_out.content_length_n == 0)
    {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "turso_members filter: empty success, sent as {}");
        return ngx_turso_members_send_replacement(r, ctx);
    }

    if (r->headers_out.content_length_n == -1 && !r->header_only) {
        /* empty or not: the first bytes tell; nothing is held */
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "turso_members filter: success of unknown length, "
                       "header held");
        ctx->answer = NGX_TURSO_MEMBERS_ANSWER_HOLD;
        return NGX_OK;
    }

    return ngx_turso_members_next_header_filter(r);
}


/* nginx's own error page: its status tells all there is to know */

static ngx_int_t
ngx_turso_members_answer_nginx_error(ngx_http_request_t *r,
    ngx_turso_members_ctx_t *ctx, ngx_uint_t status)
{
    ctx->code = ngx_turso_members_nginx_code(r, status);

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
 * The upstream's error: wait for its body, and keep its first bytes
 * where they are read: a 404's message tells what was not found, and the
 * log line at "info" ("error" for 401 and 403) quotes them
 */

static ngx_int_t
ngx_turso_members_answer_upstream_error(ngx_http_request_t *r,
    ngx_turso_members_ctx_t *ctx, ngx_uint_t status)
{
    ctx->upstream_status = status;
    ctx->answer = NGX_TURSO_MEMBERS_ANSWER_BUFFER;
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
        || ctx->answer == NGX_TURSO_MEMBERS_ANSWER_PASS
        || ctx->answer == NGX_TURSO_MEMBERS_ANSWER_OWN)
    {
        return ngx_turso_members_next_body_filter(r, in);
    }

    return ngx_turso_members_answer_body(r, ctx, in);
}


/* a body the gateway holds back, buffers or has replaced */

static ngx_int_t
ngx_turso_members_answer_body(ngx_http_request_t *r,
    ngx_turso_members_ctx_t *ctx, ngx_chain_t *in)
{
    ngx_uint_t  last, flush;

    switch (ctx->answer) {

    case NGX_TURSO_MEMBERS_ANSWER_HOLD:
        return ngx_turso_members_held_success(r, ctx, in);

    case NGX_TURSO_MEMBERS_ANSWER_BUFFER:
        return ngx_turso_members_upstream_error_body(r, ctx, in);

    default: /* NGX_TURSO_MEMBERS_ANSWER_REPLACED */

        if (ctx->sending) {
            /*
             * a later filter's own buffers, sent through the whole chain
             * while the gateway's answer goes: the addition filter ends
             * the answer this way, after add_after_body
             */
            return ngx_turso_members_next_body_filter(r, in);
        }

        /*
         * The gateway's answer went, with its own last buffer: what the
         * upstream still sends is dropped, and nginx's later calls (an
         * empty chain when the connection can take more) go on, so that
         * what could not go at once (limit_rate, X-Accel-Limit-Rate, an
         * HTTP/2 window, a slow reader) is sent, as the image filter does
         */

        ngx_turso_members_consume(in, &last, &flush);

        return ngx_turso_members_next_body_filter(r, NULL);
    }
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
            ctx->answer = NGX_TURSO_MEMBERS_ANSWER_PASS;

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


/*
 * An upstream error's body: consumed, never sent, its first bytes kept
 * when they matter; once it has ended, the gateway's error goes
 */

static ngx_int_t
ngx_turso_members_upstream_error_body(ngx_http_request_t *r,
    ngx_turso_members_ctx_t *ctx, ngx_chain_t *in)
{
    ngx_uint_t    last, flush;
    ngx_chain_t  *cl;

    if (ctx->keep_body) {
        for (cl = in; cl; cl = cl->next) {
            if (ngx_turso_members_keep_body(r, ctx, cl->buf) != NGX_OK) {
                return NGX_ERROR;
            }
        }
    }

    ngx_turso_members_consume(in, &last, &flush);

    /*
     * An upstream that fails in the middle of its error body, buffered or
     * not, is finalized (u->cleanup gone) and ends the response with a
     * flush, then the connection: the answer is known from the status
     * alone, and goes now.
     */

    if (!last && flush && r->upstream && r->upstream->cleanup == NULL) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "turso_members: upstream failed while sending its "
                      "error body");
        last = 1;
    }

    if (!last) {
        return NGX_OK;
    }

    ctx->code = ngx_turso_members_upstream_code(r, ctx, ctx->upstream_status);

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "turso_members filter: upstream %ui sent as \"%V\"",
                   ctx->upstream_status,
                   &ngx_turso_members_codes[ctx->code].code);

    ngx_turso_members_log_upstream(r, ctx);

    ngx_turso_members_clear_headers(r);

    return ngx_turso_members_send_replacement(r, ctx);
}


/* copies what fits of a buffer of an upstream error's body */

static ngx_int_t
ngx_turso_members_keep_body(ngx_http_request_t *r,
    ngx_turso_members_ctx_t *ctx, ngx_buf_t *b)
{
    off_t       size;
    size_t      n;
    ngx_buf_t  *ub;

    if (!ngx_buf_in_memory(b) || b->last == b->pos) {
        return NGX_OK;
    }

    ub = ctx->upstream_body;

    if (ub == NULL) {
        size = r->upstream ? r->upstream->headers_in.content_length_n : 0;

        if (size <= 0 || size > NGX_TURSO_MEMBERS_UPSTREAM_BODY_MAX) {
            size = NGX_TURSO_MEMBERS_UPSTREAM_BODY_MAX;
        }

        ub = ngx_create_temp_buf(r->pool, (size_t) size);
        if (ub == NULL) {
            return NGX_ERROR;
        }

        ctx->upstream_body = ub;
    }

    n = ngx_min((size_t) (b->last - b->pos), (size_t) (ub->end - ub->last));
    ub->last = ngx_cpymem(ub->last, b->pos, n);

    return NGX_OK;
}


/*
 * Marks every buffer of a body the gateway does not send as sent (the
 * event pipe reuses a buffer once it is empty); tells whether the chain
 * ends the body and whether it flushes it
 */

static void
ngx_turso_members_consume(ngx_chain_t *in, ngx_uint_t *last,
    ngx_uint_t *flush)
{
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    *last = 0;
    *flush = 0;

    for (cl = in; cl; cl = cl->next) {
        b = cl->buf;

        b->pos = b->last;

        if (b->in_file) {
            b->file_pos = b->file_last;
        }

        if (b->last_buf) {
            *last = 1;
        }

        if (b->flush) {
            *flush = 1;
        }
    }
}


/*
 * Sends the postponed header and the gateway's body in place of the
 * upstream's answer or nginx's error page; the body filter then drops
 * what of theirs still comes
 */

static ngx_int_t
ngx_turso_members_send_replacement(ngx_http_request_t *r,
    ngx_turso_members_ctx_t *ctx)
{
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_chain_t   out;

    ctx->answer = NGX_TURSO_MEMBERS_ANSWER_REPLACED;

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

    ctx->sending = 1;
    rc = ngx_turso_members_next_body_filter(r, &out);
    ctx->sending = 0;

    return rc;
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
 * The line that quotes an upstream error (ngx_turso_members_log_quote()).
 * A refused token is named by its id and organization.
 */

static void
ngx_turso_members_log_upstream(ngx_http_request_t *r,
    ngx_turso_members_ctx_t *ctx)
{
    ngx_str_t    body, id, label;
    ngx_uint_t   level;
    const char  *why;

    level = ngx_turso_members_upstream_log_level(ctx->upstream_status);

    if (r->connection->log->log_level < level) {
        return;
    }

    if (ngx_turso_members_log_quote(r, ctx, &body) != NGX_OK) {
        return;
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
                  "organization \"%V\"%s%V%V; upstream body: %V",
                  ctx->upstream_status,
                  &ngx_turso_members_codes[ctx->code].code, &ctx->org, why,
                  &id, &label, &body);
}


/*
 * The upstream error body as the log quotes it: its first 512 bytes,
 * JSON-escaped, in quotes, with every run of 8 or more bytes of any token
 * of the location masked, raw or encoded (ngx_turso_members_mask.c): in
 * the whole kept body before the cut (a token straddling it leaves
 * nothing) and again after the escaping (which could make one).  A body
 * with a Content-Encoding, or not text, is not quoted: a compressed token
 * cannot be masked.
 */

static ngx_int_t
ngx_turso_members_log_quote(ngx_http_request_t *r,
    ngx_turso_members_ctx_t *ctx, ngx_str_t *text)
{
    void                                    *work;
    u_char                                  *p, *raw;
    size_t                                   len, size, n;
    ngx_buf_t                               *b;
    const char                              *why;
    ngx_turso_members_loc_conf_t            *tlcf;
    const ngx_turso_members_mask_secret_t  **secrets;

    b = ctx->upstream_body;
    size = (b && b->last > b->pos) ? (size_t) (b->last - b->pos) : 0;

    why = ngx_turso_members_log_encoding(r);

    if (why == NULL && !ngx_turso_members_mask_is_text(b ? b->pos : NULL,
                                                       size))
    {
        why = "not text";
    }

    if (why) {
        text->data = ngx_pnalloc(r->pool, NGX_SIZE_T_LEN
                                 + sizeof("( bytes, , not quoted)") - 1
                                 + ngx_strlen(why));
        if (text->data == NULL) {
            return NGX_ERROR;
        }

        text->len = ngx_sprintf(text->data, "(%uz bytes, %s, not quoted)",
                                size, why)
                    - text->data;
        return NGX_OK;
    }

    /* not in the middle of a character */

    len = ngx_min(size, 512);

    while (len < size && len > 0 && (b->pos[len] & 0xc0) == 0x80) {
        len--;
    }

    tlcf = ngx_http_get_module_loc_conf(r, ngx_turso_members_module);

    raw = ngx_pnalloc(r->pool, size + 1);
    p = ngx_pnalloc(r->pool, 6 * len + 2);
    work = ngx_palloc(r->pool,
                      ngx_turso_members_mask_work_size(ngx_max(size,
                                                               6 * len)));
    secrets = ngx_turso_members_token_secrets(r->pool, tlcf, ctx->sent, &n);

    if (raw == NULL || p == NULL || work == NULL || secrets == NULL) {
        return NGX_ERROR;
    }

    if (size) {
        ngx_memcpy(raw, b->pos, size);
    }

    ngx_turso_members_mask(raw, size, secrets, n, work);

    len = (u_char *) ngx_escape_json(p + 1, raw, len) - (p + 1);

    ngx_turso_members_mask(p + 1, len, secrets, n, work);

    p[0] = '"';
    p[len + 1] = '"';

    text->data = p;
    text->len = len + 2;

    return NGX_OK;
}


/*
 * Why the upstream's body cannot be quoted as it is: the name of its
 * Content-Encoding, "encoded" for one not known; NULL if it has none but
 * identity.
 */

static const char *
ngx_turso_members_log_encoding(ngx_http_request_t *r)
{
    ngx_uint_t        i, k;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    static ngx_str_t  known[] = {
        ngx_string("gzip"), ngx_string("x-gzip"), ngx_string("deflate"),
        ngx_string("br"), ngx_string("zstd"), ngx_string("compress"),
        ngx_null_string
    };

    if (r->upstream == NULL) {
        return NULL;
    }

    part = &r->upstream->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                return NULL;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len != sizeof("Content-Encoding") - 1
            || ngx_strncasecmp(h[i].key.data, (u_char *) "Content-Encoding",
                               h[i].key.len) != 0
            || (h[i].value.len == sizeof("identity") - 1
                && ngx_strncasecmp(h[i].value.data, (u_char *) "identity",
                                   h[i].value.len) == 0))
        {
            continue;
        }

        for (k = 0; known[k].len; k++) {
            if (h[i].value.len == known[k].len
                && ngx_strncasecmp(h[i].value.data, known[k].data,
                                   known[k].len) == 0)
            {
                return (const char *) known[k].data;
            }
        }

        return "encoded";
    }
}
