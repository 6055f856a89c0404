
/*
 * Copyright (C) ngx_turso_members authors
 *
 * Log masking.  The error log quotes an upstream error body, and the
 * upstream may echo the gateway's token in it, raw or encoded.  Each run
 * of NGX_TURSO_MEMBERS_MASK_RUN bytes of a token is looked for in three
 * views of the text: as it is, percent-decoded and JSON-unescaped; a run
 * found in a decoded view masks the bytes it was decoded from.
 *
 * Base64 is not decoded: the runs of the token's own base64 are among its
 * windows, computed once when the token is read; base64url's "-" and "_"
 * are taken for "+" and "/", in the windows and in the text, so that one
 * window stands for both alphabets and any mix of them.  Wherever
 * a token starts in the bytes a base64 text encodes, the characters that
 * its bytes alone decide are those of the base64 of the token from one
 * of its first three bytes: this covers "Bearer <token>", padded or not,
 * and any text around the token.  8 bytes of the token take at least 8
 * such characters in a row, so no 8 bytes of it are left.
 *
 * Masking may make a new run in a decoded view (a masked "%" no longer
 * decodes, and what followed it joins other bytes), so the text is
 * masked again until a pass changes nothing.
 */


#include <stdlib.h>
#include <string.h>

#include "ngx_turso_members_mask.h"


/* a pass changes nothing after one or two; more: mask the text whole */
#define NGX_TURSO_MEMBERS_MASK_PASSES  8

#define ngx_turso_members_mask_align(n)                                       \
    (((n) + sizeof(size_t) - 1) & ~(sizeof(size_t) - 1))


/* a decoded view of the text, and where each of its bytes came from */
typedef struct {
    unsigned char  *data;
    size_t         *map;        /* NULL: the text itself; map[len]: its end */
    size_t          len;
} ngx_turso_members_mask_view_t;


static uint64_t ngx_turso_members_mask_window(const unsigned char *p);
static size_t ngx_turso_members_mask_base64(const unsigned char *p, size_t n,
    uint64_t *windows);
static int ngx_turso_members_mask_cmp(const void *a, const void *b);
static int ngx_turso_members_mask_pass(unsigned char *text, size_t len,
    const ngx_turso_members_mask_secret_t *const *secrets, size_t n,
    unsigned char *marks, ngx_turso_members_mask_view_t *view);
static void ngx_turso_members_mask_view(ngx_turso_members_mask_view_t *v,
    const ngx_turso_members_mask_secret_t *s, unsigned char *marks);
static int ngx_turso_members_mask_percent(const unsigned char *text,
    size_t len, ngx_turso_members_mask_view_t *v);
static int ngx_turso_members_mask_json(const unsigned char *text, size_t len,
    ngx_turso_members_mask_view_t *v);
static int ngx_turso_members_mask_hex(const unsigned char *p, size_t n);


static const char  ngx_turso_members_mask_b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";


size_t
ngx_turso_members_mask_windows_max(size_t len)
{
    /* the token's own runs; per offset, a run per base64 character */
    return len + 3 * (4 * (len / 3) + 2);
}


size_t
ngx_turso_members_mask_windows(const unsigned char *token, size_t len,
    uint64_t *windows)
{
    size_t  i, n, m, s;

    if (len < NGX_TURSO_MEMBERS_MASK_RUN) {
        /* looked for whole, as it is */
        return 0;
    }

    n = 0;

    for (i = 0; i + NGX_TURSO_MEMBERS_MASK_RUN <= len; i++) {
        windows[n++] = ngx_turso_members_mask_window(token + i);
    }

    for (s = 0; s < 3; s++) {
        n += ngx_turso_members_mask_base64(token + s, len - s, windows + n);
    }

    qsort(windows, n, sizeof(uint64_t), ngx_turso_members_mask_cmp);

    m = 0;

    for (i = 0; i < n; i++) {
        if (m == 0 || windows[i] != windows[m - 1]) {
            windows[m++] = windows[i];
        }
    }

    return m;
}


/* NGX_TURSO_MEMBERS_MASK_RUN bytes as a window: base64url's as base64's */

static uint64_t
ngx_turso_members_mask_window(const unsigned char *p)
{
    size_t         i;
    uint64_t       w;
    unsigned char  run[NGX_TURSO_MEMBERS_MASK_RUN];

    for (i = 0; i < NGX_TURSO_MEMBERS_MASK_RUN; i++) {
        run[i] = (p[i] == '-') ? '+' : (p[i] == '_') ? '/' : p[i];
    }

    memcpy(&w, run, sizeof(uint64_t));

    return w;
}


/*
 * The runs of the base64 of n bytes, from a group's start: each group of
 * three bytes makes four characters; one or two bytes left make one or
 * two that they alone decide (the next is shared with what follows).
 */

static size_t
ngx_turso_members_mask_base64(const unsigned char *p, size_t n,
    uint64_t *windows)
{
    size_t         i, j, k, nc, count;
    unsigned int   b0, b1, b2, c[4];
    unsigned char  run[NGX_TURSO_MEMBERS_MASK_RUN];

    count = 0;
    k = 0;

    for (i = 0; i < n; i += 3) {
        b0 = p[i];
        b1 = (i + 1 < n) ? p[i + 1] : 0;
        b2 = (i + 2 < n) ? p[i + 2] : 0;

        c[0] = b0 >> 2;
        c[1] = (b0 & 3) << 4 | b1 >> 4;
        c[2] = (b1 & 15) << 2 | b2 >> 6;
        c[3] = b2 & 63;

        nc = (n - i >= 3) ? 4 : n - i;

        for (j = 0; j < nc; j++) {
            memmove(run, run + 1, NGX_TURSO_MEMBERS_MASK_RUN - 1);
            run[NGX_TURSO_MEMBERS_MASK_RUN - 1] =
                                             ngx_turso_members_mask_b64[c[j]];

            if (++k >= NGX_TURSO_MEMBERS_MASK_RUN) {
                windows[count++] = ngx_turso_members_mask_window(run);
            }
        }
    }

    return count;
}


static int
ngx_turso_members_mask_cmp(const void *a, const void *b)
{
    uint64_t  x, y;

    x = *(const uint64_t *) a;
    y = *(const uint64_t *) b;

    return (x < y) ? -1 : (x > y);
}


size_t
ngx_turso_members_mask_work_size(size_t len)
{
    /* the marks, a view's bytes, its map */
    return ngx_turso_members_mask_align(2 * len) + (len + 1) * sizeof(size_t);
}


void
ngx_turso_members_mask(unsigned char *text, size_t len,
    const ngx_turso_members_mask_secret_t *const *secrets, size_t n,
    void *work)
{
    size_t                          pass;
    unsigned char                  *marks;
    ngx_turso_members_mask_view_t   view;

    if (len == 0 || n == 0) {
        return;
    }

    marks = work;
    view.data = marks + len;
    view.map = (size_t *) (marks + ngx_turso_members_mask_align(2 * len));

    for (pass = 0; pass < NGX_TURSO_MEMBERS_MASK_PASSES; pass++) {
        if (!ngx_turso_members_mask_pass(text, len, secrets, n, marks,
                                         &view))
        {
            return;
        }
    }

    /* it did not settle: nothing of the text can be told safe */
    memset(text, '*', len);
}


/* marks what each view shows, then masks it; 1 if a byte was masked */

static int
ngx_turso_members_mask_pass(unsigned char *text, size_t len,
    const ngx_turso_members_mask_secret_t *const *secrets, size_t n,
    unsigned char *marks, ngx_turso_members_mask_view_t *view)
{
    int                            changed;
    size_t                         i;
    ngx_turso_members_mask_view_t  raw;

    memset(marks, 0, len);

    raw.data = text;
    raw.map = NULL;
    raw.len = len;

    for (i = 0; i < n; i++) {
        ngx_turso_members_mask_view(&raw, secrets[i], marks);
    }

    if (ngx_turso_members_mask_percent(text, len, view)) {
        for (i = 0; i < n; i++) {
            ngx_turso_members_mask_view(view, secrets[i], marks);
        }
    }

    if (ngx_turso_members_mask_json(text, len, view)) {
        for (i = 0; i < n; i++) {
            ngx_turso_members_mask_view(view, secrets[i], marks);
        }
    }

    changed = 0;

    for (i = 0; i < len; i++) {
        if (marks[i] && text[i] != '*') {
            text[i] = '*';
            changed = 1;
        }
    }

    return changed;
}


/*
 * Marks the bytes of the text behind each run of the secret in the view:
 * each NGX_TURSO_MEMBERS_MASK_RUN bytes looked up among its sorted
 * windows (a longer run is several, whose marks join up); a token
 * shorter than that is looked for whole.
 */

static void
ngx_turso_members_mask_view(ngx_turso_members_mask_view_t *v,
    const ngx_turso_members_mask_secret_t *s, unsigned char *marks)
{
    int       found;
    size_t    i, run, from, to;
    uint64_t  w;

    run = (s->len < NGX_TURSO_MEMBERS_MASK_RUN)
          ? s->len : NGX_TURSO_MEMBERS_MASK_RUN;

    if (run == 0
        || (s->len >= NGX_TURSO_MEMBERS_MASK_RUN && s->nwindows == 0))
    {
        return;
    }

    for (i = 0; i + run <= v->len; i++) {

        if (s->len < NGX_TURSO_MEMBERS_MASK_RUN) {
            found = (memcmp(v->data + i, s->token, s->len) == 0);

        } else {
            w = ngx_turso_members_mask_window(v->data + i);
            found = (bsearch(&w, s->windows, s->nwindows, sizeof(uint64_t),
                             ngx_turso_members_mask_cmp)
                     != NULL);
        }

        if (!found) {
            continue;
        }

        from = v->map ? v->map[i] : i;
        to = v->map ? v->map[i + run] : i + run;

        memset(marks + from, 1, to - from);
    }
}


/* %XX, either case, mixed with plain bytes; 1 if one was decoded */

static int
ngx_turso_members_mask_percent(const unsigned char *text, size_t len,
    ngx_turso_members_mask_view_t *v)
{
    int     c, decoded;
    size_t  i, j;

    decoded = 0;
    j = 0;

    for (i = 0; i < len; j++) {
        v->map[j] = i;

        c = -1;

        if (text[i] == '%' && len - i >= 3) {
            c = ngx_turso_members_mask_hex(text + i + 1, 2);
        }

        if (c >= 0) {
            v->data[j] = (unsigned char) c;
            i += 3;
            decoded = 1;

        } else {
            v->data[j] = text[i++];
        }
    }

    v->map[j] = len;
    v->len = j;

    return decoded;
}


/*
 * JSON's escapes: \uXXXX of an ASCII character (either case), and the
 * two-character ones; 1 if one was decoded.
 */

static int
ngx_turso_members_mask_json(const unsigned char *text, size_t len,
    ngx_turso_members_mask_view_t *v)
{
    int     c, decoded;
    size_t  i, j, n;

    decoded = 0;
    j = 0;

    for (i = 0; i < len; i += n, j++) {
        v->map[j] = i;

        c = text[i];
        n = 1;

        if (c == '\\' && len - i >= 2) {
            n = 2;

            switch (text[i + 1]) {

            case '"':
            case '\\':
            case '/':
                c = text[i + 1];
                break;

            case 'b':
                c = '\b';
                break;

            case 'f':
                c = '\f';
                break;

            case 'n':
                c = '\n';
                break;

            case 'r':
                c = '\r';
                break;

            case 't':
                c = '\t';
                break;

            case 'u':
                c = (len - i >= 6) ? ngx_turso_members_mask_hex(text + i + 2, 4)
                                   : -1;

                if (c >= 0 && c < 0x80) {
                    n = 6;
                    break;
                }

                c = '\\';
                n = 1;
                break;

            default:
                n = 1;
            }
        }

        v->data[j] = (unsigned char) c;

        if (n > 1) {
            decoded = 1;
        }
    }

    v->map[j] = len;
    v->len = j;

    return decoded;
}


/* the value of n hex digits, either case; -1 if one is not */

static int
ngx_turso_members_mask_hex(const unsigned char *p, size_t n)
{
    int     value;
    size_t  i;

    value = 0;

    for (i = 0; i < n; i++) {
        value <<= 4;

        if (p[i] >= '0' && p[i] <= '9') {
            value |= p[i] - '0';

        } else if ((p[i] | 0x20) >= 'a' && (p[i] | 0x20) <= 'f') {
            value |= (p[i] | 0x20) - 'a' + 10;

        } else {
            return -1;
        }
    }

    return value;
}


int
ngx_turso_members_mask_is_text(const unsigned char *text, size_t len)
{
    size_t    i, k, n;
    uint32_t  c, min;

    for (i = 0; i < len; i += n) {
        c = text[i];

        if (c < 0x80) {
            if ((c < 0x20 && c != '\t' && c != '\r' && c != '\n')
                || c == 0x7f)
            {
                return 0;
            }

            n = 1;
            continue;
        }

        if (c >= 0xc2 && c <= 0xdf) {
            n = 2;
            c &= 0x1f;
            min = 0x80;

        } else if (c >= 0xe0 && c <= 0xef) {
            n = 3;
            c &= 0x0f;
            min = 0x800;

        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 4;
            c &= 0x07;
            min = 0x10000;

        } else {
            return 0;
        }

        for (k = 1; k < n; k++) {
            if (i + k == len) {
                /* the kept bytes cut a character */
                return 1;
            }

            if ((text[i + k] & 0xc0) != 0x80) {
                return 0;
            }

            c = c << 6 | (text[i + k] & 0x3f);
        }

        /* overlong, a surrogate, past Unicode, a C1 control */

        if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)
            || c <= 0x9f)
        {
            return 0;
        }
    }

    return 1;
}
