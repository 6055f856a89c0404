
/*
 * Copyright (C) ngx_turso_members authors
 *
 * Unit tests of the request body reading and checks.  The body checks
 * are included, not linked, so that their static helpers can be tested
 * too; the other units are linked.  Output is TAP, closed by a
 * "N passed, M failed" line; the exit status is 1 on failure.
 */


#include "test.h"
#include "ngx_turso_members_json.h"
#include "ngx_turso_members_body.c"


typedef struct {
    const char                           *name;
    const ngx_turso_members_body_spec_t  *spec;
    const char                           *input;
    int                                   rc;
    unsigned                              present;
    const char                           *role;
    const char                           *value;   /* username/email/member */
    const char                           *error;   /* substring, or NULL */
} ngx_turso_members_test_case_t;


static int ngx_turso_members_test_printable(const char *s);
static void ngx_turso_members_test_parse(
    const ngx_turso_members_test_case_t *t, const unsigned char *input,
    size_t len);
static void ngx_turso_members_test_parse_cases(void);
static void ngx_turso_members_test_parse_generated(void);
static void ngx_turso_members_test_error_string(void);
static void ngx_turso_members_test_fold(void);


const ngx_turso_members_body_spec_t  ngx_turso_members_test_add = {
    U|R, U, 0
};

/* the Node client's add member: {"member": u, "role": r} */
static const ngx_turso_members_body_spec_t  ngx_turso_members_test_node = {
    M|R, M, 0
};

static const ngx_turso_members_body_spec_t  ngx_turso_members_test_update = {
    R, R, 0
};

static const ngx_turso_members_body_spec_t  ngx_turso_members_test_invite = {
    E|U|R, 0, E|U
};


#define ADD     &ngx_turso_members_test_add
#define NODE    &ngx_turso_members_test_node
#define UPDATE  &ngx_turso_members_test_update
#define INVITE  &ngx_turso_members_test_invite

#define USERNAME_RULE  "\"username\" must be a non-empty string"
#define EMAIL_RULE     "\"email\" must be an email address"
#define ROLE_RULE      "invalid role: must be one of admin, member, viewer"
#define OWNER_RULE     "the owner role cannot be assigned"
#define ONE_OF_RULE    "exactly one of \"email\" or \"username\" is required"
#define NOT_JSON       "request body is not valid JSON: "
#define NOT_OBJECT     "request body must be a JSON object"


static const ngx_turso_members_test_case_t  ngx_turso_members_test_cases[] = {

    /* add member: username required, role optional */

    { "add: username and role", ADD,
      "{\"username\":\"bob\",\"role\":\"admin\"}",
      OK, U|R, "admin", "bob", NULL },
    { "add: username alone", ADD,
      "{\"username\":\"bob\"}", OK, U, NULL, "bob", NULL },
    { "add: whitespace around the document", ADD,
      " \r\n\t{ \"username\" : \"bob\" }\n", OK, U, NULL, "bob", NULL },
    { "add: null role is absent", ADD,
      "{\"username\":\"bob\",\"role\":null}", OK, U, NULL, "bob", NULL },
    { "add: null username is absent", ADD,
      "{\"username\":null,\"role\":\"admin\"}", BODY, 0, NULL, NULL,
      "\"username\" is required" },
    { "add: username missing", ADD,
      "{\"role\":\"admin\"}", BODY, 0, NULL, NULL,
      "\"username\" is required" },
    { "add: empty object", ADD,
      "{}", BODY, 0, NULL, NULL, "\"username\" is required" },
    { "add: empty username", ADD,
      "{\"username\":\"\"}", BODY, 0, NULL, NULL, USERNAME_RULE },
    { "add: username a number", ADD,
      "{\"username\":1}", BODY, 0, NULL, NULL, USERNAME_RULE },
    { "add: username true", ADD,
      "{\"username\":true}", BODY, 0, NULL, NULL, USERNAME_RULE },
    { "add: username an array", ADD,
      "{\"username\":[\"bob\"]}", BODY, 0, NULL, NULL, USERNAME_RULE },
    { "add: username an object", ADD,
      "{\"username\":{}}", BODY, 0, NULL, NULL, USERNAME_RULE },
    { "add: username with a space", ADD,
      "{\"username\":\"bo b\"}", BODY, 0, NULL, NULL, USERNAME_RULE },
    { "add: username with a slash", ADD,
      "{\"username\":\"../x\"}", BODY, 0, NULL, NULL, USERNAME_RULE },
    { "add: username \"..\"", ADD,
      "{\"username\":\"..\"}", BODY, 0, NULL, NULL, USERNAME_RULE },
    { "add: username with an escaped tab", ADD,
      "{\"username\":\"a\\tb\"}", BODY, 0, NULL, NULL, USERNAME_RULE },
    { "add: username with DEL", ADD,
      "{\"username\":\"a\\u007fb\"}", BODY, 0, NULL, NULL, USERNAME_RULE },
    { "add: username with U+0085", ADD,
      "{\"username\":\"a\\u0085\"}", BODY, 0, NULL, NULL, USERNAME_RULE },
    { "add: username with U+00A0", ADD,
      "{\"username\":\"a\\u00a0\"}", BODY, 0, NULL, NULL, USERNAME_RULE },
    { "add: username with U+2028", ADD,
      "{\"username\":\"a\\u2028\"}", BODY, 0, NULL, NULL, USERNAME_RULE },
    { "add: username with U+3000", ADD,
      "{\"username\":\"\xe3\x80\x80\x61\"}", BODY, 0, NULL, NULL,
      USERNAME_RULE },
    { "add: username with U+FEFF", ADD,
      "{\"username\":\"\\ufeffbob\"}", BODY, 0, NULL, NULL, USERNAME_RULE },
    { "add: non-ASCII username", ADD,
      "{\"username\":\"j\\u00f6rg\"}", OK, U, NULL, "j\xc3\xb6rg", NULL },
    { "add: username with quote and backslash", ADD,
      "{\"username\":\"a\\\"b\\\\c\"}", OK, U, NULL, "a\"b\\c", NULL },
    { "add: email dropped", ADD,
      "{\"username\":\"bob\",\"email\":\"not an email\"}", OK, U, NULL,
      "bob", NULL },
    { "add: member dropped", ADD,
      "{\"username\":\"bob\",\"member\":\"eve\"}", OK, U, NULL, "bob",
      NULL },
    { "add: unknown keys dropped", ADD,
      "{\"x\":1,\"username\":\"bob\",\"extra\":{\"role\":\"owner\","
      "\"Role\":1},\"list\":[1,\"a\",null,true,{}],\"n\":-1.5e3}",
      OK, U, NULL, "bob", NULL },
    { "add: near-miss keys dropped", ADD,
      "{\"username\":\"bob\",\"roles\":\"owner\",\"_role\":1,"
      "\"r\\u00f6le\":2,\"rol\":3,\"user name\":4}",
      OK, U, NULL, "bob", NULL },

    /* role normalization */

    { "role: trimmed and lowercased", ADD,
      "{\"username\":\"bob\",\"role\":\" Admin\\n\"}",
      OK, U|R, "admin", "bob", NULL },
    { "role: VIEWER", UPDATE,
      "{\"role\":\"VIEWER\"}", OK, R, "viewer", NULL, NULL },
    { "role: tab member", UPDATE,
      "{\"role\":\"\\t\\r member \"}", OK, R, "member", NULL, NULL },
    { "role: OWNER", UPDATE,
      "{\"role\":\"OWNER\"}", ROLE, 0, NULL, NULL, OWNER_RULE },
    { "role: owner", UPDATE,
      "{\"role\":\" owner\"}", ROLE, 0, NULL, NULL, OWNER_RULE },
    { "role: empty", UPDATE,
      "{\"role\":\"\"}", ROLE, 0, NULL, NULL, ROLE_RULE },
    { "role: blank", UPDATE,
      "{\"role\":\"  \"}", ROLE, 0, NULL, NULL, ROLE_RULE },
    { "role: unknown", UPDATE,
      "{\"role\":\"superuser\"}", ROLE, 0, NULL, NULL, ROLE_RULE },
    { "role: vertical tab is not trimmed", UPDATE,
      "{\"role\":\"admin\\u000b\"}", ROLE, 0, NULL, NULL, ROLE_RULE },
    { "role: NBSP is not trimmed", UPDATE,
      "{\"role\":\"\\u00a0admin\"}", ROLE, 0, NULL, NULL, ROLE_RULE },
    { "role: dotless i", UPDATE,
      "{\"role\":\"adm\\u0131n\"}", ROLE, 0, NULL, NULL, ROLE_RULE },
    { "role: 1", UPDATE,
      "{\"role\":1}", ROLE, 0, NULL, NULL, ROLE_RULE },
    { "role: true", UPDATE,
      "{\"role\":true}", ROLE, 0, NULL, NULL, ROLE_RULE },
    { "role: []", UPDATE,
      "{\"role\":[]}", ROLE, 0, NULL, NULL, ROLE_RULE },
    { "role: {}", UPDATE,
      "{\"role\":{}}", ROLE, 0, NULL, NULL, ROLE_RULE },
    { "role: [\"admin\"]", UPDATE,
      "{\"role\":[\"admin\"]}", ROLE, 0, NULL, NULL, ROLE_RULE },
    { "role: invalid even when optional", ADD,
      "{\"username\":\"bob\",\"role\":\"root\"}", ROLE, 0, NULL, NULL,
      ROLE_RULE },

    /* update role: role required, everything else dropped */

    { "update: role", UPDATE,
      "{\"role\":\"viewer\"}", OK, R, "viewer", NULL, NULL },
    { "update: missing role", UPDATE,
      "{}", BODY, 0, NULL, NULL, "\"role\" is required" },
    { "update: null role", UPDATE,
      "{\"role\":null}", BODY, 0, NULL, NULL, "\"role\" is required" },
    { "update: username dropped", UPDATE,
      "{\"role\":\"admin\",\"username\":\"eve\",\"email\":\"e@x\"}",
      OK, R, "admin", NULL, NULL },

    /* duplicates: Go lets the last one win, so they are refused */

    { "duplicate role", UPDATE,
      "{\"role\":\"admin\",\"role\":\"viewer\"}", JSON, 0, NULL, NULL,
      "duplicate object key" },
    { "duplicate dropped key", UPDATE,
      "{\"role\":\"admin\",\"x\":1,\"x\":2}", JSON, 0, NULL, NULL,
      "duplicate object key" },
    { "duplicate through an escape", UPDATE,
      "{\"r\\u006fle\":\"admin\",\"role\":\"viewer\"}", JSON, 0, NULL, NULL,
      "duplicate object key" },
    { "escaped key is the key", UPDATE,
      "{\"r\\u006fle\":\"admin\"}", OK, R, "admin", NULL, NULL },
    { "duplicates in nested objects", UPDATE,
      "{\"role\":\"admin\",\"x\":{\"a\":1,\"a\":2}}", JSON, 0, NULL, NULL,
      "duplicate object key" },

    /* keys Go would match case-insensitively */

    { "key Role", UPDATE,
      "{\"Role\":\"admin\"}", BODY, 0, NULL, NULL,
      "unexpected key \"Role\": keys are case-sensitive, expected \"role\"" },
    { "key ROLE after role", UPDATE,
      "{\"role\":\"viewer\",\"ROLE\":\"admin\"}", BODY, 0, NULL, NULL,
      "unexpected key \"ROLE\"" },
    { "key USERNAME after username", ADD,
      "{\"username\":\"bob\",\"USERNAME\":\"eve\"}", BODY, 0, NULL, NULL,
      "unexpected key \"USERNAME\"" },
    { "key with long s, escaped", ADD,
      "{\"u\\u017fername\":\"eve\"}", BODY, 0, NULL, NULL,
      "unexpected key resembling \"username\": keys are case-sensitive" },
    { "key with long s, raw", ADD,
      "{\"username\":\"bob\",\"u\xc5\xbf" "ername\":\"eve\"}", BODY, 0, NULL,
      NULL, "unexpected key resembling \"username\"" },
    { "key EMAIL after email", INVITE,
      "{\"email\":\"a@b.c\",\"EMAIL\":\"x@y.z\"}", BODY, 0, NULL, NULL,
      "unexpected key \"EMAIL\"" },
    { "case variant of another route's field", UPDATE,
      "{\"role\":\"admin\",\"Username\":\"eve\"}", BODY, 0, NULL, NULL,
      "unexpected key \"Username\"" },
    { "case variant of member", ADD,
      "{\"username\":\"bob\",\"MEMBER\":\"eve\"}", BODY, 0, NULL, NULL,
      "unexpected key \"MEMBER\"" },
    { "case variant with a null value", UPDATE,
      "{\"role\":\"admin\",\"rOLE\":null}", BODY, 0, NULL, NULL,
      "unexpected key \"rOLE\"" },

    /* invite: exactly one of email or username */

    { "invite: email", INVITE,
      "{\"email\":\"a@b.co\",\"role\":\"admin\"}", OK, E|R, "admin",
      "a@b.co", NULL },
    { "invite: username", INVITE,
      "{\"username\":\"bob\"}", OK, U, NULL, "bob", NULL },
    { "invite: null email and a username", INVITE,
      "{\"email\":null,\"username\":\"bob\"}", OK, U, NULL, "bob", NULL },
    { "invite: both", INVITE,
      "{\"email\":\"a@b.co\",\"username\":\"bob\"}", BODY, 0, NULL, NULL,
      ONE_OF_RULE },
    { "invite: neither", INVITE,
      "{\"role\":\"admin\"}", BODY, 0, NULL, NULL, ONE_OF_RULE },
    { "invite: email without @", INVITE,
      "{\"email\":\"ab.co\"}", BODY, 0, NULL, NULL, EMAIL_RULE },
    { "invite: email with two @", INVITE,
      "{\"email\":\"a@b@c\"}", BODY, 0, NULL, NULL, EMAIL_RULE },
    { "invite: email ending with @", INVITE,
      "{\"email\":\"ab@\"}", BODY, 0, NULL, NULL, EMAIL_RULE },
    { "invite: email with a space", INVITE,
      "{\"email\":\"a b@c\"}", BODY, 0, NULL, NULL, EMAIL_RULE },
    { "invite: email with a slash", INVITE,
      "{\"email\":\"a/b@c\"}", BODY, 0, NULL, NULL, EMAIL_RULE },
    { "invite: email a number", INVITE,
      "{\"email\":5}", BODY, 0, NULL, NULL, EMAIL_RULE },

    /* the Node client's body */

    { "node: member and role", NODE,
      "{\"member\":\"bob\",\"role\":\"member\"}", OK, M|R, "member", "bob",
      NULL },
    { "node: empty member", NODE,
      "{\"member\":\"\"}", BODY, 0, NULL, NULL,
      "\"member\" must be a non-empty string" },
    { "node: member missing", NODE,
      "{\"username\":\"bob\"}", BODY, 0, NULL, NULL,
      "\"member\" is required" },

    /* not JSON at all */

    { "blank body", ADD, " \n", JSON, 0, NULL, NULL, NOT_JSON },
    { "byte order mark", ADD,
      "\xef\xbb\xbf{\"username\":\"bob\"}", JSON, 0, NULL, NULL, NOT_JSON },
    { "trailing garbage", ADD,
      "{\"username\":\"bob\"} x", JSON, 0, NULL, NULL,
      NOT_JSON "end of file expected" },
    { "two documents", ADD,
      "{\"username\":\"bob\"}{}", JSON, 0, NULL, NULL, NOT_JSON },
    { "line comment", ADD,
      "{\"username\":\"bob\"} // x", JSON, 0, NULL, NULL, NOT_JSON },
    { "block comment", ADD,
      "{/* x */\"username\":\"bob\"}", JSON, 0, NULL, NULL, NOT_JSON },
    { "NaN", ADD,
      "{\"username\":\"bob\",\"n\":NaN}", JSON, 0, NULL, NULL, NOT_JSON },
    { "Infinity", ADD,
      "{\"username\":\"bob\",\"n\":-Infinity}", JSON, 0, NULL, NULL,
      NOT_JSON },
    { "single quotes", ADD,
      "{'username':'bob'}", JSON, 0, NULL, NULL, NOT_JSON },
    { "trailing comma", ADD,
      "{\"username\":\"bob\",}", JSON, 0, NULL, NULL, NOT_JSON },
    { "unquoted key", ADD,
      "{username:\"bob\"}", JSON, 0, NULL, NULL, NOT_JSON },
    { "\\u0000 in a value", ADD,
      "{\"username\":\"bob\\u0000eve\"}", JSON, 0, NULL, NULL, NOT_JSON },
    { "\\u0000 in a key", ADD,
      "{\"username\":\"bob\",\"role\\u0000\":\"admin\"}", JSON, 0, NULL,
      NULL, NOT_JSON },
    { "lone high surrogate", ADD,
      "{\"username\":\"\\ud800\"}", JSON, 0, NULL, NULL, NOT_JSON },
    { "lone low surrogate in a key", ADD,
      "{\"username\":\"bob\",\"\\udc00\":1}", JSON, 0, NULL, NULL,
      NOT_JSON },
    { "surrogate pair is fine", ADD,
      "{\"username\":\"\\ud83d\\ude00\"}", OK, U, NULL, "\xf0\x9f\x98\x80",
      NULL },
    { "invalid UTF-8 byte", ADD,
      "{\"username\":\"b\xffob\"}", JSON, 0, NULL, NULL, NOT_JSON },
    { "overlong UTF-8", ADD,
      "{\"username\":\"\xc0\xaf\"}", JSON, 0, NULL, NULL, NOT_JSON },
    { "UTF-8 surrogate", ADD,
      "{\"username\":\"\xed\xa0\x80\"}", JSON, 0, NULL, NULL, NOT_JSON },
    { "raw control character in a string", ADD,
      "{\"username\":\"bo\x01\x62\"}", JSON, 0, NULL, NULL, NOT_JSON },
    { "raw newline in a string", ADD,
      "{\"username\":\"bo\nb\"}", JSON, 0, NULL, NULL, NOT_JSON },
    { "unterminated", ADD,
      "{\"username\":\"bob\"", JSON, 0, NULL, NULL, NOT_JSON },
    { "too big integer", ADD,
      "{\"username\":\"bob\",\"n\":123456789012345678901234567890}",
      JSON, 0, NULL, NULL, NOT_JSON "too big integer" },
    { "real overflow", ADD,
      "{\"username\":\"bob\",\"n\":1e400}", JSON, 0, NULL, NULL, NOT_JSON },
    { "large but finite numbers", ADD,
      "{\"username\":\"bob\",\"a\":1e308,\"b\":-9223372036854775808,"
      "\"c\":1e-400,\"d\":-0}", OK, U, NULL, "bob", NULL },

    /* JSON, but not an object */

    { "array", ADD, "[{\"username\":\"bob\"}]", BODY, 0, NULL, NULL,
      NOT_OBJECT },
    { "string", ADD, "\"bob\"", BODY, 0, NULL, NULL, NOT_OBJECT },
    { "null", ADD, "null", BODY, 0, NULL, NULL, NOT_OBJECT },
    { "number", ADD, " 1 ", BODY, 0, NULL, NULL, NOT_OBJECT },

    { NULL, NULL, NULL, 0, 0, NULL, NULL, NULL }
};


static int  ngx_turso_members_test_passed;
static int  ngx_turso_members_test_failed;


int
main(void)
{
    ngx_turso_members_test_parse_cases();
    ngx_turso_members_test_parse_generated();
    ngx_turso_members_test_flat();
    ngx_turso_members_test_write();
    ngx_turso_members_test_escape();
    ngx_turso_members_test_error_string();
    ngx_turso_members_test_valid();
    ngx_turso_members_test_role();
    ngx_turso_members_test_fold();
    ngx_turso_members_test_mask();

    printf("1..%d\n", ngx_turso_members_test_passed
                      + ngx_turso_members_test_failed);
    printf("%d passed, %d failed\n", ngx_turso_members_test_passed,
           ngx_turso_members_test_failed);

    return ngx_turso_members_test_failed ? 1 : 0;
}


void
ngx_turso_members_test_ok(int cond, const char *fmt, ...)
{
    va_list  args;

    if (cond) {
        ngx_turso_members_test_passed++;
        printf("ok %d - ", ngx_turso_members_test_passed
                           + ngx_turso_members_test_failed);

    } else {
        ngx_turso_members_test_failed++;
        printf("not ok %d - ", ngx_turso_members_test_passed
                               + ngx_turso_members_test_failed);
    }

    va_start(args, fmt);
    vprintf(fmt, args);
    va_end(args);

    printf("\n");
}


static int
ngx_turso_members_test_printable(const char *s)
{
    for ( /* void */ ; *s != '\0'; s++) {
        if (*s < 0x20 || *s >= 0x7f) {
            return 0;
        }
    }

    return 1;
}


static void
ngx_turso_members_test_parse(const ngx_turso_members_test_case_t *t,
    const unsigned char *input, size_t len)
{
    int                        rc, ok;
    const char                *value;
    ngx_turso_members_body_t  *body;

    /* on the heap, so that ASan sees any overrun of the body's buffers */
    body = malloc(sizeof(ngx_turso_members_body_t));
    if (body == NULL) {
        abort();
    }

    memset(body, 0xa5, sizeof(ngx_turso_members_body_t));

    rc = ngx_turso_members_json_parse(input, len, t->spec, body);

    ok = (rc == t->rc && body->present == t->present);

    if (t->role == NULL) {
        ok = ok && body->role == NULL;

    } else {
        ok = ok && body->role != NULL && strcmp(body->role, t->role) == 0;
    }

    if (rc == OK && t->value != NULL) {
        if (body->present & U) {
            value = body->username;
            ok = ok && body->username_len == strlen(value);

        } else if (body->present & E) {
            value = body->email;
            ok = ok && body->email_len == strlen(value);

        } else {
            value = body->member;
            ok = ok && body->member_len == strlen(value);
        }

        ok = ok && strcmp(value, t->value) == 0;
    }

    if (rc != OK) {
        ok = ok && body->error[0] != '\0'
             && memchr(body->error, '\0', sizeof(body->error)) != NULL
             && ngx_turso_members_test_printable(body->error);

        if (t->error != NULL) {
            ok = ok && strstr(body->error, t->error) != NULL;
        }
    }

    ngx_turso_members_test_ok(ok, "parse: %s", t->name);

    if (!ok) {
        printf("#   rc %d (want %d), present 0x%x (want 0x%x), role %s, "
               "error \"%s\"\n", rc, t->rc, body->present, t->present,
               body->role ? body->role : "NULL",
               rc == OK ? "" : body->error);
    }

    ngx_turso_members_test_flat_agrees(t->name, t->spec, input, len, rc, body);

    free(body);
}


static void
ngx_turso_members_test_parse_cases(void)
{
    size_t                                n;
    unsigned char                        *copy;
    const ngx_turso_members_test_case_t  *t;

    for (t = ngx_turso_members_test_cases; t->name != NULL; t++) {
        /* an exact-size copy: reading past the end is an ASan error */
        n = strlen(t->input);
        copy = malloc(n ? n : 1);
        if (copy == NULL) {
            abort();
        }

        memcpy(copy, t->input, n);
        ngx_turso_members_test_parse(t, copy, n);
        free(copy);
    }
}


static void
ngx_turso_members_test_parse_generated(void)
{
    size_t                         i, n;
    unsigned char                 *buf;
    ngx_turso_members_test_case_t  t;

    buf = malloc(200100);
    if (buf == NULL) {
        abort();
    }

    memset(&t, 0, sizeof(t));
    t.spec = ADD;

    t.name = "empty body";
    t.rc = JSON;
    t.error = NOT_JSON "the body is empty";
    ngx_turso_members_test_parse(&t, buf, 0);

    t.name = "NUL after the document";
    memcpy(buf, "{\"username\":\"bob\"}\0", 19);
    t.error = NOT_JSON;
    ngx_turso_members_test_parse(&t, buf, 19);

    t.name = "NUL inside a string";
    memcpy(buf, "{\"username\":\"b\0b\"}", 18);
    ngx_turso_members_test_parse(&t, buf, 18);

    /* jansson 2.14 alone accepts these (found by the fuzzer) */

    t.error = NOT_JSON "NUL byte at byte 27";

    t.name = "NUL after null";
    memcpy(buf, "{\"username\":\"ob\",\"ole\":null\0}", 29);
    ngx_turso_members_test_parse(&t, buf, 29);

    t.name = "NUL after a number";
    memcpy(buf, "{\"username\":\"ob\",\"ole\":1234\0}", 29);
    ngx_turso_members_test_parse(&t, buf, 29);

    t.name = "NUL after true";
    memcpy(buf, "{\"username\":\"ob\",\"ole\":true\0}", 29);
    ngx_turso_members_test_parse(&t, buf, 29);

    t.error = NOT_JSON;

    t.name = "100000 nested arrays";
    memset(buf, '[', 100000);
    ngx_turso_members_test_parse(&t, buf, 100000);

    t.name = "100000 nested arrays in a dropped key";
    memcpy(buf, "{\"x\":", 5);
    memset(buf + 5, '[', 100000);
    memset(buf + 100005, ']', 100000);
    buf[200005] = '}';
    ngx_turso_members_test_parse(&t, buf, 200006);

    t.name = "1000 nested objects";
    for (i = 0; i < 1000; i++) {
        memcpy(buf + i * 5, "{\"a\":", 5);
    }
    memcpy(buf + 5000, "1", 1);
    memset(buf + 5001, '}', 1000);
    t.rc = BODY;
    t.error = "\"username\" is required";
    ngx_turso_members_test_parse(&t, buf, 6001);

    t.name = "1000 nested arrays in a dropped key";
    n = sizeof("{\"username\":\"bob\",\"x\":") - 1;
    memcpy(buf, "{\"username\":\"bob\",\"x\":", n);
    memset(buf + n, '[', 1000);
    memset(buf + n + 1000, ']', 1000);
    buf[n + 2000] = '}';
    t.rc = OK;
    t.present = U;
    t.value = "bob";
    t.error = NULL;
    ngx_turso_members_test_parse(&t, buf, n + 2001);

    t.name = "255-byte username";
    memcpy(buf, "{\"username\":\"", 13);
    memset(buf + 13, 'a', 255);
    memcpy(buf + 268, "\"}", 2);
    memcpy(buf + 1000, buf + 13, 255);
    buf[1255] = '\0';
    t.value = (char *) buf + 1000;
    ngx_turso_members_test_parse(&t, buf, 270);

    t.name = "256-byte username";
    memcpy(buf, "{\"username\":\"", 13);
    memset(buf + 13, 'a', 256);
    memcpy(buf + 269, "\"}", 2);
    t.rc = BODY;
    t.present = 0;
    t.value = NULL;
    t.error = USERNAME_RULE;
    ngx_turso_members_test_parse(&t, buf, 271);

    free(buf);
}


static void
ngx_turso_members_test_error_string(void)
{
    char  msg[64];

#define ngx_turso_members_test_error(json, size)                              \
    ngx_turso_members_json_error_string(ngx_turso_members_test_str(json),     \
                                        msg, size)

    ngx_turso_members_test_ok(
        ngx_turso_members_test_error(
            "{\"error\":\"could not find organization\",\"code\":\"x\"}", 64)
        == 1 && strcmp(msg, "could not find organization") == 0,
        "error string: found");

    ngx_turso_members_test_ok(
        ngx_turso_members_test_error("{\"error\":\"abcdefg\"}", 5) == 1
        && strcmp(msg, "abcd") == 0,
        "error string: truncated");

    ngx_turso_members_test_ok(
        ngx_turso_members_test_error("{\"error\":\"a\\u00e9\"}", 3) == 1
        && strcmp(msg, "a") == 0,
        "error string: not cut inside a UTF-8 sequence");

    ngx_turso_members_test_ok(
        ngx_turso_members_test_error("{\"error\":\"a\",\"error\":\"b\"}", 64)
        == 1 && strcmp(msg, "b") == 0,
        "error string: last duplicate wins, as in Go");

    ngx_turso_members_test_ok(
        ngx_turso_members_test_error("{\"error\":\"x\"}", 0) == 0,
        "error string: no room");
    ngx_turso_members_test_ok(
        ngx_turso_members_test_error("{\"code\":\"x\"}", 64) == 0,
        "error string: no error member");
    ngx_turso_members_test_ok(
        ngx_turso_members_test_error("{\"error\":404}", 64) == 0,
        "error string: not a string");
    ngx_turso_members_test_ok(
        ngx_turso_members_test_error("[\"error\"]", 64) == 0,
        "error string: not an object");
    ngx_turso_members_test_ok(
        ngx_turso_members_test_error("Not Found", 64) == 0,
        "error string: not JSON");
    ngx_turso_members_test_ok(
        ngx_turso_members_test_error("", 64) == 0,
        "error string: empty");

#undef ngx_turso_members_test_error
}


static void
ngx_turso_members_test_fold(void)
{
#define ngx_turso_members_test_fold_is(key, name, want)                       \
    ngx_turso_members_test_ok(                                                \
        ngx_turso_members_body_fold_eq(ngx_turso_members_test_str(key), name) \
        == want, "fold: " #key " ~ " #name " is %d", want)

    ngx_turso_members_test_fold_is("role", "role", 1);
    ngx_turso_members_test_fold_is("ROLE", "role", 1);
    ngx_turso_members_test_fold_is("rOlE", "role", 1);
    ngx_turso_members_test_fold_is("USERNAME", "username", 1);
    ngx_turso_members_test_fold_is("u\xc5\xbf" "ername", "username", 1);
    ngx_turso_members_test_fold_is("U\xc5\xbf" "ERNAME", "username", 1);
    ngx_turso_members_test_fold_is("\xe2\x84\xaa" "ey", "key", 1);
    ngx_turso_members_test_fold_is("\xe2\x84\xaa", "k", 1);
    ngx_turso_members_test_fold_is("\xc5\xbf", "s", 1);
    ngx_turso_members_test_fold_is("\xe2\x84\xaa", "s", 0);
    ngx_turso_members_test_fold_is("\xc5\xbf", "k", 0);
    ngx_turso_members_test_fold_is("\xc5", "s", 0);
    ngx_turso_members_test_fold_is("\xe2\x84", "k", 0);
    ngx_turso_members_test_fold_is("rol", "role", 0);
    ngx_turso_members_test_fold_is("roles", "role", 0);
    ngx_turso_members_test_fold_is("", "role", 0);
    ngx_turso_members_test_fold_is("r\xc3\xb6le", "role", 0);
    ngx_turso_members_test_fold_is("r\xc3\x96le", "role", 0);
    ngx_turso_members_test_fold_is("RO LE", "role", 0);
    ngx_turso_members_test_fold_is("[", "{", 0);
    ngx_turso_members_test_fold_is("@", "`", 0);
    ngx_turso_members_test_fold_is("EMA\xc4\xb0L", "email", 0);

#undef ngx_turso_members_test_fold_is
}
