
/*
 * Copyright (C) ngx_turso_members authors
 */


#ifndef _NGX_TURSO_MEMBERS_MODULE_H_INCLUDED_
#define _NGX_TURSO_MEMBERS_MODULE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_turso_members_valid.h"
#include "ngx_turso_members_body.h"
#include "ngx_turso_members_json.h"
#include "ngx_turso_members_write.h"
#include "ngx_turso_members_mask.h"


/*
 * The module's version: the Debian package's (debian/changelog), checked by
 * t/170-version.t.  Reported at start-up and by turso_members_status.
 */
#define NGX_TURSO_MEMBERS_VERSION            "0.1.0"


/*
 * The operations, the one list of them: a route does one, a location may
 * allow a subset (turso_members_operations), the metrics count each.
 * Their names are in ngx_turso_members_route.c, by these indexes.
 */
typedef enum {
    NGX_TURSO_MEMBERS_OP_NONE = 0,
    NGX_TURSO_MEMBERS_OP_LIST_MEMBERS,
    NGX_TURSO_MEMBERS_OP_GET_MEMBER,
    NGX_TURSO_MEMBERS_OP_ADD_MEMBER,
    NGX_TURSO_MEMBERS_OP_UPDATE_ROLE,
    NGX_TURSO_MEMBERS_OP_REMOVE_MEMBER,
    NGX_TURSO_MEMBERS_OP_LIST_INVITES,
    NGX_TURSO_MEMBERS_OP_INVITE,
    NGX_TURSO_MEMBERS_OP_DELETE_INVITE,
    NGX_TURSO_MEMBERS_OP_LAST
} ngx_turso_members_op_e;

/* an operation as a bit of a policy's mask */
#define ngx_turso_members_op_bit(op)         ((ngx_uint_t) 1 << (op))
#define NGX_TURSO_MEMBERS_OP_ALL                                              \
    (ngx_turso_members_op_bit(NGX_TURSO_MEMBERS_OP_LAST) - 2)

/* what the last path segment of a route names */
#define NGX_TURSO_MEMBERS_ITEM_NONE          0
#define NGX_TURSO_MEMBERS_ITEM_USERNAME      1
#define NGX_TURSO_MEMBERS_ITEM_EMAIL         2

#define NGX_TURSO_MEMBERS_ROLE_ADMIN         0x01
#define NGX_TURSO_MEMBERS_ROLE_MEMBER        0x02
#define NGX_TURSO_MEMBERS_ROLE_VIEWER        0x04

/* how much of an upstream error body is kept for inspection and the log */
#define NGX_TURSO_MEMBERS_UPSTREAM_BODY_MAX  2048


/*
 * The error codes: the indexes of ngx_turso_members_codes[] (error.c),
 * which has a row for each, and the build fails when the last is missing
 */
typedef enum {
    NGX_TURSO_MEMBERS_OK = 0,

    /* the gateway's own answers */
    NGX_TURSO_MEMBERS_INVALID_JSON,
    NGX_TURSO_MEMBERS_INVALID_BODY,
    NGX_TURSO_MEMBERS_INVALID_ROLE,
    NGX_TURSO_MEMBERS_INVALID_ORGANIZATION,
    NGX_TURSO_MEMBERS_INVALID_USERNAME,
    NGX_TURSO_MEMBERS_INVALID_EMAIL,
    NGX_TURSO_MEMBERS_ROLE_NOT_ALLOWED,
    NGX_TURSO_MEMBERS_ORGANIZATION_NOT_ALLOWED,
    NGX_TURSO_MEMBERS_OPERATION_NOT_ALLOWED,
    NGX_TURSO_MEMBERS_BODY_TOO_LARGE,
    NGX_TURSO_MEMBERS_METHOD_NOT_ALLOWED,
    NGX_TURSO_MEMBERS_ROUTE_NOT_SUPPORTED,
    NGX_TURSO_MEMBERS_ORIGIN_NOT_ALLOWED,

    /* the upstream's answers, normalized */
    NGX_TURSO_MEMBERS_MEMBER_EXISTS,
    NGX_TURSO_MEMBERS_USER_NOT_FOUND,
    NGX_TURSO_MEMBERS_MEMBER_NOT_FOUND,
    NGX_TURSO_MEMBERS_INVITE_NOT_FOUND,
    NGX_TURSO_MEMBERS_ORGANIZATION_NOT_FOUND,
    NGX_TURSO_MEMBERS_NOT_FOUND,
    NGX_TURSO_MEMBERS_UPSTREAM_REJECTED,
    NGX_TURSO_MEMBERS_RATE_LIMITED,
    NGX_TURSO_MEMBERS_UPSTREAM_UNAUTHORIZED,
    NGX_TURSO_MEMBERS_UPSTREAM_FORBIDDEN,
    NGX_TURSO_MEMBERS_UPSTREAM_ERROR,
    NGX_TURSO_MEMBERS_UPSTREAM_UNAVAILABLE,
    NGX_TURSO_MEMBERS_UPSTREAM_TIMEOUT,

    /* nginx's own error pages in a gateway location */
    NGX_TURSO_MEMBERS_BAD_REQUEST,
    NGX_TURSO_MEMBERS_REQUEST_TIMEOUT,
    NGX_TURSO_MEMBERS_FORBIDDEN,
    NGX_TURSO_MEMBERS_UNAUTHORIZED,
    NGX_TURSO_MEMBERS_TOO_MANY_REQUESTS,
    NGX_TURSO_MEMBERS_SERVICE_UNAVAILABLE,
    NGX_TURSO_MEMBERS_INTERNAL_ERROR,

    NGX_TURSO_MEMBERS_CODE_LAST
} ngx_turso_members_code_e;


/*
 * A route the gateway serves: the path /v{version}/organizations/{org}/
 * {collection}[/{item}] with a method.  The upstream gets the same path,
 * but for a route whose item goes into the body.
 */
typedef struct {
    ngx_uint_t                      method;
    ngx_uint_t                      version;
    ngx_str_t                       collection;
    ngx_uint_t                      item;        /* NGX_TURSO_MEMBERS_ITEM_* */
    ngx_uint_t                      op;          /* NGX_TURSO_MEMBERS_OP_* */
    ngx_str_t                       operation;   /* op's name, set at init */
    ngx_turso_members_body_spec_t   body;
    ngx_uint_t                      not_found;   /* the code of a 404 */
    ngx_uint_t                      conflict;    /* the code of a 409 */
    /* the path's item goes into the body, for the documented route */
    unsigned                        item_in_body:1;
    /* a body without "role" gets turso_members_default_role */
    unsigned                        default_role:1;
} ngx_turso_members_route_t;


typedef ngx_uint_t (*ngx_turso_members_word_pt)(u_char *s, size_t len);


typedef struct {
    ngx_uint_t                      set;
    ngx_uint_t                      mask;     /* static roles, operations */
    ngx_array_t                    *words;    /* static organizations */
    ngx_array_t                    *values;   /* with variables */
} ngx_turso_members_list_t;


/*
 * A token's value, on the heap: the token holds its current one, and a
 * request the one it went upstream with, until the request ends (a
 * refresh may replace the token's meanwhile, and the request's answer
 * still names it and must not show it).  Zeroed and freed by its last
 * holder.
 */

typedef struct {
    ngx_str_t                       authorization;  /* "Bearer <token>" */
    ngx_turso_members_mask_secret_t mask;           /* the token, for logs */
    ngx_str_t                       id;             /* 12 hex digits */
    ngx_uint_t                      refs;
    size_t                          size;           /* of the block */
    u_char                          id_buf[12];
} ngx_turso_members_secret_t;


typedef struct {
    ngx_turso_members_secret_t     *value;
    ngx_str_t                       source;         /* file or variable */
    ngx_str_t                       organization;   /* empty: the default */
    ngx_str_t                       label;          /* ends its messages */
    ngx_msec_t                      refresh;
    ngx_msec_t                      next_check;
    ngx_file_uniq_t                 uniq;
    time_t                          mtime;
    off_t                           size;
    time_t                          read_at;        /* the last read */
    /* its health in the metrics zone (ngx_turso_members_metrics.c) */
    ngx_uint_t                      metrics_org;    /* 0: no label its own */
    void                           *metrics;
    unsigned                        missing:1;      /* the file was gone */
} ngx_turso_members_token_t;


#define NGX_TURSO_MEMBERS_MODE_ENFORCE       0
#define NGX_TURSO_MEMBERS_MODE_REPORT        1

#define NGX_TURSO_MEMBERS_FORMAT_TURSO       0
#define NGX_TURSO_MEMBERS_FORMAT_PROBLEM     1


typedef struct {
    ngx_shm_zone_t                 *zone;
    void                           *metrics;  /* in the zone */
    ngx_uint_t                      metrics_cap;
    ngx_array_t                     token_lines;  /* of every level */
    ngx_uint_t                      enabled;  /* some location is "on" */
    ngx_uint_t                      cors;     /* cors_origins somewhere */
    /* the indexed variables that read what the hand-off swaps */
    ngx_array_t                    *swapped;  /* of ngx_uint_t */
} ngx_turso_members_main_conf_t;


typedef struct {
    ngx_flag_t                      enable;
    ngx_uint_t                      mode;
    ngx_uint_t                      error_format;
    ngx_turso_members_token_t      *token;    /* the default */
    ngx_array_t                    *tokens;   /* the organizations' own */
    const char                     *default_role;
    ngx_turso_members_list_t        roles;
    ngx_turso_members_list_t        operations;
    ngx_turso_members_list_t        organizations;
    size_t                          max_body_size;
    ngx_array_t                    *cors_origins;  /* complex values */

    /* error_page, post_action, early_hints, before the gateway drops them */
    ngx_array_t                    *error_pages;
    u_char                         *post_action;
#if (nginx_version >= 1029000)
    ngx_array_t                    *early_hints;
#endif

    /* the location's own content handler (proxy_pass), behind the gateway's */
    ngx_http_handler_pt             content_handler;
} ngx_turso_members_loc_conf_t;


/*
 * What the response filters do with the answer to a gateway request: the
 * header filter decides, the body filter follows (ngx_turso_members_filter.c)
 */
typedef enum {
    /* passed on untouched: a success with a body, or not decided yet */
    NGX_TURSO_MEMBERS_ANSWER_PASS = 0,
    /* the gateway's own error (ngx_turso_members_send_error) */
    NGX_TURSO_MEMBERS_ANSWER_OWN,
    /* a success of unknown length: its header waits for its first bytes */
    NGX_TURSO_MEMBERS_ANSWER_HOLD,
    /* an upstream error: its header held, its body consumed to its end */
    NGX_TURSO_MEMBERS_ANSWER_BUFFER,
    /*
     * the gateway's answer sent in its place: what the upstream still
     * sends is dropped, what nginx could not send at once is flushed
     */
    NGX_TURSO_MEMBERS_ANSWER_REPLACED
} ngx_turso_members_answer_e;


typedef struct {
    const ngx_turso_members_route_t  *route;
    ngx_str_t                       org;
    ngx_str_t                       username;
    ngx_str_t                       email;
    ngx_str_t                       upstream_uri;
    ngx_str_t                       message;
    ngx_str_t                       request_id;
    ngx_str_t                       trace_id;     /* of a valid traceparent */
    ngx_str_t                       requested_role;  /* as sent, bounded */
    ngx_table_elt_t                *trace[2];     /* traceparent, tracestate */
    ngx_turso_members_token_t      *token;       /* the one forwarded with */
    ngx_turso_members_secret_t     *sent;        /* and its value */
    const char                     *role;
    ngx_uint_t                      code;
    ngx_uint_t                      report;      /* code report mode let by */
    ngx_buf_t                      *upstream_body;
    ngx_uint_t                      upstream_status;
    ngx_uint_t                      http_status;  /* else the code's */
    ngx_uint_t                      answer;   /* NGX_TURSO_MEMBERS_ANSWER_* */

    /*
     * The headers of the upstream request, the token's among them, and
     * its URI: in r->headers_in and r->unparsed_uri only while the
     * location's content handler runs (ngx_turso_members_upstream.c);
     * the client's values meanwhile
     */
    ngx_list_t                      upstream_headers;
    ngx_list_t                      client_headers;
    ngx_str_t                       client_uri;
    ngx_str_t                       client_args;
    ngx_table_elt_t                *client_upgrade;
    ngx_uint_t                      http_version;

    u_char                          id[32];      /* the gateway's id */

    unsigned                        keep_body:1;  /* of an upstream error */
    unsigned                        handing_off:1;  /* proxy_pass's turn */
    unsigned                        upgrade_off:1;  /* till the answer */
    unsigned                        client_uri_valid:1;
    unsigned                        trace_parsed:1;
    unsigned                        sending:1;  /* the replacement goes */
} ngx_turso_members_ctx_t;


typedef struct {
    ngx_str_t                       code;
    ngx_uint_t                      status;
    ngx_str_t                       message;
    ngx_uint_t                      plain;  /* the message needs no escape */
    /* ","code":"<code>","status":<status>, written once at start-up */
    ngx_str_t                       tail;
    u_char                          tail_buf[64];
} ngx_turso_members_code_t;


/*
 * The work a hook does for the gateway's own requests stays out of the
 * hook, which every request of every location runs: the others pay a
 * test and a jump (bench/idle.sh)
 */

#if defined(__GNUC__)
#define ngx_turso_members_noinline  __attribute__ ((noinline))
#else
#define ngx_turso_members_noinline
#endif


/* what a token file's refresh found, for the metrics */
#define NGX_TURSO_MEMBERS_TOKEN_VALID        0  /* read, the token in use */
#define NGX_TURSO_MEMBERS_TOKEN_FAILED       1  /* kept: the file is bad */
#define NGX_TURSO_MEMBERS_TOKEN_MISSING      2  /* kept: the file is gone */


/* ngx_turso_members_metrics.c */
ngx_int_t ngx_turso_members_metrics_init(ngx_conf_t *cf);
ngx_int_t ngx_turso_members_log_handler(ngx_http_request_t *r);
void ngx_turso_members_metrics_report(ngx_http_request_t *r,
    ngx_uint_t code);
char *ngx_turso_members_status(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_turso_members_metrics_token_line(ngx_conf_t *cf,
    ngx_turso_members_token_t *t);
void ngx_turso_members_metrics_token(ngx_turso_members_token_t *t,
    ngx_uint_t event);

/* ngx_turso_members_policy.c */
char *ngx_turso_members_set_roles(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_turso_members_set_operations(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_turso_members_set_organizations(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_turso_members_policy_check(ngx_http_request_t *r,
    ngx_turso_members_ctx_t *ctx);
ngx_int_t ngx_turso_members_policy_role(ngx_http_request_t *r,
    ngx_turso_members_ctx_t *ctx, const char *role);

/* ngx_turso_members_route.c */
void ngx_turso_members_route_init(void);
ngx_str_t *ngx_turso_members_operation_name(ngx_uint_t op);
ngx_uint_t ngx_turso_members_route_find(ngx_http_request_t *r,
    ngx_turso_members_ctx_t *ctx, ngx_str_t *allow);
ngx_int_t ngx_turso_members_route_upstream_uri(ngx_http_request_t *r,
    ngx_turso_members_ctx_t *ctx);
ngx_int_t ngx_turso_members_route_methods(ngx_http_request_t *r,
    ngx_str_t *methods);

/* ngx_turso_members_handler.c */
ngx_int_t ngx_turso_members_handler(ngx_http_request_t *r);

/* ngx_turso_members_request.c */
ngx_turso_members_ctx_t *ngx_turso_members_ctx_create(ngx_http_request_t *r);
ngx_int_t ngx_turso_members_request_id(ngx_http_request_t *r,
    ngx_turso_members_ctx_t *ctx);
void *ngx_turso_members_palloc(void *pool, size_t size);
void ngx_turso_members_trace_set(ngx_turso_members_ctx_t *ctx,
    ngx_table_elt_t **h, ngx_uint_t *n);
void ngx_turso_members_trace_context(ngx_http_request_t *r,
    ngx_turso_members_ctx_t *ctx);
ngx_uint_t ngx_turso_members_header_find(ngx_list_t *headers, ngx_str_t *name,
    ngx_table_elt_t **last);
ngx_uint_t ngx_turso_members_next_word(u_char **pos, u_char *last,
    ngx_str_t *word);

/* ngx_turso_members_upstream.c */
void ngx_turso_members_upstream_init(void);
ngx_int_t ngx_turso_members_upstream_init_module(ngx_cycle_t *cycle);
ngx_int_t ngx_turso_members_upstream_prepare(ngx_http_request_t *r,
    ngx_turso_members_ctx_t *ctx, ngx_str_t *authorization);
ngx_int_t ngx_turso_members_upstream_run(ngx_http_request_t *r,
    ngx_turso_members_ctx_t *ctx);
void ngx_turso_members_upstream_end(ngx_http_request_t *r,
    ngx_turso_members_ctx_t *ctx);

/* ngx_turso_members_filter.c */
ngx_int_t ngx_turso_members_filter_init(ngx_conf_t *cf);

/* ngx_turso_members_error.c */
extern ngx_turso_members_code_t  ngx_turso_members_codes[];
void ngx_turso_members_error_init(void);
ngx_int_t ngx_turso_members_error_body(ngx_http_request_t *r,
    ngx_turso_members_ctx_t *ctx, ngx_buf_t **out);
ngx_int_t ngx_turso_members_send_error(ngx_http_request_t *r,
    ngx_turso_members_ctx_t *ctx, ngx_uint_t code, ngx_str_t *allow);
ngx_uint_t ngx_turso_members_upstream_code(ngx_http_request_t *r,
    ngx_turso_members_ctx_t *ctx, ngx_uint_t status);
ngx_uint_t ngx_turso_members_nginx_code(ngx_http_request_t *r,
    ngx_uint_t status);

/* ngx_turso_members_headers.c */
ngx_int_t ngx_turso_members_json_headers(ngx_http_request_t *r,
    ngx_turso_members_ctx_t *ctx, ngx_buf_t *b);
ngx_int_t ngx_turso_members_id_header(ngx_http_request_t *r,
    ngx_turso_members_ctx_t *ctx);
ngx_int_t ngx_turso_members_add_header(ngx_http_request_t *r,
    ngx_str_t *key, ngx_str_t *value);
void ngx_turso_members_clear_headers(ngx_http_request_t *r);

/* ngx_turso_members_cors.c */
char *ngx_turso_members_cors_origins(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_turso_members_cors_init(ngx_conf_t *cf);

/* ngx_turso_members_token.c */
char *ngx_turso_members_token_file(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_turso_members_token_env(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_turso_members_token_t *ngx_turso_members_token_find(ngx_http_request_t *r,
    ngx_turso_members_loc_conf_t *tlcf, ngx_str_t *org);
ngx_str_t *ngx_turso_members_token_use(ngx_http_request_t *r,
    ngx_turso_members_ctx_t *ctx);
ngx_str_t *ngx_turso_members_token_id(ngx_turso_members_ctx_t *ctx);
const ngx_turso_members_mask_secret_t **ngx_turso_members_token_secrets(
    ngx_pool_t *pool, ngx_turso_members_loc_conf_t *tlcf,
    ngx_turso_members_secret_t *sent, size_t *n);


extern ngx_module_t  ngx_turso_members_module;


#endif /* _NGX_TURSO_MEMBERS_MODULE_H_INCLUDED_ */
