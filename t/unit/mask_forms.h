
/*
 * Copyright (C) ngx_turso_members authors
 *
 * A token's encoded forms, as an upstream could echo it, and what a
 * reader of a masked log line could decode: what the unit tests
 * (t/unit/test_mask.c) and the fuzzer (fuzz/fuzz_mask.c) feed
 * ngx_turso_members_mask() and check of its output.  The check decodes
 * the text, rather than compare it with the token's encoded forms as the
 * mask does, so that the two are checked against each other.
 */


#ifndef _NGX_TURSO_MEMBERS_MASK_FORMS_H_INCLUDED_
#define _NGX_TURSO_MEMBERS_MASK_FORMS_H_INCLUDED_


#include <stddef.h>


/* the forms */
#define NGX_TURSO_MEMBERS_FORM_PERCENT  0      /* %XX */
#define NGX_TURSO_MEMBERS_FORM_UNICODE  1      /* \u00XX */
#define NGX_TURSO_MEMBERS_FORM_ESCAPED  2      /* a JSON string's \" \\ \/ */
#define NGX_TURSO_MEMBERS_FORM_BASE64   3
#define NGX_TURSO_MEMBERS_FORM_N        4

/* their variants, bits */
#define NGX_TURSO_MEMBERS_FORM_LOWER    1      /* hex digits in lower case */
#define NGX_TURSO_MEMBERS_FORM_SOME     2      /* every other byte only */
#define NGX_TURSO_MEMBERS_FORM_URL      4      /* base64url */
#define NGX_TURSO_MEMBERS_FORM_PAD      8      /* base64 with its "=" */


/* n bytes in a form; out: room for 6 * n + 4 bytes; returns its length */
size_t ngx_turso_members_form(int form, unsigned variant,
    const unsigned char *in, size_t n, unsigned char *out);

/*
 * Where the text shows 8 bytes in a row of the token (all of it if it is
 * shorter): as it is, percent-decoded, JSON-unescaped, and each of these
 * base64-decoded (both alphabets, mixed, padded or not) from each of the
 * 4 offsets in every run of base64 characters (not for a token shorter
 * than 8 bytes: the mask looks for it whole, and not in base64).  NULL if
 * nowhere, else the name of the view.
 */
const char *ngx_turso_members_oracle_leak(const unsigned char *text,
    size_t len, const unsigned char *token, size_t tlen);


#endif /* _NGX_TURSO_MEMBERS_MASK_FORMS_H_INCLUDED_ */
