
/*
 * Copyright (C) ngx_turso_members authors
 *
 * The token source: the Turso API token is read when the configuration
 * loads, so that "nginx -s reload" rotates it, and checked there, so that
 * "nginx -t" tells about a bad one.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <openssl/evp.h>
#include "ngx_turso_members_module.h"


#define NGX_TURSO_MEMBERS_TOKEN_MAX  8192


typedef struct {
    u_char                         *data;
    size_t                          len;
} ngx_turso_members_secret_t;


static char *ngx_turso_members_token_set(ngx_conf_t *cf,
    ngx_turso_members_loc_conf_t *tlcf, u_char *data, size_t len,
    ngx_str_t *source);
static ngx_int_t ngx_turso_members_token_id(ngx_conf_t *cf,
    ngx_turso_members_loc_conf_t *tlcf, u_char *token, size_t len);
static ngx_int_t ngx_turso_members_secret_cleanup_add(ngx_conf_t *cf,
    u_char *data, size_t len);
static void ngx_turso_members_secret_cleanup(void *data);


char *
ngx_turso_members_token_file(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_turso_members_loc_conf_t *tlcf = conf;

    char             *rv;
    u_char           *buf;
    size_t            size;
    ssize_t           n;
    ngx_fd_t          fd;
    ngx_str_t        *value, path;
    ngx_file_info_t   fi;

    if (tlcf->authorization.data != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;
    path = value[1];

    if (ngx_conf_full_name(cf->cycle, &path, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    fd = ngx_open_file(path.data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);
    if (fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "cannot open the Turso API token file \"%V\"",
                           &path);
        return NGX_CONF_ERROR;
    }

    rv = NGX_CONF_ERROR;
    buf = NULL;
    size = 0;

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_fd_info_n " \"%V\" failed", &path);
        goto done;
    }

    if (!ngx_is_file(&fi)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "the Turso API token file \"%V\" is not a file",
                           &path);
        goto done;
    }

    size = (size_t) ngx_file_size(&fi);

    if (size > NGX_TURSO_MEMBERS_TOKEN_MAX) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "the Turso API token file \"%V\" is too large",
                           &path);
        goto done;
    }

    if (ngx_file_access(&fi) & S_IROTH) {
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "the Turso API token file \"%V\" is readable by "
                           "every user: consider \"chmod o-r\"", &path);
    }

    buf = ngx_pnalloc(cf->pool, size + 1);
    if (buf == NULL) {
        goto done;
    }

    if (ngx_turso_members_secret_cleanup_add(cf, buf, size + 1) != NGX_OK) {
        goto done;
    }

    n = ngx_read_fd(fd, buf, size + 1);

    if (n == -1) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_read_fd_n " \"%V\" failed", &path);
        goto done;
    }

    if ((size_t) n != size) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "the Turso API token file \"%V\" changed while "
                           "it was read", &path);
        goto done;
    }

    rv = ngx_turso_members_token_set(cf, tlcf, buf, size, &path);

done:

    if (ngx_close_file(fd) == NGX_FILE_ERROR) {
        ngx_conf_log_error(NGX_LOG_ALERT, cf, ngx_errno,
                           ngx_close_file_n " \"%V\" failed", &path);
    }

    return rv;
}


char *
ngx_turso_members_token_env(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_turso_members_loc_conf_t *tlcf = conf;

    char       *env;
    ngx_str_t  *value;

    if (tlcf->authorization.data != NULL) {
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

    return ngx_turso_members_token_set(cf, tlcf, (u_char *) env,
                                       ngx_strlen(env), &value[1]);
}


static char *
ngx_turso_members_token_set(ngx_conf_t *cf,
    ngx_turso_members_loc_conf_t *tlcf, u_char *data, size_t len,
    ngx_str_t *source)
{
    u_char  *p;
    size_t   i;

    /* one trailing newline, as editors and "echo" leave it */

    if (len && data[len - 1] == LF) {
        len--;

        if (len && data[len - 1] == CR) {
            len--;
        }
    }

    if (len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "the Turso API token in \"%V\" is empty", source);
        return NGX_CONF_ERROR;
    }

    for (i = 0; i < len; i++) {
        if (data[i] <= ' ' || data[i] >= 0x7f) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "the Turso API token in \"%V\" contains "
                               "a space, a control character or a non-ASCII "
                               "byte at offset %uz", source, i);
            return NGX_CONF_ERROR;
        }
    }

    tlcf->authorization.len = sizeof("Bearer ") - 1 + len;
    tlcf->authorization.data = ngx_pnalloc(cf->pool, tlcf->authorization.len);
    if (tlcf->authorization.data == NULL) {
        return NGX_CONF_ERROR;
    }

    if (ngx_turso_members_secret_cleanup_add(cf, tlcf->authorization.data,
                                             tlcf->authorization.len)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    p = ngx_cpymem(tlcf->authorization.data, "Bearer ", sizeof("Bearer ") - 1);
    ngx_memcpy(p, data, len);

    tlcf->token_source.len = source->len;
    tlcf->token_source.data = ngx_pstrdup(cf->pool, source);
    if (tlcf->token_source.data == NULL) {
        return NGX_CONF_ERROR;
    }

    if (ngx_turso_members_token_id(cf, tlcf, p, len) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/*
 * The first 12 hex digits of the token's SHA-256 tell operators which
 * token served a request without revealing it.
 */

static ngx_int_t
ngx_turso_members_token_id(ngx_conf_t *cf, ngx_turso_members_loc_conf_t *tlcf,
    u_char *token, size_t len)
{
    u_char        md[EVP_MAX_MD_SIZE];
    unsigned int  mdlen;

    if (EVP_Digest(token, len, md, &mdlen, EVP_sha256(), NULL) != 1) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "EVP_Digest() failed");
        return NGX_ERROR;
    }

    tlcf->token_id.data = ngx_pnalloc(cf->pool, 12);
    if (tlcf->token_id.data == NULL) {
        return NGX_ERROR;
    }

    ngx_hex_dump(tlcf->token_id.data, md, 6);
    tlcf->token_id.len = 12;

    ngx_explicit_memzero(md, sizeof(md));

    return NGX_OK;
}


static ngx_int_t
ngx_turso_members_secret_cleanup_add(ngx_conf_t *cf, u_char *data,
    size_t len)
{
    ngx_pool_cleanup_t          *cln;
    ngx_turso_members_secret_t  *secret;

    cln = ngx_pool_cleanup_add(cf->pool, sizeof(ngx_turso_members_secret_t));
    if (cln == NULL) {
        return NGX_ERROR;
    }

    secret = cln->data;
    secret->data = data;
    secret->len = len;

    cln->handler = ngx_turso_members_secret_cleanup;

    return NGX_OK;
}


/* the token must not outlive its configuration in freed memory */

static void
ngx_turso_members_secret_cleanup(void *data)
{
    ngx_turso_members_secret_t  *secret = data;

    ngx_explicit_memzero(secret->data, secret->len);
}
