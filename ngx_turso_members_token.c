
/*
 * Copyright (C) ngx_turso_members authors
 *
 * The token source: the Turso API token is read when the configuration
 * loads, so that "nginx -s reload" rotates it, and checked there, so that
 * "nginx -t" tells about a bad one.  With "refresh=" a worker also
 * re-reads the file when it changes, keeping the old token if the new
 * one is not valid.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <openssl/evp.h>
#include "ngx_turso_members_module.h"


#define NGX_TURSO_MEMBERS_TOKEN_MAX  8192


static char *ngx_turso_members_token_conf(ngx_conf_t *cf,
    ngx_turso_members_loc_conf_t *tlcf, ngx_str_t *source);
static const char *ngx_turso_members_token_read(ngx_str_t *path,
    u_char *buf, size_t *len, ngx_file_info_t *fi, ngx_err_t *err);
static const char *ngx_turso_members_token_check(u_char *data, size_t *len);
static ngx_int_t ngx_turso_members_token_set(ngx_turso_members_token_t *t,
    u_char *data, size_t len, ngx_pool_t *pool);
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
    ngx_str_t                 *value, path, s;
    ngx_msec_t                 refresh;
    const char                *msg;
    ngx_file_info_t            fi;
    ngx_turso_members_token_t *t;

    if (tlcf->token != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;
    path = value[1];
    refresh = 0;

    if (cf->args->nelts == 3) {
        if (ngx_strncmp(value[2].data, "refresh=", 8) != 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\"", &value[2]);
            return NGX_CONF_ERROR;
        }

        s.data = value[2].data + 8;
        s.len = value[2].len - 8;

        refresh = ngx_parse_time(&s, 0);
        if (refresh == (ngx_msec_t) NGX_ERROR || refresh == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid refresh interval \"%V\"", &value[2]);
            return NGX_CONF_ERROR;
        }
    }

    if (ngx_conf_full_name(cf->cycle, &path, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    msg = ngx_turso_members_token_read(&path, buf, &len, &fi, &err);

    if (msg != NULL) {
        ngx_explicit_memzero(buf, sizeof(buf));
        ngx_conf_log_error(NGX_LOG_EMERG, cf, err,
                           "the Turso API token file \"%V\" %s", &path, msg);
        return NGX_CONF_ERROR;
    }

    if (ngx_file_access(&fi) & S_IROTH) {
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "the Turso API token file \"%V\" is readable by "
                           "every user: consider \"chmod o-r\"", &path);
    }

    rv = ngx_turso_members_token_conf(cf, tlcf, &path);

    if (rv == NGX_CONF_OK) {
        t = tlcf->token;
        msg = ngx_turso_members_token_check(buf, &len);

        if (msg != NULL) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "the Turso API token in \"%V\" %s", &path, msg);
            rv = NGX_CONF_ERROR;

        } else if (ngx_turso_members_token_set(t, buf, len, cf->pool)
                   != NGX_OK)
        {
            rv = NGX_CONF_ERROR;
        }

        t->refresh = refresh;
        t->uniq = ngx_file_uniq(&fi);
        t->mtime = ngx_file_mtime(&fi);
        t->size = ngx_file_size(&fi);
    }

    ngx_explicit_memzero(buf, sizeof(buf));

    return rv;
}


char *
ngx_turso_members_token_env(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_turso_members_loc_conf_t *tlcf = conf;

    char        *env;
    size_t       len;
    ngx_str_t   *value;
    const char  *msg;

    if (tlcf->token != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;

    env = getenv((char *) value[1].data);

    if (env == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "the environment variable \"%V\" holding the "
                           "Turso API token is not set", &value[1]);
        return NGX_CONF_ERROR;
    }

    if (ngx_turso_members_token_conf(cf, tlcf, &value[1]) != NGX_CONF_OK) {
        return NGX_CONF_ERROR;
    }

    len = ngx_strlen(env);

    msg = ngx_turso_members_token_check((u_char *) env, &len);

    if (msg != NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "the Turso API token in \"$%V\" %s", &value[1],
                           msg);
        return NGX_CONF_ERROR;
    }

    if (ngx_turso_members_token_set(tlcf->token, (u_char *) env, len,
                                    cf->pool)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* the token's place, zeroed when the configuration goes */

static char *
ngx_turso_members_token_conf(ngx_conf_t *cf,
    ngx_turso_members_loc_conf_t *tlcf, ngx_str_t *source)
{
    ngx_pool_cleanup_t         *cln;
    ngx_turso_members_token_t  *t;

    t = ngx_pcalloc(cf->pool, sizeof(ngx_turso_members_token_t));
    if (t == NULL) {
        return NGX_CONF_ERROR;
    }

    /* NUL-terminated: the arguments and ngx_conf_full_name()'s result */
    t->source = *source;

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        return NGX_CONF_ERROR;
    }

    cln->handler = ngx_turso_members_token_cleanup;
    cln->data = t;

    tlcf->token = t;

    return NGX_CONF_OK;
}


static const char *
ngx_turso_members_token_read(ngx_str_t *path, u_char *buf, size_t *len,
    ngx_file_info_t *fi, ngx_err_t *err)
{
    ssize_t      n;
    ngx_fd_t     fd;
    const char  *msg;

    *err = 0;

    fd = ngx_open_file(path->data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);
    if (fd == NGX_INVALID_FILE) {
        *err = ngx_errno;
        return "cannot be opened";
    }

    msg = NULL;

    if (ngx_fd_info(fd, fi) == NGX_FILE_ERROR) {
        *err = ngx_errno;
        msg = "cannot be examined";

    } else if (!ngx_is_file(fi)) {
        msg = "is not a file";

    } else {
        n = ngx_read_fd(fd, buf, NGX_TURSO_MEMBERS_TOKEN_MAX + 1);

        if (n == -1) {
            *err = ngx_errno;
            msg = "cannot be read";

        } else if (n > NGX_TURSO_MEMBERS_TOKEN_MAX) {
            msg = "is too large";

        } else {
            *len = n;
        }
    }

    (void) ngx_close_file(fd);

    return msg;
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
 * Stores "Bearer <token>" and the token's id: the first 12 hex digits of
 * its SHA-256, which tell operators which token served a request without
 * revealing it.  From the pool at load time, from the heap on refresh.
 */

static ngx_int_t
ngx_turso_members_token_set(ngx_turso_members_token_t *t, u_char *data,
    size_t len, ngx_pool_t *pool)
{
    u_char        *p, md[EVP_MAX_MD_SIZE];
    size_t         size;
    unsigned int   mdlen;

    if (EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) != 1) {
        return NGX_ERROR;
    }

    size = sizeof("Bearer ") - 1 + len;

    p = pool ? ngx_pnalloc(pool, size) : ngx_alloc(size, ngx_cycle->log);
    if (p == NULL) {
        return NGX_ERROR;
    }

    if (t->authorization.data) {
        ngx_explicit_memzero(t->authorization.data, t->authorization.len);

        if (t->heap) {
            ngx_free(t->authorization.data);
        }
    }

    t->authorization.data = p;
    t->authorization.len = size;
    t->heap = pool ? 0 : 1;

    p = ngx_cpymem(p, "Bearer ", sizeof("Bearer ") - 1);
    ngx_memcpy(p, data, len);

    ngx_hex_dump(t->id_buf, md, 6);
    t->id.data = t->id_buf;
    t->id.len = 12;

    ngx_explicit_memzero(md, sizeof(md));

    return NGX_OK;
}


ngx_str_t *
ngx_turso_members_token_get(ngx_http_request_t *r,
    ngx_turso_members_token_t *t)
{
    if (t->refresh && ngx_current_msec >= t->next_check) {
        t->next_check = ngx_current_msec + t->refresh;
        ngx_turso_members_token_refresh(r->connection->log, t);
    }

    return &t->authorization;
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
                      "cannot be examined, keeping the current token",
                      &t->source);
        return;
    }

    if (ngx_file_uniq(&fi) == t->uniq && ngx_file_mtime(&fi) == t->mtime
        && ngx_file_size(&fi) == t->size)
    {
        return;
    }

    t->uniq = ngx_file_uniq(&fi);
    t->mtime = ngx_file_mtime(&fi);
    t->size = ngx_file_size(&fi);

    msg = ngx_turso_members_token_read(&t->source, buf, &len, &fi, &err);

    if (msg == NULL) {
        msg = ngx_turso_members_token_check(buf, &len);
    }

    if (msg != NULL) {
        ngx_log_error(NGX_LOG_ERR, log, err,
                      "turso_members: the Turso API token file \"%V\" %s, "
                      "keeping the token %V", &t->source, msg, &t->id);

    } else if (ngx_turso_members_token_set(t, buf, len, NULL) != NGX_OK) {
        ngx_log_error(NGX_LOG_ALERT, log, 0,
                      "turso_members: cannot store the new Turso API token, "
                      "keeping the token %V", &t->id);

    } else {
        ngx_log_error(NGX_LOG_NOTICE, log, 0,
                      "turso_members: the Turso API token file \"%V\" "
                      "changed, now using the token %V", &t->source, &t->id);
    }

    ngx_explicit_memzero(buf, sizeof(buf));
}


/* the token must not outlive its configuration in freed memory */

static void
ngx_turso_members_token_cleanup(void *data)
{
    ngx_turso_members_token_t  *t = data;

    if (t->authorization.data == NULL) {
        return;
    }

    ngx_explicit_memzero(t->authorization.data, t->authorization.len);

    if (t->heap) {
        ngx_free(t->authorization.data);
    }

    ngx_str_null(&t->authorization);
}
