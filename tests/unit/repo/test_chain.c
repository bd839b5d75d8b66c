/* test_chain.c - the chain loader's walk (order, missing, damaged and looping parents,
 * encrypted links: key, mixing, parent mac) over a hand-made catalog, and the growable
 * key list; no S3, no Ceph. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "agent/repo/chain.h"
#include "agent/repo/keylist.h"

/* Entries of rbd/vm1, oldest first as catalog_load sorts them:
 *   0 A full, 1 B <- A, 2 C <- B, 3 D <- X (missing), 4 E <- Y (damaged), 5 F <- G, 6 G <- F
 * and one damaged manifest Y. */
static const char *const IDS[] = { "A", "B", "C", "D", "E", "F", "G" };
static const char *const PARENTS[] = { "", "A", "B", "X", "Y", "G", "F" };
#define NENT 7

static void make(catalog *c)
{
    memset(c, 0, sizeof(*c));
    c->e = calloc(NENT, sizeof(*c->e));
    c->badv = calloc(1, sizeof(*c->badv));
    assert_non_null(c->e);
    assert_non_null(c->badv);
    for (size_t i = 0; i < NENT; i++) {
        cat_entry *e = &c->e[i];
        snprintf(e->spec.pool, sizeof(e->spec.pool), "rbd");
        snprintf(e->spec.image, sizeof(e->spec.image), "vm1");
        snprintf(e->id, sizeof(e->id), "%s", IDS[i]);
        snprintf(e->m.id, sizeof(e->m.id), "%s", IDS[i]);
        snprintf(e->m.parent_id, sizeof(e->m.parent_id), "%s", PARENTS[i]);
        e->m.full = PARENTS[i][0] == '\0';
    }
    c->n = NENT;
    cat_bad *b = &c->badv[0];
    snprintf(b->spec.pool, sizeof(b->spec.pool), "rbd");
    snprintf(b->spec.image, sizeof(b->spec.image), "vm1");
    snprintf(b->id, sizeof(b->id), "Y");
    b->key = strdup("rbd2s3/rbd/vm1/Y/manifest.json");
    b->why = "checksum mismatch";
    c->bad = 1;
}

static void unmake(catalog *c)
{
    free(c->badv[0].key);
    free(c->badv);
    free(c->e);
}

static void test_chain_order(void **state)
{
    (void)state;
    catalog c;
    make(&c);
    ag_ctx ctx;
    memset(&ctx, 0, sizeof(ctx));
    chain ch;
    assert_int_equal(chain_open(&ctx, &c, 2, &ch), 0);
    assert_int_equal(ch.n, 3);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(ch.v[i].at, i);
        assert_ptr_equal(ch.v[i].m, &c.e[i].m);
        assert_null(ch.v[i].recs);
    }
    chain_free(&ch);
    assert_null(ch.v);
    assert_int_equal(chain_open(&ctx, &c, 0, &ch), 0);      /* a full alone */
    assert_int_equal(ch.n, 1);
    chain_free(&ch);
    chain_free(&ch);                                         /* safe when zeroed */
    assert_int_equal(ctx.exit_code, AG_OK);
    unmake(&c);
}

/* chain_open of target fails with this exit code and message, and holds nothing. */
static void expect_code(catalog *c, size_t target, int code, const char *msg)
{
    ag_ctx ctx;
    memset(&ctx, 0, sizeof(ctx));
    chain ch;
    assert_int_equal(chain_open(&ctx, c, target, &ch), -1);
    assert_int_equal(ctx.exit_code, code);
    assert_string_equal(ctx.errmsg, msg);
    assert_null(ch.v);
    assert_int_equal(ch.n, 0);
}

static void expect_broken(catalog *c, size_t target, const char *msg)
{
    expect_code(c, target, AG_EINTEGRITY, msg);
}

static void test_chain_broken(void **state)
{
    (void)state;
    catalog c;
    make(&c);
    expect_broken(&c, 3, "backup D: parent backup X is missing");
    expect_broken(&c, 4, "backup E: parent backup Y is damaged: manifest "
                  "rbd2s3/rbd/vm1/Y/manifest.json: checksum mismatch");
    expect_broken(&c, 5, "backup G: parent backup F is missing");  /* a loop */
    unmake(&c);
}

/* A, B <- A, C <- B made encrypted: the data keys "open" (dummy), parent macs right. */
static void make_encrypted(catalog *c, seal_key *dk)
{
    make(c);
    for (size_t i = 0; i < 3; i++) {
        manifest_enc *e = &c->e[i].m.enc;
        e->on = 1;
        snprintf(e->key_id, sizeof(e->key_id), "0123456789abcdef");
        memset(e->mac, 'a' + (int)i, SEAL_MAC_LEN);
        e->has_parent_mac = i > 0;
        if (i > 0)
            memset(e->parent_mac, 'a' + (int)i - 1, SEAL_MAC_LEN);
        c->e[i].dk = dk;
    }
}

static void test_chain_encrypted(void **state)
{
    (void)state;
    seal_key dk;
    memset(&dk, 0, sizeof(dk));
    catalog c;
    make_encrypted(&c, &dk);
    ag_ctx ctx;
    memset(&ctx, 0, sizeof(ctx));
    chain ch;
    assert_int_equal(chain_open(&ctx, &c, 2, &ch), 0);
    assert_int_equal(ch.n, 3);
    assert_ptr_equal(ch.v[2].dk, &dk);
    chain_free(&ch);

    c.e[1].m.enc.parent_mac[5] ^= 1;                 /* spliced onto another A */
    expect_code(&c, 2, AG_EINTEGRITY, "backup B of rbd/vm1: chain broken: parent mac "
                "mismatch (parent A)");
    c.e[1].m.enc.parent_mac[5] ^= 1;
    c.e[0].m.enc.on = 0;                             /* a plain parent */
    expect_code(&c, 1, AG_EINTEGRITY, "backup B of rbd/vm1: chain broken: an encrypted "
                "backup on a plain parent (parent A)");
    c.e[0].m.enc.on = 1;
    c.e[2].m.enc.on = 0;                             /* a plain child */
    expect_code(&c, 2, AG_EINTEGRITY, "backup C of rbd/vm1: chain broken: a plain backup "
                "on an encrypted parent (parent B)");
    c.e[2].m.enc.on = 1;
    c.e[0].dk = NULL;                                /* no key opens A */
    expect_code(&c, 2, AG_EKEY, "backup A of rbd/vm1 is encrypted with key "
                "0123456789abcdef: no key configured (key file, passphrase file or "
                "RBD2S3_PASSPHRASE)");
    unmake(&c);
}

static void test_keylist(void **state)
{
    (void)state;
    keylist l = { 0 };
    char key[32];
    for (unsigned i = 0; i < 200; i++) {
        snprintf(key, sizeof(key), "k%03u", i);
        assert_int_equal(keylist_add(&l, key, i * 10u, (time_t)i), 0);
    }
    assert_int_equal(l.n, 200);
    assert_true(l.cap >= 200);
    assert_string_equal(l.keys[0], "k000");
    assert_string_equal(l.keys[199], "k199");
    assert_int_equal(l.sizes[150], 1500);
    assert_int_equal(l.mtimes[150], 150);
    keylist_free(&l);
    assert_null(l.keys);
    assert_int_equal(l.n, 0);
    keylist_free(&l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chain_order),
        cmocka_unit_test(test_chain_broken),
        cmocka_unit_test(test_chain_encrypted),
        cmocka_unit_test(test_keylist),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
