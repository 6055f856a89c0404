
/*
 * Copyright (C) ngx_turso_members authors
 *
 * CORS for browser portals (turso_members_cors_origins): the gateway
 * answers preflights itself from the route table, refuses origins it was
 * not told about, and puts the CORS headers on every answer to a listed
 * origin.  Preflights are answered in the access phase, before nginx's
 * own access checks: a browser never sends credentials on a preflight.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_turso_members_module.h"


/* how long a browser may cache a preflight; Chromium caps it at 7200 */
#define NGX_TURSO_MEMBERS_CORS_MAX_AGE  "600"

/*
 * Indexes in the headers below: those of every answer to a listed origin
 * come first, up to Vary (which every answer gets), then a preflight's
 */
#define NGX_TURSO_MEMBERS_CORS_ALLOW_ORIGIN    0
#define NGX_TURSO_MEMBERS_CORS_VARY            3
#define NGX_TURSO_MEMBERS_CORS_ALLOW_METHODS   4
#define NGX_TURSO_MEMBERS_CORS_MAX_HEADERS     7


static ngx_int_t ngx_turso_members_cors_access(ngx_http_request_t *r);
static ngx_int_t ngx_turso_members_cors_preflight(ngx_http_request_t *r,
    ngx_turso_members_ctx_t *ctx, ngx_str_t *method);
static ngx_int_t ngx_turso_members_cors_refuse(ngx_http_request_t *r,
    ngx_turso_members_ctx_t *ctx, ngx_uint_t code, ngx_str_t *allow);
static ngx_int_t ngx_turso_members_cors_header_filter(ngx_http_request_t *r);
static ngx_int_t ngx_turso_members_cors_origin(ngx_http_request_t *r,
    ngx_turso_members_loc_conf_t *tlcf, ngx_str_t *origin);
static ngx_uint_t ngx_turso_members_cors_listed(ngx_str_t *list,
    ngx_str_t *origin);
static ngx_uint_t ngx_turso_members_cors_request_header(ngx_http_request_t *r,
    ngx_str_t *name, ngx_str_t *value);
static ngx_uint_t ngx_turso_members_cors_has_method(ngx_str_t *methods,
    ngx_str_t *method);
static void ngx_turso_members_cors_strip(ngx_http_request_t *r);
static ngx_uint_t ngx_turso_members_cors_valid(ngx_str_t *origin);


static ngx_http_output_header_filter_pt  ngx_turso_members_cors_next_header;

static ngx_str_t  ngx_turso_members_cors_origin_name = ngx_string("Origin");
static ngx_str_t  ngx_turso_members_cors_acrm_name =
    ngx_string("Access-Control-Request-Method");

static ngx_str_t  ngx_turso_members_cors_headers[] = {
    ngx_string("Access-Control-Allow-Origin"),
    ngx_string("Access-Control-Allow-Credentials"),
    ngx_string("Access-Control-Expose-Headers"),
    ngx_string("Vary"),
    ngx_string("Access-Control-Allow-Methods"),
    ngx_string("Access-Control-Allow-Headers"),
    ngx_string("Access-Control-Max-Age")
};

static ngx_str_t  ngx_turso_members_cors_values[] = {
    ngx_null_string,
    ngx_string("true"),
    ngx_string("X-Request-Id, Retry-After"),
    ngx_string("Origin"),
    ngx_null_string,
    ngx_string("Content-Type, Authorization, X-Request-Id"),
    ngx_string(NGX_TURSO_MEMBERS_CORS_MAX_AGE)
};


/*
 * turso_members_cors_origins origin ... | off;
 *
 * Each argument is one exact origin, or, with variables, a value that
 * evaluates to zero or more origins separated by spaces or commas (a
 * map's).
 */

char *
ngx_turso_members_cors_origins(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_turso_members_loc_conf_t *tlcf = conf;

    ngx_str_t                          *value;
    ngx_uint_t                          i;
    ngx_http_complex_value_t           *cv;
    ngx_turso_members_main_conf_t      *tmcf;
    ngx_http_compile_complex_value_t    ccv;

    if (tlcf->cors_origins != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (cf->args->nelts == 2 && ngx_strcmp(value[1].data, "off") == 0) {
        tlcf->cors_origins = NULL;
        return NGX_CONF_OK;
    }

    tlcf->cors_origins = ngx_array_create(cf->pool, cf->args->nelts - 1,
                                          sizeof(ngx_http_complex_value_t));
    if (tlcf->cors_origins == NULL) {
        return NGX_CONF_ERROR;
    }

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_http_script_variables_count(&value[i]) == 0
            && !ngx_turso_members_cors_valid(&value[i]))
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid origin \"%V\": an origin is "
                               "\"http://\" or \"https://\", a host and an "
                               "optional port, with no path (\"*\" and "
                               "\"null\" are never allowed)", &value[i]);
            return NGX_CONF_ERROR;
        }

        cv = ngx_array_push(tlcf->cors_origins);
        if (cv == NULL) {
            return NGX_CONF_ERROR;
        }

        ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));

        ccv.cf = cf;
        ccv.value = &value[i];
        ccv.complex_value = cv;

        if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
            return NGX_CONF_ERROR;
        }
    }

    tmcf = ngx_http_conf_get_module_main_conf(cf, ngx_turso_members_module);
    tmcf->cors = 1;

    return NGX_CONF_OK;
}


/*
 * At configuration time, when the directive is used: the access-phase
 * handler, and a header filter that runs after the gateway's own (it is
 * installed first), so that every answer's headers pass it once.
 */

ngx_int_t
ngx_turso_members_cors_init(ngx_conf_t *cf)
{
    ngx_http_handler_pt            *h;
    ngx_http_core_main_conf_t      *cmcf;
    ngx_turso_members_main_conf_t  *tmcf;

    tmcf = ngx_http_conf_get_module_main_conf(cf, ngx_turso_members_module);

    if (!tmcf->cors) {
        return NGX_OK;
    }

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_ACCESS_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_turso_members_cors_access;

    ngx_turso_members_cors_next_header = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_turso_members_cors_header_filter;

    return NGX_OK;
}


/*
 * A request with an Origin header that is not listed is refused, whatever
 * its method: nothing of it reaches the upstream, and a page of another
 * site cannot make the gateway act with a "simple" request either.  A
 * preflight of a listed origin is answered here.
 */

static ngx_int_t
ngx_turso_members_cors_access(ngx_http_request_t *r)
{
    ngx_int_t                      rc;
    ngx_str_t                      origin, method;
    ngx_uint_t                     n;
    ngx_turso_members_ctx_t       *ctx;
    ngx_turso_members_loc_conf_t  *tlcf;

    tlcf = ngx_http_get_module_loc_conf(r, ngx_turso_members_module);

    if (!tlcf->enable || tlcf->cors_origins == NULL) {
        return NGX_DECLINED;
    }

    ngx_str_null(&method);

    n = ngx_turso_members_cors_request_header(r,
                                         &ngx_turso_members_cors_origin_name,
                                         &origin);
    if (n == 0) {
        /* no browser's cross-origin request */
        return NGX_DECLINED;
    }

    /* two Origin headers are no origin the gateway can trust */

    rc = (n == 1) ? ngx_turso_members_cors_origin(r, tlcf, &origin)
                  : NGX_DECLINED;

    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc == NGX_OK
        && (r->method != NGX_HTTP_OPTIONS
            || ngx_turso_members_cors_request_header(r,
                                   &ngx_turso_members_cors_acrm_name,
                                   &method) != 1))
    {
        /* an actual request of a listed origin: the gateway's as usual */
        return NGX_DECLINED;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_turso_members_module);

    if (ctx == NULL) {
        ctx = ngx_turso_members_ctx_create(r);
        if (ctx == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    if (rc == NGX_DECLINED) {
        ngx_str_set(&ctx->message,
                    "this origin may not call the gateway from a browser");

        return ngx_turso_members_cors_refuse(r, ctx,
                                       NGX_TURSO_MEMBERS_ORIGIN_NOT_ALLOWED,
                                       NULL);
    }

    return ngx_turso_members_cors_preflight(r, ctx, &method);
}


/*
 * A preflight of a listed origin: 204 with the methods of the route's
 * path, whatever turso_members_operations allows (policy is enforced on
 * the actual request, whose JSON error the portal can read), or the
 * gateway's error when the path is no route or the method not one of its.
 */

static ngx_int_t
ngx_turso_members_cors_preflight(ngx_http_request_t *r,
    ngx_turso_members_ctx_t *ctx, ngx_str_t *method)
{
    ngx_int_t   rc;
    ngx_str_t   methods;
    ngx_uint_t  i;

    rc = ngx_turso_members_route_methods(r, &methods);

    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc == NGX_DECLINED) {
        return ngx_turso_members_cors_refuse(r, ctx,
                                       NGX_TURSO_MEMBERS_ROUTE_NOT_SUPPORTED,
                                       NULL);
    }

    if (!ngx_turso_members_cors_has_method(&methods, method)) {
        ngx_str_set(&ctx->message,
                    "the preflight asks for a method this route does not "
                    "take");

        return ngx_turso_members_cors_refuse(r, ctx,
                                       NGX_TURSO_MEMBERS_METHOD_NOT_ALLOWED,
                                       &methods);
    }

    if (ngx_http_discard_request_body(r) != NGX_OK) {
        r->keepalive = 0;
    }

    for (i = NGX_TURSO_MEMBERS_CORS_ALLOW_METHODS;
         i < NGX_TURSO_MEMBERS_CORS_MAX_HEADERS;
         i++)
    {
        if (ngx_turso_members_add_header(r, &ngx_turso_members_cors_headers[i],
                                       i == NGX_TURSO_MEMBERS_CORS_ALLOW_METHODS
                                       ? &methods
                                       : &ngx_turso_members_cors_values[i])
            != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "turso_members preflight answered: \"%V\"", &methods);

    r->headers_out.status = NGX_HTTP_NO_CONTENT;
    r->headers_out.content_length_n = 0;
    r->header_only = 1;

    ngx_http_finalize_request(r, ngx_http_send_header(r));

    return NGX_DONE;
}


static ngx_int_t
ngx_turso_members_cors_refuse(ngx_http_request_t *r,
    ngx_turso_members_ctx_t *ctx, ngx_uint_t code, ngx_str_t *allow)
{
    if (r->request_body == NULL) {
        /* no "100 Continue" for a body that will be thrown away */
        r->expect_tested = 1;
    }

    ngx_http_finalize_request(r, ngx_turso_members_send_error(r, ctx, code,
                                                               allow));

    return NGX_DONE;
}


/*
 * Every answer in a location with origins: the upstream's own CORS
 * headers go (the gateway's are the only ones), "Vary: Origin" is added
 * (the answer depends on it), and for a listed origin the headers that
 * let the page read the answer.
 */

static ngx_int_t
ngx_turso_members_cors_header_filter(ngx_http_request_t *r)
{
    ngx_int_t                      rc;
    ngx_str_t                      origin;
    ngx_uint_t                     i;
    ngx_turso_members_loc_conf_t  *tlcf;

    tlcf = ngx_http_get_module_loc_conf(r, ngx_turso_members_module);

    if (r != r->main || tlcf->cors_origins == NULL
        || (!tlcf->enable
            && ngx_http_get_module_ctx(r, ngx_turso_members_module) == NULL))
    {
        return ngx_turso_members_cors_next_header(r);
    }

    if (r->upstream) {
        ngx_turso_members_cors_strip(r);
    }

    if (ngx_turso_members_add_header(r,
                            &ngx_turso_members_cors_headers[
                                NGX_TURSO_MEMBERS_CORS_VARY],
                            &ngx_turso_members_cors_values[
                                NGX_TURSO_MEMBERS_CORS_VARY])
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_turso_members_cors_request_header(r,
                                   &ngx_turso_members_cors_origin_name,
                                   &origin) != 1)
    {
        return ngx_turso_members_cors_next_header(r);
    }

    rc = ngx_turso_members_cors_origin(r, tlcf, &origin);

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc == NGX_OK) {
        for (i = 0; i < NGX_TURSO_MEMBERS_CORS_VARY; i++) {
            if (ngx_turso_members_add_header(r,
                                   &ngx_turso_members_cors_headers[i],
                                   i == NGX_TURSO_MEMBERS_CORS_ALLOW_ORIGIN
                                   ? &origin
                                   : &ngx_turso_members_cors_values[i])
                != NGX_OK)
            {
                return NGX_ERROR;
            }
        }
    }

    return ngx_turso_members_cors_next_header(r);
}


/* NGX_OK: the request's Origin is listed; NGX_DECLINED: it is not */

static ngx_int_t
ngx_turso_members_cors_origin(ngx_http_request_t *r,
    ngx_turso_members_loc_conf_t *tlcf, ngx_str_t *origin)
{
    ngx_str_t                  value;
    ngx_uint_t                 i;
    ngx_http_complex_value_t  *cv;

    cv = tlcf->cors_origins->elts;

    for (i = 0; i < tlcf->cors_origins->nelts; i++) {

        if (cv[i].lengths == NULL) {

            /* one origin, checked at configuration time */

            if (cv[i].value.len == origin->len
                && ngx_strncasecmp(cv[i].value.data, origin->data,
                                   origin->len)
                   == 0)
            {
                return NGX_OK;
            }

            continue;
        }

        if (ngx_http_complex_value(r, &cv[i], &value) != NGX_OK) {
            return NGX_ERROR;
        }

        /* a variable's value may hold anything: "null", "*" never match */

        if (ngx_turso_members_cors_listed(&value, origin)
            && ngx_turso_members_cors_valid(origin))
        {
            return NGX_OK;
        }
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "turso_members origin \"%V\" is not listed", origin);

    return NGX_DECLINED;
}


/*
 * Whether an origin is one of a list separated by spaces or commas.
 * Scheme and host compare without case (browsers send them in lower
 * case).
 */

static ngx_uint_t
ngx_turso_members_cors_listed(ngx_str_t *list, ngx_str_t *origin)
{
    u_char     *p;
    ngx_str_t   w;

    p = list->data;

    while (ngx_turso_members_next_word(&p, list->data + list->len, &w)) {
        if (w.len == origin->len
            && ngx_strncasecmp(w.data, origin->data, origin->len) == 0)
        {
            return 1;
        }
    }

    return 0;
}


/*
 * Finds a request header the core does not index: how many times the
 * request has it, and the value of the last one.  One empty value counts
 * as none; two headers are two, empty or not.
 */

static ngx_uint_t
ngx_turso_members_cors_request_header(ngx_http_request_t *r, ngx_str_t *name,
    ngx_str_t *value)
{
    ngx_uint_t        n;
    ngx_table_elt_t  *h;

    ngx_str_null(value);

    n = ngx_turso_members_header_find(&r->headers_in.headers, name, &h);

    if (n == 0 || (n == 1 && h->value.len == 0)) {
        return 0;
    }

    *value = h->value;

    return n;
}


/*
 * Whether a method is in a list as ngx_turso_members_route_methods()
 * writes it ("GET, POST").  Exact: fetch() upper-cases only the methods
 * of its own list, so a page's "patch" stays "patch" and is refused.
 */

static ngx_uint_t
ngx_turso_members_cors_has_method(ngx_str_t *methods, ngx_str_t *method)
{
    u_char  *p, *last, *start;

    p = methods->data;
    last = p + methods->len;

    while (p < last) {
        start = p;

        while (p < last && *p != ',') {
            p++;
        }

        if ((size_t) (p - start) == method->len
            && ngx_strncmp(start, method->data, method->len) == 0)
        {
            return 1;
        }

        if (p < last) {
            /* ", " */
            p += 2;
        }
    }

    return 0;
}


/* the upstream's own CORS headers would contradict the gateway's */

static void
ngx_turso_members_cors_strip(ngx_http_request_t *r)
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

        if (h[i].key.len > sizeof("Access-Control-") - 1
            && ngx_strncasecmp(h[i].key.data, (u_char *) "Access-Control-",
                               sizeof("Access-Control-") - 1) == 0)
        {
            h[i].hash = 0;
        }
    }
}


/*
 * An origin as a browser serializes it, a scheme, "://", a host and maybe
 * a port: for the directive's static values, and a request's Origin that
 * a variable's value listed.
 */

static ngx_uint_t
ngx_turso_members_cors_valid(ngx_str_t *origin)
{
    u_char  *p, *last;

    p = origin->data;
    last = p + origin->len;

    if (origin->len > sizeof("http://") - 1
        && ngx_strncasecmp(p, (u_char *) "http://", sizeof("http://") - 1)
           == 0)
    {
        p += sizeof("http://") - 1;

    } else if (origin->len > sizeof("https://") - 1
               && ngx_strncasecmp(p, (u_char *) "https://",
                                  sizeof("https://") - 1)
                  == 0)
    {
        p += sizeof("https://") - 1;

    } else {
        return 0;
    }

    for ( /* void */ ; p < last; p++) {
        if (*p <= ' ' || *p == '/' || *p == '?' || *p == '#' || *p == '@'
            || *p == '*' || *p >= 0x7f)
        {
            return 0;
        }
    }

    return 1;
}
