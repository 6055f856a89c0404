
/*
 * Copyright (C) ngx_turso_members authors
 *
 * The request handler, run after nginx's access checks (pre-content
 * phase): matches the route, applies the policy, reads and validates the
 * body, replaces it with the canonical one and puts the gateway's token
 * in place of the client's Authorization.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_turso_members_module.h"


/* a request header the gateway sets, its hash computed once */
typedef struct {
    ngx_str_t                       key;
    u_char                         *lowcase;
    ngx_uint_t                      hash;
} ngx_turso_members_header_t;


#define NGX_TURSO_MEMBERS_HEADER_CONTENT_LENGTH  0
#define NGX_TURSO_MEMBERS_HEADER_CONTENT_TYPE    1
#define NGX_TURSO_MEMBERS_HEADER_AUTHORIZATION   2
#define NGX_TURSO_MEMBERS_HEADER_REQUEST_ID      3

static u_char  ngx_turso_members_hex[512];

/* the first half of the gateway's request ids: the time and the worker */
static u_char      ngx_turso_members_id_prefix[16];
static time_t      ngx_turso_members_id_time = -1;
static ngx_pid_t   ngx_turso_members_id_pid;

static ngx_turso_members_header_t  ngx_turso_members_headers[] = {
    { ngx_string("Content-Length"), (u_char *) "content-length", 0 },
    { ngx_string("Content-Type"), (u_char *) "content-type", 0 },
    { ngx_string("Authorization"), (u_char *) "authorization", 0 },
    { ngx_string("X-Request-Id"), (u_char *) "x-request-id", 0 }
};


static ngx_int_t ngx_turso_members_reject(ngx_http_request_t *r,
    ngx_turso_members_ctx_t *ctx, ngx_uint_t code, ngx_str_t *allow);
static ngx_int_t ngx_turso_members_no_token(ngx_http_request_t *r,
    ngx_turso_members_ctx_t *ctx);
static ngx_int_t ngx_turso_members_resume(ngx_http_request_t *r,
    ngx_turso_members_ctx_t *ctx);
static void ngx_turso_members_body_handler(ngx_http_request_t *r);
static ngx_int_t ngx_turso_members_process_body(ngx_http_request_t *r,
    ngx_turso_members_ctx_t *ctx);
static ngx_int_t ngx_turso_members_read_body(ngx_http_request_t *r,
    ngx_str_t *body);
static ngx_int_t ngx_turso_members_set_body(ngx_http_request_t *r,
    ngx_buf_t *b, u_char *digits, u_char *data, size_t len);
static ngx_int_t ngx_turso_members_forward(ngx_http_request_t *r,
    ngx_turso_members_ctx_t *ctx);
static ngx_int_t ngx_turso_members_set_header(ngx_http_request_t *r,
    ngx_table_elt_t **slot, ngx_uint_t header, ngx_str_t *value);
static void ngx_turso_members_message(ngx_turso_members_ctx_t *ctx,
    const char *msg);
static ngx_int_t ngx_turso_members_copy(ngx_http_request_t *r,
    ngx_str_t *dst, const char *src, size_t len);
static ngx_uint_t ngx_turso_members_policy(ngx_http_request_t *r,
    ngx_turso_members_ctx_t *ctx, ngx_uint_t code);
static ngx_int_t ngx_turso_members_set_request_id(ngx_http_request_t *r,
    ngx_turso_members_ctx_t *ctx);
static u_char *ngx_turso_members_hex32(u_char *p, uint32_t v);
static ngx_uint_t ngx_turso_members_request_id_headers(ngx_http_request_t *r,
    ngx_str_t *value, ngx_table_elt_t **last);


ngx_int_t
ngx_turso_members_handler(ngx_http_request_t *r)
{
    ngx_int_t                      rc;
    ngx_str_t                      allow;
    ngx_uint_t                     code;
    ngx_turso_members_ctx_t       *ctx;
    ngx_turso_members_loc_conf_t  *tlcf;

    tlcf = ngx_http_get_module_loc_conf(r, ngx_turso_members_module);

    if (!tlcf->enable) {
        return NGX_DECLINED;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_turso_members_module);

    if (ctx) {
        /* the phases run again once the body is read */
        return ngx_turso_members_resume(r, ctx);
    }

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_turso_members_ctx_t));
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->status = NGX_DONE;

    ngx_http_set_ctx(r, ctx, ngx_turso_members_module);

    if (r != r->main) {
        /* a subrequest must not become a way around the checks */
        return ngx_turso_members_reject(r, ctx, NGX_TURSO_MEMBERS_FORBIDDEN,
                                        NULL);
    }

    ngx_str_null(&allow);

    code = ngx_turso_members_route_find(r, ctx, &allow);

    if (code != NGX_TURSO_MEMBERS_OK) {
        return ngx_turso_members_reject(r, ctx, code, &allow);
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "turso_members route \"%V\" org \"%V\"",
                   &ctx->route->operation, &ctx->org);

    rc = ngx_turso_members_policy_check(r, ctx, &code);

    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc == 0 && ngx_turso_members_policy(r, ctx, code)) {
        return ngx_turso_members_reject(r, ctx, code, NULL);
    }

    /* no token for the organization: refused whatever the mode */

    ctx->token = ngx_turso_members_token_find(r, tlcf, &ctx->org);

    if (ctx->token == NULL) {
        return ngx_turso_members_no_token(r, ctx);
    }

    if (ctx->route->body.fields == 0) {

        if (r->headers_in.content_length_n > 0 || r->headers_in.chunked) {
            ngx_turso_members_message(ctx,
                                      "this route takes no request body");
            return ngx_turso_members_reject(r, ctx,
                                            NGX_TURSO_MEMBERS_INVALID_BODY,
                                            NULL);
        }

        rc = ngx_turso_members_forward(r, ctx);

        if (rc != NGX_DECLINED) {
            return rc;
        }

        ctx->status = NGX_DECLINED;
        return NGX_DECLINED;
    }

    /* too large by its Content-Length: answered before reading the body */

    if (r->headers_in.content_length_n > (off_t) tlcf->max_body_size) {
        return ngx_turso_members_reject(r, ctx,
                                        NGX_TURSO_MEMBERS_BODY_TOO_LARGE,
                                        NULL);
    }

    ctx->reading = 1;

    rc = ngx_http_read_client_request_body(r, ngx_turso_members_body_handler);

    ctx->reading = 0;

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    if (ctx->body_done) {
        /* read in one go, handled already: on in this run of the phases */
        return ngx_turso_members_resume(r, ctx);
    }

    ngx_http_finalize_request(r, NGX_DONE);
    return NGX_DONE;
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
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->message.data = p;
    ctx->message.len = ngx_sprintf(p, "the gateway holds no token for "
                                   "organization %V", &ctx->org) - p;

    return ngx_turso_members_reject(r, ctx,
                                    NGX_TURSO_MEMBERS_ORGANIZATION_NOT_ALLOWED,
                                    NULL);
}


/* what the handler says once the body has been handled */

static ngx_int_t
ngx_turso_members_resume(ngx_http_request_t *r, ngx_turso_members_ctx_t *ctx)
{
    if (ctx->code != NGX_TURSO_MEMBERS_OK && !ctx->own_error) {
        return ngx_turso_members_reject(r, ctx, ctx->code, NULL);
    }

    return ctx->status;
}


static ngx_int_t
ngx_turso_members_reject(ngx_http_request_t *r, ngx_turso_members_ctx_t *ctx,
    ngx_uint_t code, ngx_str_t *allow)
{
    ngx_int_t  rc;

    if (r->request_body == NULL) {
        /* no "100 Continue" for a body that will be thrown away */
        r->expect_tested = 1;
    }

    rc = ngx_turso_members_send_error(r, ctx, code, allow);

    ngx_http_finalize_request(r, rc);

    return NGX_DONE;
}


static void
ngx_turso_members_body_handler(ngx_http_request_t *r)
{
    ngx_turso_members_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_turso_members_module);

    ctx->status = ngx_turso_members_process_body(r, ctx);

    r->preserve_body = 1;
    ctx->body_done = 1;

    if (ctx->reading) {
        /*
         * Called from ngx_http_read_client_request_body() in the handler,
         * which goes on without ngx_http_finalize_request(r, NGX_DONE):
         * the reference that function took is given back here (as
         * lua-nginx-module does)
         */
        r->main->count--;
        return;
    }

    if (ctx->status == NGX_DECLINED) {
        /* what the handler would say if run again: the next handler */
        r->phase_handler++;
    }

    r->write_event_handler = ngx_http_core_run_phases;
    ngx_http_core_run_phases(r);
}


static ngx_int_t
ngx_turso_members_process_body(ngx_http_request_t *r,
    ngx_turso_members_ctx_t *ctx)
{
    u_char                            *p;
    size_t                             size;
    ngx_int_t                          rc;
    ngx_str_t                          raw;
    ngx_buf_t                         *b;
    ngx_uint_t                         fields;
    const char                        *role;
    ngx_turso_members_body_t           body;
    ngx_turso_members_loc_conf_t      *tlcf;
    const ngx_turso_members_route_t   *rt;

    tlcf = ngx_http_get_module_loc_conf(r, ngx_turso_members_module);
    rt = ctx->route;

    rc = ngx_turso_members_read_body(r, &raw);

    if (rc != NGX_OK) {
        if (rc == NGX_DECLINED) {
            ctx->code = NGX_TURSO_MEMBERS_BODY_TOO_LARGE;
            return NGX_DONE;
        }

        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /*
     * The parsed body is on the stack (it has room for the longest of
     * every field, more than a request pool should give up): what outlives
     * this function is copied.
     */

    ngx_turso_members_json_allocator(ngx_turso_members_palloc, r->pool);

    rc = ngx_turso_members_json_parse(raw.data, raw.len, &rt->body, &body);

    ngx_turso_members_json_allocator(NULL, NULL);

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
        if (ngx_turso_members_copy(r, &ctx->message, body.error,
                                   ngx_strlen(body.error))
            != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        /* the error names the user when the username was valid */

        if (body.username_len
            && ngx_turso_members_copy(r, &ctx->username, body.username,
                                      body.username_len)
               != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return NGX_DONE;
    }

    /* the Node client names the user in the path and in "member" */

    if (body.present & NGX_TURSO_MEMBERS_FIELD_MEMBER) {
        if (body.member_len != ctx->username.len
            || ngx_strncmp(body.member, ctx->username.data,
                           ctx->username.len) != 0)
        {
            ctx->code = NGX_TURSO_MEMBERS_INVALID_BODY;
            ngx_turso_members_message(ctx, "\"member\" in the body does "
                                      "not match the username in the path");
            return NGX_DONE;
        }
    }

    if (!(body.present & NGX_TURSO_MEMBERS_FIELD_USERNAME)
        && (rt->body.fields & NGX_TURSO_MEMBERS_FIELD_MEMBER))
    {
        /* forwarded as the documented route, the user in the body */
        ngx_memcpy(body.username, ctx->username.data, ctx->username.len);
        body.username_len = ctx->username.len;
        body.present |= NGX_TURSO_MEMBERS_FIELD_USERNAME;
    }

    size = sizeof("{\"username\":\"\",\"email\":\"\",\"role\":\"viewer\"}")
           + 6 * (body.username_len + body.email_len);

    /*
     * In one piece: the buffer, its link, the Content-Length, the
     * canonical body, and the username and email the request is known by
     */

    b = ngx_palloc(r->pool, sizeof(ngx_buf_t) + sizeof(ngx_chain_t)
                            + NGX_SIZE_T_LEN + size
                            + body.username_len + body.email_len);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = (u_char *) b + sizeof(ngx_buf_t) + sizeof(ngx_chain_t)
        + NGX_SIZE_T_LEN;

    if (body.present & NGX_TURSO_MEMBERS_FIELD_USERNAME) {
        ctx->username.data = p + size;
        ctx->username.len = body.username_len;
        ngx_memcpy(ctx->username.data, body.username, body.username_len);
    }

    if (body.present & NGX_TURSO_MEMBERS_FIELD_EMAIL) {
        ctx->email.data = p + size + body.username_len;
        ctx->email.len = body.email_len;
        ngx_memcpy(ctx->email.data, body.email, body.email_len);
    }

    role = body.role;

    if (role == NULL && rt->default_role) {
        role = tlcf->default_role;
    }

    ctx->role = role;

    if (role) {
        rc = ngx_turso_members_role_allowed(r, role);

        if (rc == NGX_ERROR) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (rc == 0
            && ngx_turso_members_policy(r, ctx,
                                        NGX_TURSO_MEMBERS_ROLE_NOT_ALLOWED))
        {
            ctx->code = NGX_TURSO_MEMBERS_ROLE_NOT_ALLOWED;
            return NGX_DONE;
        }
    }

    fields = rt->body.fields;

    if (fields & NGX_TURSO_MEMBERS_FIELD_MEMBER) {
        fields |= NGX_TURSO_MEMBERS_FIELD_USERNAME;
    }

    size = ngx_turso_members_json_write(&body, fields, role, (char *) p,
                                        size);
    if (size == 0) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_turso_members_set_body(r, b, p - NGX_SIZE_T_LEN, p, size)
        != NGX_OK)
    {
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


/* the canonical body replaces the client's, with its own length */

static ngx_int_t
ngx_turso_members_set_body(ngx_http_request_t *r, ngx_buf_t *b,
    u_char *digits, u_char *data, size_t len)
{
    ngx_chain_t  *cl;
    ngx_str_t     value;

    ngx_memzero(b, sizeof(ngx_buf_t));

    b->start = data;
    b->pos = data;
    b->last = data + len;
    b->end = data + len;
    b->temporary = 1;
    b->last_buf = 1;

    cl = (ngx_chain_t *) (b + 1);

    cl->buf = b;
    cl->next = NULL;

    r->request_body->bufs = cl;

    /* the proxy module sends r->headers_in.content_length_n */

    r->headers_in.content_length_n = len;

    /* the digits, from the last one */

    value.data = digits + NGX_SIZE_T_LEN;

    do {
        *--value.data = (u_char) ('0' + len % 10);
        len /= 10;
    } while (len);

    value.len = digits + NGX_SIZE_T_LEN - value.data;

    return ngx_turso_members_set_header(r, &r->headers_in.content_length,
                                        NGX_TURSO_MEMBERS_HEADER_CONTENT_LENGTH,
                                        &value);
}


static ngx_int_t
ngx_turso_members_forward(ngx_http_request_t *r, ngx_turso_members_ctx_t *ctx)
{
    ngx_str_t  json;

    if (ngx_turso_members_route_upstream_uri(r, ctx) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_turso_members_request_id(r, ctx) != NGX_OK
        || ngx_turso_members_set_request_id(r, ctx) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_turso_members_set_header(r, &r->headers_in.authorization,
                                     NGX_TURSO_MEMBERS_HEADER_AUTHORIZATION,
                                     ngx_turso_members_token_get(r,
                                                                 ctx->token))
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ctx->route->body.fields) {
        ngx_str_set(&json, "application/json");

        if (ngx_turso_members_set_header(r, &r->headers_in.content_type,
                                         NGX_TURSO_MEMBERS_HEADER_CONTENT_TYPE,
                                         &json)
            != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "turso_members upstream uri \"%V\"", &ctx->upstream_uri);

    return NGX_DECLINED;
}


/*
 * At configuration time: the hashes of the headers the gateway sets, and
 * the two hex digits of every byte, for request ids.
 */

void
ngx_turso_members_handler_init(void)
{
    ngx_uint_t                   i;
    ngx_turso_members_header_t  *h;

    static u_char  hex[] = "0123456789abcdef";

    for (i = 0; i < sizeof(ngx_turso_members_headers)
                    / sizeof(ngx_turso_members_header_t); i++)
    {
        h = &ngx_turso_members_headers[i];
        h->hash = ngx_hash_key(h->lowcase, h->key.len);
    }

    for (i = 0; i < 256; i++) {
        ngx_turso_members_hex[2 * i] = hex[i >> 4];
        ngx_turso_members_hex[2 * i + 1] = hex[i & 0xf];
    }
}


/* replaces the value of a request header, adding it when it is missing */

static ngx_int_t
ngx_turso_members_set_header(ngx_http_request_t *r, ngx_table_elt_t **slot,
    ngx_uint_t header, ngx_str_t *value)
{
    ngx_table_elt_t             *h;
    ngx_turso_members_header_t  *th;

    h = *slot;

    if (h == NULL) {
        h = ngx_list_push(&r->headers_in.headers);
        if (h == NULL) {
            return NGX_ERROR;
        }

        th = &ngx_turso_members_headers[header];

        /* static memory: nginx only reads a request header's names */
        h->key = th->key;
        h->lowcase_key = th->lowcase;
        h->hash = th->hash;
#if (nginx_version >= 1023000)
        h->next = NULL;
#endif

        *slot = h;
    }

    h->value = *value;

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


/*
 * A policy rejection: 1 to reject; in report mode it is logged and
 * counted, and the request goes on.
 */

static ngx_uint_t
ngx_turso_members_policy(ngx_http_request_t *r, ngx_turso_members_ctx_t *ctx,
    ngx_uint_t code)
{
    ngx_turso_members_loc_conf_t  *tlcf;

    tlcf = ngx_http_get_module_loc_conf(r, ngx_turso_members_module);

    if (tlcf->mode != NGX_TURSO_MEMBERS_MODE_REPORT) {
        return 1;
    }

    ctx->report = code;

    ngx_turso_members_metrics_report(r, code);

    ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                  "turso_members: report mode: would reject %V with %ui %V "
                  "(organization \"%V\")", &ctx->route->operation,
                  ngx_turso_members_codes[code].status,
                  &ngx_turso_members_codes[code].code, &ctx->org);

    return 0;
}


/*
 * The request's id: the client's X-Request-Id when it is a sane token,
 * else one of the gateway's.  It goes upstream and into every error.
 */

ngx_int_t
ngx_turso_members_request_id(ngx_http_request_t *r,
    ngx_turso_members_ctx_t *ctx)
{
    u_char           *p, *last;
    time_t            now;
    ngx_table_elt_t  *client;

    if (ctx->request_id.len) {
        return NGX_OK;
    }

    ctx->id_headers = ngx_turso_members_request_id_headers(r, NULL, &client);
    ctx->id_header = client;

    /* one client id, and a sane one, or none */

    if (ctx->id_headers == 1 && client->value.len
        && client->value.len <= 128)
    {
        p = client->value.data;
        last = p + client->value.len;

        while (p < last
               && ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
                   || (*p >= '0' && *p <= '9')
                   || *p == '-' || *p == '_' || *p == '.' || *p == ':'))
        {
            p++;
        }

        if (p == last) {
            ctx->request_id = client->value;
            return NGX_OK;
        }
    }

    /*
     * Unique on the host without nginx's $request_id, whose 16 random
     * bytes cost OpenSSL's RAND_bytes() on every request: the time, the
     * worker, the connection (a counter shared by the workers) and the
     * request on it.
     */

    now = ngx_time();

    if (now != ngx_turso_members_id_time || ngx_pid != ngx_turso_members_id_pid)
    {
        /* the digits of the time and the worker, for a second */
        (void) ngx_turso_members_hex32(ngx_turso_members_id_prefix,
                                       (uint32_t) now);
        (void) ngx_turso_members_hex32(ngx_turso_members_id_prefix + 8,
                                       (uint32_t) ngx_pid);
        ngx_turso_members_id_time = now;
        ngx_turso_members_id_pid = ngx_pid;
    }

    p = ngx_cpymem(ctx->id, ngx_turso_members_id_prefix, 16);
    ctx->request_id.data = ctx->id;

    p = ngx_turso_members_hex32(p, (uint32_t) r->connection->number);
    p = ngx_turso_members_hex32(p, (uint32_t) r->connection->requests);

    ctx->request_id.len = p - ctx->request_id.data;

    return NGX_OK;
}


/* eight lower-case hex digits, as ngx_hex_dump() writes 4 bytes */

static u_char *
ngx_turso_members_hex32(u_char *p, uint32_t v)
{
    ngx_memcpy(p, &ngx_turso_members_hex[2 * (v >> 24)], 2);
    ngx_memcpy(p + 2, &ngx_turso_members_hex[2 * ((v >> 16) & 0xff)], 2);
    ngx_memcpy(p + 4, &ngx_turso_members_hex[2 * ((v >> 8) & 0xff)], 2);
    ngx_memcpy(p + 6, &ngx_turso_members_hex[2 * (v & 0xff)], 2);

    return p + 8;
}


/* jansson allocates from the request's pool while it parses */

void *
ngx_turso_members_palloc(void *pool, size_t size)
{
    return ngx_palloc(pool, size);
}


/* every X-Request-Id the upstream gets carries the request's id */

static ngx_int_t
ngx_turso_members_set_request_id(ngx_http_request_t *r,
    ngx_turso_members_ctx_t *ctx)
{
    ngx_table_elt_t  *h;

    /* ngx_turso_members_request_id() counted the client's */

    if (ctx->id_headers > 1) {
        (void) ngx_turso_members_request_id_headers(r, &ctx->request_id, &h);
        return NGX_OK;
    }

    return ngx_turso_members_set_header(r, &ctx->id_header,
                                        NGX_TURSO_MEMBERS_HEADER_REQUEST_ID,
                                        &ctx->request_id);
}


/*
 * Counts the client's X-Request-Id headers, gives the last one and, with
 * a value, sets them all to it.
 */

static ngx_uint_t
ngx_turso_members_request_id_headers(ngx_http_request_t *r, ngx_str_t *value,
    ngx_table_elt_t **last)
{
    ngx_uint_t        i, n;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    n = 0;
    *last = NULL;

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

        if (h[i].key.len == sizeof("X-Request-Id") - 1
            && (h[i].key.data[0] | 0x20) == 'x'
            && ngx_strncasecmp(h[i].key.data, (u_char *) "X-Request-Id",
                               sizeof("X-Request-Id") - 1) == 0)
        {
            if (value) {
                h[i].value = *value;
            }

            *last = &h[i];
            n++;
        }
    }

    return n;
}
