
/*
 * Copyright (C) ngx_turso_members authors
 *
 * A token's encoded forms, and what a reader of a masked log line could
 * decode (mask_forms.h).
 */


#include <stdlib.h>
#include <string.h>

#include "mask_forms.h"


static const char  ngx_turso_members_form_b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";


static int ngx_turso_members_oracle_shows(const unsigned char *p, size_t n,
    const unsigned char *token, size_t tlen);
static size_t ngx_turso_members_oracle_percent(const unsigned char *p,
    size_t n, unsigned char *out);
static size_t ngx_turso_members_oracle_json(const unsigned char *p, size_t n,
    unsigned char *out);
static int ngx_turso_members_oracle_base64(const unsigned char *p, size_t n,
    const unsigned char *token, size_t tlen, unsigned char *out);
static int ngx_turso_members_oracle_sextet(unsigned char c);
static int ngx_turso_members_oracle_xdigit(unsigned char c);


size_t
ngx_turso_members_form(int form, unsigned variant, const unsigned char *in,
    size_t n, unsigned char *out)
{
    size_t       i, o;
    unsigned     acc;
    const char  *hex;

    hex = (variant & NGX_TURSO_MEMBERS_FORM_LOWER) ? "0123456789abcdef"
                                                   : "0123456789ABCDEF";
    o = 0;

    if (form == NGX_TURSO_MEMBERS_FORM_BASE64) {
        for (i = 0; i < n; i += 3) {
            acc = (unsigned) in[i] << 16;
            acc |= (i + 1 < n) ? (unsigned) in[i + 1] << 8 : 0;
            acc |= (i + 2 < n) ? in[i + 2] : 0;

            out[o++] = ngx_turso_members_form_b64[acc >> 18 & 63];
            out[o++] = ngx_turso_members_form_b64[acc >> 12 & 63];
            out[o++] = (i + 1 < n) ? ngx_turso_members_form_b64[acc >> 6 & 63]
                                   : '=';
            out[o++] = (i + 2 < n) ? ngx_turso_members_form_b64[acc & 63]
                                   : '=';
        }

        for (i = 0; i < o; i++) {
            if (variant & NGX_TURSO_MEMBERS_FORM_URL) {
                out[i] = (out[i] == '+') ? '-'
                         : (out[i] == '/') ? '_' : out[i];
            }
        }

        while (!(variant & NGX_TURSO_MEMBERS_FORM_PAD) && o
               && out[o - 1] == '=')
        {
            o--;
        }

        return o;
    }

    for (i = 0; i < n; i++) {

        if ((variant & NGX_TURSO_MEMBERS_FORM_SOME) && i % 2) {
            out[o++] = in[i];
            continue;
        }

        switch (form) {

        case NGX_TURSO_MEMBERS_FORM_PERCENT:
            out[o++] = '%';
            out[o++] = hex[in[i] >> 4];
            out[o++] = hex[in[i] & 15];
            break;

        case NGX_TURSO_MEMBERS_FORM_UNICODE:
            memcpy(out + o, "\\u00", 4);
            o += 4;
            out[o++] = hex[in[i] >> 4];
            out[o++] = hex[in[i] & 15];
            break;

        default:
            if (in[i] == '"' || in[i] == '\\' || in[i] == '/') {
                out[o++] = '\\';
            }

            out[o++] = in[i];
        }
    }

    return o;
}


const char *
ngx_turso_members_oracle_leak(const unsigned char *text, size_t len,
    const unsigned char *token, size_t tlen)
{
    int                   i;
    size_t                n;
    const char           *leak;
    unsigned char        *view, *out;
    const unsigned char  *p;

    static const char  *names[] = { "raw", "percent", "json" };
    static const char  *b64names[] = { "raw base64", "percent base64",
                                       "json base64" };

    view = malloc(len + 1);
    out = malloc(len + 1);
    if (view == NULL || out == NULL) {
        abort();
    }

    leak = NULL;

    for (i = 0; i < 3 && leak == NULL; i++) {
        if (i == 0) {
            p = text;
            n = len;

        } else if (i == 1) {
            p = view;
            n = ngx_turso_members_oracle_percent(text, len, view);

        } else {
            p = view;
            n = ngx_turso_members_oracle_json(text, len, view);
        }

        if (ngx_turso_members_oracle_shows(p, n, token, tlen)) {
            leak = names[i];

        } else if (tlen >= 8
                   && ngx_turso_members_oracle_base64(p, n, token, tlen, out))
        {
            leak = b64names[i];
        }
    }

    free(view);
    free(out);

    return leak;
}


static int
ngx_turso_members_oracle_shows(const unsigned char *p, size_t n,
    const unsigned char *token, size_t tlen)
{
    size_t  i, j, run;

    run = (tlen < 8) ? tlen : 8;

    if (run == 0) {
        return 0;
    }

    for (i = 0; i + run <= n; i++) {
        for (j = 0; j + run <= tlen; j++) {
            if (memcmp(p + i, token + j, run) == 0) {
                return 1;
            }
        }
    }

    return 0;
}


static size_t
ngx_turso_members_oracle_percent(const unsigned char *p, size_t n,
    unsigned char *out)
{
    size_t  i, o;

    for (i = 0, o = 0; i < n; o++) {
        if (p[i] == '%' && i + 2 < n
            && ngx_turso_members_oracle_xdigit(p[i + 1]) >= 0
            && ngx_turso_members_oracle_xdigit(p[i + 2]) >= 0)
        {
            out[o] = (unsigned char)
                     (ngx_turso_members_oracle_xdigit(p[i + 1]) * 16
                      + ngx_turso_members_oracle_xdigit(p[i + 2]));
            i += 3;

        } else {
            out[o] = p[i++];
        }
    }

    return o;
}


static size_t
ngx_turso_members_oracle_json(const unsigned char *p, size_t n,
    unsigned char *out)
{
    int     k, d, v;
    size_t  i, o;

    for (i = 0, o = 0; i < n; o++) {
        v = -1;

        if (p[i] == '\\' && i + 5 < n && p[i + 1] == 'u') {
            v = 0;

            for (k = 0; k < 4; k++) {
                d = ngx_turso_members_oracle_xdigit(p[i + 2 + k]);
                v = (d < 0 || v < 0) ? -1 : v * 16 + d;
            }
        }

        if (v >= 0 && v < 0x80) {
            out[o] = (unsigned char) v;
            i += 6;
            continue;
        }

        v = (p[i] == '\\' && i + 1 < n) ? p[i + 1] : -1;

        switch (v) {
        case '"': case '\\': case '/':
            break;
        case 'b':
            v = '\b';
            break;
        case 'f':
            v = '\f';
            break;
        case 'n':
            v = '\n';
            break;
        case 'r':
            v = '\r';
            break;
        case 't':
            v = '\t';
            break;
        default:
            out[o] = p[i++];
            continue;
        }

        out[o] = (unsigned char) v;
        i += 2;
    }

    return o;
}


/*
 * Decodes every run of base64 characters from each of its first 4
 * characters, 4 characters to 3 bytes (2 or 3 left: 1 or 2 bytes).
 */

static int
ngx_turso_members_oracle_base64(const unsigned char *p, size_t n,
    const unsigned char *token, size_t tlen, unsigned char *out)
{
    size_t        start, end, a, i, o, k;
    unsigned int  acc;

    for (start = 0; start < n; start = end + 1) {

        for (end = start; end < n; end++) {
            if (ngx_turso_members_oracle_sextet(p[end]) < 0) {
                break;
            }
        }

        for (a = 0; a < 4 && start + a < end; a++) {
            o = 0;

            for (i = start + a; i < end; i += 4) {
                acc = 0;

                for (k = 0; k < 4; k++) {
                    acc <<= 6;

                    if (i + k < end) {
                        acc |= ngx_turso_members_oracle_sextet(p[i + k]);
                    }
                }

                k = (end - i >= 4) ? 3 : (end - i) - 1;

                out[o++] = (unsigned char) (acc >> 16);

                if (k > 1) {
                    out[o++] = (unsigned char) (acc >> 8);
                }

                if (k > 2) {
                    out[o++] = (unsigned char) acc;
                }

                if (k == 0) {
                    /* one character is not a byte */
                    o--;
                }
            }

            if (ngx_turso_members_oracle_shows(out, o, token, tlen)) {
                return 1;
            }
        }
    }

    return 0;
}


static int
ngx_turso_members_oracle_sextet(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }

    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }

    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }

    if (c == '+' || c == '-') {
        return 62;
    }

    if (c == '/' || c == '_') {
        return 63;
    }

    return -1;
}


static int
ngx_turso_members_oracle_xdigit(unsigned char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }

    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }

    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }

    return -1;
}
