
/*
 * Copyright (C) ngx_turso_members authors
 *
 * Metrics in a shared memory zone, summed over all workers and kept across
 * reloads: requests by operation, outcome code and upstream status, and a
 * latency histogram per operation, served in the Prometheus text format
 * by "turso_members_status".
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_turso_members_module.h"


#define NGX_TURSO_MEMBERS_SLOTS     1024
#define NGX_TURSO_MEMBERS_OPS       NGX_TURSO_MEMBERS_OP_LAST
#define NGX_TURSO_MEMBERS_BUCKETS   12
#define NGX_TURSO_MEMBERS_ZONE_SIZE (256 * 1024)


typedef struct {
    ngx_atomic_t                    key;
    ngx_atomic_t                    count;
} ngx_turso_members_slot_t;


typedef struct {
    ngx_turso_members_slot_t        slots[NGX_TURSO_MEMBERS_SLOTS];
    ngx_atomic_t                    buckets[NGX_TURSO_MEMBERS_OPS]
                                           [NGX_TURSO_MEMBERS_BUCKETS];
    ngx_atomic_t                    sum_ms[NGX_TURSO_MEMBERS_OPS];
    ngx_atomic_t                    reports[NGX_TURSO_MEMBERS_CODE_LAST];
    ngx_atomic_t                    dropped;
} ngx_turso_members_metrics_t;


static ngx_int_t ngx_turso_members_metrics_init_zone(ngx_shm_zone_t *zone,
    void *data);
static ngx_int_t ngx_turso_members_status_handler(ngx_http_request_t *r);


/* upper bounds of the latency buckets, in milliseconds */
static ngx_msec_t  ngx_turso_members_bounds[NGX_TURSO_MEMBERS_BUCKETS - 1] = {
    5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000
};

static char  *ngx_turso_members_bound_names[NGX_TURSO_MEMBERS_BUCKETS] = {
    "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5",
    "10", "+Inf"
};


ngx_int_t
ngx_turso_members_metrics_init(ngx_conf_t *cf)
{
    ngx_str_t                       name = ngx_string("turso_members");
    ngx_turso_members_main_conf_t  *tmcf;

    tmcf = ngx_http_conf_get_module_main_conf(cf, ngx_turso_members_module);

    tmcf->zone = ngx_shared_memory_add(cf, &name,
                                       NGX_TURSO_MEMBERS_ZONE_SIZE,
                                       &ngx_turso_members_module);
    if (tmcf->zone == NULL) {
        return NGX_ERROR;
    }

    tmcf->zone->init = ngx_turso_members_metrics_init_zone;

    return NGX_OK;
}


static ngx_int_t
ngx_turso_members_metrics_init_zone(ngx_shm_zone_t *zone, void *data)
{
    ngx_slab_pool_t  *shpool;

    if (data) {
        /* a reload: the counters go on */
        zone->data = data;
        return NGX_OK;
    }

    shpool = (ngx_slab_pool_t *) zone->shm.addr;

    if (zone->shm.exists) {
        zone->data = shpool->data;
        return NGX_OK;
    }

    zone->data = ngx_slab_calloc(shpool, sizeof(ngx_turso_members_metrics_t));
    if (zone->data == NULL) {
        return NGX_ERROR;
    }

    shpool->data = zone->data;

    return NGX_OK;
}


/* a policy rejection that report mode let through */

void
ngx_turso_members_metrics_report(ngx_http_request_t *r, ngx_uint_t code)
{
    ngx_turso_members_metrics_t    *m;
    ngx_turso_members_main_conf_t  *tmcf;

    tmcf = ngx_http_get_module_main_conf(r, ngx_turso_members_module);
    m = tmcf->zone->data;

    (void) ngx_atomic_fetch_add(&m->reports[code], 1);
}


/* the log phase, hooked by ngx_turso_members_module.c */

ngx_int_t
ngx_turso_members_log_handler(ngx_http_request_t *r)
{
    ngx_uint_t                      i, n, op, status, key;
    ngx_msec_int_t                  ms;
    ngx_time_t                     *tp;
    ngx_turso_members_ctx_t        *ctx;
    ngx_turso_members_slot_t       *s;
    ngx_turso_members_metrics_t    *m;
    ngx_turso_members_main_conf_t  *tmcf;

    ctx = ngx_http_get_module_ctx(r, ngx_turso_members_module);

    if (ctx == NULL || r != r->main) {
        return NGX_OK;
    }

    tmcf = ngx_http_get_module_main_conf(r, ngx_turso_members_module);
    m = tmcf->zone->data;

    op = ctx->route ? ctx->route->op : NGX_TURSO_MEMBERS_OP_NONE;

    status = 0;

    if (r->upstream && r->upstream->state) {
        status = r->upstream->state->status % 1000;
    }

    key = (op + 1) << 20 | ctx->code << 10 | status;

    /* open addressing, lock-free: a slot is claimed once, for good */

    i = key % NGX_TURSO_MEMBERS_SLOTS;

    for (n = 0; n < NGX_TURSO_MEMBERS_SLOTS; n++) {
        s = &m->slots[i];

        if (s->key == key
            || (s->key == 0 && ngx_atomic_cmp_set(&s->key, 0, key))
            || s->key == key)
        {
            (void) ngx_atomic_fetch_add(&s->count, 1);
            break;
        }

        i = (i + 1) % NGX_TURSO_MEMBERS_SLOTS;
    }

    if (n == NGX_TURSO_MEMBERS_SLOTS) {
        (void) ngx_atomic_fetch_add(&m->dropped, 1);
    }

    tp = ngx_timeofday();

    ms = (ngx_msec_int_t) ((tp->sec - r->start_sec) * 1000
                           + (tp->msec - r->start_msec));
    ms = ngx_max(ms, 0);

    for (i = 0; i < NGX_TURSO_MEMBERS_BUCKETS - 1; i++) {
        if ((ngx_msec_t) ms <= ngx_turso_members_bounds[i]) {
            break;
        }
    }

    (void) ngx_atomic_fetch_add(&m->buckets[op][i], 1);
    (void) ngx_atomic_fetch_add(&m->sum_ms[op], ms);

    return NGX_OK;
}


char *
ngx_turso_members_status(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_turso_members_status_handler;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_turso_members_status_handler(ngx_http_request_t *r)
{
    u_char                         *p, *last;
    size_t                          size;
    ngx_int_t                       rc;
    ngx_str_t                      *op_name, *code;
    ngx_buf_t                      *b;
    ngx_uint_t                      i, j, op, count, total;
    ngx_chain_t                     out;
    ngx_turso_members_slot_t       *s;
    ngx_turso_members_metrics_t    *m;
    ngx_turso_members_main_conf_t  *tmcf;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    tmcf = ngx_http_get_module_main_conf(r, ngx_turso_members_module);
    m = tmcf->zone->data;

    size = 1024
           + NGX_TURSO_MEMBERS_SLOTS * 160
           + NGX_TURSO_MEMBERS_OPS * (NGX_TURSO_MEMBERS_BUCKETS + 2) * 128
           + NGX_TURSO_MEMBERS_CODE_LAST * 96;

    b = ngx_create_temp_buf(r->pool, size);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = b->last;
    last = b->end;

    p = ngx_slprintf(p, last,
            "# HELP turso_members_requests_total Requests answered in "
            "gateway locations, by operation, outcome code and upstream "
            "status (0: not proxied).\n"
            "# TYPE turso_members_requests_total counter\n");

    for (i = 0; i < NGX_TURSO_MEMBERS_SLOTS; i++) {
        s = &m->slots[i];

        if (s->key == 0) {
            continue;
        }

        op = (s->key >> 20) - 1;
        j = (s->key >> 10) & 0x3ff;

        if (op >= NGX_TURSO_MEMBERS_OPS || j >= NGX_TURSO_MEMBERS_CODE_LAST) {
            continue;
        }

        op_name = ngx_turso_members_operation_name(op);
        code = &ngx_turso_members_codes[j].code;

        p = ngx_slprintf(p, last,
                         "turso_members_requests_total{operation=\"%V\","
                         "code=\"%V\",upstream_status=\"%ui\"} %uA\n",
                         op_name, code, s->key & 0x3ff, s->count);
    }

    p = ngx_slprintf(p, last,
            "# HELP turso_members_request_duration_seconds Time from the "
            "first byte of a request to its log, by operation.\n"
            "# TYPE turso_members_request_duration_seconds histogram\n");

    for (op = 0; op < NGX_TURSO_MEMBERS_OPS; op++) {
        total = 0;

        for (i = 0; i < NGX_TURSO_MEMBERS_BUCKETS; i++) {
            total += m->buckets[op][i];
        }

        if (total == 0) {
            continue;
        }

        op_name = ngx_turso_members_operation_name(op);
        count = 0;

        for (i = 0; i < NGX_TURSO_MEMBERS_BUCKETS; i++) {
            count += m->buckets[op][i];

            p = ngx_slprintf(p, last,
                             "turso_members_request_duration_seconds_bucket"
                             "{operation=\"%V\",le=\"%s\"} %ui\n",
                             op_name, ngx_turso_members_bound_names[i],
                             count);
        }

        p = ngx_slprintf(p, last,
                         "turso_members_request_duration_seconds_sum"
                         "{operation=\"%V\"} %uA.%03uA\n"
                         "turso_members_request_duration_seconds_count"
                         "{operation=\"%V\"} %ui\n",
                         op_name, m->sum_ms[op] / 1000, m->sum_ms[op] % 1000,
                         op_name, count);
    }

    p = ngx_slprintf(p, last,
            "# HELP turso_members_policy_reports_total Policy rejections "
            "that report mode let through, by the code they would have "
            "had.\n"
            "# TYPE turso_members_policy_reports_total counter\n");

    for (j = 0; j < NGX_TURSO_MEMBERS_CODE_LAST; j++) {
        if (m->reports[j]) {
            p = ngx_slprintf(p, last,
                             "turso_members_policy_reports_total"
                             "{code=\"%V\"} %uA\n",
                             &ngx_turso_members_codes[j].code,
                             m->reports[j]);
        }
    }

    p = ngx_slprintf(p, last,
            "# HELP turso_members_metrics_dropped_total Requests not "
            "counted for want of room in the zone.\n"
            "# TYPE turso_members_metrics_dropped_total counter\n"
            "turso_members_metrics_dropped_total %uA\n"
            "# HELP turso_members_build_info The module's version and "
            "the nginx it runs in.\n"
            "# TYPE turso_members_build_info gauge\n"
            "turso_members_build_info{version=\"%s\",nginx=\"%s\"} 1\n",
            m->dropped, NGX_TURSO_MEMBERS_VERSION, NGINX_VERSION);

    b->last = p;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = b->last - b->pos;
    ngx_str_set(&r->headers_out.content_type,
                "text/plain; version=0.0.4; charset=utf-8");
    r->headers_out.content_type_len = sizeof("text/plain") - 1;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}
