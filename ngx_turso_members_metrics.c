
/*
 * Copyright (C) ngx_turso_members authors
 *
 * Metrics in a shared memory zone, summed over all workers and kept across
 * reloads: requests by organization, operation, outcome code and upstream
 * status, a latency histogram per organization and operation, the health
 * of each token line, served in the Prometheus text format by
 * "turso_members_status".
 *
 * The organization label is bounded by the configuration: an
 * organization's slug when it has a token line of its own, else "*".  The
 * zone is sized by the number of those at configuration time, and its
 * tables are matched to the configuration by name, so that a reload keeps
 * the counters of what it keeps.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_turso_members_module.h"


#define NGX_TURSO_MEMBERS_OPS        NGX_TURSO_MEMBERS_OP_LAST
#define NGX_TURSO_MEMBERS_BUCKETS    12

/* organizations (the "*" one included) and token lines: at least, at most */
#define NGX_TURSO_MEMBERS_CAP_MIN    16
#define NGX_TURSO_MEMBERS_CAP_MAX    4096

/* label combinations of requests_total, per place of an organization */
#define NGX_TURSO_MEMBERS_SLOTS_PER  64

/* a token line's source in its label: a longer path is cut */
#define NGX_TURSO_MEMBERS_SOURCE_MAX 512

/* a slot's key: organization, operation + 1, code, upstream status */
#define ngx_turso_members_key(org, op, code, status)                          \
    ((ngx_atomic_uint_t) (org) << 20 | ((op) + 1) << 16 | (code) << 10        \
     | (status))


typedef struct {
    ngx_atomic_t                    key;
    ngx_atomic_t                    count;
} ngx_turso_members_slot_t;


/* an organization with a label of its own; place 0 is "*" */

typedef struct {
    size_t                          len;         /* 0: free */
    ngx_uint_t                      generation;  /* the last naming it */
    u_char                          slug[NGX_TURSO_MEMBERS_ORG_MAX];
} ngx_turso_members_org_t;


/* a token line's health, shared by the lines of one organization and source */

typedef struct {
    ngx_uint_t                      generation;  /* 0: free */
    ngx_uint_t                      org;
    u_char                          id[12];
    time_t                          changed;
    ngx_atomic_t                    failures;
    /* the file's state when a failure was last counted, if failed */
    ngx_uint_t                      failed;
    ngx_file_uniq_t                 uniq;
    time_t                          mtime;
    off_t                           size;
    size_t                          source_len;
    u_char                          source[NGX_TURSO_MEMBERS_SOURCE_MAX];
} ngx_turso_members_health_t;


typedef struct {
    ngx_slab_pool_t                *shpool;
    ngx_uint_t                      cap;
    ngx_uint_t                      nslots;
    ngx_uint_t                      generation;  /* of the configuration */
    ngx_turso_members_org_t        *orgs;        /* cap */
    ngx_turso_members_health_t     *tokens;      /* cap */
    ngx_turso_members_slot_t       *slots;       /* nslots */
    ngx_atomic_t                   *buckets;     /* cap * OPS * BUCKETS */
    ngx_atomic_t                   *sum_ms;      /* cap * OPS */
    ngx_atomic_t                    reports[NGX_TURSO_MEMBERS_CODE_LAST];
    ngx_atomic_t                    dropped;
} ngx_turso_members_metrics_t;


static ngx_uint_t ngx_turso_members_metrics_cap(ngx_conf_t *cf,
    ngx_turso_members_main_conf_t *tmcf);
static size_t ngx_turso_members_metrics_size(ngx_uint_t cap);
static ngx_int_t ngx_turso_members_metrics_init_zone(ngx_shm_zone_t *zone,
    void *data);
static ngx_turso_members_metrics_t *ngx_turso_members_metrics_create(
    ngx_slab_pool_t *shpool, ngx_uint_t cap);
static void ngx_turso_members_metrics_register(
    ngx_turso_members_main_conf_t *tmcf, ngx_turso_members_metrics_t *m);
static ngx_uint_t ngx_turso_members_metrics_org(ngx_turso_members_metrics_t *m,
    ngx_str_t *slug, ngx_uint_t take);
static void ngx_turso_members_metrics_reclaim(ngx_turso_members_metrics_t *m,
    ngx_uint_t org);
static ngx_turso_members_health_t *ngx_turso_members_metrics_health(
    ngx_turso_members_metrics_t *m, ngx_turso_members_token_t *t,
    ngx_uint_t take);
static void ngx_turso_members_metrics_count(ngx_turso_members_metrics_t *m,
    ngx_atomic_uint_t key);
static ngx_int_t ngx_turso_members_status_handler(ngx_http_request_t *r);
static size_t ngx_turso_members_status_size(ngx_turso_members_metrics_t *m);
static u_char *ngx_turso_members_status_requests(u_char *p, u_char *last,
    ngx_turso_members_metrics_t *m);
static u_char *ngx_turso_members_status_durations(u_char *p, u_char *last,
    ngx_turso_members_metrics_t *m);
static u_char *ngx_turso_members_status_tokens(u_char *p, u_char *last,
    ngx_turso_members_metrics_t *m);
static u_char *ngx_turso_members_status_rest(u_char *p, u_char *last,
    ngx_turso_members_metrics_t *m);
static u_char *ngx_turso_members_label(u_char *p, u_char *last,
    ngx_turso_members_metrics_t *m, ngx_uint_t org);


/* upper bounds of the latency buckets, in milliseconds */
static ngx_msec_t  ngx_turso_members_bounds[NGX_TURSO_MEMBERS_BUCKETS - 1] = {
    5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000
};

static char  *ngx_turso_members_bound_names[NGX_TURSO_MEMBERS_BUCKETS] = {
    "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5",
    "10", "+Inf"
};


/* every token line, of every level, registers here as it is read */

ngx_int_t
ngx_turso_members_metrics_token_line(ngx_conf_t *cf,
    ngx_turso_members_token_t *t)
{
    ngx_turso_members_token_t      **tp;
    ngx_turso_members_main_conf_t   *tmcf;

    tmcf = ngx_http_conf_get_module_main_conf(cf, ngx_turso_members_module);

    if (tmcf->token_lines.elts == NULL
        && ngx_array_init(&tmcf->token_lines, cf->pool, 8,
                          sizeof(ngx_turso_members_token_t *))
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    tp = ngx_array_push(&tmcf->token_lines);
    if (tp == NULL) {
        return NGX_ERROR;
    }

    *tp = t;

    return NGX_OK;
}


ngx_int_t
ngx_turso_members_metrics_init(ngx_conf_t *cf)
{
    ngx_str_t                       name = ngx_string("turso_members");
    ngx_uint_t                      cap;
    ngx_turso_members_main_conf_t  *tmcf;

    tmcf = ngx_http_conf_get_module_main_conf(cf, ngx_turso_members_module);

    cap = ngx_turso_members_metrics_cap(cf, tmcf);
    tmcf->metrics_cap = cap;

    tmcf->zone = ngx_shared_memory_add(cf, &name,
                                       ngx_turso_members_metrics_size(cap),
                                       &ngx_turso_members_module);
    if (tmcf->zone == NULL) {
        return NGX_ERROR;
    }

    tmcf->zone->init = ngx_turso_members_metrics_init_zone;
    tmcf->zone->data = tmcf;

    return NGX_OK;
}


/*
 * Room for the organizations with a token line, "*" and the token lines: a
 * power of two, so that the zone's size, and with it the counters, stay
 * the same over reloads that add or remove a few of them.
 */

static ngx_uint_t
ngx_turso_members_metrics_cap(ngx_conf_t *cf,
    ngx_turso_members_main_conf_t *tmcf)
{
    ngx_uint_t                   i, j, n, orgs, cap;
    ngx_turso_members_token_t  **tp;

    n = tmcf->token_lines.nelts;
    tp = tmcf->token_lines.elts;
    orgs = 1;

    for (i = 0; i < n; i++) {
        if (tp[i]->organization.len == 0) {
            continue;
        }

        for (j = 0; j < i; j++) {
            if (tp[j]->organization.len == tp[i]->organization.len
                && ngx_strncmp(tp[j]->organization.data,
                               tp[i]->organization.data,
                               tp[i]->organization.len) == 0)
            {
                break;
            }
        }

        orgs += (j == i);
    }

    n = ngx_max(n, orgs);

    for (cap = NGX_TURSO_MEMBERS_CAP_MIN; cap < n; cap *= 2) {
        /* void */
    }

    if (cap > NGX_TURSO_MEMBERS_CAP_MAX) {
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "more than %d token lines or organizations: the "
                           "metrics show the others as organization \"*\"",
                           NGX_TURSO_MEMBERS_CAP_MAX);
        cap = NGX_TURSO_MEMBERS_CAP_MAX;
    }

    return cap;
}


static size_t
ngx_turso_members_metrics_size(ngx_uint_t cap)
{
    size_t  size;

    size = sizeof(ngx_turso_members_metrics_t)
           + cap * sizeof(ngx_turso_members_org_t)
           + cap * sizeof(ngx_turso_members_health_t)
           + cap * NGX_TURSO_MEMBERS_SLOTS_PER
             * sizeof(ngx_turso_members_slot_t)
           + cap * NGX_TURSO_MEMBERS_OPS * (NGX_TURSO_MEMBERS_BUCKETS + 1)
             * sizeof(ngx_atomic_t);

    /* the slab allocator's own pages and headers */

    return ngx_align(size + size / 8 + 64 * 1024, 4096);
}


static ngx_int_t
ngx_turso_members_metrics_init_zone(ngx_shm_zone_t *zone, void *data)
{
    ngx_turso_members_main_conf_t  *tmcf = zone->data;
    ngx_turso_members_main_conf_t  *otmcf = data;

    ngx_slab_pool_t              *shpool;
    ngx_turso_members_metrics_t  *m;

    shpool = (ngx_slab_pool_t *) zone->shm.addr;

    if (otmcf) {
        /* a reload: the counters go on */
        m = otmcf->metrics;

    } else if (zone->shm.exists) {
        m = shpool->data;

    } else {
        m = ngx_turso_members_metrics_create(shpool, tmcf->metrics_cap);
        if (m == NULL) {
            return NGX_ERROR;
        }

        shpool->data = m;
    }

    tmcf->metrics = m;

    ngx_shmtx_lock(&shpool->mutex);
    ngx_turso_members_metrics_register(tmcf, m);
    ngx_shmtx_unlock(&shpool->mutex);

    return NGX_OK;
}


static ngx_turso_members_metrics_t *
ngx_turso_members_metrics_create(ngx_slab_pool_t *shpool, ngx_uint_t cap)
{
    u_char                       *p;
    size_t                        size;
    ngx_uint_t                    nslots;
    ngx_turso_members_metrics_t  *m;

    nslots = cap * NGX_TURSO_MEMBERS_SLOTS_PER;

    size = sizeof(ngx_turso_members_metrics_t)
           + cap * sizeof(ngx_turso_members_org_t)
           + cap * sizeof(ngx_turso_members_health_t)
           + nslots * sizeof(ngx_turso_members_slot_t)
           + cap * NGX_TURSO_MEMBERS_OPS * (NGX_TURSO_MEMBERS_BUCKETS + 1)
             * sizeof(ngx_atomic_t);

    p = ngx_slab_calloc(shpool, size);
    if (p == NULL) {
        return NULL;
    }

    m = (ngx_turso_members_metrics_t *) p;
    p += sizeof(ngx_turso_members_metrics_t);

    m->shpool = shpool;
    m->cap = cap;
    m->nslots = nslots;

    m->slots = (ngx_turso_members_slot_t *) p;
    p += nslots * sizeof(ngx_turso_members_slot_t);

    m->buckets = (ngx_atomic_t *) p;
    p += cap * NGX_TURSO_MEMBERS_OPS * NGX_TURSO_MEMBERS_BUCKETS
         * sizeof(ngx_atomic_t);

    m->sum_ms = (ngx_atomic_t *) p;
    p += cap * NGX_TURSO_MEMBERS_OPS * sizeof(ngx_atomic_t);

    m->orgs = (ngx_turso_members_org_t *) p;
    p += cap * sizeof(ngx_turso_members_org_t);

    m->tokens = (ngx_turso_members_health_t *) p;

    return m;
}


/*
 * The configuration's organizations and token lines get their places: the
 * ones a previous configuration had keep theirs (found in a first pass,
 * so that a new one cannot take them), the new ones take a free place or
 * one no longer named.  With the zone locked.
 */

static void
ngx_turso_members_metrics_register(ngx_turso_members_main_conf_t *tmcf,
    ngx_turso_members_metrics_t *m)
{
    ngx_uint_t                   i, take;
    ngx_turso_members_token_t  **tp, *t;
    ngx_turso_members_health_t  *h;

    m->generation++;
    tp = tmcf->token_lines.elts;

    for (take = 0; take < 2; take++) {
        for (i = 0; i < tmcf->token_lines.nelts; i++) {
            t = tp[i];

            if (t->organization.len && t->metrics_org == 0) {
                /* a second line of an organization finds the first's */
                t->metrics_org = ngx_turso_members_metrics_org(m,
                                                     &t->organization, take);
            }
        }
    }

    for (take = 0; take < 2; take++) {
        for (i = 0; i < tmcf->token_lines.nelts; i++) {
            t = tp[i];

            if (t->metrics) {
                continue;
            }

            h = ngx_turso_members_metrics_health(m, t, take);

            if (h == NULL) {
                continue;
            }

            /* a token the zone has not seen there: it changed then */

            if (h->generation == 0
                || ngx_memcmp(h->id, t->value->id.data, 12) != 0)
            {
                ngx_memcpy(h->id, t->value->id.data, 12);
                h->changed = t->mtime ? t->mtime : ngx_time();
            }

            h->generation = m->generation;
            h->failed = 0;
            t->metrics = h;
        }
    }
}


/* an organization's place: found, or taken; 0 ("*") when there is none */

static ngx_uint_t
ngx_turso_members_metrics_org(ngx_turso_members_metrics_t *m, ngx_str_t *slug,
    ngx_uint_t take)
{
    ngx_uint_t                i;
    ngx_turso_members_org_t  *o;

    for (i = 1; i < m->cap; i++) {
        o = &m->orgs[i];

        if (o->len == slug->len
            && ngx_strncmp(o->slug, slug->data, slug->len) == 0)
        {
            o->generation = m->generation;
            return i;
        }
    }

    for (i = 1; take && i < m->cap; i++) {
        o = &m->orgs[i];

        if (o->len && o->generation == m->generation) {
            continue;
        }

        if (o->len) {
            ngx_turso_members_metrics_reclaim(m, i);
        }

        o->len = slug->len;
        ngx_memcpy(o->slug, slug->data, slug->len);
        o->generation = m->generation;

        return i;
    }

    return 0;
}


/* an organization no longer named gives its place up, and its counters */

static void
ngx_turso_members_metrics_reclaim(ngx_turso_members_metrics_t *m,
    ngx_uint_t org)
{
    ngx_uint_t  i;

    for (i = 0; i < m->nslots; i++) {
        if ((m->slots[i].key >> 20) == org) {
            m->slots[i].count = 0;
        }
    }

    for (i = 0; i < NGX_TURSO_MEMBERS_OPS * NGX_TURSO_MEMBERS_BUCKETS; i++) {
        m->buckets[org * NGX_TURSO_MEMBERS_OPS * NGX_TURSO_MEMBERS_BUCKETS
                   + i] = 0;
    }

    for (i = 0; i < NGX_TURSO_MEMBERS_OPS; i++) {
        m->sum_ms[org * NGX_TURSO_MEMBERS_OPS + i] = 0;
    }
}


/* a token line's place: by organization and source; NULL when full */

static ngx_turso_members_health_t *
ngx_turso_members_metrics_health(ngx_turso_members_metrics_t *m,
    ngx_turso_members_token_t *t, ngx_uint_t take)
{
    size_t                       len;
    ngx_uint_t                   i;
    ngx_turso_members_health_t  *h;

    len = ngx_min(t->source.len, NGX_TURSO_MEMBERS_SOURCE_MAX);

    for (i = 0; i < m->cap; i++) {
        h = &m->tokens[i];

        if (h->generation && h->org == t->metrics_org
            && h->source_len == len
            && ngx_memcmp(h->source, t->source.data, len) == 0)
        {
            return h;
        }
    }

    for (i = 0; take && i < m->cap; i++) {
        h = &m->tokens[i];

        if (h->generation == m->generation) {
            continue;
        }

        ngx_memzero(h, sizeof(ngx_turso_members_health_t));
        h->org = t->metrics_org;
        h->source_len = len;
        ngx_memcpy(h->source, t->source.data, len);

        return h;
    }

    return NULL;
}


/*
 * What a worker's refresh of a token file found.  Every worker re-reads a
 * changed file: a failure is counted once for each state of the file
 * (inode, modification time, size; a missing file is one state) until a
 * valid file is read again.
 */

void
ngx_turso_members_metrics_token(ngx_turso_members_token_t *t,
    ngx_uint_t event)
{
    off_t                         size;
    ngx_turso_members_health_t   *h;
    ngx_turso_members_metrics_t  *m;

    h = t->metrics;

    if (h == NULL) {
        return;
    }

    m = ((ngx_turso_members_main_conf_t *)
         ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                             ngx_turso_members_module))
        ->metrics;

    size = (event == NGX_TURSO_MEMBERS_TOKEN_MISSING) ? -1 : t->size;

    ngx_shmtx_lock(&m->shpool->mutex);

    if (event == NGX_TURSO_MEMBERS_TOKEN_VALID) {
        h->failed = 0;

        if (ngx_memcmp(h->id, t->value->id.data, 12) != 0) {
            ngx_memcpy(h->id, t->value->id.data, 12);
            h->changed = t->mtime;
        }

    } else if (!h->failed || h->size != size || h->uniq != t->uniq
               || h->mtime != t->mtime)
    {
        h->failed = 1;
        h->uniq = t->uniq;
        h->mtime = t->mtime;
        h->size = size;
        h->failures++;
    }

    ngx_shmtx_unlock(&m->shpool->mutex);
}


/* a policy rejection that report mode let through */

void
ngx_turso_members_metrics_report(ngx_http_request_t *r, ngx_uint_t code)
{
    ngx_turso_members_metrics_t    *m;
    ngx_turso_members_main_conf_t  *tmcf;

    tmcf = ngx_http_get_module_main_conf(r, ngx_turso_members_module);
    m = tmcf->metrics;

    (void) ngx_atomic_fetch_add(&m->reports[code], 1);
}


/*
 * The log phase, hooked by ngx_turso_members_module.c.  The organization
 * is that of the token line the request went (or would have gone) with:
 * "*" for the default token, and for a request refused before a token
 * was chosen.
 */

ngx_int_t
ngx_turso_members_log_handler(ngx_http_request_t *r)
{
    ngx_uint_t                      i, op, org, status;
    ngx_msec_int_t                  ms;
    ngx_time_t                     *tp;
    ngx_atomic_t                   *buckets;
    ngx_turso_members_ctx_t        *ctx;
    ngx_turso_members_metrics_t    *m;
    ngx_turso_members_main_conf_t  *tmcf;

    ctx = ngx_http_get_module_ctx(r, ngx_turso_members_module);

    if (ctx == NULL || r != r->main) {
        return NGX_OK;
    }

    tmcf = ngx_http_get_module_main_conf(r, ngx_turso_members_module);
    m = tmcf->metrics;

    op = ctx->route ? ctx->route->op : NGX_TURSO_MEMBERS_OP_NONE;
    org = ctx->token ? ctx->token->metrics_org : 0;

    status = 0;

    if (r->upstream && r->upstream->state) {
        status = r->upstream->state->status % 1000;
    }

    ngx_turso_members_metrics_count(m,
                          ngx_turso_members_key(org, op, ctx->code, status));

    tp = ngx_timeofday();

    ms = (ngx_msec_int_t) ((tp->sec - r->start_sec) * 1000
                           + (tp->msec - r->start_msec));
    ms = ngx_max(ms, 0);

    for (i = 0; i < NGX_TURSO_MEMBERS_BUCKETS - 1; i++) {
        if ((ngx_msec_t) ms <= ngx_turso_members_bounds[i]) {
            break;
        }
    }

    buckets = &m->buckets[(org * NGX_TURSO_MEMBERS_OPS + op)
                          * NGX_TURSO_MEMBERS_BUCKETS];

    (void) ngx_atomic_fetch_add(&buckets[i], 1);
    (void) ngx_atomic_fetch_add(&m->sum_ms[org * NGX_TURSO_MEMBERS_OPS + op],
                                ms);

    return NGX_OK;
}


/* open addressing, lock-free: a slot is claimed once, for good */

static void
ngx_turso_members_metrics_count(ngx_turso_members_metrics_t *m,
    ngx_atomic_uint_t key)
{
    ngx_uint_t                 i, n;
    ngx_turso_members_slot_t  *s;

    i = (ngx_uint_t) (key % m->nslots);

    for (n = 0; n < m->nslots; n++) {
        s = &m->slots[i];

        if (s->key == key
            || (s->key == 0 && ngx_atomic_cmp_set(&s->key, 0, key))
            || s->key == key)
        {
            (void) ngx_atomic_fetch_add(&s->count, 1);
            return;
        }

        i = (i + 1) % m->nslots;
    }

    (void) ngx_atomic_fetch_add(&m->dropped, 1);
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
    ngx_int_t                       rc;
    ngx_buf_t                      *b;
    ngx_chain_t                     out;
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
    m = tmcf->metrics;

    b = ngx_create_temp_buf(r->pool, ngx_turso_members_status_size(m));
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = b->last;
    last = b->end;

    p = ngx_turso_members_status_requests(p, last, m);
    p = ngx_turso_members_status_durations(p, last, m);
    p = ngx_turso_members_status_tokens(p, last, m);
    p = ngx_turso_members_status_rest(p, last, m);

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


/* room for every line the page can have: the slots in use, the rest */

static size_t
ngx_turso_members_status_size(ngx_turso_members_metrics_t *m)
{
    size_t      size;
    ngx_uint_t  i, used;

    used = 0;

    for (i = 0; i < m->nslots; i++) {
        used += (m->slots[i].key != 0);
    }

    /* a line's labels: a slug (64), an operation, a code (<= 32) */

    size = 4096
           + used * 256
           + m->cap * NGX_TURSO_MEMBERS_OPS * (NGX_TURSO_MEMBERS_BUCKETS + 2)
             * 192
           + m->cap * 3 * (256 + 2 * NGX_TURSO_MEMBERS_SOURCE_MAX)
           + NGX_TURSO_MEMBERS_CODE_LAST * 96;

    return size;
}


static u_char *
ngx_turso_members_status_requests(u_char *p, u_char *last,
    ngx_turso_members_metrics_t *m)
{
    ngx_uint_t                 i, op, code, org;
    ngx_atomic_uint_t          key;
    ngx_turso_members_slot_t  *s;

    p = ngx_slprintf(p, last,
            "# HELP turso_members_requests_total Requests answered in "
            "gateway locations, by the organization of their token line "
            "(\"*\": the default token, or none), operation, outcome code "
            "and upstream status (0: not proxied).\n"
            "# TYPE turso_members_requests_total counter\n");

    for (i = 0; i < m->nslots; i++) {
        s = &m->slots[i];
        key = s->key;

        if (key == 0) {
            continue;
        }

        org = key >> 20;
        op = ((key >> 16) & 0xf) - 1;
        code = (key >> 10) & 0x3f;

        if (org >= m->cap || op >= NGX_TURSO_MEMBERS_OPS
            || code >= NGX_TURSO_MEMBERS_CODE_LAST
            || (org && m->orgs[org].len == 0))
        {
            continue;
        }

        p = ngx_slprintf(p, last, "turso_members_requests_total{");
        p = ngx_turso_members_label(p, last, m, org);
        p = ngx_slprintf(p, last,
                         ",operation=\"%V\",code=\"%V\",upstream_status="
                         "\"%ui\"} %uA\n",
                         ngx_turso_members_operation_name(op),
                         &ngx_turso_members_codes[code].code,
                         (ngx_uint_t) (key & 0x3ff), s->count);
    }

    return p;
}


static u_char *
ngx_turso_members_status_durations(u_char *p, u_char *last,
    ngx_turso_members_metrics_t *m)
{
    ngx_str_t     *op_name;
    ngx_uint_t     i, op, org, count, total;
    ngx_atomic_t  *buckets, sum;

    p = ngx_slprintf(p, last,
            "# HELP turso_members_request_duration_seconds Time from the "
            "first byte of a request to its log, by organization and "
            "operation.\n"
            "# TYPE turso_members_request_duration_seconds histogram\n");

    for (org = 0; org < m->cap; org++) {
        if (org && m->orgs[org].len == 0) {
            continue;
        }

        for (op = 0; op < NGX_TURSO_MEMBERS_OPS; op++) {
            buckets = &m->buckets[(org * NGX_TURSO_MEMBERS_OPS + op)
                                  * NGX_TURSO_MEMBERS_BUCKETS];
            total = 0;

            for (i = 0; i < NGX_TURSO_MEMBERS_BUCKETS; i++) {
                total += buckets[i];
            }

            if (total == 0) {
                continue;
            }

            op_name = ngx_turso_members_operation_name(op);
            count = 0;

            for (i = 0; i < NGX_TURSO_MEMBERS_BUCKETS; i++) {
                count += buckets[i];

                p = ngx_slprintf(p, last,
                           "turso_members_request_duration_seconds_bucket{");
                p = ngx_turso_members_label(p, last, m, org);
                p = ngx_slprintf(p, last, ",operation=\"%V\",le=\"%s\"} %ui\n",
                                 op_name, ngx_turso_members_bound_names[i],
                                 count);
            }

            sum = m->sum_ms[org * NGX_TURSO_MEMBERS_OPS + op];

            p = ngx_slprintf(p, last,
                             "turso_members_request_duration_seconds_sum{");
            p = ngx_turso_members_label(p, last, m, org);
            p = ngx_slprintf(p, last, ",operation=\"%V\"} %uA.%03uA\n"
                             "turso_members_request_duration_seconds_count{",
                             op_name, sum / 1000, sum % 1000);
            p = ngx_turso_members_label(p, last, m, org);
            p = ngx_slprintf(p, last, ",operation=\"%V\"} %ui\n",
                             op_name, count);
        }
    }

    return p;
}


/* each token line of the running configuration: never the token */

static u_char *
ngx_turso_members_status_tokens(u_char *p, u_char *last,
    ngx_turso_members_metrics_t *m)
{
    u_char                      *s, *end;
    ngx_uint_t                   i, what;
    ngx_turso_members_health_t  *h;

    static const char  *names[] = {
        "turso_members_token_info",
        "turso_members_token_changed_timestamp_seconds",
        "turso_members_token_refresh_failures_total"
    };

    static const char  *help[] = {
        "The token each token line holds, by its id (the first 12 hex "
        "digits of its SHA-256).\n# TYPE turso_members_token_info gauge",
        "When the token a token line holds last changed (the file's "
        "modification time; the start for an environment variable).\n"
        "# TYPE turso_members_token_changed_timestamp_seconds gauge",
        "Refreshes that found the token file empty, invalid, unreadable, "
        "missing or not a regular file, and kept the token.\n"
        "# TYPE turso_members_token_refresh_failures_total counter"
    };

    for (what = 0; what < 3; what++) {
        p = ngx_slprintf(p, last, "# HELP %s %s\n", names[what], help[what]);

        for (i = 0; i < m->cap; i++) {
            h = &m->tokens[i];

            if (h->generation != m->generation) {
                continue;
            }

            p = ngx_slprintf(p, last, "%s{", names[what]);
            p = ngx_turso_members_label(p, last, m, h->org);
            p = ngx_slprintf(p, last, ",source=\"");

            /* a path may hold '"' or '\': escaped as the format says */

            end = h->source + h->source_len;

            for (s = h->source; s < end && p + 2 < last; s++) {
                if (*s == '"' || *s == '\\' || *s == '\n') {
                    *p++ = '\\';
                }

                *p++ = (*s == '\n') ? 'n' : *s;
            }

            if (what == 0) {
                p = ngx_slprintf(p, last, "\",token_id=\"%*s\"} 1\n",
                                 (size_t) 12, h->id);

            } else if (what == 1) {
                p = ngx_slprintf(p, last, "\"} %T\n", h->changed);

            } else {
                p = ngx_slprintf(p, last, "\"} %uA\n", h->failures);
            }
        }
    }

    return p;
}


static u_char *
ngx_turso_members_status_rest(u_char *p, u_char *last,
    ngx_turso_members_metrics_t *m)
{
    ngx_uint_t  j;

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

    return ngx_slprintf(p, last,
            "# HELP turso_members_metrics_dropped_total Requests not "
            "counted for want of room in the zone.\n"
            "# TYPE turso_members_metrics_dropped_total counter\n"
            "turso_members_metrics_dropped_total %uA\n"
            "# HELP turso_members_build_info The module's version and "
            "the nginx it runs in.\n"
            "# TYPE turso_members_build_info gauge\n"
            "turso_members_build_info{version=\"%s\",nginx=\"%s\"} 1\n",
            m->dropped, NGX_TURSO_MEMBERS_VERSION, NGINX_VERSION);
}


/* organization="slug", or "*"; slugs need no escaping */

static u_char *
ngx_turso_members_label(u_char *p, u_char *last,
    ngx_turso_members_metrics_t *m, ngx_uint_t org)
{
    ngx_turso_members_org_t  *o;

    if (org == 0) {
        return ngx_slprintf(p, last, "organization=\"*\"");
    }

    o = &m->orgs[org];

    return ngx_slprintf(p, last, "organization=\"%*s\"", o->len, o->slug);
}
