
/*
 * Copyright (C) ngx_turso_members authors
 *
 * The canonical body, written from the values the body checks kept:
 * {"username":...,"email":...,"role":...}, only the route's fields.
 */


#include <stddef.h>
#include <string.h>

#include "ngx_turso_members_write.h"


static char *ngx_turso_members_write_field(char *p, char *last, int first,
    const char *name, size_t name_len, const char *value, size_t len,
    int plain);
static size_t ngx_turso_members_write_escape(char *dst, size_t size,
    const unsigned char *src, size_t len);


size_t
ngx_turso_members_json_write(const ngx_turso_members_body_t *body,
    unsigned fields, const char *role, char *buf, size_t size)
{
    char  *p, *last;

    /* names with the comma before them: skipped for the first member */

    static const char  username[] = ",\"username\":\"";
    static const char  email[] = ",\"email\":\"";
    static const char  role_name[] = ",\"role\":\"";

    p = buf;
    last = buf + size;

    if (p == last) {
        return 0;
    }

    *p++ = '{';

    if ((fields & NGX_TURSO_MEMBERS_FIELD_USERNAME)
        && (body->present & NGX_TURSO_MEMBERS_FIELD_USERNAME))
    {
        p = ngx_turso_members_write_field(p, last, p - buf == 1, username,
                                          sizeof(username) - 1,
                                          body->username, body->username_len,
                                          0);
        if (p == NULL) {
            return 0;
        }
    }

    if ((fields & NGX_TURSO_MEMBERS_FIELD_EMAIL)
        && (body->present & NGX_TURSO_MEMBERS_FIELD_EMAIL))
    {
        p = ngx_turso_members_write_field(p, last, p - buf == 1, email,
                                          sizeof(email) - 1, body->email,
                                          body->email_len, 0);
        if (p == NULL) {
            return 0;
        }
    }

    if ((fields & NGX_TURSO_MEMBERS_FIELD_ROLE) && role != NULL) {
        p = ngx_turso_members_write_field(p, last, p - buf == 1, role_name,
                                          sizeof(role_name) - 1, role,
                                          strlen(role), 1);
        if (p == NULL) {
            return 0;
        }
    }

    if (p == last) {
        return 0;
    }

    *p++ = '}';

    return p - buf;
}


/*
 * ,"name":"value" (without the comma for the first member): name has
 * its comma, quotes and colon; NULL when it does not fit before last.
 * "plain": the value needs no escaping (a role's name).
 */

static char *
ngx_turso_members_write_field(char *p, char *last, int first,
    const char *name, size_t name_len, const char *value, size_t len,
    int plain)
{
    size_t  n;

    if (first) {
        name++;
        name_len--;
    }

    /* the name, and the closing quote after the value */

    if ((size_t) (last - p) < name_len + 1) {
        return NULL;
    }

    memcpy(p, name, name_len);
    p += name_len;

    if (plain) {
        if ((size_t) (last - p - 1) < len) {
            return NULL;
        }

        memcpy(p, value, len);
        n = len;

    } else {
        n = ngx_turso_members_write_escape(p, last - p - 1,
                                           (const unsigned char *) value,
                                           len);
        if (n == 0 && len != 0) {
            return NULL;
        }
    }

    p += n;
    *p++ = '"';

    return p;
}


/*
 * The values were validated: UTF-8 without controls, so only '"' and '\'
 * can need escaping.  Control characters are escaped all the same, as
 * nginx's ngx_escape_json() does, so that no value can break the body.
 */

static size_t
ngx_turso_members_write_escape(char *dst, size_t size,
    const unsigned char *src, size_t len)
{
    char                 *p, *last;
    const unsigned char  *s, *end;

    static const char  hex[] = "0123456789abcdef";

    p = dst;
    last = dst + size;
    end = src + len;

    for (s = src; s < end; s++) {

        if (*s == '"' || *s == '\\') {
            if (last - p < 2) {
                return 0;
            }

            *p++ = '\\';
            *p++ = (char) *s;
            continue;
        }

        if (*s < 0x20) {
            if (last - p < 6) {
                return 0;
            }

            memcpy(p, "\\u00", 4);
            p[4] = hex[*s >> 4];
            p[5] = hex[*s & 0x0f];
            p += 6;
            continue;
        }

        if (p == last) {
            return 0;
        }

        *p++ = (char) *s;
    }

    return p - dst;
}
