
/*
 * Copyright (C) ngx_turso_members authors
 *
 * Policy at the edge: which organizations, operations and roles a
 * location allows.  Each list is static or, with variables, evaluated per
 * request, so that one "map" over the caller's identity gives each portal
 * its own policy.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_turso_members_module.h"


typedef struct {
    ngx_str_t                       name;
    ngx_uint_t                      bits;
} ngx_turso_members_name_t;


static char *ngx_turso_members_list_conf(ngx_conf_t *cf,
    ngx_turso_members_list_t *list, ngx_turso_members_word_pt word);
static ngx_uint_t ngx_turso_members_role_word(u_char *s, size_t len);
static ngx_uint_t ngx_turso_members_role_bit(const char *role);
static ngx_uint_t ngx_turso_members_operation_word(u_char *s, size_t len);
static char *ngx_turso_members_list_variable(ngx_conf_t *cf,
    ngx_turso_members_list_t *list, ngx_str_t *value);
static char *ngx_turso_members_list_organization(ngx_conf_t *cf,
    ngx_turso_members_list_t *list, ngx_str_t *value);
static ngx_int_t ngx_turso_members_list_allows(ngx_http_request_t *r,
    ngx_turso_members_list_t *list, ngx_turso_members_word_pt word,
    ngx_uint_t bit, ngx_str_t *name);
static ngx_uint_t ngx_turso_members_list_value_allows(ngx_str_t *v,
    ngx_turso_members_word_pt word, ngx_uint_t bit, ngx_str_t *name);
static ngx_int_t ngx_turso_members_policy_deny(ngx_http_request_t *r,
    ngx_turso_members_ctx_t *ctx, ngx_int_t rc, ngx_uint_t code);


/* the names of groups of operations; each operation's own name too */
static ngx_turso_members_name_t  ngx_turso_members_operation_groups[] = {
    { ngx_string("read"),
      ngx_turso_members_op_bit(NGX_TURSO_MEMBERS_OP_LIST_MEMBERS)
      |ngx_turso_members_op_bit(NGX_TURSO_MEMBERS_OP_GET_MEMBER)
      |ngx_turso_members_op_bit(NGX_TURSO_MEMBERS_OP_LIST_INVITES) },
    { ngx_string("all"), NGX_TURSO_MEMBERS_OP_ALL },
    { ngx_null_string, 0 }
};


char *
ngx_turso_members_set_roles(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_turso_members_loc_conf_t *tlcf = conf;

    return ngx_turso_members_list_conf(cf, &tlcf->roles,
                                       ngx_turso_members_role_word);
}


char *
ngx_turso_members_set_operations(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_turso_members_loc_conf_t *tlcf = conf;

    return ngx_turso_members_list_conf(cf, &tlcf->operations,
                                       ngx_turso_members_operation_word);
}


char *
ngx_turso_members_set_organizations(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_turso_members_loc_conf_t *tlcf = conf;

    return ngx_turso_members_list_conf(cf, &tlcf->organizations, NULL);
}


static char *
ngx_turso_members_list_conf(ngx_conf_t *cf, ngx_turso_members_list_t *list,
    ngx_turso_members_word_pt word)
{
    char        *rv;
    ngx_str_t   *value;
    ngx_uint_t   i, bits;

    if (list->set) {
        return "is duplicate";
    }

    list->set = 1;
    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_http_script_variables_count(&value[i])) {
            rv = ngx_turso_members_list_variable(cf, list, &value[i]);

        } else if (word) {
            bits = word(value[i].data, value[i].len);

            if (bits == 0) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid value \"%V\" in \"%V\"",
                                   &value[i], &value[0]);
                return NGX_CONF_ERROR;
            }

            list->mask |= bits;
            rv = NGX_CONF_OK;

        } else {
            rv = ngx_turso_members_list_organization(cf, list, &value[i]);
        }

        if (rv != NGX_CONF_OK) {
            return rv;
        }
    }

    return NGX_CONF_OK;
}


/* a value with variables, evaluated per request */

static char *
ngx_turso_members_list_variable(ngx_conf_t *cf,
    ngx_turso_members_list_t *list, ngx_str_t *value)
{
    ngx_http_complex_value_t          *cv;
    ngx_http_compile_complex_value_t   ccv;

    if (list->values == NULL) {
        list->values = ngx_array_create(cf->pool, 1,
                                        sizeof(ngx_http_complex_value_t));
        if (list->values == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    cv = ngx_array_push(list->values);
    if (cv == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));

    ccv.cf = cf;
    ccv.value = value;
    ccv.complex_value = cv;

    if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* an organization named as it is */

static char *
ngx_turso_members_list_organization(ngx_conf_t *cf,
    ngx_turso_members_list_t *list, ngx_str_t *value)
{
    ngx_str_t  *w, *args;

    /* lowercase, as Turso's: "ACME" could never match, a path's is refused */

    if (ngx_turso_members_valid_org(value->data, value->len) != 1) {
        args = cf->args->elts;

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid organization \"%V\" in \"%V\": 1 to 64 "
                           "lowercase letters, digits, \"-\" or \"_\"",
                           value, &args[0]);
        return NGX_CONF_ERROR;
    }

    if (list->words == NULL) {
        list->words = ngx_array_create(cf->pool, 4, sizeof(ngx_str_t));
        if (list->words == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    w = ngx_array_push(list->words);
    if (w == NULL) {
        return NGX_CONF_ERROR;
    }

    *w = *value;

    return NGX_CONF_OK;
}


/*
 * Whether a list allows a word (an operation or role bit, or a name):
 * NGX_OK or NGX_DECLINED.  A list not set allows everything; a list that
 * evaluated to nothing allows nothing.
 */

static ngx_int_t
ngx_turso_members_list_allows(ngx_http_request_t *r,
    ngx_turso_members_list_t *list, ngx_turso_members_word_pt word,
    ngx_uint_t bit, ngx_str_t *name)
{
    ngx_str_t                  v, *w;
    ngx_uint_t                 i;
    ngx_http_complex_value_t  *cv;

    if (!list->set) {
        return NGX_OK;
    }

    if (word) {
        if (list->mask & bit) {
            return NGX_OK;
        }

    } else if (list->words) {
        w = list->words->elts;

        for (i = 0; i < list->words->nelts; i++) {
            if (w[i].len == name->len
                && ngx_strncmp(w[i].data, name->data, name->len) == 0)
            {
                return NGX_OK;
            }
        }
    }

    if (list->values == NULL) {
        return NGX_DECLINED;
    }

    cv = list->values->elts;

    for (i = 0; i < list->values->nelts; i++) {

        if (ngx_http_complex_value(r, &cv[i], &v) != NGX_OK) {
            return NGX_ERROR;
        }

        if (ngx_turso_members_list_value_allows(&v, word, bit, name)) {
            return NGX_OK;
        }
    }

    return NGX_DECLINED;
}


/* whether a value's words, separated by spaces or commas, hold the word */

static ngx_uint_t
ngx_turso_members_list_value_allows(ngx_str_t *v,
    ngx_turso_members_word_pt word, ngx_uint_t bit, ngx_str_t *name)
{
    u_char     *p;
    ngx_str_t   w;

    p = v->data;

    while (ngx_turso_members_next_word(&p, v->data + v->len, &w)) {

        if (word) {
            if (word(w.data, w.len) & bit) {
                return 1;
            }

        } else if (w.len == name->len
                   && ngx_strncmp(w.data, name->data, name->len) == 0)
        {
            return 1;
        }
    }

    return 0;
}


/*
 * Whether the location lets the request's organization and operation
 * through: NGX_OK, NGX_DECLINED (ctx->code says why) or NGX_ERROR
 */

ngx_int_t
ngx_turso_members_policy_check(ngx_http_request_t *r,
    ngx_turso_members_ctx_t *ctx)
{
    ngx_int_t                      rc;
    ngx_turso_members_loc_conf_t  *tlcf;

    tlcf = ngx_http_get_module_loc_conf(r, ngx_turso_members_module);

    rc = ngx_turso_members_list_allows(r, &tlcf->organizations, NULL, 0,
                                       &ctx->org);
    if (rc != NGX_OK) {
        return ngx_turso_members_policy_deny(r, ctx, rc,
                                   NGX_TURSO_MEMBERS_ORGANIZATION_NOT_ALLOWED);
    }

    rc = ngx_turso_members_list_allows(r, &tlcf->operations,
                                       ngx_turso_members_operation_word,
                                       ngx_turso_members_op_bit(ctx->route->op),
                                       NULL);
    if (rc != NGX_OK) {
        return ngx_turso_members_policy_deny(r, ctx, rc,
                                   NGX_TURSO_MEMBERS_OPERATION_NOT_ALLOWED);
    }

    return NGX_OK;
}


/* whether the location lets the role be granted: as above */

ngx_int_t
ngx_turso_members_policy_role(ngx_http_request_t *r,
    ngx_turso_members_ctx_t *ctx, const char *role)
{
    ngx_int_t                      rc;
    ngx_turso_members_loc_conf_t  *tlcf;

    tlcf = ngx_http_get_module_loc_conf(r, ngx_turso_members_module);

    rc = ngx_turso_members_list_allows(r, &tlcf->roles,
                                       ngx_turso_members_role_word,
                                       ngx_turso_members_role_bit(role),
                                       NULL);
    if (rc != NGX_OK) {
        return ngx_turso_members_policy_deny(r, ctx, rc,
                                        NGX_TURSO_MEMBERS_ROLE_NOT_ALLOWED);
    }

    return NGX_OK;
}


/*
 * A policy rejection.  In report mode it is logged and counted, and the
 * request goes on (NGX_OK); else ctx->code says why (NGX_DECLINED).
 */

static ngx_int_t
ngx_turso_members_policy_deny(ngx_http_request_t *r,
    ngx_turso_members_ctx_t *ctx, ngx_int_t rc, ngx_uint_t code)
{
    ngx_turso_members_loc_conf_t  *tlcf;

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    tlcf = ngx_http_get_module_loc_conf(r, ngx_turso_members_module);

    if (tlcf->mode != NGX_TURSO_MEMBERS_MODE_REPORT) {
        ctx->code = code;
        return NGX_DECLINED;
    }

    ctx->report = code;

    ngx_turso_members_metrics_report(r, code);

    ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                  "turso_members: report mode: would reject %V with %ui %V "
                  "(organization \"%V\")", &ctx->route->operation,
                  ngx_turso_members_codes[code].status,
                  &ngx_turso_members_codes[code].code, &ctx->org);

    return NGX_OK;
}


static ngx_uint_t
ngx_turso_members_role_word(u_char *s, size_t len)
{
    const char  *role;

    role = ngx_turso_members_role(s, len);

    /* in a configuration, exactly the lower-case name */

    if (role == NULL || ngx_strlen(role) != len
        || ngx_strncmp(role, s, len) != 0)
    {
        return 0;
    }

    return ngx_turso_members_role_bit(role);
}


static ngx_uint_t
ngx_turso_members_operation_word(u_char *s, size_t len)
{
    ngx_str_t                 *name;
    ngx_uint_t                 op;
    ngx_turso_members_name_t  *n;

    for (n = ngx_turso_members_operation_groups; n->name.len; n++) {
        if (n->name.len == len && ngx_strncmp(n->name.data, s, len) == 0) {
            return n->bits;
        }
    }

    for (op = NGX_TURSO_MEMBERS_OP_NONE + 1;
         op < NGX_TURSO_MEMBERS_OP_LAST;
         op++)
    {
        name = ngx_turso_members_operation_name(op);

        if (name->len == len && ngx_strncmp(name->data, s, len) == 0) {
            return ngx_turso_members_op_bit(op);
        }
    }

    return 0;
}


static ngx_uint_t
ngx_turso_members_role_bit(const char *role)
{
    switch (role[0]) {
    case 'a':
        return NGX_TURSO_MEMBERS_ROLE_ADMIN;
    case 'm':
        return NGX_TURSO_MEMBERS_ROLE_MEMBER;
    default:
        return NGX_TURSO_MEMBERS_ROLE_VIEWER;
    }
}
