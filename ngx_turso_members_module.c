
/*
 * Copyright (C) ngx_turso_members authors
 *
 * The module definition: directives, configuration, variables.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_turso_members_module.h"

/*
 * the proxy module's configuration, readable since nginx 1.29.4 (config
 * defines NGX_TURSO_MEMBERS_PROXY_H when the source tree has the header)
 */
#if (NGX_TURSO_MEMBERS_PROXY_H && nginx_version >= 1029004)
#include <ngx_http_proxy_module.h>
#define NGX_TURSO_MEMBERS_PROXY_CONF  1
#else
#define NGX_TURSO_MEMBERS_PROXY_CONF  0
#endif


static ngx_int_t ngx_turso_members_add_variables(ngx_conf_t *cf);
static ngx_int_t ngx_turso_members_init(ngx_conf_t *cf);
static void *ngx_turso_members_create_main_conf(ngx_conf_t *cf);
static void *ngx_turso_members_create_loc_conf(ngx_conf_t *cf);
static char *ngx_turso_members_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static void ngx_turso_members_merge_policy(
    ngx_turso_members_loc_conf_t *prev, ngx_turso_members_loc_conf_t *conf);
static void ngx_turso_members_warn_satisfy_any(ngx_conf_t *cf,
    ngx_turso_members_loc_conf_t *conf);
static char *ngx_turso_members_merge_redirects(ngx_conf_t *cf,
    ngx_turso_members_loc_conf_t *prev, ngx_turso_members_loc_conf_t *conf);
#if (nginx_version >= 1029000)
static char *ngx_turso_members_merge_early_hints(ngx_conf_t *cf,
    ngx_turso_members_loc_conf_t *prev, ngx_turso_members_loc_conf_t *conf);
#endif
static char *ngx_turso_members_check_proxy(ngx_conf_t *cf,
    ngx_turso_members_loc_conf_t *conf);
static char *ngx_turso_members_check_proxy_verdict(ngx_conf_t *cf,
    char *undo, ngx_array_t *headers, ngx_http_core_loc_conf_t *clcf);
#if !(NGX_TURSO_MEMBERS_PROXY_CONF)
static void *ngx_turso_members_proxy_slot(ngx_conf_t *cf, ngx_module_t *m,
    char *name, char *(*set)(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf));
#endif
static char *ngx_turso_members_default_role(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static ngx_int_t ngx_turso_members_str_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_turso_members_role_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_turso_members_code_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_turso_members_operation_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_turso_members_token_id_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_turso_members_report_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_turso_members_trace_id_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_turso_members_requested_role_variable(
    ngx_http_request_t *r, ngx_http_variable_value_t *v, uintptr_t data);


static ngx_conf_enum_t  ngx_turso_members_modes[] = {
    { ngx_string("enforce"), NGX_TURSO_MEMBERS_MODE_ENFORCE },
    { ngx_string("report"), NGX_TURSO_MEMBERS_MODE_REPORT },
    { ngx_null_string, 0 }
};


static ngx_conf_enum_t  ngx_turso_members_formats[] = {
    { ngx_string("turso"), NGX_TURSO_MEMBERS_FORMAT_TURSO },
    { ngx_string("problem"), NGX_TURSO_MEMBERS_FORMAT_PROBLEM },
    { ngx_null_string, 0 }
};


static ngx_command_t  ngx_turso_members_commands[] = {

    { ngx_string("turso_members"),
      NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_turso_members_loc_conf_t, enable),
      NULL },

    { ngx_string("turso_members_token_file"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE123,
      ngx_turso_members_token_file,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("turso_members_token_env"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE12,
      ngx_turso_members_token_env,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("turso_members_default_role"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_turso_members_default_role,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("turso_members_allowed_roles"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_turso_members_set_roles,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("turso_members_operations"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_turso_members_set_operations,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("turso_members_organizations"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_turso_members_set_organizations,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("turso_members_mode"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_turso_members_loc_conf_t, mode),
      &ngx_turso_members_modes },

    { ngx_string("turso_members_error_format"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_turso_members_loc_conf_t, error_format),
      &ngx_turso_members_formats },

    { ngx_string("turso_members_status"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_turso_members_status,
      0,
      0,
      NULL },

    { ngx_string("turso_members_max_body_size"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_turso_members_loc_conf_t, max_body_size),
      NULL },

    { ngx_string("turso_members_cors_origins"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_turso_members_cors_origins,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_turso_members_module_ctx = {
    ngx_turso_members_add_variables,       /* preconfiguration */
    ngx_turso_members_init,                /* postconfiguration */

    ngx_turso_members_create_main_conf,    /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_turso_members_create_loc_conf,     /* create location configuration */
    ngx_turso_members_merge_loc_conf       /* merge location configuration */
};


ngx_module_t  ngx_turso_members_module = {
    NGX_MODULE_V1,
    &ngx_turso_members_module_ctx,         /* module context */
    ngx_turso_members_commands,            /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    ngx_turso_members_upstream_init_module, /* init module */
    NULL,                                  /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_http_variable_t  ngx_turso_members_vars[] = {

    { ngx_string("turso_members_upstream_uri"), NULL,
      ngx_turso_members_str_variable,
      offsetof(ngx_turso_members_ctx_t, upstream_uri),
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("turso_members_org"), NULL,
      ngx_turso_members_str_variable,
      offsetof(ngx_turso_members_ctx_t, org),
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("turso_members_username"), NULL,
      ngx_turso_members_str_variable,
      offsetof(ngx_turso_members_ctx_t, username),
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("turso_members_email"), NULL,
      ngx_turso_members_str_variable,
      offsetof(ngx_turso_members_ctx_t, email),
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("turso_members_role"), NULL,
      ngx_turso_members_role_variable, 0,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("turso_members_code"), NULL,
      ngx_turso_members_code_variable, 0,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("turso_members_operation"), NULL,
      ngx_turso_members_operation_variable, 0,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("turso_members_token_id"), NULL,
      ngx_turso_members_token_id_variable, 0,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("turso_members_request_id"), NULL,
      ngx_turso_members_str_variable,
      offsetof(ngx_turso_members_ctx_t, request_id),
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("turso_members_report"), NULL,
      ngx_turso_members_report_variable, 0,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("turso_members_trace_id"), NULL,
      ngx_turso_members_trace_id_variable, 0,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("turso_members_requested_role"), NULL,
      ngx_turso_members_requested_role_variable, 0,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


static ngx_int_t
ngx_turso_members_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_turso_members_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


/*
 * The handlers and filters run for every request of every location: they
 * are hooked only when some location has "turso_members on" (merged
 * before this runs), so that an nginx that loads the module without using
 * it runs none of its code per request (as headers-more does).
 */

static ngx_int_t
ngx_turso_members_init(ngx_conf_t *cf)
{
    ngx_http_handler_pt            *h;
    ngx_http_core_main_conf_t      *cmcf;
    ngx_turso_members_main_conf_t  *tmcf;

    /* once per configuration load: which module build a log comes from */
    ngx_log_error(NGX_LOG_NOTICE, cf->log, 0,
                  "ngx_turso_members/" NGX_TURSO_MEMBERS_VERSION);

    /* the counters, for turso_members_status even when nothing is counted */

    if (ngx_turso_members_metrics_init(cf) != NGX_OK) {
        return NGX_ERROR;
    }

    tmcf = ngx_http_conf_get_module_main_conf(cf, ngx_turso_members_module);

    if (!tmcf->enabled) {
        return NGX_OK;
    }

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_LOG_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_turso_members_log_handler;

    ngx_turso_members_route_init();
    ngx_turso_members_upstream_init();
    ngx_turso_members_error_init();

    /* before the gateway's filters: its header filter runs after them */

    if (ngx_turso_members_cors_init(cf) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_turso_members_filter_init(cf);
}


static void *
ngx_turso_members_create_main_conf(ngx_conf_t *cf)
{
    ngx_turso_members_main_conf_t  *tmcf;

    tmcf = ngx_pcalloc(cf->pool, sizeof(ngx_turso_members_main_conf_t));
    if (tmcf == NULL) {
        return NULL;
    }

    return tmcf;
}


static void *
ngx_turso_members_create_loc_conf(ngx_conf_t *cf)
{
    ngx_turso_members_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_turso_members_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     conf->token = NULL;
     *     conf->tokens = NULL;
     *     conf->default_role = NULL;
     *     conf->roles = { 0, 0, NULL, NULL };
     *     conf->operations = { 0, 0, NULL, NULL };
     *     conf->organizations = { 0, 0, NULL, NULL };
     */

    conf->enable = NGX_CONF_UNSET;
    conf->mode = NGX_CONF_UNSET_UINT;
    conf->error_format = NGX_CONF_UNSET_UINT;
    conf->max_body_size = NGX_CONF_UNSET_SIZE;
    conf->cors_origins = NGX_CONF_UNSET_PTR;

    return conf;
}


static char *
ngx_turso_members_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_turso_members_loc_conf_t  *prev = parent;
    ngx_turso_members_loc_conf_t  *conf = child;

    char                           *rv;
    ngx_turso_members_main_conf_t  *tmcf;

    ngx_conf_merge_value(conf->enable, prev->enable, 0);

    if (conf->enable) {
        tmcf = ngx_http_conf_get_module_main_conf(cf,
                                                  ngx_turso_members_module);
        tmcf->enabled = 1;
    }
    ngx_conf_merge_uint_value(conf->mode, prev->mode,
                              NGX_TURSO_MEMBERS_MODE_ENFORCE);
    ngx_conf_merge_uint_value(conf->error_format, prev->error_format,
                              NGX_TURSO_MEMBERS_FORMAT_TURSO);
    ngx_conf_merge_size_value(conf->max_body_size, prev->max_body_size,
                              16 * 1024);

    ngx_conf_merge_ptr_value(conf->cors_origins, prev->cors_origins, NULL);

    ngx_turso_members_merge_policy(prev, conf);

    if (conf->enable && conf->token == NULL && conf->tokens == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"turso_members\" is on but no Turso API token "
                           "is configured: use \"turso_members_token_file\" "
                           "or \"turso_members_token_env\"");
        return NGX_CONF_ERROR;
    }

    ngx_turso_members_warn_satisfy_any(cf, conf);

    rv = ngx_turso_members_merge_redirects(cf, prev, conf);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

#if (nginx_version >= 1029000)
    rv = ngx_turso_members_merge_early_hints(cf, prev, conf);
    if (rv != NGX_CONF_OK) {
        return rv;
    }
#endif

    return ngx_turso_members_check_proxy(cf, conf);
}


/*
 * The token set, the default role and the policy lists: a level that sets
 * one replaces the outer level's whole value.
 */

static void
ngx_turso_members_merge_policy(ngx_turso_members_loc_conf_t *prev,
    ngx_turso_members_loc_conf_t *conf)
{
    if (conf->token == NULL && conf->tokens == NULL) {
        conf->token = prev->token;
        conf->tokens = prev->tokens;
    }

    if (conf->default_role == NULL) {
        conf->default_role = prev->default_role ? prev->default_role
                                                : "member";
    }

    if (!conf->roles.set) {
        conf->roles = prev->roles;
    }

    if (!conf->operations.set) {
        conf->operations = prev->operations;
    }

    if (!conf->organizations.set) {
        conf->organizations = prev->organizations;
    }
}


/*
 * Under "satisfy any" an allowed address (or another access module)
 * lets a request in before auth_basic checks its password, and
 * $remote_user then names whatever user the client's Authorization
 * claims: a policy keyed on it can be chosen by the client.
 */

static void
ngx_turso_members_warn_satisfy_any(ngx_conf_t *cf,
    ngx_turso_members_loc_conf_t *conf)
{
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (conf->enable && clcf->handler
        && clcf->satisfy == NGX_HTTP_SATISFY_ANY
        && (conf->roles.values || conf->operations.values
            || conf->organizations.values))
    {
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "\"satisfy any\" in the \"turso_members\" "
                           "location \"%V\", whose policy uses variables: "
                           "when an allowed address lets a request in, "
                           "$remote_user is the user the client claims, "
                           "unchecked; key the policy on what only a "
                           "passed check sets, or use \"satisfy all\"",
                           &clcf->name);
    }
}


/*
 * A gateway location answers every error itself and sends its requests
 * nowhere but to its upstream: the error_page and post_action it would
 * inherit are dropped, its own are refused (nginx's core module merged
 * the location before: an inherited value is the parent's pointer), and
 * its content handler opens for validated requests only.
 */

static char *
ngx_turso_members_merge_redirects(ngx_conf_t *cf,
    ngx_turso_members_loc_conf_t *prev, ngx_turso_members_loc_conf_t *conf)
{
    off_t                      size;
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    conf->error_pages = clcf->error_pages;
    conf->post_action = clcf->post_action.data;

    if (!conf->enable) {
        return NGX_CONF_OK;
    }

    if (clcf->error_pages && clcf->error_pages != prev->error_pages) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"error_page\" cannot be used in a "
                           "\"turso_members\" location: the gateway "
                           "answers every error itself, in JSON");
        return NGX_CONF_ERROR;
    }

    if (clcf->post_action.data
        && clcf->post_action.data != prev->post_action)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"post_action\" cannot be used in a "
                           "\"turso_members\" location: the gateway "
                           "sends its requests to its upstream only");
        return NGX_CONF_ERROR;
    }

    clcf->error_pages = NULL;
    ngx_str_null(&clcf->post_action);

    /*
     * nginx's own limit holds a body to turso_members_max_body_size: by
     * its Content-Length before any handler runs, a chunked one while it
     * arrives; its 413 is answered in JSON.  A cap of 0 (no body) is 1
     * there, as 0 is no limit to nginx: the handler refuses the one byte.
     */

    size = ngx_max((off_t) conf->max_body_size, 1);

    if (clcf->client_max_body_size == 0
        || clcf->client_max_body_size > size)
    {
        clcf->client_max_body_size = size;
    }

    /*
     * The gateway's handler goes in front of proxy_pass's.  An "if" or
     * "limit_except" block without a handler of its own runs its
     * location's.
     */

    if (clcf->handler) {
        conf->content_handler = clcf->handler;
        clcf->handler = ngx_turso_members_handler;

    } else if (clcf->noname) {
        conf->content_handler = prev->content_handler;

    } else {
        conf->content_handler = NULL;
        clcf->handler = ngx_turso_members_handler;
    }

    return NGX_CONF_OK;
}


#if (nginx_version >= 1029000)

/*
 * nginx 1.29.0 relays an upstream's 103 Early Hints, headers and all, in
 * a location with "early_hints", past every header filter: in a gateway
 * location the Turso API's headers would reach the client unchecked.
 * Inherited, the directive is dropped there; written there, refused.
 */

static char *
ngx_turso_members_merge_early_hints(ngx_conf_t *cf,
    ngx_turso_members_loc_conf_t *prev, ngx_turso_members_loc_conf_t *conf)
{
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    conf->early_hints = clcf->early_hints;

    if (!conf->enable) {
        return NGX_CONF_OK;
    }

    if (clcf->early_hints && clcf->early_hints != prev->early_hints) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"early_hints\" cannot be used in a "
                           "\"turso_members\" location: the upstream's "
                           "103 headers would reach the client unchecked");
        return NGX_CONF_ERROR;
    }

    clcf->early_hints = NULL;

    return NGX_CONF_OK;
}

#endif


#if (NGX_TURSO_MEMBERS_PROXY_CONF)

/*
 * Since nginx 1.29.4 the proxy module's configuration is readable
 * (ngx_http_proxy_module.h).  nginx merges the modules' location
 * configurations in module order, and this module comes after the proxy
 * module (built in or loaded), so what is read here is final: settings
 * that would change the validated request again are refused.
 */

static char *
ngx_turso_members_check_proxy(ngx_conf_t *cf,
    ngx_turso_members_loc_conf_t *conf)
{
    char                       *undo;
    ngx_http_core_loc_conf_t   *clcf;
    ngx_http_proxy_loc_conf_t  *plcf;

    if (!conf->enable) {
        return NGX_CONF_OK;
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    plcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_proxy_module);

    undo = NULL;

    if (plcf->proxy_lengths == NULL && plcf->vars.uri.len) {
        /* it would send the client's path, the location's prefix replaced */
        undo = "proxy_pass with a URI part";

    } else if (!plcf->upstream.pass_request_headers) {
        undo = "proxy_pass_request_headers off";

    } else if (!plcf->upstream.pass_request_body) {
        undo = "proxy_pass_request_body off";

    } else if (plcf->body_source.data) {
        undo = "proxy_set_body";

    } else if (plcf->method) {
        undo = "proxy_method";

#if (NGX_HTTP_CACHE)
    } else if (plcf->upstream.cache > 0) {
        undo = "proxy_cache";
#endif
    }

    return ngx_turso_members_check_proxy_verdict(cf, undo,
                                                 plcf->headers_source, clcf);
}


#else

/*
 * Before nginx 1.29.4 the proxy module's configuration has no header, but
 * its directives say where they keep their values: a standard setter's
 * value at its offset in the location's configuration, and a value of the
 * ngx_http_upstream_conf_t in it (public) tells where that starts.  The
 * same settings are refused, but "proxy_cache": the upstream request of a
 * cached location is built within proxy_pass's handler, and one nginx
 * defers is refused at run time (ngx_turso_members_upstream.c); its
 * background update is refused.
 */

static char *
ngx_turso_members_check_proxy(ngx_conf_t *cf,
    ngx_turso_members_loc_conf_t *conf)
{
    char                       *undo;
    ngx_str_t                  *body;
    ngx_uint_t                  i;
    ngx_msec_t                 *timeout;
    ngx_array_t               **headers;
    ngx_module_t               *m;
    ngx_http_upstream_conf_t   *ucf;
    ngx_http_core_loc_conf_t   *clcf;
    ngx_http_complex_value_t  **method;

    if (!conf->enable) {
        return NGX_CONF_OK;
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    for (i = 0; cf->cycle->modules[i]; i++) {
        m = cf->cycle->modules[i];

        if (m->type == NGX_HTTP_MODULE
            && ngx_strcmp(m->name, "ngx_http_proxy_module") == 0)
        {
            break;
        }
    }

    m = cf->cycle->modules[i];

    if (m == NULL) {
        /* an nginx without the proxy module: nothing proxies */
        return NGX_CONF_OK;
    }

    timeout = ngx_turso_members_proxy_slot(cf, m, "proxy_connect_timeout",
                                           ngx_conf_set_msec_slot);
    body = ngx_turso_members_proxy_slot(cf, m, "proxy_set_body",
                                        ngx_conf_set_str_slot);
    method = ngx_turso_members_proxy_slot(cf, m, "proxy_method",
                                          ngx_http_set_complex_value_slot);
    headers = ngx_turso_members_proxy_slot(cf, m, "proxy_set_header",
                                           ngx_conf_set_keyval_slot);

    if (timeout == NULL || body == NULL || method == NULL
        || headers == NULL)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "the proxy module's settings of the "
                           "\"turso_members\" location \"%V\" cannot be "
                           "checked in this nginx", &clcf->name);
        return NGX_CONF_ERROR;
    }

    ucf = (ngx_http_upstream_conf_t *)
              ((u_char *) timeout
               - offsetof(ngx_http_upstream_conf_t, connect_timeout));

    undo = NULL;

    if (!ucf->pass_request_headers) {
        undo = "proxy_pass_request_headers off";

    } else if (!ucf->pass_request_body) {
        undo = "proxy_pass_request_body off";

    } else if (body->data) {
        undo = "proxy_set_body";

    } else if (*method) {
        undo = "proxy_method";

#if (NGX_HTTP_CACHE)
    } else if (ucf->cache > 0 && ucf->cache_background_update) {
        /* its clone of the request is refused: a stale answer for good */
        undo = "proxy_cache_background_update on";
#endif
    }

    return ngx_turso_members_check_proxy_verdict(cf, undo, *headers, clcf);
}


/*
 * Where the proxy module keeps a directive's value in the location's
 * configuration; NULL unless its setter is the one given, whose type of
 * value is known.
 */

static void *
ngx_turso_members_proxy_slot(ngx_conf_t *cf, ngx_module_t *m, char *name,
    char *(*set)(ngx_conf_t *cf, ngx_command_t *cmd, void *conf))
{
    size_t          len;
    u_char         *plcf;
    ngx_command_t  *cmd;

    plcf = ((ngx_http_conf_ctx_t *) cf->ctx)->loc_conf[m->ctx_index];
    len = ngx_strlen(name);

    for (cmd = m->commands; cmd && cmd->name.len; cmd++) {

        if (cmd->name.len != len
            || ngx_strncmp(cmd->name.data, name, len) != 0)
        {
            continue;
        }

        if (cmd->set != set || cmd->conf != NGX_HTTP_LOC_CONF_OFFSET) {
            return NULL;
        }

        return plcf + cmd->offset;
    }

    return NULL;
}

#endif


/*
 * Either reading's verdict: a setting that would undo the gateway's work,
 * found by the caller, or a proxy_set_header of a header the gateway
 * sends upstream itself.
 */

static char *
ngx_turso_members_check_proxy_verdict(ngx_conf_t *cf, char *undo,
    ngx_array_t *headers, ngx_http_core_loc_conf_t *clcf)
{
    ngx_uint_t     i, k;
    ngx_keyval_t  *h;

    static ngx_str_t  gateway_headers[] = {
        ngx_string("Authorization"),
        ngx_string("Content-Type"),
        ngx_string("Content-Length"),
        ngx_string("Transfer-Encoding")
    };

    if (undo) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%s\" cannot be used in the \"turso_members\" "
                           "location \"%V\": the upstream must get the "
                           "request the gateway validated", undo, &clcf->name);
        return NGX_CONF_ERROR;
    }

    if (headers == NULL) {
        return NGX_CONF_OK;
    }

    h = headers->elts;

    for (i = 0; i < headers->nelts; i++) {
        for (k = 0; k < sizeof(gateway_headers) / sizeof(ngx_str_t); k++) {

            if (h[i].key.len == gateway_headers[k].len
                && ngx_strncasecmp(h[i].key.data, gateway_headers[k].data,
                                   h[i].key.len) == 0)
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "\"proxy_set_header %V\" cannot be used "
                                   "in the \"turso_members\" location "
                                   "\"%V\": the gateway sets that header",
                                   &h[i].key, &clcf->name);
                return NGX_CONF_ERROR;
            }
        }
    }

    return NGX_CONF_OK;
}


static char *
ngx_turso_members_default_role(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_turso_members_loc_conf_t *tlcf = conf;

    ngx_str_t   *value;
    const char  *role;

    if (tlcf->default_role != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;

    role = ngx_turso_members_role(value[1].data, value[1].len);

    if (role == NULL || ngx_strcmp(role, value[1].data) != 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid role \"%V\": the default role must be "
                           "\"admin\", \"member\" or \"viewer\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    tlcf->default_role = role;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_turso_members_str_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t                *s;
    ngx_turso_members_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_turso_members_module);

    if (ctx == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    s = (ngx_str_t *) ((char *) ctx + data);

    if (s->data == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->len = s->len;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;
    v->data = s->data;

    return NGX_OK;
}


static ngx_int_t
ngx_turso_members_role_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_turso_members_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_turso_members_module);

    if (ctx == NULL || ctx->role == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->len = ngx_strlen(ctx->role);
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;
    v->data = (u_char *) ctx->role;

    return NGX_OK;
}


static ngx_int_t
ngx_turso_members_code_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t                *s;
    ngx_turso_members_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_turso_members_module);

    if (ctx == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    s = &ngx_turso_members_codes[ctx->code].code;

    v->len = s->len;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;
    v->data = s->data;

    return NGX_OK;
}


static ngx_int_t
ngx_turso_members_operation_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_turso_members_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_turso_members_module);

    if (ctx == NULL || ctx->route == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->len = ctx->route->operation.len;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    v->data = ctx->route->operation.data;

    return NGX_OK;
}


static ngx_int_t
ngx_turso_members_token_id_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t                *id;
    ngx_turso_members_ctx_t  *ctx;

    /* the token the request was (or would have been) forwarded with */

    ctx = ngx_http_get_module_ctx(r, ngx_turso_members_module);

    id = ctx ? ngx_turso_members_token_id(ctx) : NULL;

    if (id == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->len = id->len;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;
    v->data = id->data;

    return NGX_OK;
}


static ngx_int_t
ngx_turso_members_report_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t                *s;
    ngx_turso_members_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_turso_members_module);

    if (ctx == NULL || ctx->report == NGX_TURSO_MEMBERS_OK) {
        v->not_found = 1;
        return NGX_OK;
    }

    s = &ngx_turso_members_codes[ctx->report].code;

    v->len = s->len;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;
    v->data = s->data;

    return NGX_OK;
}


static ngx_int_t
ngx_turso_members_trace_id_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_turso_members_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_turso_members_module);

    if (ctx == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    /* the client's headers: the upstream's list holds no other trace */

    ngx_turso_members_trace_context(r, ctx);

    if (ctx->trace_id.len == 0) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->len = ctx->trace_id.len;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;
    v->data = ctx->trace_id.data;

    return NGX_OK;
}


/*
 * The role the body asked for, as sent (at most 32 bytes of it): bytes
 * outside printable ASCII, '"' and '\\' as \xHH, so that no log format
 * or header gets a byte it cannot take
 */

static ngx_int_t
ngx_turso_members_requested_role_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char                   *p, *s, *last;
    ngx_turso_members_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_turso_members_module);

    if (ctx == NULL || ctx->requested_role.len == 0) {
        v->not_found = 1;
        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, ctx->requested_role.len * 4);
    if (p == NULL) {
        return NGX_ERROR;
    }

    v->data = p;

    s = ctx->requested_role.data;
    last = s + ctx->requested_role.len;

    for ( /* void */ ; s < last; s++) {
        if (*s < 0x20 || *s > 0x7e || *s == '"' || *s == '\\') {
            p = ngx_sprintf(p, "\\x%02xd", (int) *s);

        } else {
            *p++ = *s;
        }
    }

    v->len = p - v->data;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    return NGX_OK;
}
