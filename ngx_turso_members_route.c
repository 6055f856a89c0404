
/*
 * Copyright (C) ngx_turso_members authors
 *
 * The routes the gateway knows, as data, and the matching of a request
 * against them.  Nothing outside this table is ever proxied.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_turso_members_module.h"


#define F_USERNAME  NGX_TURSO_MEMBERS_FIELD_USERNAME
#define F_ROLE      NGX_TURSO_MEMBERS_FIELD_ROLE
#define F_EMAIL     NGX_TURSO_MEMBERS_FIELD_EMAIL
#define F_MEMBER    NGX_TURSO_MEMBERS_FIELD_MEMBER


static ngx_uint_t ngx_turso_members_route_shape(
    ngx_turso_members_route_t *rt, ngx_uint_t version, ngx_str_t *collection,
    ngx_uint_t item);
static u_char *ngx_turso_members_route_escape(u_char *dst, ngx_str_t *src);


static ngx_turso_members_route_t  ngx_turso_members_routes[] = {

    /* GET /v1/organizations/{org}/members */
    { NGX_HTTP_GET, 1, ngx_string("members"), NGX_TURSO_MEMBERS_ITEM_NONE,
      ngx_string("list_members"), NGX_TURSO_MEMBERS_OP_LIST_MEMBERS,
      { 0, 0, 0 },
      NGX_TURSO_MEMBERS_NOT_FOUND, NGX_TURSO_MEMBERS_UPSTREAM_REJECTED,
      ngx_string("members"), 0, 0, 0 },

    /* POST /v1/organizations/{org}/members: Add Member, as documented */
    { NGX_HTTP_POST, 1, ngx_string("members"), NGX_TURSO_MEMBERS_ITEM_NONE,
      ngx_string("add_member"), NGX_TURSO_MEMBERS_OP_ADD_MEMBER,
      { F_USERNAME|F_ROLE, F_USERNAME, 0 },
      NGX_TURSO_MEMBERS_USER_NOT_FOUND, NGX_TURSO_MEMBERS_MEMBER_EXISTS,
      ngx_string("members"), 0, 1, 0 },

    /*
     * POST /v1/organizations/{org}/members/{username}: Add Member as the
     * official Node client sends it, {"member": ..., "role": ...}
     */
    { NGX_HTTP_POST, 1, ngx_string("members"), NGX_TURSO_MEMBERS_ITEM_USERNAME,
      ngx_string("add_member"), NGX_TURSO_MEMBERS_OP_ADD_MEMBER,
      { F_MEMBER|F_ROLE, 0, 0 },
      NGX_TURSO_MEMBERS_USER_NOT_FOUND, NGX_TURSO_MEMBERS_MEMBER_EXISTS,
      ngx_string("members"), 0, 1, 0 },

    /* GET /v1/organizations/{org}/members/{username} */
    { NGX_HTTP_GET, 1, ngx_string("members"), NGX_TURSO_MEMBERS_ITEM_USERNAME,
      ngx_string("get_member"), NGX_TURSO_MEMBERS_OP_GET_MEMBER,
      { 0, 0, 0 },
      NGX_TURSO_MEMBERS_MEMBER_NOT_FOUND, NGX_TURSO_MEMBERS_UPSTREAM_REJECTED,
      ngx_string("members"), 1, 0, 0 },

    /* PATCH /v1/organizations/{org}/members/{username}: Update Role */
    { NGX_HTTP_PATCH, 1, ngx_string("members"),
      NGX_TURSO_MEMBERS_ITEM_USERNAME,
      ngx_string("update_role"), NGX_TURSO_MEMBERS_OP_UPDATE_ROLE,
      { F_ROLE, F_ROLE, 0 },
      NGX_TURSO_MEMBERS_MEMBER_NOT_FOUND, NGX_TURSO_MEMBERS_UPSTREAM_REJECTED,
      ngx_string("members"), 1, 0, 0 },

    /* DELETE /v1/organizations/{org}/members/{username} */
    { NGX_HTTP_DELETE, 1, ngx_string("members"),
      NGX_TURSO_MEMBERS_ITEM_USERNAME,
      ngx_string("remove_member"), NGX_TURSO_MEMBERS_OP_REMOVE_MEMBER,
      { 0, 0, 0 },
      NGX_TURSO_MEMBERS_MEMBER_NOT_FOUND, NGX_TURSO_MEMBERS_UPSTREAM_REJECTED,
      ngx_string("members"), 1, 0, 0 },

    /* GET /v2/organizations/{org}/invites */
    { NGX_HTTP_GET, 2, ngx_string("invites"), NGX_TURSO_MEMBERS_ITEM_NONE,
      ngx_string("list_invites"), NGX_TURSO_MEMBERS_OP_LIST_INVITES,
      { 0, 0, 0 },
      NGX_TURSO_MEMBERS_NOT_FOUND, NGX_TURSO_MEMBERS_UPSTREAM_REJECTED,
      ngx_string("invites"), 0, 0, 0 },

    /* POST /v2/organizations/{org}/invites */
    { NGX_HTTP_POST, 2, ngx_string("invites"), NGX_TURSO_MEMBERS_ITEM_NONE,
      ngx_string("invite"), NGX_TURSO_MEMBERS_OP_INVITE,
      { F_EMAIL|F_USERNAME|F_ROLE, 0, F_EMAIL|F_USERNAME },
      NGX_TURSO_MEMBERS_USER_NOT_FOUND, NGX_TURSO_MEMBERS_MEMBER_EXISTS,
      ngx_string("invites"), 0, 1, 0 },

    /* DELETE /v2/organizations/{org}/invites/{email} */
    { NGX_HTTP_DELETE, 2, ngx_string("invites"), NGX_TURSO_MEMBERS_ITEM_EMAIL,
      ngx_string("delete_invite"), NGX_TURSO_MEMBERS_OP_DELETE_INVITE,
      { 0, 0, 0 },
      NGX_TURSO_MEMBERS_INVITE_NOT_FOUND, NGX_TURSO_MEMBERS_UPSTREAM_REJECTED,
      ngx_string("invites"), 1, 0, 0 },

    /* GET /v1/organizations/{org}/invites, as the Go CLI lists them */
    { NGX_HTTP_GET, 1, ngx_string("invites"), NGX_TURSO_MEMBERS_ITEM_NONE,
      ngx_string("list_invites"), NGX_TURSO_MEMBERS_OP_LIST_INVITES,
      { 0, 0, 0 },
      NGX_TURSO_MEMBERS_NOT_FOUND, NGX_TURSO_MEMBERS_UPSTREAM_REJECTED,
      ngx_string("invites"), 0, 0, 0 },

    /* DELETE /v1/organizations/{org}/invites/{email}, as the Go CLI does */
    { NGX_HTTP_DELETE, 1, ngx_string("invites"), NGX_TURSO_MEMBERS_ITEM_EMAIL,
      ngx_string("delete_invite"), NGX_TURSO_MEMBERS_OP_DELETE_INVITE,
      { 0, 0, 0 },
      NGX_TURSO_MEMBERS_INVITE_NOT_FOUND, NGX_TURSO_MEMBERS_UPSTREAM_REJECTED,
      ngx_string("invites"), 1, 0, 0 },

    /* POST /v1/organizations/{org}/invites, the older route */
    { NGX_HTTP_POST, 1, ngx_string("invites"), NGX_TURSO_MEMBERS_ITEM_NONE,
      ngx_string("invite"), NGX_TURSO_MEMBERS_OP_INVITE,
      { F_EMAIL|F_ROLE, F_EMAIL, 0 },
      NGX_TURSO_MEMBERS_USER_NOT_FOUND, NGX_TURSO_MEMBERS_MEMBER_EXISTS,
      ngx_string("invites"), 0, 1, 0 },

    /* POST /v1/organizations/{org}/invite, as the Go CLI sends it */
    { NGX_HTTP_POST, 1, ngx_string("invite"), NGX_TURSO_MEMBERS_ITEM_NONE,
      ngx_string("invite"), NGX_TURSO_MEMBERS_OP_INVITE,
      { F_EMAIL|F_ROLE, F_EMAIL, 0 },
      NGX_TURSO_MEMBERS_USER_NOT_FOUND, NGX_TURSO_MEMBERS_MEMBER_EXISTS,
      ngx_string("invite"), 0, 1, 0 },

    { 0, 0, ngx_null_string, 0, ngx_null_string, 0, { 0, 0, 0 }, 0, 0,
      ngx_null_string, 0, 0, 0 }
};


/*
 * At configuration time: the routes whose upstream path is the client's
 * own, no user or email in it and the same collection
 */

void
ngx_turso_members_route_init(void)
{
    ngx_turso_members_route_t  *rt;

    for (rt = ngx_turso_members_routes; rt->method; rt++) {
        rt->same_path = (rt->item == NGX_TURSO_MEMBERS_ITEM_NONE
                         && !rt->upstream_item
                         && rt->upstream_collection.len == rt->collection.len
                         && ngx_strncmp(rt->upstream_collection.data,
                                        rt->collection.data,
                                        rt->collection.len) == 0);
    }
}


/*
 * Matches r->uri, which nginx has already decoded and freed of dot
 * segments and repeated slashes, against the table.  Returns
 * NGX_TURSO_MEMBERS_OK with ctx->route, ctx->org and the item set, or the
 * error code to answer with; for a method that the path does not take,
 * "allow" gets the value of the Allow header.
 */

ngx_uint_t
ngx_turso_members_route_find(ngx_http_request_t *r,
    ngx_turso_members_ctx_t *ctx, ngx_str_t *allow)
{
    u_char                     *p, *last, *seg[3], *end[3], *a;
    ngx_str_t                   item, collection;
    ngx_uint_t                  version, n, shape;
    ngx_turso_members_route_t  *rt;

    p = r->uri.data;
    last = p + r->uri.len;

    if (r->uri.len < sizeof("/v1/organizations/") - 1
        || p[0] != '/' || p[1] != 'v'
        || (p[2] != '1' && p[2] != '2')
        || ngx_memcmp(p + 3, "/organizations/",
                      sizeof("/organizations/") - 1) != 0)
    {
        return NGX_TURSO_MEMBERS_ROUTE_NOT_SUPPORTED;
    }

    version = p[2] - '0';
    p += sizeof("/v1/organizations/") - 1;

    /* {org}/{collection}[/{item}], no empty segment, no trailing slash */

    for (n = 0; n < 3 && p < last; n++) {
        seg[n] = p;

        while (p < last && *p != '/') {
            p++;
        }

        end[n] = p;

        if (end[n] == seg[n]) {
            return NGX_TURSO_MEMBERS_ROUTE_NOT_SUPPORTED;
        }

        if (p < last) {
            p++;

            if (p == last) {
                return NGX_TURSO_MEMBERS_ROUTE_NOT_SUPPORTED;
            }
        }
    }

    if (n < 2 || p < last) {
        return NGX_TURSO_MEMBERS_ROUTE_NOT_SUPPORTED;
    }

    shape = 0;
    ctx->route = NULL;

    collection.data = seg[1];
    collection.len = end[1] - seg[1];

    for (rt = ngx_turso_members_routes; rt->method; rt++) {

        if (!ngx_turso_members_route_shape(rt, version, &collection, n == 3)) {
            continue;
        }

        shape++;

        if (rt->method == r->method) {
            ctx->route = rt;
            break;
        }
    }

    if (shape == 0) {
        return NGX_TURSO_MEMBERS_ROUTE_NOT_SUPPORTED;
    }

    if (ctx->route == NULL) {

        /* list the methods this path takes, for the Allow header */

        allow->data = ngx_pnalloc(r->pool, sizeof("DELETE, PATCH, POST, GET"));
        if (allow->data == NULL) {
            return NGX_TURSO_MEMBERS_INTERNAL_ERROR;
        }

        a = allow->data;

        for (rt = ngx_turso_members_routes; rt->method; rt++) {
            if (!ngx_turso_members_route_shape(rt, version, &collection,
                                               n == 3))
            {
                continue;
            }

            if (a != allow->data) {
                *a++ = ','; *a++ = ' ';
            }

            switch (rt->method) {
            case NGX_HTTP_GET:
                a = ngx_cpymem(a, "GET", 3);
                break;
            case NGX_HTTP_POST:
                a = ngx_cpymem(a, "POST", 4);
                break;
            case NGX_HTTP_PATCH:
                a = ngx_cpymem(a, "PATCH", 5);
                break;
            default:
                a = ngx_cpymem(a, "DELETE", 6);
            }
        }

        allow->len = a - allow->data;

        return NGX_TURSO_MEMBERS_METHOD_NOT_ALLOWED;
    }

    ctx->org.data = seg[0];
    ctx->org.len = end[0] - seg[0];

    if (!ngx_turso_members_valid_org(ctx->org.data, ctx->org.len)) {
        ngx_str_null(&ctx->org);
        return NGX_TURSO_MEMBERS_INVALID_ORGANIZATION;
    }

    if (n < 3) {
        return NGX_TURSO_MEMBERS_OK;
    }

    item.data = seg[2];
    item.len = end[2] - seg[2];

    if (ctx->route->item == NGX_TURSO_MEMBERS_ITEM_EMAIL) {
        if (!ngx_turso_members_valid_email(item.data, item.len)) {
            return NGX_TURSO_MEMBERS_INVALID_EMAIL;
        }

        ctx->email = item;

    } else {
        if (!ngx_turso_members_valid_username(item.data, item.len)) {
            return NGX_TURSO_MEMBERS_INVALID_USERNAME;
        }

        ctx->username = item;
    }

    return NGX_TURSO_MEMBERS_OK;
}


/*
 * The methods the request's path takes, as the Allow header of a 405
 * lists them ("GET, POST"), for a CORS preflight; NGX_DECLINED when the
 * path is no route.  Found as for a 405, with a method no route has, so
 * that the paths are those of ngx_turso_members_route_find(), and only
 * the path's shape counts: its organization and item are checked on the
 * actual request, whose error the page can read.
 */

ngx_int_t
ngx_turso_members_route_methods(ngx_http_request_t *r, ngx_str_t *methods)
{
    ngx_uint_t               code, method;
    ngx_turso_members_ctx_t  ctx;

    ngx_memzero(&ctx, sizeof(ngx_turso_members_ctx_t));
    ngx_str_null(methods);

    method = r->method;
    r->method = NGX_HTTP_UNKNOWN;

    code = ngx_turso_members_route_find(r, &ctx, methods);

    r->method = method;

    if (code == NGX_TURSO_MEMBERS_METHOD_NOT_ALLOWED) {
        return NGX_OK;
    }

    return (code == NGX_TURSO_MEMBERS_INTERNAL_ERROR) ? NGX_ERROR
                                                      : NGX_DECLINED;
}


/* whether a route has the path's shape: version, collection, item or not */

static ngx_uint_t
ngx_turso_members_route_shape(ngx_turso_members_route_t *rt,
    ngx_uint_t version, ngx_str_t *collection, ngx_uint_t item)
{
    return rt->version == version
           && (rt->item != NGX_TURSO_MEMBERS_ITEM_NONE) == item
           && rt->collection.len == collection->len
           && ngx_turso_members_short_eq(rt->collection.data,
                                         collection->data, collection->len);
}


/*
 * The upstream path is rebuilt from the validated parts, each escaped,
 * so that no trick in the client's URI (and no query string) reaches
 * the upstream.
 */

ngx_int_t
ngx_turso_members_route_upstream_uri(ngx_http_request_t *r,
    ngx_turso_members_ctx_t *ctx)
{
    u_char                           *p;
    size_t                            len;
    ngx_str_t                        *item;
    const ngx_turso_members_route_t  *rt;

    rt = ctx->route;
    item = NULL;

    if (rt->upstream_item) {
        item = (rt->item == NGX_TURSO_MEMBERS_ITEM_EMAIL) ? &ctx->email
                                                          : &ctx->username;
    }

    if (rt->same_path) {
        /*
         * The request's URI is that path already, byte for byte:
         * ngx_turso_members_route_find() took it apart and checked every
         * part of it
         */

        ctx->upstream_uri = r->uri;
        goto done;
    }

    len = sizeof("/v1/organizations//") - 1 + ctx->org.len
          + rt->upstream_collection.len;

    if (item) {
        len += 1 + 3 * item->len;
    }

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    ctx->upstream_uri.data = p;

    p = ngx_cpymem(p, "/v1/organizations/", sizeof("/v1/organizations/") - 1);
    ctx->upstream_uri.data[2] = (u_char) ('0' + rt->version);
    p = ngx_cpymem(p, ctx->org.data, ctx->org.len);
    *p++ = '/';
    p = ngx_cpymem(p, rt->upstream_collection.data,
                   rt->upstream_collection.len);

    if (item) {
        *p++ = '/';
        p = ngx_turso_members_route_escape(p, item);
    }

    ctx->upstream_uri.len = p - ctx->upstream_uri.data;

    /*
     * The same path, unescaped, as the request's URI, with no arguments:
     * what "proxy_pass http://upstream;" (no URI, no variables, cheaper)
     * sends, escaped by nginx.
     */

    if (item == NULL) {
        r->uri = ctx->upstream_uri;

    } else {
        p = ngx_pnalloc(r->pool, len);
        if (p == NULL) {
            return NGX_ERROR;
        }

        r->uri.data = p;
        r->uri.len = ngx_sprintf(p, "/v%ui/organizations/%V/%V/%V",
                                 rt->version, &ctx->org,
                                 &rt->upstream_collection, item)
                     - p;
    }

done:

    /*
     * For "proxy_pass http://upstream;": nginx sends r->uri, escaped only
     * when it is marked quoted, never the client's own bytes
     */

    ngx_str_null(&r->args);
    r->valid_unparsed_uri = 0;
    r->quoted_uri = 1;

    return NGX_OK;
}


static u_char *
ngx_turso_members_route_escape(u_char *dst, ngx_str_t *src)
{
    u_char      c, *p, *last;
    static u_char  hex[] = "0123456789ABCDEF";

    p = src->data;
    last = p + src->len;

    while (p < last) {
        c = *p++;

        /* RFC 3986 unreserved characters, and "@" and "+" of emails */

        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
            || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_'
            || c == '~' || c == '@' || c == '+')
        {
            *dst++ = c;
            continue;
        }

        *dst++ = '%';
        *dst++ = hex[c >> 4];
        *dst++ = hex[c & 0xf];
    }

    return dst;
}
