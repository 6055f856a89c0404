
/*
 * Copyright (C) ngx_turso_members authors
 *
 * The canonical body: what the upstream gets in place of the client's.
 * Plain C with no nginx types.
 */


#ifndef _NGX_TURSO_MEMBERS_WRITE_H_INCLUDED_
#define _NGX_TURSO_MEMBERS_WRITE_H_INCLUDED_


#include <stddef.h>

#include "ngx_turso_members_body.h"


/*
 * The bytes written, 0 when they do not fit (an escaped byte takes at
 * most 6).  role: NULL or one of the names ngx_turso_members_role()
 * returns.
 */
size_t ngx_turso_members_json_write(const ngx_turso_members_body_t *body,
    unsigned fields, const char *role, char *buf, size_t size);


#endif /* _NGX_TURSO_MEMBERS_WRITE_H_INCLUDED_ */
