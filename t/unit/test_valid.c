
/*
 * Copyright (C) ngx_turso_members authors
 *
 * Unit tests of the path and field validators.
 */


#include "test.h"
#include "ngx_turso_members_valid.h"


void
ngx_turso_members_test_valid(void)
{
    unsigned char  *buf;

#define ngx_turso_members_test_username(s, want)                              \
    ngx_turso_members_test_ok(                                                \
        ngx_turso_members_valid_username(ngx_turso_members_test_str(s))       \
        == want, "valid_username: " #s " is %d", want)

#define ngx_turso_members_test_email(s, want)                                 \
    ngx_turso_members_test_ok(                                                \
        ngx_turso_members_valid_email(ngx_turso_members_test_str(s))          \
        == want, "valid_email: " #s " is %d", want)

#define ngx_turso_members_test_org(s, want)                                   \
    ngx_turso_members_test_ok(                                                \
        ngx_turso_members_valid_org(ngx_turso_members_test_str(s))            \
        == want, "valid_org: " #s " is %d", want)

    ngx_turso_members_test_username("a", 1);
    ngx_turso_members_test_username("bob-smith_2", 1);
    ngx_turso_members_test_username("a.b", 1);
    ngx_turso_members_test_username("...", 1);
    ngx_turso_members_test_username("a@b\"c\\d", 1);
    ngx_turso_members_test_username("j\xc3\xb6rg", 1);
    ngx_turso_members_test_username("\xf0\x9f\x98\x80", 1);
    ngx_turso_members_test_username("a\xe2\x80\x8b", 1);
    ngx_turso_members_test_username("", 0);
    ngx_turso_members_test_username(".", 0);
    ngx_turso_members_test_username("..", 0);
    ngx_turso_members_test_username("a b", 0);
    ngx_turso_members_test_username("a\tb", 0);
    ngx_turso_members_test_username("a\nb", 0);
    ngx_turso_members_test_username("a\vb", 0);
    ngx_turso_members_test_username("a/b", 0);
    ngx_turso_members_test_username("a\x7f", 0);
    ngx_turso_members_test_username("a\x01", 0);
    ngx_turso_members_test_username("a\0b", 0);
    ngx_turso_members_test_username("a\xc2\x80", 0);
    ngx_turso_members_test_username("a\xc2\x85", 0);
    ngx_turso_members_test_username("a\xc2\x9f", 0);
    ngx_turso_members_test_username("a\xc2\xa0", 0);
    ngx_turso_members_test_username("a\xe1\x9a\x80", 0);
    ngx_turso_members_test_username("a\xe2\x80\x80", 0);
    ngx_turso_members_test_username("a\xe2\x80\x8a", 0);
    ngx_turso_members_test_username("a\xe2\x80\xa8", 0);
    ngx_turso_members_test_username("a\xe2\x80\xa9", 0);
    ngx_turso_members_test_username("a\xe2\x80\xaf", 0);
    ngx_turso_members_test_username("a\xe2\x81\x9f", 0);
    ngx_turso_members_test_username("a\xe3\x80\x80", 0);
    ngx_turso_members_test_username("\xef\xbb\xbf\x61", 0);
    ngx_turso_members_test_username("a\xff", 0);
    ngx_turso_members_test_username("a\xc3", 0);
    ngx_turso_members_test_username("\xc0\xaf", 0);
    ngx_turso_members_test_username("\xe0\x80\xaf", 0);
    ngx_turso_members_test_username("\xed\xa0\x80", 0);
    ngx_turso_members_test_username("\xf4\x90\x80\x80", 0);
    ngx_turso_members_test_username("\xf8\x88\x80\x80\x80", 0);

    ngx_turso_members_test_email("a@b", 1);
    ngx_turso_members_test_email("first.last+tag@example.co.uk", 1);
    ngx_turso_members_test_email("j\xc3\xb6rg@b\xc3\xbc.de", 1);
    ngx_turso_members_test_email("ab", 0);
    ngx_turso_members_test_email("@bc", 0);
    ngx_turso_members_test_email("ab@", 0);
    ngx_turso_members_test_email("abc", 0);
    ngx_turso_members_test_email("a@b@c", 0);
    ngx_turso_members_test_email("a b@c", 0);
    ngx_turso_members_test_email("a@b\n", 0);
    ngx_turso_members_test_email("a/b@c", 0);
    ngx_turso_members_test_email("a@b\xc2\xa0", 0);
    ngx_turso_members_test_email("a@b\xff", 0);

    ngx_turso_members_test_org("my-org_1", 1);
    ngx_turso_members_test_org("A", 2);
    ngx_turso_members_test_org("acMe", 2);
    ngx_turso_members_test_org("", 0);
    ngx_turso_members_test_org("a.b", 0);
    ngx_turso_members_test_org("a/b", 0);
    ngx_turso_members_test_org("a b", 0);
    ngx_turso_members_test_org("..", 0);
    ngx_turso_members_test_org("\xc3\xa9", 0);

#undef ngx_turso_members_test_username
#undef ngx_turso_members_test_email
#undef ngx_turso_members_test_org

    /* lengths, on exact-size heap buffers: no reliance on a NUL */

    buf = malloc(300);
    if (buf == NULL) {
        abort();
    }

    memset(buf, 'a', 300);

    ngx_turso_members_test_ok(ngx_turso_members_valid_username(buf, 255) == 1,
                              "valid_username: 255 bytes");
    ngx_turso_members_test_ok(ngx_turso_members_valid_username(buf, 256) == 0,
                              "valid_username: 256 bytes");
    ngx_turso_members_test_ok(ngx_turso_members_valid_org(buf, 64) == 1,
                              "valid_org: 64 bytes");
    ngx_turso_members_test_ok(ngx_turso_members_valid_org(buf, 65) == 0,
                              "valid_org: 65 bytes");

    buf[100] = '@';
    ngx_turso_members_test_ok(ngx_turso_members_valid_email(buf, 254) == 1,
                              "valid_email: 254 bytes");
    ngx_turso_members_test_ok(ngx_turso_members_valid_email(buf, 255) == 0,
                              "valid_email: 255 bytes");

    free(buf);

    buf = malloc(3);
    if (buf == NULL) {
        abort();
    }

    memcpy(buf, "bob", 3);
    ngx_turso_members_test_ok(ngx_turso_members_valid_username(buf, 3) == 1
                              && ngx_turso_members_valid_org(buf, 3) == 1,
                              "valid_*: no NUL terminator needed");

    memcpy(buf, "a\xe2\x80", 3);
    ngx_turso_members_test_ok(ngx_turso_members_valid_username(buf, 3) == 0,
                              "valid_username: truncated sequence at the end");

    free(buf);
}


void
ngx_turso_members_test_role(void)
{
    const char  *admin;

#define ngx_turso_members_test_role_is(s, want)                               \
    ngx_turso_members_test_ok(                                                \
        (want) == NULL                                                        \
        ? ngx_turso_members_role(ngx_turso_members_test_str(s)) == NULL       \
        : ngx_turso_members_role(ngx_turso_members_test_str(s)) != NULL       \
          && strcmp(ngx_turso_members_role(ngx_turso_members_test_str(s)),    \
                    (want) ? (want) : "") == 0,                               \
        "role: " #s " is %s", (want) ? (want) : "NULL")

    ngx_turso_members_test_role_is("admin", "admin");
    ngx_turso_members_test_role_is("member", "member");
    ngx_turso_members_test_role_is("viewer", "viewer");
    ngx_turso_members_test_role_is(" Admin\n", "admin");
    ngx_turso_members_test_role_is("\r\n\tMeMbEr \t", "member");
    ngx_turso_members_test_role_is("VIEWER", "viewer");
    ngx_turso_members_test_role_is("OWNER", NULL);
    ngx_turso_members_test_role_is("owner", NULL);
    ngx_turso_members_test_role_is("", NULL);
    ngx_turso_members_test_role_is(" \t ", NULL);
    ngx_turso_members_test_role_is("admi", NULL);
    ngx_turso_members_test_role_is("adminx", NULL);
    ngx_turso_members_test_role_is("ad min", NULL);
    ngx_turso_members_test_role_is("\vadmin", NULL);
    ngx_turso_members_test_role_is("admin\0", NULL);
    ngx_turso_members_test_role_is("\xc2\xa0\x61\x64min", NULL);
    ngx_turso_members_test_role_is("adm\xc4\xb1n", NULL);

#undef ngx_turso_members_test_role_is

    admin = ngx_turso_members_role(ngx_turso_members_test_str(" ADMIN "));
    ngx_turso_members_test_ok(admin != NULL
                              && admin == ngx_turso_members_role(
                                  ngx_turso_members_test_str("admin")),
                              "role: a static string");
}
