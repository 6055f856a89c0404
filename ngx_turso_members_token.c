
/*
 * Copyright (C) ngx_turso_members authors
 *
 * The token source: the Turso API tokens, one per organization and at
 * most one default, read when the configuration loads, so that
 * "nginx -s reload" rotates them, and checked there, so that "nginx -t"
 * tells about a bad one.  With "refresh=" a worker also re-reads a file
 * when it changes, keeping the old token if the new one is not valid.
 * Which token a request uses, and which tokens a log line must not show
 * (ngx_turso_members_mask.c masks them), are decided here too.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <openssl/evp.h>
#include "ngx_turso_members_module.h"


/* a token file is small: a Turso token is well under 1 KiB */
#define NGX_TURSO_MEMBERS_TOKEN_MAX  8192


static char *ngx_turso_members_token_args(ngx_conf_t *cf, ngx_uint_t first,
    ngx_msec_t *refresh, ngx_str_t *org);
static ngx_turso_members_token_t *ngx_turso_members_token_add(ngx_conf_t *cf,
    ngx_turso_members_loc_conf_t *tlcf, ngx_str_t *source, ngx_str_t *org);
static const char *ngx_turso_members_token_read(ngx_str_t *path,
    u_char *buf, size_t *len, ngx_file_info_t *fi, ngx_err_t *err);
static const char *ngx_turso_members_token_type(ngx_file_info_t *fi);
static const char *ngx_turso_members_token_check(u_char *data, size_t *len);
static ngx_int_t ngx_turso_members_token_set(ngx_turso_members_token_t *t,
    u_char *data, size_t len);
static void ngx_turso_members_token_release(void *data);
static void ngx_turso_members_token_refresh(ngx_log_t *log,
    ngx_turso_members_token_t *t);
static void ngx_turso_members_token_cleanup(void *data);


char *
ngx_turso_members_token_file(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_turso_members_loc_conf_t *tlcf = conf;

    u_char                     buf[NGX_TURSO_MEMBERS_TOKEN_MAX + 1];
    char                      *rv;
    size_t                     len;
    ngx_err_t                  err;
    ngx_str_t                 *value, path, org;
    ngx_msec_t                 refresh;
    const char                *msg;
    ngx_file_info_t            fi;
    ngx_turso_members_token_t *t;

    value = cf->args->elts;
    path = value[1];

    rv = ngx_turso_members_token_args(cf, 2, &refresh, &org);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    if (ngx_conf_full_name(cf->cycle, &path, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    t = ngx_turso_members_token_add(cf, tlcf, &path, &org);
    if (t == NULL) {
        return NGX_CONF_ERROR;
    }

    msg = ngx_turso_members_token_read(&path, buf, &len, &fi, &err);

    if (msg != NULL) {
        ngx_explicit_memzero(buf, sizeof(buf));
        ngx_conf_log_error(NGX_LOG_EMERG, cf, err,
                           "the Turso API token file \"%V\" %s%V",
                           &path, msg, &t->label);
        return NGX_CONF_ERROR;
    }

    if (ngx_file_access(&fi) & S_IROTH) {
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "the Turso API token file \"%V\" is readable by "
                           "every user: consider \"chmod o-r\"", &path);
    }

    rv = NGX_CONF_OK;

    msg = ngx_turso_members_token_check(buf, &len);

    if (msg != NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "the Turso API token in \"%V\" %s%V",
                           &path, msg, &t->label);
        rv = NGX_CONF_ERROR;

    } else if (ngx_turso_members_token_set(t, buf, len) != NGX_OK) {
        rv = NGX_CONF_ERROR;
    }

    ngx_explicit_memzero(buf, sizeof(buf));

    t->refresh = refresh;
    t->uniq = ngx_file_uniq(&fi);
    t->mtime = ngx_file_mtime(&fi);
    t->size = ngx_file_size(&fi);
    t->read_at = ngx_time();

    return rv;
}


char *
ngx_turso_members_token_env(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_turso_members_loc_conf_t *tlcf = conf;

    char                       *env, *rv;
    size_t                      len;
    ngx_str_t                  *value, org;
    ngx_msec_t                  refresh;
    const char                 *msg;
    ngx_turso_members_token_t  *t;

    value = cf->args->elts;

    rv = ngx_turso_members_token_args(cf, 2, &refresh, &org);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    if (refresh) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"refresh=\" is for a token file: the "
                           "environment is read once");
        return NGX_CONF_ERROR;
    }

    t = ngx_turso_members_token_add(cf, tlcf, &value[1], &org);
    if (t == NULL) {
        return NGX_CONF_ERROR;
    }

    env = getenv((char *) value[1].data);

    if (env == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "the environment variable \"%V\" holding the "
                           "Turso API token is not set%V", &value[1],
                           &t->label);
        return NGX_CONF_ERROR;
    }

    len = ngx_strlen(env);

    msg = ngx_turso_members_token_check((u_char *) env, &len);

    if (msg != NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "the Turso API token in \"$%V\" %s%V", &value[1],
                           msg, &t->label);
        return NGX_CONF_ERROR;
    }

    if (ngx_turso_members_token_set(t, (u_char *) env, len) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* "refresh=time" and "organization=slug", each at most once, any order */

static char *
ngx_turso_members_token_args(ngx_conf_t *cf, ngx_uint_t first,
    ngx_msec_t *refresh, ngx_str_t *org)
{
    ngx_str_t   *value, s;
    ngx_uint_t   i;

    value = cf->args->elts;

    *refresh = 0;
    ngx_str_null(org);

    for (i = first; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "refresh=", 8) == 0 && *refresh == 0) {
            s.data = value[i].data + 8;
            s.len = value[i].len - 8;

            *refresh = ngx_parse_time(&s, 0);

            if (*refresh == (ngx_msec_t) NGX_ERROR || *refresh == 0) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid refresh interval \"%V\"",
                                   &value[i]);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "organization=", 13) == 0
            && org->data == NULL)
        {
            org->data = value[i].data + 13;
            org->len = value[i].len - 13;

            /* lowercase, as Turso's: a path's "ACME" is refused */

            if (ngx_turso_members_valid_org(org->data, org->len) != 1) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid organization slug \"%V\" in "
                                   "\"%V\": 1 to 64 lowercase letters, "
                                   "digits, \"-\" or \"_\"",
                                   org, &value[i]);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\"", &value[i]);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/*
 * The token's place in the level's set, zeroed when the configuration
 * goes: the default (no "organization=") or one organization's, each at
 * most once on a level.
 */

static ngx_turso_members_token_t *
ngx_turso_members_token_add(ngx_conf_t *cf,
    ngx_turso_members_loc_conf_t *tlcf, ngx_str_t *source, ngx_str_t *org)
{
    u_char                      *p;
    size_t                       len;
    ngx_uint_t                   i;
    ngx_pool_cleanup_t          *cln;
    ngx_turso_members_token_t   *t, **tp;

    if (org->len == 0 && tlcf->token) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "two Turso API tokens without \"organization=\" "
                           "on one level (\"%V\" and \"%V\"): at most one "
                           "default token", &tlcf->token->source, source);
        return NULL;
    }

    if (org->len && tlcf->tokens) {
        tp = tlcf->tokens->elts;

        for (i = 0; i < tlcf->tokens->nelts; i++) {
            if (tp[i]->organization.len == org->len
                && ngx_strncmp(tp[i]->organization.data, org->data, org->len)
                   == 0)
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "two Turso API tokens for organization "
                                   "\"%V\" on one level (\"%V\" and \"%V\")",
                                   org, &tp[i]->source, source);
                return NULL;
            }
        }
    }

    t = ngx_pcalloc(cf->pool, sizeof(ngx_turso_members_token_t));
    if (t == NULL) {
        return NULL;
    }

    /* NUL-terminated: the arguments and ngx_conf_full_name()'s result */
    t->source = *source;
    t->organization = *org;

    /* what every message about the token ends with */

    if (org->len) {
        len = sizeof(" (organization \"\")") - 1 + org->len;
        p = ngx_pnalloc(cf->pool, len);
        if (p == NULL) {
            return NULL;
        }

        t->label.data = p;
        t->label.len = ngx_sprintf(p, " (organization \"%V\")", org) - p;

    } else {
        ngx_str_set(&t->label, " (the default token)");
    }

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        return NULL;
    }

    cln->handler = ngx_turso_members_token_cleanup;
    cln->data = t;

    if (ngx_turso_members_metrics_token_line(cf, t) != NGX_OK) {
        return NULL;
    }

    if (org->len == 0) {
        tlcf->token = t;
        return t;
    }

    if (tlcf->tokens == NULL) {
        tlcf->tokens = ngx_array_create(cf->pool, 4,
                                        sizeof(ngx_turso_members_token_t *));
        if (tlcf->tokens == NULL) {
            return NULL;
        }
    }

    tp = ngx_array_push(tlcf->tokens);
    if (tp == NULL) {
        return NULL;
    }

    *tp = t;

    return t;
}


/*
 * Reads a regular file (or a symbolic link to one), never blocking: it is
 * opened non-blocking (a FIFO or a device could hang "nginx -t" or a
 * worker) and what was opened is examined before a byte is read.
 */

static const char *
ngx_turso_members_token_read(ngx_str_t *path, u_char *buf, size_t *len,
    ngx_file_info_t *fi, ngx_err_t *err)
{
    ssize_t      n;
    ngx_fd_t     fd;
    const char  *msg;

    *err = 0;

    fd = ngx_open_file(path->data, NGX_FILE_RDONLY|NGX_FILE_NONBLOCK,
                       NGX_FILE_OPEN, 0);
    if (fd == NGX_INVALID_FILE) {
        *err = ngx_errno;

        /* a socket cannot be opened at all: say what it is */

        if (ngx_file_info(path->data, fi) != NGX_FILE_ERROR
            && !ngx_is_file(fi))
        {
            *err = 0;
            return ngx_turso_members_token_type(fi);
        }

        return "cannot be opened";
    }

    msg = NULL;

    if (ngx_fd_info(fd, fi) == NGX_FILE_ERROR) {
        *err = ngx_errno;
        msg = "cannot be examined";

    } else if (!ngx_is_file(fi)) {
        msg = ngx_turso_members_token_type(fi);

    } else if (ngx_file_size(fi) > NGX_TURSO_MEMBERS_TOKEN_MAX) {
        msg = "is larger than 8192 bytes";

    } else {
        n = ngx_read_fd(fd, buf, NGX_TURSO_MEMBERS_TOKEN_MAX + 1);

        if (n == -1) {
            *err = ngx_errno;
            msg = "cannot be read";

        } else if (n > NGX_TURSO_MEMBERS_TOKEN_MAX) {
            /* it grew since fstat() */
            msg = "is larger than 8192 bytes";

        } else {
            *len = n;
        }
    }

    (void) ngx_close_file(fd);

    return msg;
}


static const char *
ngx_turso_members_token_type(ngx_file_info_t *fi)
{
    if (S_ISDIR(fi->st_mode)) {
        return "is a directory, not a regular file";
    }

    if (S_ISFIFO(fi->st_mode)) {
        return "is a FIFO, not a regular file";
    }

    if (S_ISCHR(fi->st_mode) || S_ISBLK(fi->st_mode)) {
        return "is a device, not a regular file";
    }

    if (S_ISSOCK(fi->st_mode)) {
        return "is a socket, not a regular file";
    }

    return "is not a regular file";
}


/* strips one trailing newline; the token must be printable ASCII */

static const char *
ngx_turso_members_token_check(u_char *data, size_t *len)
{
    size_t  i, n;

    n = *len;

    if (n && data[n - 1] == LF) {
        n--;

        if (n && data[n - 1] == CR) {
            n--;
        }
    }

    if (n == 0) {
        return "is empty";
    }

    for (i = 0; i < n; i++) {
        if (data[i] <= ' ' || data[i] >= 0x7f) {
            return "contains a space, a control character or a non-ASCII "
                   "byte";
        }
    }

    *len = n;

    return NULL;
}


/*
 * A new value of the token: "Bearer <token>", the token's id — the first
 * 12 hex digits of its SHA-256, which tell operators which token served a
 * request without revealing it — and the windows against which log lines
 * are masked (ngx_turso_members_mask_windows()).  In one block on the
 * heap; the value it replaces goes when its last request does.
 */

static ngx_int_t
ngx_turso_members_token_set(ngx_turso_members_token_t *t, u_char *data,
    size_t len)
{
    u_char                      *p, md[EVP_MAX_MD_SIZE];
    size_t                       size, nw;
    uint64_t                    *w;
    unsigned int                 mdlen;
    ngx_turso_members_secret_t  *v;

    if (EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) != 1) {
        return NGX_ERROR;
    }

    nw = ngx_turso_members_mask_windows_max(len);

    /* the value, its windows (aligned), "Bearer <token>" */

    size = ngx_align(sizeof(ngx_turso_members_secret_t), sizeof(uint64_t))
           + nw * sizeof(uint64_t) + sizeof("Bearer ") - 1 + len;

    p = ngx_alloc(size, ngx_cycle->log);
    if (p == NULL) {
        return NGX_ERROR;
    }

    v = (ngx_turso_members_secret_t *) p;
    v->refs = 1;
    v->size = size;

    p += ngx_align(sizeof(ngx_turso_members_secret_t), sizeof(uint64_t));
    w = (uint64_t *) p;

    v->mask.windows = w;
    v->mask.nwindows = ngx_turso_members_mask_windows(data, len, w);

    p += nw * sizeof(uint64_t);

    v->authorization.data = p;
    v->authorization.len = sizeof("Bearer ") - 1 + len;

    p = ngx_cpymem(p, "Bearer ", sizeof("Bearer ") - 1);
    ngx_memcpy(p, data, len);

    v->mask.token = p;
    v->mask.len = len;

    ngx_hex_dump(v->id_buf, md, 6);
    v->id.data = v->id_buf;
    v->id.len = 12;

    ngx_explicit_memzero(md, sizeof(md));

    if (t->value) {
        ngx_turso_members_token_release(t->value);
    }

    t->value = v;

    return NGX_OK;
}


/* a holder of a value lets it go: the last one zeroes and frees it */

static void
ngx_turso_members_token_release(void *data)
{
    ngx_turso_members_secret_t  *v = data;

    if (--v->refs) {
        return;
    }

    ngx_explicit_memzero(v, v->size);
    ngx_free(v);
}


/*
 * The token a request for an organization uses: the organization's own,
 * else the level's default; NULL when there is neither.  Slugs compare
 * exactly, as turso_members_organizations compares them.  A scan: a
 * location holds a handful of tokens.
 */

ngx_turso_members_token_t *
ngx_turso_members_token_find(ngx_http_request_t *r,
    ngx_turso_members_loc_conf_t *tlcf, ngx_str_t *org)
{
    ngx_uint_t                   i;
    ngx_turso_members_token_t  **tp;

    if (tlcf->tokens) {
        tp = tlcf->tokens->elts;

        for (i = 0; i < tlcf->tokens->nelts; i++) {
            if (tp[i]->organization.len == org->len
                && ngx_memcmp(tp[i]->organization.data, org->data, org->len)
                   == 0)
            {
                return tp[i];
            }
        }
    }

    return tlcf->token;
}


/*
 * The value a validated request goes upstream with, the token re-read
 * first when it is due; the request holds that value until it ends.
 */

ngx_str_t *
ngx_turso_members_token_use(ngx_http_request_t *r,
    ngx_turso_members_ctx_t *ctx)
{
    ngx_pool_cleanup_t         *cln;
    ngx_turso_members_token_t  *t;

    t = ctx->token;

    /*
     * A refresh may replace the value while the request is upstream: the
     * request holds it.  Without refresh= the value is the configuration's,
     * which outlives the request.
     */

    if (t->refresh) {

        if (ngx_current_msec >= t->next_check) {
            t->next_check = ngx_current_msec + t->refresh;
            ngx_turso_members_token_refresh(r->connection->log, t);
        }

        cln = ngx_pool_cleanup_add(r->pool, 0);
        if (cln == NULL) {
            return NULL;
        }

        cln->handler = ngx_turso_members_token_release;
        cln->data = t->value;
        t->value->refs++;
    }

    ctx->sent = t->value;

    return &ctx->sent->authorization;
}


/*
 * The id of the token a request went upstream with, else of the one it
 * would have gone with: for the logs and $turso_members_token_id
 */

ngx_str_t *
ngx_turso_members_token_id(ngx_turso_members_ctx_t *ctx)
{
    if (ctx->sent) {
        return &ctx->sent->id;
    }

    if (ctx->token && ctx->token->value) {
        return &ctx->token->value->id;
    }

    return NULL;
}


/* each worker re-reads a changed file: its own copy of the token */

static void
ngx_turso_members_token_refresh(ngx_log_t *log, ngx_turso_members_token_t *t)
{
    u_char           buf[NGX_TURSO_MEMBERS_TOKEN_MAX + 1];
    size_t           len;
    ngx_err_t        err;
    const char      *msg;
    ngx_file_info_t  fi;

    if (ngx_file_info(t->source.data, &fi) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_ERR, log, ngx_errno,
                      "turso_members: the Turso API token file \"%V\" "
                      "cannot be examined, keeping the current token %V%V",
                      &t->source, &t->value->id, &t->label);
        t->missing = 1;
        ngx_turso_members_metrics_token(t, NGX_TURSO_MEMBERS_TOKEN_MISSING);
        return;
    }

    /*
     * Unchanged: the same file, size and modification time, which is
     * older than the last read.  A file changed in the second it was read
     * may have changed again within that second, the modification time
     * kept: it is read again until a read comes a second later.
     */

    if (ngx_file_uniq(&fi) == t->uniq && ngx_file_mtime(&fi) == t->mtime
        && ngx_file_size(&fi) == t->size && t->mtime < t->read_at
        && !t->missing)
    {
        return;
    }

    /* a file back after it was gone is read: its return is news */

    t->missing = 0;

    t->uniq = ngx_file_uniq(&fi);
    t->mtime = ngx_file_mtime(&fi);
    t->size = ngx_file_size(&fi);
    t->read_at = ngx_time();

    msg = ngx_turso_members_token_read(&t->source, buf, &len, &fi, &err);

    if (msg == NULL) {
        msg = ngx_turso_members_token_check(buf, &len);
    }

    if (msg != NULL) {
        ngx_log_error(NGX_LOG_ERR, log, err,
                      "turso_members: the Turso API token file \"%V\" %s, "
                      "keeping the token %V%V", &t->source, msg,
                      &t->value->id, &t->label);
        ngx_turso_members_metrics_token(t, NGX_TURSO_MEMBERS_TOKEN_FAILED);

    } else if (t->value->authorization.len == sizeof("Bearer ") - 1 + len
               && ngx_memcmp(t->value->authorization.data
                             + sizeof("Bearer ") - 1, buf, len)
                  == 0)
    {
        /* touched, or read again: the same token */
        ngx_turso_members_metrics_token(t, NGX_TURSO_MEMBERS_TOKEN_VALID);

    } else if (ngx_turso_members_token_set(t, buf, len) != NGX_OK) {
        ngx_log_error(NGX_LOG_ALERT, log, 0,
                      "turso_members: cannot store the new Turso API token, "
                      "keeping the token %V%V", &t->value->id, &t->label);
        ngx_turso_members_metrics_token(t, NGX_TURSO_MEMBERS_TOKEN_FAILED);

    } else {
        /* a notice: the metrics carry it where error_log is at "error" */
        ngx_log_error(NGX_LOG_NOTICE, log, 0,
                      "turso_members: the Turso API token file \"%V\" "
                      "changed, now using the token %V%V", &t->source,
                      &t->value->id, &t->label);
        ngx_turso_members_metrics_token(t, NGX_TURSO_MEMBERS_TOKEN_VALID);
    }

    ngx_explicit_memzero(buf, sizeof(buf));
}


/*
 * The tokens a log line of a request must not show: the one the request
 * went with (a refresh may have replaced it since) and every token the
 * location holds.
 */

const ngx_turso_members_mask_secret_t **
ngx_turso_members_token_secrets(ngx_pool_t *pool,
    ngx_turso_members_loc_conf_t *tlcf, ngx_turso_members_secret_t *sent,
    size_t *n)
{
    ngx_uint_t                              i;
    ngx_turso_members_token_t             **tp;
    const ngx_turso_members_mask_secret_t **s;

    *n = 0;

    s = ngx_palloc(pool, (2 + (tlcf->tokens ? tlcf->tokens->nelts : 0))
                         * sizeof(ngx_turso_members_mask_secret_t *));
    if (s == NULL) {
        return NULL;
    }

    if (sent) {
        s[(*n)++] = &sent->mask;
    }

    if (tlcf->token && tlcf->token->value) {
        s[(*n)++] = &tlcf->token->value->mask;
    }

    if (tlcf->tokens) {
        tp = tlcf->tokens->elts;

        for (i = 0; i < tlcf->tokens->nelts; i++) {
            if (tp[i]->value) {
                s[(*n)++] = &tp[i]->value->mask;
            }
        }
    }

    return s;
}


/* the configuration lets its values go */

static void
ngx_turso_members_token_cleanup(void *data)
{
    ngx_turso_members_token_t  *t = data;

    if (t->value) {
        ngx_turso_members_token_release(t->value);
        t->value = NULL;
    }
}
