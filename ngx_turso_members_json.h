
/*
 * Copyright (C) ngx_turso_members authors
 *
 * Validation and normalization of membership request bodies, in plain C
 * with no nginx types, so that it can be unit-tested and fuzzed alone.
 */


#ifndef _NGX_TURSO_MEMBERS_JSON_H_INCLUDED_
#define _NGX_TURSO_MEMBERS_JSON_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>
#include <string.h>


/* the fields a route's body may carry */
#define NGX_TURSO_MEMBERS_FIELD_USERNAME   0x01
#define NGX_TURSO_MEMBERS_FIELD_ROLE       0x02
#define NGX_TURSO_MEMBERS_FIELD_EMAIL      0x04
#define NGX_TURSO_MEMBERS_FIELD_MEMBER     0x08

#define NGX_TURSO_MEMBERS_USERNAME_MAX     255
#define NGX_TURSO_MEMBERS_EMAIL_MAX        254
#define NGX_TURSO_MEMBERS_ORG_MAX          64
#define NGX_TURSO_MEMBERS_ERROR_MAX        192


typedef enum {
    /* ngx_turso_members_json_parse_flat(): not the flat subset */
    NGX_TURSO_MEMBERS_JSON_DECLINED = -1,
    NGX_TURSO_MEMBERS_JSON_OK = 0,
    /* not JSON: syntax, duplicate keys, trailing data, bad UTF-8, \u0000 */
    NGX_TURSO_MEMBERS_JSON_INVALID_JSON,
    /* JSON, but not an acceptable body: not an object, a field missing,
     * of the wrong type or with a bad value, a key that differs from a
     * field name only by case */
    NGX_TURSO_MEMBERS_JSON_INVALID_BODY,
    /* "role" present, not null, but not admin, member or viewer */
    NGX_TURSO_MEMBERS_JSON_INVALID_ROLE
} ngx_turso_members_json_rc_e;


typedef struct {
    unsigned        fields;     /* accepted fields; other keys are dropped */
    unsigned        required;   /* fields that must be present, non-null */
    unsigned        one_of;     /* exactly one of these present; 0: no rule */
} ngx_turso_members_body_spec_t;


/*
 * On success "present" tells the fields found.  A rejected body has
 * "present" 0 and "role" NULL, but a non-zero username_len (email_len,
 * member_len) still means that field was valid: an error can name it.
 */

typedef struct {
    unsigned        present;    /* FIELD_* bits found with a non-null value */
    const char     *role;       /* "admin", "member", "viewer" or NULL */
    size_t          username_len;
    size_t          email_len;
    size_t          member_len;
    char            username[NGX_TURSO_MEMBERS_USERNAME_MAX + 1];
    char            email[NGX_TURSO_MEMBERS_EMAIL_MAX + 1];
    char            member[NGX_TURSO_MEMBERS_USERNAME_MAX + 1];
    char            error[NGX_TURSO_MEMBERS_ERROR_MAX];
} ngx_turso_members_body_t;


typedef void *(*ngx_turso_members_json_alloc_pt)(void *data, size_t size);


/*
 * Whether len bytes at a and b are the same: for the short names of
 * fields and routes, 4 to 8 bytes in two overlapping loads, without a call
 */

static inline int
ngx_turso_members_short_eq(const void *a, const void *b, size_t len)
{
    uint32_t  a0, a1, b0, b1;

    if (len < 4 || len > 8) {
        return memcmp(a, b, len) == 0;
    }

    memcpy(&a0, a, 4);
    memcpy(&b0, b, 4);
    memcpy(&a1, (const char *) a + len - 4, 4);
    memcpy(&b1, (const char *) b + len - 4, 4);

    return a0 == b0 && a1 == b1;
}


void ngx_turso_members_json_allocator(ngx_turso_members_json_alloc_pt alloc,
    void *data);
int ngx_turso_members_json_parse(const unsigned char *data, size_t len,
    const ngx_turso_members_body_spec_t *spec, ngx_turso_members_body_t *body);
/* the two readers json_parse() uses, apart for the tests and the fuzzer */
int ngx_turso_members_json_parse_flat(const unsigned char *data, size_t len,
    const ngx_turso_members_body_spec_t *spec, ngx_turso_members_body_t *body);
int ngx_turso_members_json_parse_jansson(const unsigned char *data,
    size_t len, const ngx_turso_members_body_spec_t *spec,
    ngx_turso_members_body_t *body);
/* whether two parsed bodies say the same (for the tests and the fuzzer) */
int ngx_turso_members_json_body_eq(const ngx_turso_members_body_t *a,
    const ngx_turso_members_body_t *b);
/* role: NULL or one of the names ngx_turso_members_role() returns */
size_t ngx_turso_members_json_write(const ngx_turso_members_body_t *body,
    unsigned fields, const char *role, char *buf, size_t size);
size_t ngx_turso_members_json_escape(char *dst, size_t size, const char *src,
    size_t len);
int ngx_turso_members_json_error_string(const unsigned char *data,
    size_t len, char *msg, size_t size);

int ngx_turso_members_valid_username(const unsigned char *s, size_t len);
int ngx_turso_members_valid_email(const unsigned char *s, size_t len);
int ngx_turso_members_valid_org(const unsigned char *s, size_t len);
const char *ngx_turso_members_role(const unsigned char *s, size_t len);


#endif /* _NGX_TURSO_MEMBERS_JSON_H_INCLUDED_ */
