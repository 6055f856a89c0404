
/*
 * Copyright (C) ngx_turso_members authors
 *
 * The path and field validators: organizations, usernames, emails and
 * roles, as the route, the policy and the body checks accept them.  Plain
 * C with no nginx types.
 */


#ifndef _NGX_TURSO_MEMBERS_VALID_H_INCLUDED_
#define _NGX_TURSO_MEMBERS_VALID_H_INCLUDED_


#include <stddef.h>


#define NGX_TURSO_MEMBERS_USERNAME_MAX     255
#define NGX_TURSO_MEMBERS_EMAIL_MAX        254
#define NGX_TURSO_MEMBERS_ORG_MAX          64


int ngx_turso_members_valid_username(const unsigned char *s, size_t len);
int ngx_turso_members_valid_email(const unsigned char *s, size_t len);
/* 1, or 2 when valid but for a capital letter (Turso's slugs are lowercase) */
int ngx_turso_members_valid_org(const unsigned char *s, size_t len);
/* "admin", "member", "viewer" (static strings) or NULL */
const char *ngx_turso_members_role(const unsigned char *s, size_t len);
int ngx_turso_members_role_is_owner(const unsigned char *s, size_t len);


#endif /* _NGX_TURSO_MEMBERS_VALID_H_INCLUDED_ */
