
/*
 * Copyright (C) ngx_turso_members authors
 *
 * A request body's members checked against the fields of its route, as a
 * reader (the flat scan or jansson) finds them, one at a time.  Plain C
 * with no nginx types.
 */


#ifndef _NGX_TURSO_MEMBERS_BODY_H_INCLUDED_
#define _NGX_TURSO_MEMBERS_BODY_H_INCLUDED_


#include <stddef.h>

#include "ngx_turso_members_valid.h"


/* the fields a route's body may carry */
#define NGX_TURSO_MEMBERS_FIELD_USERNAME   0x01
#define NGX_TURSO_MEMBERS_FIELD_ROLE       0x02
#define NGX_TURSO_MEMBERS_FIELD_EMAIL      0x04
#define NGX_TURSO_MEMBERS_FIELD_MEMBER     0x08

#define NGX_TURSO_MEMBERS_ERROR_MAX        192

/* how much of the role a body asked for is kept for the logs */
#define NGX_TURSO_MEMBERS_ROLE_SEEN        32

/* a member's value, as a reader found it */
#define NGX_TURSO_MEMBERS_VALUE_NULL       0
#define NGX_TURSO_MEMBERS_VALUE_STRING     1
#define NGX_TURSO_MEMBERS_VALUE_OTHER      2


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
    int             role_rc;    /* a bad role, answered once the other
                                   members are checked */
    size_t          username_len;
    size_t          email_len;
    size_t          member_len;
    /* "role" as sent, cut: in the parsed text, valid while it is */
    size_t          requested_role_len;
    const char     *requested_role;
    char            username[NGX_TURSO_MEMBERS_USERNAME_MAX + 1];
    char            email[NGX_TURSO_MEMBERS_EMAIL_MAX + 1];
    char            member[NGX_TURSO_MEMBERS_USERNAME_MAX + 1];
    char            error[NGX_TURSO_MEMBERS_ERROR_MAX];
} ngx_turso_members_body_t;


typedef struct {
    int                   type;     /* NGX_TURSO_MEMBERS_VALUE_NULL, ... */
    const unsigned char  *data;     /* a string's bytes, not terminated */
    size_t                len;
} ngx_turso_members_value_t;


/*
 * A reader calls body_init(), body_member() for each member in the order
 * of the body while it returns OK, then body_done() with the last result.
 */

void ngx_turso_members_body_init(ngx_turso_members_body_t *body);
int ngx_turso_members_body_member(const ngx_turso_members_body_spec_t *spec,
    const unsigned char *key, size_t key_len,
    const ngx_turso_members_value_t *value, ngx_turso_members_body_t *body);
int ngx_turso_members_body_done(const ngx_turso_members_body_spec_t *spec,
    ngx_turso_members_body_t *body, int rc);
void ngx_turso_members_body_error(ngx_turso_members_body_t *body,
    const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__ ((format (printf, 2, 3)))
#endif
    ;
/* whether two checked bodies say the same (for the tests and the fuzzer) */
int ngx_turso_members_body_eq(const ngx_turso_members_body_t *a,
    const ngx_turso_members_body_t *b);


#endif /* _NGX_TURSO_MEMBERS_BODY_H_INCLUDED_ */
