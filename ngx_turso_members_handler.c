
/*
 * Copyright (C) ngx_turso_members authors
 *
 * The content handler of a gateway location, put in front of proxy_pass's
 * at configuration time: matches the route, applies the policy, reads and
 * validates the body, replaces it with the canonical one and hands the
 * request to ngx_turso_members_upstream.c, which runs proxy_pass's.  A
 * request it has taken cannot be redirected anywhere else.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_turso_members_module.h"


static ngx_int_t ngx_turso_members_start(ngx_http_request_t *r,
    ngx_turso_members_ctx_t *ctx, ngx_str_t *allow);
static ngx_int_t ngx_turso_members_no_token(ngx_http_request_t *r,
    ngx_turso_members_ctx_t *ctx);
static ngx_int_t ngx_turso_members_reject(ngx_http_request_t *r,
    ngx_turso_members_ctx_t *ctx, ngx_uint_t code, ngx_str_t *allow);
static void ngx_turso_members_body_handler(ngx_http_request_t *r);
static ngx_int_t ngx_turso_members_process_body(ngx_http_request_t *r,
    ngx_turso_members_ctx_t *ctx);
static ngx_int_t ngx_turso_members_read_body(ngx_http_request_t *r,
    ngx_str_t *body);
static ngx_int_t ngx_turso_members_parse_body(ngx_http_request_t *r,
    ngx_turso_members_ctx_t *ctx, ngx_str_t *raw,
    ngx_turso_members_body_t *body);
static ngx_int_t ngx_turso_members_keep_names(ngx_http_request_t *r,
    ngx_turso_members_ctx_t *ctx, ngx_turso_members_body_t *body);
static ngx_int_t ngx_turso_members_set_body(ngx_http_request_t *r,
    ngx_turso_members_ctx_t *ctx, ngx_turso_members_body_t *body);
static ngx_int_t ngx_turso_members_forward(ngx_http_request_t *r,
    ngx_turso_members_ctx_t *ctx);
static void ngx_turso_members_message(ngx_turso_members_ctx_t *ctx,
    const char *msg);
static ngx_int_t ngx_turso_members_copy(ngx_http_request_t *r,
    ngx_str_t *dst, const char *src, size_t len);


/* everything known before the body, then the body read */

ngx_int_t
ngx_turso_members_handler(ngx_http_request_t *r)
{
    ngx_int_t                 rc;
    ngx_str_t                 allow;
    ngx_turso_members_ctx_t  *ctx;

    ctx = ngx_turso_members_ctx_create(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /*
     * The request is the gateway's from here on: nginx refuses to redirect
     * it anywhere else (an upstream's X-Accel-Redirect, any module's
     * ngx_http_internal_redirect()) as it refuses a redirection cycle,
     * with a 500 the header filter answers
     */

    r->uri_changes = 1;

    ngx_str_null(&allow);

    if (ngx_turso_members_start(r, ctx, &allow) != NGX_OK) {
        return ngx_turso_members_reject(r, ctx, ctx->code, &allow);
    }

    /*
     * Every route's body is read here, the empty ones too: the proxy
     * module then finds it read and builds the upstream request within
     * its handler's call, which ngx_turso_members_upstream.c relies on
     */

    rc = ngx_http_read_client_request_body(r, ngx_turso_members_body_handler);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


/*
 * What is known before the body: the protocol, the route, the policy.
 * NGX_OK, or NGX_DECLINED with ctx->code to answer with (and for a method
 * the path does not take, the value of the Allow header).
 */

static ngx_int_t
ngx_turso_members_start(ngx_http_request_t *r, ngx_turso_members_ctx_t *ctx,
    ngx_str_t *allow)
{
    ngx_int_t                      rc;
    ngx_turso_members_loc_conf_t  *tlcf;

    if (r->http_version < NGX_HTTP_VERSION_10) {
        /* HTTP/0.9: no headers, not even a list of them */
        ctx->code = NGX_TURSO_MEMBERS_BAD_REQUEST;
        ngx_turso_members_message(ctx, "HTTP/0.9 is not supported");
        return NGX_DECLINED;
    }

    if (r != r->main) {
        /* a subrequest must not become a way around the checks */
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "turso_members: a subrequest reached a gateway "
                      "location: refused");
        ctx->code = NGX_TURSO_MEMBERS_FORBIDDEN;
        return NGX_DECLINED;
    }

    ctx->code = ngx_turso_members_route_find(r, ctx, allow);

    if (ctx->code != NGX_TURSO_MEMBERS_OK) {
        return NGX_DECLINED;
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "turso_members route \"%V\" org \"%V\"",
                   &ctx->route->operation, &ctx->org);

    rc = ngx_turso_members_policy_check(r, ctx);

    if (rc != NGX_OK) {
        if (rc == NGX_ERROR) {
            ctx->code = NGX_TURSO_MEMBERS_INTERNAL_ERROR;
        }

        return NGX_DECLINED;
    }

    /* no token for the organization: refused whatever the mode */

    tlcf = ngx_http_get_module_loc_conf(r, ngx_turso_members_module);

    ctx->token = ngx_turso_members_token_find(r, tlcf, &ctx->org);

    if (ctx->token == NULL) {
        return ngx_turso_members_no_token(r, ctx);
    }

    /*
     * too large by its Content-Length: answered before the body is read
     * (nginx's client_max_body_size, lowered to the cap, does it too, but
     * not for a named location)
     */

    if (r->headers_in.content_length_n > (off_t) tlcf->max_body_size) {
        ctx->code = NGX_TURSO_MEMBERS_BODY_TOO_LARGE;
        return NGX_DECLINED;
    }

    if (ctx->route->body.fields == 0
        && (r->headers_in.content_length_n > 0 || r->headers_in.chunked))
    {
        ctx->code = NGX_TURSO_MEMBERS_INVALID_BODY;
        ngx_turso_members_message(ctx, "this route takes no request body");
        return NGX_DECLINED;
    }

    return NGX_OK;
}


/* an organization the location holds no token for, and no default */

static ngx_int_t
ngx_turso_members_no_token(ngx_http_request_t *r,
    ngx_turso_members_ctx_t *ctx)
{
    u_char  *p;

    p = ngx_pnalloc(r->pool, sizeof("the gateway holds no token for "
                                    "organization ") - 1 + ctx->org.len);
    if (p == NULL) {
        ctx->code = NGX_TURSO_MEMBERS_INTERNAL_ERROR;
        return NGX_DECLINED;
    }

    ctx->code = NGX_TURSO_MEMBERS_ORGANIZATION_NOT_ALLOWED;
    ctx->message.data = p;
    ctx->message.len = ngx_sprintf(p, "the gateway holds no token for "
                                   "organization %V", &ctx->org) - p;

    return NGX_DECLINED;
}


static ngx_int_t
ngx_turso_members_reject(ngx_http_request_t *r, ngx_turso_members_ctx_t *ctx,
    ngx_uint_t code, ngx_str_t *allow)
{
    if (r->request_body == NULL) {
        /* no "100 Continue" for a body that will be thrown away */
        r->expect_tested = 1;
    }

    return ngx_turso_members_send_error(r, ctx, code, allow);
}


/* the body is read: the request goes upstream, or is answered */

static void
ngx_turso_members_body_handler(ngx_http_request_t *r)
{
    ngx_int_t                 rc;
    ngx_turso_members_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_turso_members_module);

    rc = ngx_turso_members_process_body(r, ctx);

    if (rc == NGX_OK) {
        rc = ngx_turso_members_upstream_run(r, ctx);

    } else if (rc == NGX_DECLINED) {
        rc = ngx_turso_members_reject(r, ctx, ctx->code, NULL);
    }

    ngx_http_finalize_request(r, rc);
}


/*
 * The body read: validated, replaced by its canonical form, the upstream
 * request's headers made.  NGX_OK to go upstream; NGX_DECLINED with
 * ctx->code set to answer with an error; an HTTP status on a failure.
 */

static ngx_int_t
ngx_turso_members_process_body(ngx_http_request_t *r,
    ngx_turso_members_ctx_t *ctx)
{
    ngx_int_t                      rc;
    ngx_str_t                      raw;
    ngx_turso_members_body_t       body;
    ngx_turso_members_loc_conf_t  *tlcf;

    tlcf = ngx_http_get_module_loc_conf(r, ngx_turso_members_module);

    rc = ngx_turso_members_read_body(r, &raw);

    if (rc == NGX_DECLINED) {
        ctx->code = NGX_TURSO_MEMBERS_BODY_TOO_LARGE;
        return NGX_DECLINED;
    }

    if (rc != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ctx->route->body.fields == 0) {

        if (raw.len) {
            ctx->code = NGX_TURSO_MEMBERS_INVALID_BODY;
            ngx_turso_members_message(ctx,
                                      "this route takes no request body");
            return NGX_DECLINED;
        }

        return ngx_turso_members_forward(r, ctx);
    }

    /*
     * The parsed body is on the stack (it has room for the longest of
     * every field, more than a request pool should give up): what outlives
     * this function is copied.
     */

    rc = ngx_turso_members_parse_body(r, ctx, &raw, &body);

    if (rc != NGX_OK) {
        return (rc == NGX_ERROR) ? NGX_HTTP_INTERNAL_SERVER_ERROR : rc;
    }

    if (ngx_turso_members_keep_names(r, ctx, &body) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->role = body.role;

    if (ctx->role == NULL && ctx->route->default_role) {
        ctx->role = tlcf->default_role;
    }

    if (ctx->role) {
        rc = ngx_turso_members_policy_role(r, ctx, ctx->role);

        if (rc != NGX_OK) {
            return (rc == NGX_ERROR) ? NGX_HTTP_INTERNAL_SERVER_ERROR : rc;
        }
    }

    if (ngx_turso_members_set_body(r, ctx, &body) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_turso_members_forward(r, ctx);
}


/*
 * The body as one piece of memory: nginx gives it as memory buffers or as
 * a temporary file.  NGX_DECLINED: larger than turso_members_max_body_size.
 */

static ngx_int_t
ngx_turso_members_read_body(ngx_http_request_t *r, ngx_str_t *body)
{
    u_char                        *p;
    off_t                          len;
    ssize_t                        n;
    ngx_buf_t                     *b;
    ngx_chain_t                   *cl;
    ngx_http_request_body_t       *rb;
    ngx_turso_members_loc_conf_t  *tlcf;

    tlcf = ngx_http_get_module_loc_conf(r, ngx_turso_members_module);

    rb = r->request_body;

    ngx_str_null(body);

    if (rb == NULL || rb->bufs == NULL) {
        return NGX_OK;
    }

    len = 0;

    for (cl = rb->bufs; cl; cl = cl->next) {
        len += ngx_buf_size(cl->buf);
    }

    if (len > (off_t) tlcf->max_body_size) {
        return NGX_DECLINED;
    }

    if (len == 0) {
        return NGX_OK;
    }

    b = rb->bufs->buf;

    if (rb->bufs->next == NULL && !b->in_file) {
        body->data = b->pos;
        body->len = b->last - b->pos;
        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, (size_t) len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    body->data = p;
    body->len = (size_t) len;

    for (cl = rb->bufs; cl; cl = cl->next) {
        b = cl->buf;

        if (ngx_buf_size(b) == 0) {
            /* e.g. the empty last buffer of a chunked body */
            continue;
        }

        if (b->in_file) {
            n = ngx_read_file(b->file, p, (size_t) (b->file_last - b->file_pos),
                              b->file_pos);

            if (n != b->file_last - b->file_pos) {
                ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                              "turso_members: cannot read the request body "
                              "from \"%V\"", &b->file->name);
                return NGX_ERROR;
            }

            p += n;
            continue;
        }

        p = ngx_cpymem(p, b->pos, b->last - b->pos);
    }

    return NGX_OK;
}


/*
 * The body against the route's fields.  NGX_DECLINED: refused, with
 * ctx->code, the validator's message and, when it was valid, the user.
 */

static ngx_int_t
ngx_turso_members_parse_body(ngx_http_request_t *r,
    ngx_turso_members_ctx_t *ctx, ngx_str_t *raw,
    ngx_turso_members_body_t *body)
{
    ngx_int_t  rc;

    /* jansson allocates from the pool: ngx_turso_members_json_allocator() */
    ngx_turso_members_json_allocator(ngx_turso_members_palloc, r->pool);

    rc = ngx_turso_members_json_parse(raw->data, raw->len, &ctx->route->body,
                                      body);

    ngx_turso_members_json_allocator(NULL, NULL);

    /*
     * the role as sent, for $turso_members_requested_role: in the request
     * body or in jansson's memory, both the request pool's
     */

    ctx->requested_role.data = (u_char *) body->requested_role;
    ctx->requested_role.len = body->requested_role_len;

    switch (rc) {

    case NGX_TURSO_MEMBERS_JSON_OK:
        break;

    case NGX_TURSO_MEMBERS_JSON_INVALID_JSON:
        ctx->code = NGX_TURSO_MEMBERS_INVALID_JSON;
        break;

    case NGX_TURSO_MEMBERS_JSON_INVALID_ROLE:
        ctx->code = NGX_TURSO_MEMBERS_INVALID_ROLE;
        break;

    default:
        ctx->code = NGX_TURSO_MEMBERS_INVALID_BODY;
    }

    if (ctx->code != NGX_TURSO_MEMBERS_OK) {

        if (ngx_turso_members_copy(r, &ctx->message, body->error,
                                   ngx_strlen(body->error))
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        /* the error names the user when the username was valid */

        if (body->username_len
            && ngx_turso_members_copy(r, &ctx->username, body->username,
                                      body->username_len)
               != NGX_OK)
        {
            return NGX_ERROR;
        }

        return NGX_DECLINED;
    }

    /* the Node client names the user in the path and in "member" */

    if ((body->present & NGX_TURSO_MEMBERS_FIELD_MEMBER)
        && (body->member_len != ctx->username.len
            || ngx_strncmp(body->member, ctx->username.data,
                           ctx->username.len) != 0))
    {
        ctx->code = NGX_TURSO_MEMBERS_INVALID_BODY;
        ngx_turso_members_message(ctx, "\"member\" in the body does not "
                                  "match the username in the path");
        return NGX_DECLINED;
    }

    if (!(body->present & NGX_TURSO_MEMBERS_FIELD_USERNAME)
        && (ctx->route->body.fields & NGX_TURSO_MEMBERS_FIELD_MEMBER))
    {
        /* forwarded as the documented route, the user in the body */
        ngx_memcpy(body->username, ctx->username.data, ctx->username.len);
        body->username_len = ctx->username.len;
        body->present |= NGX_TURSO_MEMBERS_FIELD_USERNAME;
    }

    return NGX_OK;
}


/* the username and email the request is known by, for logs and errors */

static ngx_int_t
ngx_turso_members_keep_names(ngx_http_request_t *r,
    ngx_turso_members_ctx_t *ctx, ngx_turso_members_body_t *body)
{
    if ((body->present & NGX_TURSO_MEMBERS_FIELD_USERNAME)
        && ngx_turso_members_copy(r, &ctx->username, body->username,
                                  body->username_len)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    if ((body->present & NGX_TURSO_MEMBERS_FIELD_EMAIL)
        && ngx_turso_members_copy(r, &ctx->email, body->email,
                                  body->email_len)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * The canonical body replaces the client's, with its own length: the
 * proxy module sends Content-Length from r->headers_in.content_length_n
 */

static ngx_int_t
ngx_turso_members_set_body(ngx_http_request_t *r,
    ngx_turso_members_ctx_t *ctx, ngx_turso_members_body_t *body)
{
    u_char                   *p;
    size_t                    size, len;
    ngx_buf_t                *b;
    ngx_uint_t                fields;
    ngx_chain_t              *cl;
    ngx_http_request_body_t  *rb;

    fields = ctx->route->body.fields;

    if (fields & NGX_TURSO_MEMBERS_FIELD_MEMBER) {
        fields |= NGX_TURSO_MEMBERS_FIELD_USERNAME;
    }

    /* every string escaped may grow six-fold ("\u00XX") */

    size = sizeof("{\"username\":\"\",\"email\":\"\",\"role\":\"viewer\"}")
           + 6 * (body->username_len + body->email_len);

    p = ngx_pnalloc(r->pool, size);
    if (p == NULL) {
        return NGX_ERROR;
    }

    len = ngx_turso_members_json_write(body, fields, ctx->role, (char *) p,
                                       size);
    if (len == 0) {
        return NGX_ERROR;
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_ERROR;
    }

    b->start = p;
    b->pos = p;
    b->last = p + len;
    b->end = p + len;
    b->temporary = 1;
    b->last_buf = 1;

    cl = ngx_alloc_chain_link(r->pool);
    if (cl == NULL) {
        return NGX_ERROR;
    }

    cl->buf = b;
    cl->next = NULL;

    /*
     * A request body of its own: a mirror the location made before the
     * gateway's handler ran keeps the client's, whole, as its
     * Content-Length says
     */

    rb = ngx_palloc(r->pool, sizeof(ngx_http_request_body_t));
    if (rb == NULL) {
        return NGX_ERROR;
    }

    *rb = *r->request_body;
    rb->bufs = cl;

    r->request_body = rb;
    r->headers_in.content_length_n = len;

    /* the client's header no longer says it: $content_length reads the n */

    r->headers_in.content_length = NULL;

    return NGX_OK;
}


/* the validated request goes upstream: its URI, its id, its headers */

static ngx_int_t
ngx_turso_members_forward(ngx_http_request_t *r, ngx_turso_members_ctx_t *ctx)
{
    ngx_str_t  *authorization;

    authorization = ngx_turso_members_token_use(r, ctx);

    if (authorization == NULL
        || ngx_turso_members_route_upstream_uri(r, ctx) != NGX_OK
        || ngx_turso_members_request_id(r, ctx) != NGX_OK
        || ngx_turso_members_upstream_prepare(r, ctx, authorization)
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "turso_members upstream uri \"%V\"", &ctx->upstream_uri);

    return NGX_OK;
}


/* a message of the handler's own, static */

static void
ngx_turso_members_message(ngx_turso_members_ctx_t *ctx, const char *msg)
{
    ctx->message.data = (u_char *) msg;
    ctx->message.len = ngx_strlen(msg);
}


static ngx_int_t
ngx_turso_members_copy(ngx_http_request_t *r, ngx_str_t *dst,
    const char *src, size_t len)
{
    dst->data = ngx_pnalloc(r->pool, len);
    if (dst->data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(dst->data, src, len);
    dst->len = len;

    return NGX_OK;
}
