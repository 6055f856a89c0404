
/*
 * Copyright (C) ngx_turso_members authors
 *
 * The path and field validators.  A username or an email is also a path
 * segment of the upstream request and a value in a JSON body: valid UTF-8
 * without whitespace (ASCII or Unicode), controls, DEL or "/".
 */


#include <stddef.h>

#include "ngx_turso_members_valid.h"


#define ngx_turso_members_valid_space(c)                                      \
    ((c) == ' ' || (c) == '\t' || (c) == '\r' || (c) == '\n')


static int ngx_turso_members_valid_text(const unsigned char *s, size_t len);
static size_t ngx_turso_members_valid_utf8(const unsigned char *p,
    const unsigned char *last, unsigned *cp);
static void ngx_turso_members_valid_trim(const unsigned char **s,
    size_t *len);
static int ngx_turso_members_valid_eq_lower(const unsigned char *s,
    size_t len, const char *name);


int
ngx_turso_members_valid_username(const unsigned char *s, size_t len)
{
    if (len == 0 || len > NGX_TURSO_MEMBERS_USERNAME_MAX) {
        return 0;
    }

    /* also a path segment: "." and ".." would climb the upstream path */
    if ((len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.'))
    {
        return 0;
    }

    return ngx_turso_members_valid_text(s, len);
}


int
ngx_turso_members_valid_email(const unsigned char *s, size_t len)
{
    size_t  i, at, n;

    if (len < 3 || len > NGX_TURSO_MEMBERS_EMAIL_MAX) {
        return 0;
    }

    n = 0;
    at = 0;

    for (i = 0; i < len; i++) {
        if (s[i] == '@') {
            at = i;
            n++;
        }
    }

    if (n != 1 || at == 0 || at == len - 1) {
        return 0;
    }

    return ngx_turso_members_valid_text(s, len);
}


int
ngx_turso_members_valid_org(const unsigned char *s, size_t len)
{
    int            rc;
    size_t         i;
    unsigned char  c;

    if (len == 0 || len > NGX_TURSO_MEMBERS_ORG_MAX) {
        return 0;
    }

    rc = 1;

    for (i = 0; i < len; i++) {
        c = s[i];

        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
            || c == '_' || c == '-')
        {
            continue;
        }

        if (c >= 'A' && c <= 'Z') {
            rc = 2;
            continue;
        }

        return 0;
    }

    return rc;
}


static int
ngx_turso_members_valid_text(const unsigned char *s, size_t len)
{
    size_t                n;
    unsigned              cp;
    const unsigned char  *p, *last;

    p = s;
    last = s + len;

    while (p < last) {

        if (*p < 0x80) {
            /* controls, ASCII whitespace (all <= 0x20), DEL and "/" */
            if (*p <= 0x20 || *p == 0x7f || *p == '/') {
                return 0;
            }

            p++;
            continue;
        }

        n = ngx_turso_members_valid_utf8(p, last, &cp);
        if (n == 0) {
            return 0;
        }

        /* C1 controls (U+0085 among them) and Unicode white space */
        if (cp <= 0x9f
            || cp == 0xa0
            || cp == 0x1680
            || (cp >= 0x2000 && cp <= 0x200a)
            || cp == 0x2028
            || cp == 0x2029
            || cp == 0x202f
            || cp == 0x205f
            || cp == 0x3000
            || cp == 0xfeff)
        {
            return 0;
        }

        p += n;
    }

    return 1;
}


static size_t
ngx_turso_members_valid_utf8(const unsigned char *p, const unsigned char *last,
    unsigned *cp)
{
    size_t    i, n;
    unsigned  c, min;

    c = p[0];

    if (c < 0x80) {
        *cp = c;
        return 1;
    }

    if (c < 0xc2) {
        /* a continuation byte, or the lead of an overlong form */
        return 0;
    }

    if (c < 0xe0) {
        n = 2;
        c &= 0x1f;
        min = 0x80;

    } else if (c < 0xf0) {
        n = 3;
        c &= 0x0f;
        min = 0x800;

    } else if (c < 0xf5) {
        n = 4;
        c &= 0x07;
        min = 0x10000;

    } else {
        return 0;
    }

    if ((size_t) (last - p) < n) {
        return 0;
    }

    for (i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80) {
            return 0;
        }

        c = (c << 6) | (p[i] & 0x3f);
    }

    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) {
        return 0;
    }

    *cp = c;

    return n;
}


const char *
ngx_turso_members_role(const unsigned char *s, size_t len)
{
    ngx_turso_members_valid_trim(&s, &len);

    switch (len) {

    case sizeof("admin") - 1:
        if (ngx_turso_members_valid_eq_lower(s, len, "admin")) {
            return "admin";
        }

        break;

    case sizeof("member") - 1:
        if (ngx_turso_members_valid_eq_lower(s, len, "member")) {
            return "member";
        }

        if (ngx_turso_members_valid_eq_lower(s, len, "viewer")) {
            return "viewer";
        }

        break;
    }

    return NULL;
}


/* the owner role (trimmed, any case): it is never granted */

int
ngx_turso_members_role_is_owner(const unsigned char *s, size_t len)
{
    ngx_turso_members_valid_trim(&s, &len);

    return len == sizeof("owner") - 1
           && ngx_turso_members_valid_eq_lower(s, len, "owner");
}


static void
ngx_turso_members_valid_trim(const unsigned char **s, size_t *len)
{
    const unsigned char  *p, *last;

    p = *s;
    last = p + *len;

    while (p < last && ngx_turso_members_valid_space(*p)) {
        p++;
    }

    while (last > p && ngx_turso_members_valid_space(last[-1])) {
        last--;
    }

    *s = p;
    *len = last - p;
}


/*
 * s, of len bytes, is name but for ASCII case; name has len bytes, all
 * lower-case letters, so that only the letters of s can match them with
 * the 0x20 bit set
 */

static int
ngx_turso_members_valid_eq_lower(const unsigned char *s, size_t len,
    const char *name)
{
    size_t  i;

    for (i = 0; i < len; i++) {
        if ((s[i] | 0x20) != (unsigned char) name[i]) {
            return 0;
        }
    }

    return 1;
}
