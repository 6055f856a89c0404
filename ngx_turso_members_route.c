
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


/* a path taken apart: /v{version}/organizations/{org}/{collection}[/{item}] */

typedef struct {
    ngx_uint_t                  version;
    ngx_uint_t                  has_item;
    ngx_str_t                   org;
    ngx_str_t                   collection;
    ngx_str_t                   item;
} ngx_turso_members_path_t;


static ngx_uint_t ngx_turso_members_route_path(ngx_str_t *uri,
    ngx_turso_members_path_t *path);
static ngx_turso_members_route_t *ngx_turso_members_route_match(
    ngx_turso_members_path_t *path, ngx_uint_t method, ngx_uint_t *shapes);
static ngx_int_t ngx_turso_members_route_allow(ngx_http_request_t *r,
    ngx_turso_members_path_t *path, ngx_str_t *allow);
static ngx_uint_t ngx_turso_members_route_parts(ngx_turso_members_ctx_t *ctx,
    ngx_turso_members_path_t *path);
static ngx_uint_t ngx_turso_members_route_shape(
    ngx_turso_members_route_t *rt, ngx_turso_members_path_t *path);
static u_char *ngx_turso_members_route_escape(u_char *dst, ngx_str_t *src);


/* the operations' names, for the policy, the logs and the metrics */
static ngx_str_t  ngx_turso_members_operations[] = {
    [NGX_TURSO_MEMBERS_OP_NONE] = ngx_string("none"),
    [NGX_TURSO_MEMBERS_OP_LIST_MEMBERS] = ngx_string("list_members"),
    [NGX_TURSO_MEMBERS_OP_GET_MEMBER] = ngx_string("get_member"),
    [NGX_TURSO_MEMBERS_OP_ADD_MEMBER] = ngx_string("add_member"),
    [NGX_TURSO_MEMBERS_OP_UPDATE_ROLE] = ngx_string("update_role"),
    [NGX_TURSO_MEMBERS_OP_REMOVE_MEMBER] = ngx_string("remove_member"),
    [NGX_TURSO_MEMBERS_OP_LIST_INVITES] = ngx_string("list_invites"),
    [NGX_TURSO_MEMBERS_OP_INVITE] = ngx_string("invite"),
    [NGX_TURSO_MEMBERS_OP_DELETE_INVITE] = ngx_string("delete_invite")
};


static ngx_turso_members_route_t  ngx_turso_members_routes[] = {

    /* GET /v1/organizations/{org}/members */
    { .method = NGX_HTTP_GET, .version = 1,
      .collection = ngx_string("members"),
      .item = NGX_TURSO_MEMBERS_ITEM_NONE,
      .op = NGX_TURSO_MEMBERS_OP_LIST_MEMBERS,
      .not_found = NGX_TURSO_MEMBERS_NOT_FOUND,
      .conflict = NGX_TURSO_MEMBERS_UPSTREAM_REJECTED },

    /* POST /v1/organizations/{org}/members: Add Member, as documented */
    { .method = NGX_HTTP_POST, .version = 1,
      .collection = ngx_string("members"),
      .item = NGX_TURSO_MEMBERS_ITEM_NONE,
      .op = NGX_TURSO_MEMBERS_OP_ADD_MEMBER,
      .body = { .fields = F_USERNAME|F_ROLE, .required = F_USERNAME },
      .not_found = NGX_TURSO_MEMBERS_USER_NOT_FOUND,
      .conflict = NGX_TURSO_MEMBERS_MEMBER_EXISTS,
      .default_role = 1 },

    /*
     * POST /v1/organizations/{org}/members/{username}: Add Member as the
     * official Node client sends it, {"member": ..., "role": ...};
     * forwarded as the documented route
     */
    { .method = NGX_HTTP_POST, .version = 1,
      .collection = ngx_string("members"),
      .item = NGX_TURSO_MEMBERS_ITEM_USERNAME,
      .op = NGX_TURSO_MEMBERS_OP_ADD_MEMBER,
      .body = { .fields = F_MEMBER|F_ROLE },
      .not_found = NGX_TURSO_MEMBERS_USER_NOT_FOUND,
      .conflict = NGX_TURSO_MEMBERS_MEMBER_EXISTS,
      .item_in_body = 1,
      .default_role = 1 },

    /* GET /v1/organizations/{org}/members/{username} */
    { .method = NGX_HTTP_GET, .version = 1,
      .collection = ngx_string("members"),
      .item = NGX_TURSO_MEMBERS_ITEM_USERNAME,
      .op = NGX_TURSO_MEMBERS_OP_GET_MEMBER,
      .not_found = NGX_TURSO_MEMBERS_MEMBER_NOT_FOUND,
      .conflict = NGX_TURSO_MEMBERS_UPSTREAM_REJECTED },

    /* PATCH /v1/organizations/{org}/members/{username}: Update Role */
    { .method = NGX_HTTP_PATCH, .version = 1,
      .collection = ngx_string("members"),
      .item = NGX_TURSO_MEMBERS_ITEM_USERNAME,
      .op = NGX_TURSO_MEMBERS_OP_UPDATE_ROLE,
      .body = { .fields = F_ROLE, .required = F_ROLE },
      .not_found = NGX_TURSO_MEMBERS_MEMBER_NOT_FOUND,
      .conflict = NGX_TURSO_MEMBERS_UPSTREAM_REJECTED },

    /* DELETE /v1/organizations/{org}/members/{username} */
    { .method = NGX_HTTP_DELETE, .version = 1,
      .collection = ngx_string("members"),
      .item = NGX_TURSO_MEMBERS_ITEM_USERNAME,
      .op = NGX_TURSO_MEMBERS_OP_REMOVE_MEMBER,
      .not_found = NGX_TURSO_MEMBERS_MEMBER_NOT_FOUND,
      .conflict = NGX_TURSO_MEMBERS_UPSTREAM_REJECTED },

    /* GET /v2/organizations/{org}/invites */
    { .method = NGX_HTTP_GET, .version = 2,
      .collection = ngx_string("invites"),
      .item = NGX_TURSO_MEMBERS_ITEM_NONE,
      .op = NGX_TURSO_MEMBERS_OP_LIST_INVITES,
      .not_found = NGX_TURSO_MEMBERS_NOT_FOUND,
      .conflict = NGX_TURSO_MEMBERS_UPSTREAM_REJECTED },

    /* POST /v2/organizations/{org}/invites */
    { .method = NGX_HTTP_POST, .version = 2,
      .collection = ngx_string("invites"),
      .item = NGX_TURSO_MEMBERS_ITEM_NONE,
      .op = NGX_TURSO_MEMBERS_OP_INVITE,
      .body = { .fields = F_EMAIL|F_USERNAME|F_ROLE,
                .one_of = F_EMAIL|F_USERNAME },
      .not_found = NGX_TURSO_MEMBERS_USER_NOT_FOUND,
      .conflict = NGX_TURSO_MEMBERS_MEMBER_EXISTS,
      .default_role = 1 },

    /* DELETE /v2/organizations/{org}/invites/{email} */
    { .method = NGX_HTTP_DELETE, .version = 2,
      .collection = ngx_string("invites"),
      .item = NGX_TURSO_MEMBERS_ITEM_EMAIL,
      .op = NGX_TURSO_MEMBERS_OP_DELETE_INVITE,
      .not_found = NGX_TURSO_MEMBERS_INVITE_NOT_FOUND,
      .conflict = NGX_TURSO_MEMBERS_UPSTREAM_REJECTED },

    /* GET /v1/organizations/{org}/invites, as the Go CLI lists them */
    { .method = NGX_HTTP_GET, .version = 1,
      .collection = ngx_string("invites"),
      .item = NGX_TURSO_MEMBERS_ITEM_NONE,
      .op = NGX_TURSO_MEMBERS_OP_LIST_INVITES,
      .not_found = NGX_TURSO_MEMBERS_NOT_FOUND,
      .conflict = NGX_TURSO_MEMBERS_UPSTREAM_REJECTED },

    /* DELETE /v1/organizations/{org}/invites/{email}, as the Go CLI does */
    { .method = NGX_HTTP_DELETE, .version = 1,
      .collection = ngx_string("invites"),
      .item = NGX_TURSO_MEMBERS_ITEM_EMAIL,
      .op = NGX_TURSO_MEMBERS_OP_DELETE_INVITE,
      .not_found = NGX_TURSO_MEMBERS_INVITE_NOT_FOUND,
      .conflict = NGX_TURSO_MEMBERS_UPSTREAM_REJECTED },

    /* POST /v1/organizations/{org}/invites, the older route */
    { .method = NGX_HTTP_POST, .version = 1,
      .collection = ngx_string("invites"),
      .item = NGX_TURSO_MEMBERS_ITEM_NONE,
      .op = NGX_TURSO_MEMBERS_OP_INVITE,
      .body = { .fields = F_EMAIL|F_ROLE, .required = F_EMAIL },
      .not_found = NGX_TURSO_MEMBERS_USER_NOT_FOUND,
      .conflict = NGX_TURSO_MEMBERS_MEMBER_EXISTS,
      .default_role = 1 },

    /* POST /v1/organizations/{org}/invite, as the Go CLI sends it */
    { .method = NGX_HTTP_POST, .version = 1,
      .collection = ngx_string("invite"),
      .item = NGX_TURSO_MEMBERS_ITEM_NONE,
      .op = NGX_TURSO_MEMBERS_OP_INVITE,
      .body = { .fields = F_EMAIL|F_ROLE, .required = F_EMAIL },
      .not_found = NGX_TURSO_MEMBERS_USER_NOT_FOUND,
      .conflict = NGX_TURSO_MEMBERS_MEMBER_EXISTS,
      .default_role = 1 },

    { .method = 0 }
};


/* at configuration time: each route gets its operation's name */

void
ngx_turso_members_route_init(void)
{
    ngx_turso_members_route_t  *rt;

    for (rt = ngx_turso_members_routes; rt->method; rt++) {
        rt->operation = ngx_turso_members_operations[rt->op];
    }
}


/* the name of an operation, NGX_TURSO_MEMBERS_OP_NONE's for any other */

ngx_str_t *
ngx_turso_members_operation_name(ngx_uint_t op)
{
    if (op >= NGX_TURSO_MEMBERS_OP_LAST) {
        op = NGX_TURSO_MEMBERS_OP_NONE;
    }

    return &ngx_turso_members_operations[op];
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
    ngx_uint_t                shapes;
    ngx_turso_members_path_t  path;

    if (ngx_turso_members_route_path(&r->uri, &path) != NGX_TURSO_MEMBERS_OK) {
        return NGX_TURSO_MEMBERS_ROUTE_NOT_SUPPORTED;
    }

    ctx->route = ngx_turso_members_route_match(&path, r->method, &shapes);

    if (shapes == 0) {
        return NGX_TURSO_MEMBERS_ROUTE_NOT_SUPPORTED;
    }

    if (ctx->route == NULL) {
        if (ngx_turso_members_route_allow(r, &path, allow) != NGX_OK) {
            return NGX_TURSO_MEMBERS_INTERNAL_ERROR;
        }

        return NGX_TURSO_MEMBERS_METHOD_NOT_ALLOWED;
    }

    return ngx_turso_members_route_parts(ctx, &path);
}


/*
 * The methods the request's path takes, as the Allow header of a 405
 * lists them ("GET, POST"), for a CORS preflight; NGX_DECLINED when the
 * path is no route.  Only the path's shape counts: its organization and
 * item are checked on the actual request, whose error the page can read.
 */

ngx_int_t
ngx_turso_members_route_methods(ngx_http_request_t *r, ngx_str_t *methods)
{
    ngx_turso_members_path_t  path;

    ngx_str_null(methods);

    if (ngx_turso_members_route_path(&r->uri, &path) != NGX_TURSO_MEMBERS_OK) {
        return NGX_DECLINED;
    }

    if (ngx_turso_members_route_allow(r, &path, methods) != NGX_OK) {
        return NGX_ERROR;
    }

    return methods->len ? NGX_OK : NGX_DECLINED;
}


/*
 * /v{1,2}/organizations/{org}/{collection}[/{item}]: no empty segment,
 * no trailing slash, nothing more
 */

static ngx_uint_t
ngx_turso_members_route_path(ngx_str_t *uri, ngx_turso_members_path_t *path)
{
    u_char     *p, *last, *start;
    ngx_str_t  *seg[3];
    ngx_uint_t  n;

    p = uri->data;
    last = p + uri->len;

    if (uri->len < sizeof("/v1/organizations/") - 1
        || p[0] != '/' || p[1] != 'v'
        || (p[2] != '1' && p[2] != '2')
        || ngx_memcmp(p + 3, "/organizations/",
                      sizeof("/organizations/") - 1) != 0)
    {
        return NGX_TURSO_MEMBERS_ROUTE_NOT_SUPPORTED;
    }

    path->version = p[2] - '0';
    p += sizeof("/v1/organizations/") - 1;

    seg[0] = &path->org;
    seg[1] = &path->collection;
    seg[2] = &path->item;

    ngx_str_null(&path->item);

    for (n = 0; n < 3 && p < last; n++) {
        start = p;

        while (p < last && *p != '/') {
            p++;
        }

        if (p == start) {
            return NGX_TURSO_MEMBERS_ROUTE_NOT_SUPPORTED;
        }

        seg[n]->data = start;
        seg[n]->len = p - start;

        if (p < last && ++p == last) {
            return NGX_TURSO_MEMBERS_ROUTE_NOT_SUPPORTED;
        }
    }

    if (n < 2 || p < last) {
        return NGX_TURSO_MEMBERS_ROUTE_NOT_SUPPORTED;
    }

    path->has_item = (n == 3);

    return NGX_TURSO_MEMBERS_OK;
}


/*
 * The route of the path's shape and the method; "shapes": how many routes
 * have the shape, whatever their method
 */

static ngx_turso_members_route_t *
ngx_turso_members_route_match(ngx_turso_members_path_t *path,
    ngx_uint_t method, ngx_uint_t *shapes)
{
    ngx_turso_members_route_t  *rt;

    *shapes = 0;

    for (rt = ngx_turso_members_routes; rt->method; rt++) {

        if (!ngx_turso_members_route_shape(rt, path)) {
            continue;
        }

        (*shapes)++;

        if (rt->method == method) {
            return rt;
        }
    }

    return NULL;
}


/* the methods of the routes of the path's shape: "GET, POST"; none, "" */

static ngx_int_t
ngx_turso_members_route_allow(ngx_http_request_t *r,
    ngx_turso_members_path_t *path, ngx_str_t *allow)
{
    u_char                     *a;
    ngx_turso_members_route_t  *rt;

    allow->data = ngx_pnalloc(r->pool, sizeof("DELETE, PATCH, POST, GET"));
    if (allow->data == NULL) {
        return NGX_ERROR;
    }

    a = allow->data;

    for (rt = ngx_turso_members_routes; rt->method; rt++) {

        if (!ngx_turso_members_route_shape(rt, path)) {
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

    return NGX_OK;
}


/* the organization and the item of a matched route, checked */

static ngx_uint_t
ngx_turso_members_route_parts(ngx_turso_members_ctx_t *ctx,
    ngx_turso_members_path_t *path)
{
    int  rc;

    rc = ngx_turso_members_valid_org(path->org.data, path->org.len);

    if (rc == 0) {
        return NGX_TURSO_MEMBERS_INVALID_ORGANIZATION;
    }

    /*
     * Turso's slugs are lowercase: "ACME" is refused, so that no case
     * variant of a configured organization goes upstream with another
     * token (the default's) than that organization's
     */

    if (rc == 2) {
        ngx_str_set(&ctx->message, "invalid organization: Turso's "
                    "organization slugs are lowercase");
        return NGX_TURSO_MEMBERS_INVALID_ORGANIZATION;
    }

    ctx->org = path->org;

    if (!path->has_item) {
        return NGX_TURSO_MEMBERS_OK;
    }

    if (ctx->route->item == NGX_TURSO_MEMBERS_ITEM_EMAIL) {
        if (!ngx_turso_members_valid_email(path->item.data, path->item.len)) {
            return NGX_TURSO_MEMBERS_INVALID_EMAIL;
        }

        ctx->email = path->item;

    } else {
        if (!ngx_turso_members_valid_username(path->item.data,
                                              path->item.len))
        {
            return NGX_TURSO_MEMBERS_INVALID_USERNAME;
        }

        ctx->username = path->item;
    }

    return NGX_TURSO_MEMBERS_OK;
}


/* whether a route has the path's shape: version, collection, item or not */

static ngx_uint_t
ngx_turso_members_route_shape(ngx_turso_members_route_t *rt,
    ngx_turso_members_path_t *path)
{
    return rt->version == path->version
           && (rt->item != NGX_TURSO_MEMBERS_ITEM_NONE) == path->has_item
           && rt->collection.len == path->collection.len
           && ngx_memcmp(rt->collection.data, path->collection.data,
                         path->collection.len) == 0;
}


/*
 * The upstream path is rebuilt from the validated parts, each escaped,
 * so that no trick in the client's URI reaches the upstream (nor its
 * query string: ngx_turso_members_upstream_begin() takes it out).
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

    if (rt->item == NGX_TURSO_MEMBERS_ITEM_NONE) {
        /*
         * The request's URI is that path already, byte for byte, and has
         * nothing to escape: ngx_turso_members_route_find() took it apart
         * and checked every part of it
         */

        ctx->upstream_uri = r->uri;
        return NGX_OK;
    }

    item = NULL;

    if (!rt->item_in_body) {
        item = (rt->item == NGX_TURSO_MEMBERS_ITEM_EMAIL) ? &ctx->email
                                                          : &ctx->username;
    }

    len = sizeof("/v1/organizations//") - 1 + ctx->org.len
          + rt->collection.len;

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
    p = ngx_cpymem(p, rt->collection.data, rt->collection.len);

    if (item) {
        *p++ = '/';
        p = ngx_turso_members_route_escape(p, item);
    }

    ctx->upstream_uri.len = p - ctx->upstream_uri.data;

    return NGX_OK;
}


/*
 * A path segment, escaped as Turso's clients send it: "@" and "+" of an
 * email as they are, everything else but RFC 3986's unreserved characters
 * escaped.  Not ngx_escape_uri(): NGX_ESCAPE_URI_COMPONENT escapes "@"
 * and "+" too, NGX_ESCAPE_URI leaves "'", "!", "$", "[" and "]" as they are.
 */

static u_char *
ngx_turso_members_route_escape(u_char *dst, ngx_str_t *src)
{
    u_char  c, *p, *last;

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
