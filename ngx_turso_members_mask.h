
/*
 * Copyright (C) ngx_turso_members authors
 *
 * Log masking: which bytes of a text about to be logged would show a
 * token, raw or encoded.  Plain C with no nginx types.
 */


#ifndef _NGX_TURSO_MEMBERS_MASK_H_INCLUDED_
#define _NGX_TURSO_MEMBERS_MASK_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


/* a run of this many bytes of a token, or characters of its base64 */
#define NGX_TURSO_MEMBERS_MASK_RUN  8


/* a token as the mask needs it; windows from ..._mask_windows() */
typedef struct {
    const unsigned char  *token;
    size_t                len;
    const uint64_t       *windows;
    size_t                nwindows;
} ngx_turso_members_mask_secret_t;


/* the room ngx_turso_members_mask_windows() needs, in windows */
size_t ngx_turso_members_mask_windows_max(size_t len);

/*
 * Fills windows (room for ngx_turso_members_mask_windows_max(len)) with
 * every run of the token and of its base64 and base64url at the three
 * offsets, sorted and unique; returns their number.  Called when a token
 * is read, so that a log line costs a lookup per byte.
 */
size_t ngx_turso_members_mask_windows(const unsigned char *token, size_t len,
    uint64_t *windows);

/* the bytes of work space ngx_turso_members_mask() needs for a text */
size_t ngx_turso_members_mask_work_size(size_t len);

/*
 * Masks with "*", in place, every byte of the text that shows a run of a
 * secret, in the text as it is, percent-decoded or JSON-unescaped.
 * work: ngx_turso_members_mask_work_size(len) bytes, aligned for a size_t.
 */
void ngx_turso_members_mask(unsigned char *text, size_t len,
    const ngx_turso_members_mask_secret_t *const *secrets, size_t n,
    void *work);

/*
 * 1 if the text may be quoted in a log: UTF-8 without control characters
 * but tab, CR and LF (a character cut at the end is taken).
 */
int ngx_turso_members_mask_is_text(const unsigned char *text, size_t len);


#endif /* _NGX_TURSO_MEMBERS_MASK_H_INCLUDED_ */
