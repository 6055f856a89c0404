
/*
 * Copyright (C) ngx_turso_members authors
 *
 * libFuzzer target for log masking.  The input names a token and a text
 * built from it: plain bytes, pieces of the token, and pieces of it (or
 * of "Bearer <token>", after 0 to 3 other bytes) percent-encoded, with \u
 * escapes, JSON-escaped, in base64 or base64url, padded or not.  Besides
 * "no crash, no overflow, no undefined behaviour", it checks that the
 * masked text shows no 8 bytes of the token that a reader could decode
 * (t/unit/mask_forms.c decodes each view, rather than compare the token's
 * encoded forms as the mask does).  Violations abort().
 *
 * The input: a byte for the token's length (1 to 64), its bytes (printable
 * ASCII but "*", the mask's byte), then operations:
 *
 *   op & 7 == 0        n = next byte % 16 + 1, then n bytes as they are
 *   op & 7 == 1        a piece of the token: start, length (next 2 bytes)
 *   op & 7 == 2 to 5   a piece in form op - 2 (mask_forms.h); next bytes:
 *                      variant (bits 0-3), "Bearer " first (bit 4), 0 to 3
 *                      other bytes first (bits 5-6); start, length
 *   op & 7 == 6, 7     the whole token in form (op >> 3) & 3; next byte:
 *                      variant (bits 0-3)
 */


#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_turso_members_mask.h"
#include "mask_forms.h"


#define NGX_TURSO_MEMBERS_FUZZ_TOKEN_MAX  64
#define NGX_TURSO_MEMBERS_FUZZ_TEXT_MAX   1024

/* the encoded piece: "Bearer ", 3 bytes, the token; 6 bytes each, 4 more */
#define NGX_TURSO_MEMBERS_FUZZ_PIECE_MAX                                      \
    (6 * (7 + 3 + NGX_TURSO_MEMBERS_FUZZ_TOKEN_MAX) + 4)

#define ngx_turso_members_fuzz_min(a, b)  ((a) < (b) ? (a) : (b))

#define ngx_turso_members_fuzz_check(cond)                                    \
    do {                                                                      \
        if (!(cond)) {                                                        \
            abort();                                                          \
        }                                                                     \
    } while (0)


typedef struct {
    const uint8_t   *p;
    const uint8_t   *last;
    unsigned char   *token;
    size_t           tlen;
    unsigned char   *text;
    size_t           len;
} ngx_turso_members_fuzz_t;


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void ngx_turso_members_fuzz_op(ngx_turso_members_fuzz_t *f);
static unsigned ngx_turso_members_fuzz_byte(ngx_turso_members_fuzz_t *f);
static void ngx_turso_members_fuzz_piece(ngx_turso_members_fuzz_t *f,
    size_t *start, size_t *n);
static void ngx_turso_members_fuzz_append(ngx_turso_members_fuzz_t *f,
    const unsigned char *p, size_t n);


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t                                  i, nw;
    void                                   *work;
    unsigned                                c;
    uint64_t                               *windows;
    unsigned char                          *masked;
    ngx_turso_members_fuzz_t                f;
    ngx_turso_members_mask_secret_t         secret;
    const ngx_turso_members_mask_secret_t  *secrets[1];
    unsigned char                           token[
                                             NGX_TURSO_MEMBERS_FUZZ_TOKEN_MAX];
    unsigned char                           text[
                                             NGX_TURSO_MEMBERS_FUZZ_TEXT_MAX];

    (void) ngx_turso_members_mask_is_text(data, size);

    if (size < 2) {
        return 0;
    }

    f.p = data;
    f.last = data + size;
    f.token = token;
    f.tlen = ngx_turso_members_fuzz_byte(&f) % 64 + 1;
    f.text = text;
    f.len = 0;

    for (i = 0; i < f.tlen; i++) {
        /* 93 bytes: "!" to "~" but "*" */
        c = 0x21 + ngx_turso_members_fuzz_byte(&f) % 93;
        token[i] = (unsigned char) (c >= '*' ? c + 1 : c);
    }

    while (f.p < f.last) {
        ngx_turso_members_fuzz_op(&f);
    }

    /* on the heap, exactly: ASan sees a byte read past either */

    windows = malloc(ngx_turso_members_mask_windows_max(f.tlen)
                     * sizeof(uint64_t) + 1);
    work = malloc(ngx_turso_members_mask_work_size(f.len));
    masked = malloc(f.len + 1);
    ngx_turso_members_fuzz_check(windows != NULL && work != NULL
                                 && masked != NULL);

    memcpy(masked, text, f.len);

    nw = ngx_turso_members_mask_windows(token, f.tlen, windows);
    ngx_turso_members_fuzz_check(nw <= ngx_turso_members_mask_windows_max(
                                           f.tlen));

    for (i = 1; i < nw; i++) {
        ngx_turso_members_fuzz_check(windows[i - 1] < windows[i]);
    }

    secret.token = token;
    secret.len = f.tlen;
    secret.windows = windows;
    secret.nwindows = nw;
    secrets[0] = &secret;

    ngx_turso_members_mask(masked, f.len, secrets, 1, work);

    ngx_turso_members_fuzz_check(
        ngx_turso_members_oracle_leak(masked, f.len, token, f.tlen) == NULL);

    free(windows);
    free(work);
    free(masked);

    return 0;
}


static void
ngx_turso_members_fuzz_op(ngx_turso_members_fuzz_t *f)
{
    size_t         start, n, k;
    unsigned       op, v;
    unsigned char  in[7 + 3 + NGX_TURSO_MEMBERS_FUZZ_TOKEN_MAX];
    unsigned char  out[NGX_TURSO_MEMBERS_FUZZ_PIECE_MAX];

    op = ngx_turso_members_fuzz_byte(f);

    switch (op & 7) {

    case 0:
        n = ngx_turso_members_fuzz_byte(f) % 16 + 1;
        n = ngx_turso_members_fuzz_min(n, (size_t) (f->last - f->p));
        ngx_turso_members_fuzz_append(f, f->p, n);
        f->p += n;
        return;

    case 1:
        ngx_turso_members_fuzz_piece(f, &start, &n);
        ngx_turso_members_fuzz_append(f, f->token + start, n);
        return;

    case 6:
    case 7:
        v = ngx_turso_members_fuzz_byte(f);
        n = ngx_turso_members_form((op >> 3) & 3, v & 15, f->token, f->tlen,
                                   out);
        ngx_turso_members_fuzz_append(f, out, n);
        return;

    default:
        v = ngx_turso_members_fuzz_byte(f);
        k = 0;

        if (v & 16) {
            memcpy(in, "Bearer ", 7);
            k = 7;
        }

        memcpy(in + k, "\xff" "x=", (v >> 5) & 3);
        k += (v >> 5) & 3;

        ngx_turso_members_fuzz_piece(f, &start, &n);
        memcpy(in + k, f->token + start, n);

        n = ngx_turso_members_form((op & 7) - 2, v & 15, in, k + n, out);
        ngx_turso_members_fuzz_append(f, out, n);
    }
}


static unsigned
ngx_turso_members_fuzz_byte(ngx_turso_members_fuzz_t *f)
{
    return (f->p < f->last) ? *f->p++ : 0;
}


static void
ngx_turso_members_fuzz_piece(ngx_turso_members_fuzz_t *f, size_t *start,
    size_t *n)
{
    *start = ngx_turso_members_fuzz_byte(f) % f->tlen;
    *n = ngx_turso_members_fuzz_byte(f) % (f->tlen - *start) + 1;
}


static void
ngx_turso_members_fuzz_append(ngx_turso_members_fuzz_t *f,
    const unsigned char *p, size_t n)
{
    n = ngx_turso_members_fuzz_min(n, NGX_TURSO_MEMBERS_FUZZ_TEXT_MAX - f->len);

    memcpy(f->text + f->len, p, n);
    f->len += n;
}
