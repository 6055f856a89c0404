
/*
 * Copyright (C) ngx_turso_members authors
 *
 * The one error writer: every error a client of the gateway sees, its own
 * and the upstream's, is a JSON object of one shape, written from values
 * the gateway validated.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_turso_members_module.h"


static u_char *ngx_turso_members_error_field(u_char *p, u_char *last,
    ngx_str_t *name, u_char *value, size_t len, ngx_uint_t escape);
static u_char *ngx_turso_members_error_message(ngx_turso_members_ctx_t *ctx,
    ngx_turso_members_code_t *c, u_char *p, u_char *last);


#define ngx_turso_members_code(c, s, m)                                       \
    { ngx_string(c), s, ngx_string(m), 0 }


ngx_turso_members_code_t  ngx_turso_members_codes[] = {
    ngx_turso_members_code("ok", 200, ""),

    ngx_turso_members_code("invalid_json", 400,
                           "request body is not valid JSON"),
    ngx_turso_members_code("invalid_body", 400, "invalid request body"),
    ngx_turso_members_code("invalid_role", 400,
                           "invalid role: must be one of admin, member, "
                           "viewer"),
    ngx_turso_members_code("invalid_organization", 400,
                           "invalid organization: 1 to 64 letters, digits, "
                           "\"-\" or \"_\""),
    ngx_turso_members_code("invalid_username", 400,
                           "invalid username in the path"),
    ngx_turso_members_code("invalid_email", 400,
                           "invalid email in the path"),
    ngx_turso_members_code("role_not_allowed", 403,
                           "role %s may not be granted through this gateway"),
    ngx_turso_members_code("organization_not_allowed", 403,
                           "organization %o may not be managed through "
                           "this gateway"),
    ngx_turso_members_code("operation_not_allowed", 403,
                           "this operation is not allowed through this "
                           "gateway"),
    ngx_turso_members_code("body_too_large", 413,
                           "request body is too large"),
    ngx_turso_members_code("method_not_allowed", 405,
                           "method not allowed on this route"),
    ngx_turso_members_code("route_not_supported", 404,
                           "route not supported by this gateway"),
    ngx_turso_members_code("origin_not_allowed", 403,
                           "this origin may not call the gateway"),

    ngx_turso_members_code("member_exists", 409,
                           "user %u is already a member of organization %o"),
    ngx_turso_members_code("user_not_found", 404, "could not find user %u"),
    ngx_turso_members_code("member_not_found", 404,
                           "user %u is not a member of organization %o"),
    ngx_turso_members_code("invite_not_found", 404,
                           "could not find an invite for %e in "
                           "organization %o"),
    ngx_turso_members_code("organization_not_found", 404,
                           "could not find organization %o"),
    ngx_turso_members_code("not_found", 404, "not found"),
    ngx_turso_members_code("upstream_rejected", 400,
                           "the Turso API rejected the request"),
    ngx_turso_members_code("rate_limited", 429,
                           "the Turso API is rate limiting the gateway"),
    ngx_turso_members_code("upstream_unauthorized", 502,
                           "the gateway's Turso API token was refused"),
    ngx_turso_members_code("upstream_forbidden", 502,
                           "the gateway's Turso API token has no rights on "
                           "organization %o"),
    ngx_turso_members_code("upstream_error", 502,
                           "the Turso API failed"),
    ngx_turso_members_code("upstream_unavailable", 502,
                           "the Turso API is unavailable"),
    ngx_turso_members_code("upstream_timeout", 504,
                           "the Turso API did not answer in time"),

    ngx_turso_members_code("bad_request", 400, "bad request"),
    ngx_turso_members_code("request_timeout", 408,
                           "the request body was not received in time"),
    ngx_turso_members_code("forbidden", 403, "forbidden"),
    ngx_turso_members_code("unauthorized", 401, "authorization required"),
    ngx_turso_members_code("too_many_requests", 429, "too many requests"),
    ngx_turso_members_code("service_unavailable", 503,
                           "service unavailable"),
    ngx_turso_members_code("internal_error", 500, "internal error"),
};


/* at configuration time: which messages can be copied as they are */

void
ngx_turso_members_error_init(void)
{
    ngx_uint_t                 i;
    ngx_turso_members_code_t  *c;

    for (i = 0; i < NGX_TURSO_MEMBERS_CODE_LAST; i++) {
        c = &ngx_turso_members_codes[i];

        c->plain = (ngx_escape_json(NULL, c->message.data, c->message.len)
                    == 0);
    }
}


/*
 * Writes the message of a code, escaped for a JSON string: the
 * validator's own message when there is one, else the code's template
 * with %o (organization), %u (username), %e (email) and %s (role)
 * replaced by the validated values.  The caller gave room for the
 * escaped template and values.
 */

static u_char *
ngx_turso_members_error_message(ngx_turso_members_ctx_t *ctx,
    ngx_turso_members_code_t *c, u_char *p, u_char *last)
{
    u_char     *t, *tlast, *q;
    ngx_str_t   v;

    if (ctx->message.len) {
        return (u_char *) ngx_escape_json(p, ctx->message.data,
                                          ctx->message.len);
    }

    t = c->message.data;
    tlast = t + c->message.len;

    while (t < tlast) {

        if (*t != '%' || t + 1 == tlast) {
            /* the words up to the next "%", in one copy */

            q = memchr(t + 1, '%', tlast - t - 1);
            if (q == NULL) {
                q = tlast;
            }

            if (c->plain) {
                p = ngx_cpymem(p, t, q - t);

            } else {
                p = (u_char *) ngx_escape_json(p, t, q - t);
            }

            t = q;
            continue;
        }

        switch (t[1]) {

        case 'o':
            v = ctx->org;
            break;

        case 'u':
            v = ctx->username;
            break;

        case 'e':
            v = ctx->email;
            break;

        default:
            v.data = (u_char *) ctx->role;
            v.len = ctx->role ? ngx_strlen(ctx->role) : 0;
        }

        t += 2;

        if (v.len == 0) {
            p = ngx_cpymem(p, "(unknown)", sizeof("(unknown)") - 1);
            continue;
        }

        p = (u_char *) ngx_escape_json(p, v.data, v.len);
    }

    return p;
}


static u_char *
ngx_turso_members_error_field(u_char *p, u_char *last, ngx_str_t *name,
    u_char *value, size_t len, ngx_uint_t escape)
{
    size_t   n;
    u_char  *v;

    n = escape ? len + ngx_escape_json(NULL, value, len) : len;

    if (len == 0 || (size_t) (last - p) < name->len + n + 1) {
        /* nothing, or no room: the field is left out, not cut */
        return p;
    }

    v = ngx_cpymem(p, name->data, name->len);

    if (n == len) {
        v = ngx_cpymem(v, value, len);

    } else {
        v = (u_char *) ngx_escape_json(v, value, len);
    }

    *v++ = '"';

    return v;
}


ngx_int_t
ngx_turso_members_error_body(ngx_http_request_t *r,
    ngx_turso_members_ctx_t *ctx, ngx_buf_t **out)
{
    u_char                        *p, *last, *t;
    size_t                         len, n;
    ngx_buf_t                     *b;
    ngx_uint_t                     i, status;
    ngx_turso_members_code_t      *c;
    ngx_turso_members_loc_conf_t  *tlcf;

    static ngx_str_t  fields[] = {
        ngx_string(",\"organization\":\""),
        ngx_string(",\"username\":\""),
        ngx_string(",\"email\":\""),
        ngx_string(",\"request_id\":\"")
    };

    tlcf = ngx_http_get_module_loc_conf(r, ngx_turso_members_module);

    c = &ngx_turso_members_codes[ctx->code];
    status = ctx->http_status ? ctx->http_status : c->status;

    if (ngx_turso_members_request_id(r, ctx) != NGX_OK) {
        ngx_str_null(&ctx->request_id);
    }

    /* the message: its own, or the template and every value it may hold */

    n = ctx->message.len ? ctx->message.len
                         : c->message.len + ctx->org.len + ctx->username.len
                           + ctx->email.len
                           + sizeof("(unknown)viewer(unknown)");

    /* every string escaped may grow six-fold ("\u00XX") */

    len = sizeof("{\"type\":\"urn:ngx-turso-members:error:\",\"title\":\"\""
                 ",\"status\":000,\"detail\":\"\",\"code\":\"\""
                 ",\"organization\":\"\",\"username\":\"\",\"email\":\"\""
                 ",\"request_id\":\"\"}") - 1
          + 6 * (n + ctx->org.len + ctx->username.len + ctx->email.len
                 + ctx->request_id.len)
          + 3 * c->code.len;

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return NGX_ERROR;
    }

    p = b->last;
    last = b->end;

    if (tlcf->error_format == NGX_TURSO_MEMBERS_FORMAT_PROBLEM) {

        /* RFC 9457: the code names the type; its words are the title */

        p = ngx_slprintf(p, last, "{\"type\":\"urn:ngx-turso-members:error:"
                         "%V\",\"title\":\"", &c->code);

        t = p;

        for (i = 0; i < c->code.len; i++) {
            *p++ = (c->code.data[i] == '_') ? ' ' : c->code.data[i];
        }

        *t = ngx_toupper(*t);

        p = ngx_slprintf(p, last, "\",\"status\":%ui,\"detail\":\"",
                         status);
        p = ngx_turso_members_error_message(ctx, c, p, last);
        p = ngx_slprintf(p, last, "\",\"code\":\"%V\"", &c->code);

    } else {
        /* len has room for all of it */

        p = ngx_cpymem(p, "{\"error\":\"", sizeof("{\"error\":\"") - 1);
        p = ngx_turso_members_error_message(ctx, c, p, last);
        p = ngx_cpymem(p, "\",\"code\":\"", sizeof("\",\"code\":\"") - 1);
        p = ngx_cpymem(p, c->code.data, c->code.len);
        p = ngx_cpymem(p, "\",\"status\":", sizeof("\",\"status\":") - 1);

        /* an HTTP status has three digits */
        *p++ = (u_char) ('0' + status / 100 % 10);
        *p++ = (u_char) ('0' + status / 10 % 10);
        *p++ = (u_char) ('0' + status % 10);
    }

    /*
     * an organization kept is 1-64 of [A-Za-z0-9_-], a request id 1-128
     * of [A-Za-z0-9._:-]: nothing to escape
     */

    p = ngx_turso_members_error_field(p, last, &fields[0], ctx->org.data,
                                      ctx->org.len, 0);
    p = ngx_turso_members_error_field(p, last, &fields[1],
                                      ctx->username.data, ctx->username.len,
                                      1);
    p = ngx_turso_members_error_field(p, last, &fields[2], ctx->email.data,
                                      ctx->email.len, 1);
    p = ngx_turso_members_error_field(p, last, &fields[3],
                                      ctx->request_id.data,
                                      ctx->request_id.len, 0);

    if (p < last) {
        *p++ = '}';
    }

    b->last = p;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    *out = b;

    return NGX_OK;
}


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


/* no header of an upstream's answer describes the gateway's own */

void
ngx_turso_members_clear_headers(ngx_http_request_t *r)
{
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

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

        h[i].hash = 0;
    }

    r->headers_out.content_encoding = NULL;
    r->headers_out.location = NULL;
    r->headers_out.refresh = NULL;
    r->headers_out.www_authenticate = NULL;
    r->headers_out.expires = NULL;
    r->headers_out.content_range = NULL;
}


/* answers a request with one of the gateway's own errors */

ngx_int_t
ngx_turso_members_send_error(ngx_http_request_t *r,
    ngx_turso_members_ctx_t *ctx, ngx_uint_t code, ngx_str_t *allow)
{
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_chain_t   out;

    static ngx_str_t  allow_name = ngx_string("Allow");

    ctx->code = code;
    ctx->own_error = 1;

    /* a code answered with its own template has no message to quote */
    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "turso_members: rejected with %ui %V%s%V%s",
                  ngx_turso_members_codes[code].status,
                  &ngx_turso_members_codes[code].code,
                  ctx->message.len ? ": \"" : "", &ctx->message,
                  ctx->message.len ? "\"" : "");

    if (ngx_http_discard_request_body(r) != NGX_OK) {
        r->keepalive = 0;
    }

    if (ngx_turso_members_error_body(r, ctx, &b) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_turso_members_json_headers(r, ctx, b) != NGX_OK) {
        return NGX_ERROR;
    }

    if (allow && allow->len
        && ngx_turso_members_add_header(r, &allow_name, allow) != NGX_OK)
    {
        return NGX_ERROR;
    }

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


/* the code of an upstream error: the status, and for 404 the message */

ngx_uint_t
ngx_turso_members_upstream_code(ngx_http_request_t *r,
    ngx_turso_members_ctx_t *ctx, ngx_uint_t status)
{
    int          found;
    u_char      *p, *last;
    ngx_buf_t   *b;
    char         msg[256];

    switch (status) {

    case NGX_HTTP_CONFLICT:
        if (ctx->route && ctx->route->conflict
                          != NGX_TURSO_MEMBERS_UPSTREAM_REJECTED)
        {
            return ctx->route->conflict;
        }

        ctx->http_status = status;
        return NGX_TURSO_MEMBERS_UPSTREAM_REJECTED;

    case NGX_HTTP_NOT_FOUND:
        break;

    /* the token itself refused; a token without rights there */

    case NGX_HTTP_UNAUTHORIZED:
        return NGX_TURSO_MEMBERS_UPSTREAM_UNAUTHORIZED;

    case NGX_HTTP_FORBIDDEN:
        return NGX_TURSO_MEMBERS_UPSTREAM_FORBIDDEN;

    case NGX_HTTP_TOO_MANY_REQUESTS:
        return NGX_TURSO_MEMBERS_RATE_LIMITED;

    default:
        if (status >= 400 && status < 500) {
            /* the upstream's own 4xx status stays */
            ctx->http_status = status;
            return NGX_TURSO_MEMBERS_UPSTREAM_REJECTED;
        }

        return NGX_TURSO_MEMBERS_UPSTREAM_ERROR;
    }

    /* 404: which thing was not found, when the upstream's answer tells */

    b = ctx->upstream_body;

    if (b == NULL) {
        return NGX_TURSO_MEMBERS_NOT_FOUND;
    }

    ngx_turso_members_json_allocator(ngx_turso_members_palloc, r->pool);

    found = ngx_turso_members_json_error_string(b->pos, b->last - b->pos,
                                                msg, sizeof(msg));

    ngx_turso_members_json_allocator(NULL, NULL);

    if (!found) {
        return NGX_TURSO_MEMBERS_NOT_FOUND;
    }

    p = (u_char *) msg;
    last = p + ngx_strlen(msg);

    if (ngx_strlcasestrn(p, last, (u_char *) "org", 3 - 1) != NULL
        && ngx_strlcasestrn(p, last, (u_char *) "user", 4 - 1) == NULL
        && ngx_strlcasestrn(p, last, (u_char *) "member", 6 - 1) == NULL
        && ngx_strlcasestrn(p, last, (u_char *) "invite", 6 - 1) == NULL)
    {
        return NGX_TURSO_MEMBERS_ORGANIZATION_NOT_FOUND;
    }

    return ctx->route ? ctx->route->not_found : NGX_TURSO_MEMBERS_NOT_FOUND;
}


/* the code of an error page nginx itself produced in a gateway location */

ngx_uint_t
ngx_turso_members_nginx_code(ngx_http_request_t *r, ngx_uint_t status)
{
    switch (status) {

    case NGX_HTTP_BAD_REQUEST:
        return NGX_TURSO_MEMBERS_BAD_REQUEST;

    case NGX_HTTP_UNAUTHORIZED:
        return NGX_TURSO_MEMBERS_UNAUTHORIZED;

    case NGX_HTTP_FORBIDDEN:
        return NGX_TURSO_MEMBERS_FORBIDDEN;

    case NGX_HTTP_NOT_FOUND:
        return NGX_TURSO_MEMBERS_ROUTE_NOT_SUPPORTED;

    case NGX_HTTP_NOT_ALLOWED:
        return NGX_TURSO_MEMBERS_METHOD_NOT_ALLOWED;

    case NGX_HTTP_REQUEST_TIME_OUT:
        return NGX_TURSO_MEMBERS_REQUEST_TIMEOUT;

    case NGX_HTTP_REQUEST_ENTITY_TOO_LARGE:
        return NGX_TURSO_MEMBERS_BODY_TOO_LARGE;

    case NGX_HTTP_TOO_MANY_REQUESTS:
        return NGX_TURSO_MEMBERS_TOO_MANY_REQUESTS;

    case NGX_HTTP_SERVICE_UNAVAILABLE:
        return NGX_TURSO_MEMBERS_SERVICE_UNAVAILABLE;

    case NGX_HTTP_BAD_GATEWAY:
        return NGX_TURSO_MEMBERS_UPSTREAM_UNAVAILABLE;

    case NGX_HTTP_GATEWAY_TIME_OUT:
        return NGX_TURSO_MEMBERS_UPSTREAM_TIMEOUT;

    default:
        if (status >= 400 && status < 500) {
            return NGX_TURSO_MEMBERS_BAD_REQUEST;
        }

        if (status < 400) {
            /* nginx's redirect to the location's own path, with a slash */
            return NGX_TURSO_MEMBERS_ROUTE_NOT_SUPPORTED;
        }

        return NGX_TURSO_MEMBERS_INTERNAL_ERROR;
    }
}
