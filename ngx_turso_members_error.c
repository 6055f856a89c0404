
/*
 * Copyright (C) ngx_turso_members authors
 *
 * The error codes: their table, how statuses map to them, and the body
 * that carries one.  Every error a client of the gateway sees, its own
 * and the upstream's, is a JSON object of one shape, written from values
 * the gateway validated.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_turso_members_module.h"


static size_t ngx_turso_members_error_size(ngx_turso_members_ctx_t *ctx,
    ngx_turso_members_code_t *c);
static u_char *ngx_turso_members_error_turso(ngx_turso_members_ctx_t *ctx,
    ngx_turso_members_code_t *c, ngx_uint_t status, u_char *p, u_char *last);
static u_char *ngx_turso_members_error_problem(ngx_turso_members_ctx_t *ctx,
    ngx_turso_members_code_t *c, ngx_uint_t status, u_char *p, u_char *last);
static u_char *ngx_turso_members_error_fields(ngx_turso_members_ctx_t *ctx,
    u_char *p, u_char *last);
static u_char *ngx_turso_members_error_message(ngx_turso_members_ctx_t *ctx,
    ngx_turso_members_code_t *c, u_char *p, u_char *last);
static u_char *ngx_turso_members_escape(u_char *p, u_char *s, size_t len);
static u_char *ngx_turso_members_error_field(u_char *p, u_char *last,
    ngx_str_t *name, u_char *value, size_t len, ngx_uint_t escape);
static ngx_uint_t ngx_turso_members_not_found_code(ngx_http_request_t *r,
    ngx_turso_members_ctx_t *ctx);


#define ngx_turso_members_code(c, s, m)                                       \
    { ngx_string(c), s, ngx_string(m), 0, ngx_null_string, { 0 } }


ngx_turso_members_code_t  ngx_turso_members_codes[] = {
    [NGX_TURSO_MEMBERS_OK] =
        ngx_turso_members_code("ok", 200, ""),

    [NGX_TURSO_MEMBERS_INVALID_JSON] =
        ngx_turso_members_code("invalid_json", 400,
                               "request body is not valid JSON"),
    [NGX_TURSO_MEMBERS_INVALID_BODY] =
        ngx_turso_members_code("invalid_body", 400, "invalid request body"),
    [NGX_TURSO_MEMBERS_INVALID_ROLE] =
        ngx_turso_members_code("invalid_role", 400,
                               "invalid role: must be one of admin, member, "
                               "viewer"),
    [NGX_TURSO_MEMBERS_INVALID_ORGANIZATION] =
        ngx_turso_members_code("invalid_organization", 400,
                               "invalid organization: 1 to 64 letters, "
                               "digits, \"-\" or \"_\""),
    [NGX_TURSO_MEMBERS_INVALID_USERNAME] =
        ngx_turso_members_code("invalid_username", 400,
                               "invalid username in the path"),
    [NGX_TURSO_MEMBERS_INVALID_EMAIL] =
        ngx_turso_members_code("invalid_email", 400,
                               "invalid email in the path"),
    [NGX_TURSO_MEMBERS_ROLE_NOT_ALLOWED] =
        ngx_turso_members_code("role_not_allowed", 403,
                               "role %s may not be granted through this "
                               "gateway"),
    [NGX_TURSO_MEMBERS_ORGANIZATION_NOT_ALLOWED] =
        ngx_turso_members_code("organization_not_allowed", 403,
                               "organization %o may not be managed through "
                               "this gateway"),
    [NGX_TURSO_MEMBERS_OPERATION_NOT_ALLOWED] =
        ngx_turso_members_code("operation_not_allowed", 403,
                               "this operation is not allowed through this "
                               "gateway"),
    [NGX_TURSO_MEMBERS_BODY_TOO_LARGE] =
        ngx_turso_members_code("body_too_large", 413,
                               "request body is too large"),
    [NGX_TURSO_MEMBERS_METHOD_NOT_ALLOWED] =
        ngx_turso_members_code("method_not_allowed", 405,
                               "method not allowed on this route"),
    [NGX_TURSO_MEMBERS_ROUTE_NOT_SUPPORTED] =
        ngx_turso_members_code("route_not_supported", 404,
                               "route not supported by this gateway"),
    [NGX_TURSO_MEMBERS_ORIGIN_NOT_ALLOWED] =
        ngx_turso_members_code("origin_not_allowed", 403,
                               "this origin may not call the gateway"),

    [NGX_TURSO_MEMBERS_MEMBER_EXISTS] =
        ngx_turso_members_code("member_exists", 409,
                               "user %u is already a member of organization "
                               "%o"),
    [NGX_TURSO_MEMBERS_USER_NOT_FOUND] =
        ngx_turso_members_code("user_not_found", 404, "could not find user %u"),
    [NGX_TURSO_MEMBERS_MEMBER_NOT_FOUND] =
        ngx_turso_members_code("member_not_found", 404,
                               "user %u is not a member of organization %o"),
    [NGX_TURSO_MEMBERS_INVITE_NOT_FOUND] =
        ngx_turso_members_code("invite_not_found", 404,
                               "could not find an invite for %e in "
                               "organization %o"),
    [NGX_TURSO_MEMBERS_ORGANIZATION_NOT_FOUND] =
        ngx_turso_members_code("organization_not_found", 404,
                               "could not find organization %o"),
    [NGX_TURSO_MEMBERS_NOT_FOUND] =
        ngx_turso_members_code("not_found", 404, "not found"),
    [NGX_TURSO_MEMBERS_UPSTREAM_REJECTED] =
        ngx_turso_members_code("upstream_rejected", 400,
                               "the Turso API rejected the request"),
    [NGX_TURSO_MEMBERS_RATE_LIMITED] =
        ngx_turso_members_code("rate_limited", 429,
                               "the Turso API is rate limiting the gateway"),
    [NGX_TURSO_MEMBERS_UPSTREAM_UNAUTHORIZED] =
        ngx_turso_members_code("upstream_unauthorized", 502,
                               "the gateway's Turso API token was refused"),
    [NGX_TURSO_MEMBERS_UPSTREAM_FORBIDDEN] =
        ngx_turso_members_code("upstream_forbidden", 502,
                               "the gateway's Turso API token has no rights "
                               "on organization %o"),
    [NGX_TURSO_MEMBERS_UPSTREAM_ERROR] =
        ngx_turso_members_code("upstream_error", 502, "the Turso API failed"),
    [NGX_TURSO_MEMBERS_UPSTREAM_UNAVAILABLE] =
        ngx_turso_members_code("upstream_unavailable", 502,
                               "the Turso API is unavailable"),
    [NGX_TURSO_MEMBERS_UPSTREAM_TIMEOUT] =
        ngx_turso_members_code("upstream_timeout", 504,
                               "the Turso API did not answer in time"),

    [NGX_TURSO_MEMBERS_BAD_REQUEST] =
        ngx_turso_members_code("bad_request", 400, "bad request"),
    [NGX_TURSO_MEMBERS_REQUEST_TIMEOUT] =
        ngx_turso_members_code("request_timeout", 408,
                               "the request body was not received in time"),
    [NGX_TURSO_MEMBERS_FORBIDDEN] =
        ngx_turso_members_code("forbidden", 403, "forbidden"),
    [NGX_TURSO_MEMBERS_UNAUTHORIZED] =
        ngx_turso_members_code("unauthorized", 401, "authorization required"),
    [NGX_TURSO_MEMBERS_TOO_MANY_REQUESTS] =
        ngx_turso_members_code("too_many_requests", 429, "too many requests"),
    [NGX_TURSO_MEMBERS_SERVICE_UNAVAILABLE] =
        ngx_turso_members_code("service_unavailable", 503,
                               "service unavailable"),
    [NGX_TURSO_MEMBERS_INTERNAL_ERROR] =
        ngx_turso_members_code("internal_error", 500, "internal error"),
};

/* a code added to the enum and not here fails the build */
typedef char  ngx_turso_members_codes_complete[
    sizeof(ngx_turso_members_codes) / sizeof(ngx_turso_members_codes[0])
    == NGX_TURSO_MEMBERS_CODE_LAST ? 1 : -1];


/*
 * At configuration time: which messages can be copied as they are.  A
 * code left out of the table's middle (the size check sees only its end)
 * becomes internal_error, and nginx -t says so.
 */

void
ngx_turso_members_error_init(void)
{
    ngx_uint_t                 i;
    ngx_turso_members_code_t  *c;

    for (i = 0; i < NGX_TURSO_MEMBERS_CODE_LAST; i++) {
        c = &ngx_turso_members_codes[i];

        if (c->code.len == 0) {
            ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, 0,
                          "turso_members: error code %ui has no row in "
                          "ngx_turso_members_codes[]", i);

            *c = ngx_turso_members_codes[NGX_TURSO_MEMBERS_INTERNAL_ERROR];
        }

        c->plain = (ngx_escape_json(NULL, c->message.data, c->message.len)
                    == 0);

        /* every error's own status, formatted once rather than per answer */

        c->tail.data = c->tail_buf;
        c->tail.len = ngx_snprintf(c->tail_buf, sizeof(c->tail_buf),
                                   "\",\"code\":\"%V\",\"status\":%ui",
                                   &c->code, c->status)
                      - c->tail_buf;
    }
}


/* the body of ctx->code's error, in the location's format */

ngx_int_t
ngx_turso_members_error_body(ngx_http_request_t *r,
    ngx_turso_members_ctx_t *ctx, ngx_buf_t **out)
{
    u_char                        *p, *last;
    ngx_buf_t                     *b;
    ngx_uint_t                     status;
    ngx_turso_members_code_t      *c;
    ngx_turso_members_loc_conf_t  *tlcf;

    tlcf = ngx_http_get_module_loc_conf(r, ngx_turso_members_module);

    c = &ngx_turso_members_codes[ctx->code];
    status = ctx->http_status ? ctx->http_status : c->status;

    if (ngx_turso_members_request_id(r, ctx) != NGX_OK) {
        ngx_str_null(&ctx->request_id);
    }

    b = ngx_create_temp_buf(r->pool, ngx_turso_members_error_size(ctx, c));
    if (b == NULL) {
        return NGX_ERROR;
    }

    p = b->last;
    last = b->end;

    if (tlcf->error_format == NGX_TURSO_MEMBERS_FORMAT_PROBLEM) {
        p = ngx_turso_members_error_problem(ctx, c, status, p, last);

    } else {
        p = ngx_turso_members_error_turso(ctx, c, status, p, last);
    }

    p = ngx_turso_members_error_fields(ctx, p, last);

    if (p < last) {
        *p++ = '}';
    }

    b->last = p;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    *out = b;

    return NGX_OK;
}


/* the room an error body may take, in either format */

static size_t
ngx_turso_members_error_size(ngx_turso_members_ctx_t *ctx,
    ngx_turso_members_code_t *c)
{
    size_t  n;

    /* the message: its own, or the template and every value it may hold */

    n = ctx->message.len ? ctx->message.len
                         : c->message.len + ctx->org.len + ctx->username.len
                           + ctx->email.len
                           + sizeof("(unknown)viewer(unknown)");

    /* every string escaped may grow six-fold ("\u00XX") */

    return sizeof("{\"type\":\"urn:ngx-turso-members:error:\",\"title\":\"\""
                  ",\"status\":000,\"detail\":\"\",\"code\":\"\""
                  ",\"organization\":\"\",\"username\":\"\",\"email\":\"\""
                  ",\"request_id\":\"\"}") - 1
           + 6 * (n + ctx->org.len + ctx->username.len + ctx->email.len
                  + ctx->request_id.len)
           + 3 * c->code.len;
}


/* Turso's own shape: {"error":"<message>","code":"...","status":N */

static u_char *
ngx_turso_members_error_turso(ngx_turso_members_ctx_t *ctx,
    ngx_turso_members_code_t *c, ngx_uint_t status, u_char *p, u_char *last)
{
    p = ngx_cpymem(p, "{\"error\":\"", sizeof("{\"error\":\"") - 1);
    p = ngx_turso_members_error_message(ctx, c, p, last);

    if (status == c->status) {
        return ngx_cpymem(p, c->tail.data, c->tail.len);
    }

    return ngx_slprintf(p, last, "\",\"code\":\"%V\",\"status\":%ui",
                        &c->code, status);
}


/* RFC 9457: the code names the type; its words are the title */

static u_char *
ngx_turso_members_error_problem(ngx_turso_members_ctx_t *ctx,
    ngx_turso_members_code_t *c, ngx_uint_t status, u_char *p, u_char *last)
{
    u_char      *t;
    ngx_uint_t   i;

    p = ngx_slprintf(p, last, "{\"type\":\"urn:ngx-turso-members:error:"
                     "%V\",\"title\":\"", &c->code);

    t = p;

    for (i = 0; i < c->code.len; i++) {
        *p++ = (c->code.data[i] == '_') ? ' ' : c->code.data[i];
    }

    *t = ngx_toupper(*t);

    p = ngx_slprintf(p, last, "\",\"status\":%ui,\"detail\":\"", status);
    p = ngx_turso_members_error_message(ctx, c, p, last);

    return ngx_slprintf(p, last, "\",\"code\":\"%V\"", &c->code);
}


/*
 * The values the error is about, each when known.  An organization kept
 * is 1-64 of [A-Za-z0-9_-], a request id 1-128 of [A-Za-z0-9._:-]:
 * nothing to escape.
 */

static u_char *
ngx_turso_members_error_fields(ngx_turso_members_ctx_t *ctx, u_char *p,
    u_char *last)
{
    static ngx_str_t  fields[] = {
        ngx_string(",\"organization\":\""),
        ngx_string(",\"username\":\""),
        ngx_string(",\"email\":\""),
        ngx_string(",\"request_id\":\"")
    };

    p = ngx_turso_members_error_field(p, last, &fields[0], ctx->org.data,
                                      ctx->org.len, 0);
    p = ngx_turso_members_error_field(p, last, &fields[1],
                                      ctx->username.data, ctx->username.len,
                                      1);
    p = ngx_turso_members_error_field(p, last, &fields[2], ctx->email.data,
                                      ctx->email.len, 1);

    return ngx_turso_members_error_field(p, last, &fields[3],
                                         ctx->request_id.data,
                                         ctx->request_id.len, 0);
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
    u_char      *t, *tlast, *q;
    ngx_str_t    v;
    ngx_uint_t   escape;

    if (ctx->message.len) {
        return ngx_turso_members_escape(p, ctx->message.data,
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

        escape = 1;

        switch (t[1]) {

        case 'o':
            /* nothing to escape (ngx_turso_members_error_fields) */
            v = ctx->org;
            escape = 0;
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

        p = escape ? (u_char *) ngx_escape_json(p, v.data, v.len)
                   : ngx_cpymem(p, v.data, v.len);
    }

    return p;
}


/*
 * ,"name":"value": escaped when it may need it (six times as long at
 * most, the room ngx_turso_members_error_size() gives); left out when
 * empty
 */

static u_char *
ngx_turso_members_error_field(u_char *p, u_char *last, ngx_str_t *name,
    u_char *value, size_t len, ngx_uint_t escape)
{
    if (len == 0
        || (size_t) (last - p) < name->len + (escape ? 6 * len : len) + 1)
    {
        /* nothing, or no room: the field is left out, not cut */
        return p;
    }

    p = ngx_cpymem(p, name->data, name->len);

    p = escape ? (u_char *) ngx_escape_json(p, value, len)
               : ngx_cpymem(p, value, len);

    *p++ = '"';

    return p;
}


/*
 * ngx_escape_json(), but a copy when nothing needs escaping, as in most
 * messages: on a message's few dozen bytes a look at each costs half
 * nginx's escape loop (short values are escaped at once)
 */

static u_char *
ngx_turso_members_escape(u_char *p, u_char *s, size_t len)
{
    size_t  i;

    for (i = 0; i < len; i++) {
        if (s[i] < 0x20 || s[i] == '"' || s[i] == '\\') {
            return (u_char *) ngx_escape_json(p, s, len);
        }
    }

    return ngx_cpymem(p, s, len);
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
    ctx->answer = NGX_TURSO_MEMBERS_ANSWER_OWN;

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
        return ngx_turso_members_not_found_code(r, ctx);

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
}


/*
 * The code of an upstream 404: which thing was not found, when the
 * upstream's "error" message tells (the organization, named alone), else
 * the route's.
 */

static ngx_uint_t
ngx_turso_members_not_found_code(ngx_http_request_t *r,
    ngx_turso_members_ctx_t *ctx)
{
    int          found;
    u_char      *p, *last;
    ngx_buf_t   *b;
    char         msg[256];

    b = ctx->upstream_body;

    if (b == NULL) {
        return NGX_TURSO_MEMBERS_NOT_FOUND;
    }

    /* jansson allocates from the pool: ngx_turso_members_json_allocator() */

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
