
/*
 * Copyright (C) ngx_turso_members authors
 *
 * Unit tests of log masking: a token echoed as it is, percent-encoded,
 * with \u escapes, JSON-escaped, in base64 or base64url (padded or not,
 * of the token or of "Bearer <token>", at every offset), leaves no 8
 * bytes of it that a reader could decode (mask_forms.c); a text without
 * the token is left as it is; what is text enough to quote.
 */


#include "test.h"
#include "mask_forms.h"
#include "ngx_turso_members_mask.h"


#define ngx_turso_members_test_uc(s)  ((const unsigned char *) (s))


typedef struct {
    ngx_turso_members_mask_secret_t   secret;
    uint64_t                         *windows;
} ngx_turso_members_test_secret_t;


static void ngx_turso_members_test_secret(ngx_turso_members_test_secret_t *t,
    const char *token);
static char *ngx_turso_members_test_masked(const char *text,
    ngx_turso_members_test_secret_t *t, size_t n);
static char *ngx_turso_members_test_masked_n(const char *text, size_t len,
    ngx_turso_members_test_secret_t *t, size_t n);
static void ngx_turso_members_test_forms(const char *token);
static int ngx_turso_members_test_form(ngx_turso_members_test_secret_t *t,
    const char *name, const unsigned char *text, size_t len);
static void ngx_turso_members_test_unchanged(
    ngx_turso_members_test_secret_t *t, const char *text);
static void ngx_turso_members_test_is_text(void);


/*
 * A JWT, as Turso's tokens are; with the bytes JSON escapes; with "~",
 * whose base64 has a "+" in every 4 characters; short ones
 */
static const char  *ngx_turso_members_test_tokens[] = {
    "eyJhbGciOiJFZERTQSIsInR5cCI6IkpXVCJ9.eyJpYXQiOjE3MDAwMDAwMDAsImlkIjoi"
    "YWNtZSJ9.q1w2e3r4t5y6u7i8o9p0-a_s+d/f",
    "tk.GLOBEX.q\"uote\\slash/-9876543210.ZYXWV~?>~~",
    "tk.~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~",
    "12345678",
    "123456789",
    "1234567890",
};


void
ngx_turso_members_test_mask(void)
{
    char                             *out;
    size_t                            i, n, max;
    ngx_turso_members_test_secret_t   t[2];

    for (i = 0; i < sizeof(ngx_turso_members_test_tokens) / sizeof(char *);
         i++)
    {
        ngx_turso_members_test_forms(ngx_turso_members_test_tokens[i]);
    }

    ngx_turso_members_test_secret(&t[0], "tk.DEFAULT.s3cr3t-0123456789");
    ngx_turso_members_test_secret(&t[1], "abc");

    out = ngx_turso_members_test_masked(
              "before tk.DEFAULT.s3cr3t-0123456789 after", t, 1);
    ngx_turso_members_test_ok(
        strcmp(out, "before **************************** after") == 0,
        "mask: the token, the rest kept: %s", out);
    free(out);

    out = ngx_turso_members_test_masked("x DEFAULT y 3cr3t-01234 z", t, 1);
    ngx_turso_members_test_ok(
        strcmp(out, "x DEFAULT y *********** z") == 0,
        "mask: 8 bytes of it masked, 7 kept: %s", out);
    free(out);

    out = ngx_turso_members_test_masked("abc ab abcabc", t, 2);
    ngx_turso_members_test_ok(strcmp(out, "*** ab ******") == 0,
                              "mask: a short token, whole: %s", out);
    free(out);

    out = ngx_turso_members_test_masked("s3cr3t-0 %61%62%63 abc", t, 2);
    ngx_turso_members_test_ok(strcmp(out, "******** ********* ***") == 0,
                              "mask: two secrets: %s", out);
    free(out);

    /* the windows: a run per byte and per base64 character at most */

    max = ngx_turso_members_mask_windows_max(28);
    ngx_turso_members_test_ok(t[0].secret.nwindows <= max
                              && t[0].secret.nwindows >= 21 + 3 * 27,
                              "mask: %zu windows of at most %zu",
                              t[0].secret.nwindows, max);

    for (n = 1; n < t[0].secret.nwindows; n++) {
        if (t[0].windows[n - 1] >= t[0].windows[n]) {
            break;
        }
    }

    ngx_turso_members_test_ok(n == t[0].secret.nwindows,
                              "mask: the windows sorted, unique");

    free(t[1].windows);

    /* no token, nothing masked */

    for (i = 0; i < sizeof(ngx_turso_members_test_tokens) / sizeof(char *);
         i++)
    {
        ngx_turso_members_test_secret(&t[1],
                                      ngx_turso_members_test_tokens[i]);
        ngx_turso_members_test_unchanged(&t[1], "");
        ngx_turso_members_test_unchanged(&t[1],
            "{\"error\":\"could not find user \\u0062ob\",\"url\":"
            "\"https:\\/\\/api.turso.tech\\/v1?q=a%20b%2Fc%zz%4\"}");
        ngx_turso_members_test_unchanged(&t[1],
            "Authorization: Bearer eyJ0eXAiOiJKV1QifQ.eyJzdWIiOiJib2IifQ."
            "c2lnbmF0dXJl (not ours); dG9rZW4gb2YgYW5vdGhlcg== %%41 \\u12");
        ngx_turso_members_test_unchanged(&t[1],
            "the quick brown fox jumps over the lazy dog 02468 13579 "
            "ABCDEFGHIJKLMNOPQRSTUVWXYZ +/-_= \\\\ \\\" \\/ %2F%2B%3D");
        free(t[1].windows);
    }

    free(t[0].windows);

    ngx_turso_members_test_is_text();
}


static void
ngx_turso_members_test_secret(ngx_turso_members_test_secret_t *t,
    const char *token)
{
    size_t  len;

    len = strlen(token);

    t->windows = malloc(ngx_turso_members_mask_windows_max(len)
                        * sizeof(uint64_t) + 1);
    if (t->windows == NULL) {
        abort();
    }

    t->secret.token = ngx_turso_members_test_uc(token);
    t->secret.len = len;
    t->secret.windows = t->windows;
    t->secret.nwindows = ngx_turso_members_mask_windows(
                             ngx_turso_members_test_uc(token), len,
                             t->windows);
}


static char *
ngx_turso_members_test_masked(const char *text,
    ngx_turso_members_test_secret_t *t, size_t n)
{
    return ngx_turso_members_test_masked_n(text, strlen(text), t, n);
}


/* the text masked with the secrets, as a string */

static char *
ngx_turso_members_test_masked_n(const char *text, size_t len,
    ngx_turso_members_test_secret_t *t, size_t n)
{
    char                                   *out;
    void                                   *work;
    size_t                                  i;
    const ngx_turso_members_mask_secret_t  *s[4];

    out = malloc(len + 1);
    work = malloc(ngx_turso_members_mask_work_size(len));
    if (out == NULL || work == NULL || n > 4) {
        abort();
    }

    memcpy(out, text, len);
    out[len] = '\0';

    for (i = 0; i < n; i++) {
        s[i] = &t[i].secret;
    }

    ngx_turso_members_mask((unsigned char *) out, len, s, n, work);

    free(work);

    return out;
}


/*
 * The token, and a piece of it, in each form and variant, after each of 0
 * to 5 bytes (base64's 3 offsets, twice) and "Bearer ", the encoded text
 * after each of 0 to 3 characters that base64 could take for its own.
 */

static void
ngx_turso_members_test_forms(const char *token)
{
    int                               form;
    size_t                            len, n, k, pre, piece, tn, tl, tried;
    size_t                            failed;
    unsigned                          v;
    unsigned char                    *in, *text;
    ngx_turso_members_test_secret_t   t;
    char                              name[128];

    static const char  *before[] = { "", "x", "Bearer ", "12", "\"Bearer ",
                                     "abcde" };

    ngx_turso_members_test_secret(&t, token);

    len = strlen(token);
    in = malloc(len + 16);
    text = malloc(6 * (len + 16) + 16);
    if (in == NULL || text == NULL) {
        abort();
    }

    tried = 0;
    failed = 0;

    for (piece = 0; piece < 2; piece++) {

        /* the whole token, or its bytes 3 to 11 (9 bytes), if it has them */
        tn = (piece && len >= 12) ? 9 : len;

        for (k = 0; k < sizeof(before) / sizeof(char *); k++) {
            n = strlen(before[k]);
            memcpy(in, before[k], n);
            memcpy(in + n, token + (tn == len ? 0 : 3), tn);
            n += tn;

            for (form = 0; form < NGX_TURSO_MEMBERS_FORM_N; form++) {
                for (v = 0; v < 16; v++) {
                    for (pre = 0; pre < 4; pre++) {
                        memcpy(text, "Q9z ", 4);
                        memcpy(text, "Q9z", pre);
                        text[pre] = ' ';
                        tl = pre + 1;
                        tl += ngx_turso_members_form(form, v, in, n,
                                                     text + tl);
                        memcpy(text + tl, "== tail", 7);

                        snprintf(name, sizeof(name),
                                 "form %d, variant %u, after \"%s\", at %zu,"
                                 " %s of %.12s...", form, v, before[k], pre,
                                 piece ? "a piece" : "all", token);

                        failed += ngx_turso_members_test_form(&t, name, text,
                                                              tl + 7);
                        tried++;
                    }
                }
            }
        }
    }

    ngx_turso_members_test_ok(failed == 0 && tried == 2 * 6 * 4 * 16 * 4,
                              "mask: %zu texts of %.12s... in every form, "
                              "%zu leak", tried, token, failed);

    free(in);
    free(text);
    free(t.windows);
}


/* the text shows the token before and nothing of it after; 1 if not */

static int
ngx_turso_members_test_form(ngx_turso_members_test_secret_t *t,
    const char *name, const unsigned char *text, size_t len)
{
    char        *out;
    const char  *before, *after;

    out = ngx_turso_members_test_masked_n((const char *) text, len, t, 1);

    before = ngx_turso_members_oracle_leak(text, len, t->secret.token,
                                           t->secret.len);
    after = ngx_turso_members_oracle_leak((unsigned char *) out, len,
                                          t->secret.token, t->secret.len);

    /* one line per failure, and one for the lot, not 10^4 lines */

    if (before == NULL || after != NULL) {
        ngx_turso_members_test_ok(0, "mask: %s: before %s, after %s: %.*s",
                                  name, before ? before : "nothing",
                                  after ? after : "nothing", (int) len, out);
        free(out);
        return 1;
    }

    free(out);

    return 0;
}


static void
ngx_turso_members_test_unchanged(ngx_turso_members_test_secret_t *t,
    const char *text)
{
    char  *out;

    out = ngx_turso_members_test_masked(text, t, 1);

    ngx_turso_members_test_ok(strcmp(out, text) == 0,
                              "mask: no token of %.12s..., unchanged: %s",
                              t->secret.token, out);
    free(out);
}


static void
ngx_turso_members_test_is_text(void)
{
    size_t  i;

    static const struct {
        const char  *text;
        size_t       len;
        int          is_text;
    } cases[] = {
        { "", 0, 1 },
        { "{\"error\":\"not found\"}\r\n\t", 24, 1 },
        { "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 14, 1 },
        { "cut \xe2\x82", 6, 1 },
        { "cut \xf0\x9f\x98", 7, 1 },
        { "nul\0byte", 8, 0 },
        { "bell\x07", 5, 0 },
        { "esc\x1b[31m", 8, 0 },
        { "del\x7f", 4, 0 },
        { "\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03", 10, 0 },
        { "latin1 caf\xe9!", 12, 0 },
        { "lone \x80", 6, 0 },
        { "overlong \xc0\xaf", 11, 0 },
        { "overlong \xe0\x80\xaf", 12, 0 },
        { "surrogate \xed\xa0\x80", 13, 0 },
        { "past \xf4\x90\x80\x80", 9, 0 },
        { "c1 \xc2\x85", 5, 0 },
        { "\xc3\xa9\xc3", 3, 1 },
        { "bad then cut \xc3\x28\xc3", 16, 0 },
    };

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ngx_turso_members_test_ok(
            ngx_turso_members_mask_is_text(
                ngx_turso_members_test_uc(cases[i].text), cases[i].len)
            == cases[i].is_text,
            "is_text #%zu: %d", i, cases[i].is_text);
    }
}
