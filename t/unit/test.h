
/*
 * Copyright (C) ngx_turso_members authors
 *
 * What the unit tests of the plain C units share.
 */


#ifndef _NGX_TURSO_MEMBERS_TEST_H_INCLUDED_
#define _NGX_TURSO_MEMBERS_TEST_H_INCLUDED_


#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_turso_members_body.h"


#define U  NGX_TURSO_MEMBERS_FIELD_USERNAME
#define R  NGX_TURSO_MEMBERS_FIELD_ROLE
#define E  NGX_TURSO_MEMBERS_FIELD_EMAIL
#define M  NGX_TURSO_MEMBERS_FIELD_MEMBER

#define OK    NGX_TURSO_MEMBERS_JSON_OK
#define JSON  NGX_TURSO_MEMBERS_JSON_INVALID_JSON
#define BODY  NGX_TURSO_MEMBERS_JSON_INVALID_BODY
#define ROLE  NGX_TURSO_MEMBERS_JSON_INVALID_ROLE

#define ngx_turso_members_test_str(s)  (const unsigned char *) s, sizeof(s) - 1


/* test_json.c */
extern const ngx_turso_members_body_spec_t  ngx_turso_members_test_add;

void ngx_turso_members_test_ok(int cond, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__ ((format (printf, 2, 3)))
#endif
    ;

/* test_flat.c */
void ngx_turso_members_test_flat(void);
void ngx_turso_members_test_flat_agrees(const char *name,
    const ngx_turso_members_body_spec_t *spec, const unsigned char *input,
    size_t len, int rc, const ngx_turso_members_body_t *body);

/* test_valid.c */
void ngx_turso_members_test_valid(void);
void ngx_turso_members_test_role(void);

/* test_mask.c */
void ngx_turso_members_test_mask(void);

/* test_write.c */
void ngx_turso_members_test_write(void);
void ngx_turso_members_test_escape(void);


#endif /* _NGX_TURSO_MEMBERS_TEST_H_INCLUDED_ */
