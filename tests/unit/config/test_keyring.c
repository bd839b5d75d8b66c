/* test_keyring.c - unit tests of keyring.c: key file and passphrase checks, scrypt key
 * ids per salt, old keys by id, core dumps off once a key is loaded. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent/common/context.h"
#include "agent/config/keyring.h"

static char dir[64];

/* dir/name holding len bytes of fill (and a newline when nl), with mode. */
static const char *write_file(const char *name, size_t len, int fill, int nl, mode_t mode)
{
    static char path[8][128];
    static int next;
    char *p = path[next++ % 8];
    snprintf(p, 128, "%s/%s", dir, name);
    unlink(p);
    int fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0600);
    assert_true(fd >= 0);
    for (size_t i = 0; i < len; i++) {
        char c = (char)(fill + (int)(i % 7));
        assert_int_equal(write(fd, &c, 1), 1);
    }
    if (nl)
        assert_int_equal(write(fd, "\n", 1), 1);
    close(fd);
    assert_int_equal(chmod(p, mode), 0);
    return p;
}

/* keyring_load with these options: its return; *code and *out as it left them. */
static int load(const char *key, const char *pass, const char *old, int enc, keyring **out,
                int *code)
{
    ag_opts o;
    memset(&o, 0, sizeof(o));
    o.key_file = key;
    o.passphrase_file = pass;
    o.old_key_files = old;
    o.encryption = enc;
    *code = 0;
    return keyring_load(&o, out, code);
}

static void refused(const char *key, const char *pass)
{
    keyring *kr = (keyring *)1;
    int code;
    assert_int_equal(load(key, pass, NULL, 1, &kr, &code), -1);
    assert_null(kr);
    assert_int_equal(code, AG_EUSAGE);
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/test_keyring.XXXXXX");
    assert_non_null(mkdtemp(dir));
    unsetenv("RBD2S3_PASSPHRASE");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* A key file made by keyring_create_file: mode 0600, 32 bytes, never overwritten; loads
 * as the current key (no kdf), found by its id; core dumps are off. */
static void test_key_file_good(void **state)
{
    (void)state;
    char path[128];
    struct stat sb;
    snprintf(path, sizeof(path), "%s/master.key", dir);
    assert_int_equal(keyring_create_file(path), 0);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 07777, 0600);
    assert_int_equal(sb.st_size, SEAL_KEY_LEN);
    assert_int_equal(keyring_create_file(path), -EEXIST);

    keyring *kr = NULL;
    int code, err = 1;
    const seal_kdf *used = (const seal_kdf *)1;
    assert_int_equal(load(path, NULL, NULL, 1, &kr, &code), 0);
    assert_non_null(kr);
    assert_true(keyring_encrypts(kr));
    const seal_key *k = keyring_current(kr, NULL, &used, &err);
    assert_non_null(k);
    assert_int_equal(err, 0);
    assert_null(used);
    assert_int_equal(k->master, 1);
    assert_int_equal(strlen(k->id), 16);
    assert_ptr_equal(keyring_find(kr, k->id, NULL), k);
    assert_null(keyring_find(kr, "0000000000000000", NULL));
    assert_int_equal(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), 0);
    keyring_free(kr);

    assert_int_equal(load(path, NULL, NULL, 0, &kr, &code), 0);   /* reads only */
    assert_false(keyring_encrypts(kr));
    keyring_free(kr);
    keyring_free(NULL);
}

/* Mode 0640 and 0604, 31 and 33 bytes, a symbolic link, a directory, a missing file,
 * another owner (when run as root): refused with exit 2. */
static void test_key_file_bad(void **state)
{
    (void)state;
    refused(write_file("g.key", 32, 'a', 0, 0640), NULL);
    refused(write_file("o.key", 32, 'a', 0, 0604), NULL);
    refused(write_file("31.key", 31, 'a', 0, 0600), NULL);
    refused(write_file("33.key", 33, 'a', 0, 0600), NULL);
    const char *good = write_file("good.key", 32, 'a', 0, 0600);
    char link[128];
    snprintf(link, sizeof(link), "%s/link.key", dir);
    assert_int_equal(symlink(good, link), 0);
    refused(link, NULL);
    refused(dir, NULL);
    char missing[128];
    snprintf(missing, sizeof(missing), "%s/missing.key", dir);
    refused(missing, NULL);
    if (geteuid() == 0) {
        const char *other = write_file("other.key", 32, 'a', 0, 0600);
        assert_int_equal(chown(other, 4321, 4321), 0);
        refused(other, NULL);
    }
    /* a key file and a passphrase: one master key only */
    refused(good, write_file("pass", 20, 'a', 1, 0600));
}

/* No key and no encryption: no keyring; encryption without a key: exit 2. */
static void test_no_key(void **state)
{
    (void)state;
    keyring *kr = (keyring *)1;
    int code, err = 0;
    assert_int_equal(load(NULL, NULL, NULL, 0, &kr, &code), 0);
    assert_null(kr);
    assert_false(keyring_encrypts(NULL));
    assert_null(keyring_current(NULL, NULL, NULL, &err));
    assert_int_not_equal(err, 0);
    refused(NULL, NULL);

    /* keyring_load_msg: the same refusal, its line returned, not printed */
    ag_opts o;
    char msg[256] = "";
    memset(&o, 0, sizeof(o));
    o.encryption = 1;
    code = 0;
    assert_int_equal(keyring_load_msg(&o, &kr, &code, msg, sizeof(msg)), -1);
    assert_int_equal(code, AG_EUSAGE);
    assert_non_null(strstr(msg, "no key"));
    assert_null(strstr(msg, "rbd2s3:"));
    o.encryption = 0;
    assert_int_equal(keyring_load_msg(&o, &kr, &code, msg, sizeof(msg)), 0);
    assert_null(kr);
}

/* A passphrase of 11 bytes is refused, 12 accepted (file: its first line; environment:
 * taken and wiped from it). */
static void test_passphrase_length(void **state)
{
    (void)state;
    keyring *kr = NULL;
    int code;
    refused(NULL, write_file("p11", 11, 'a', 1, 0600));
    refused(NULL, write_file("p11g", 20, 'a', 1, 0640));
    assert_int_equal(load(NULL, write_file("p12", 12, 'a', 1, 0600), NULL, 1, &kr, &code), 0);
    assert_non_null(kr);
    keyring_free(kr);
    setenv("RBD2S3_PASSPHRASE", "abcdefghijk", 1);
    refused(NULL, NULL);
    assert_null(getenv("RBD2S3_PASSPHRASE"));
    setenv("RBD2S3_PASSPHRASE", "abcdefghijkl", 1);
    assert_int_equal(load(NULL, NULL, NULL, 1, &kr, &code), 0);
    assert_null(getenv("RBD2S3_PASSPHRASE"));
    keyring_free(kr);
}

static seal_kdf small_kdf(uint8_t salt)
{
    seal_kdf k;
    memset(&k, 0, sizeof(k));
    memset(k.salt, salt, sizeof(k.salt));
    k.n = 1u << 10;
    k.r = 8;
    k.p = 1;
    return k;
}

/* The same passphrase and salt give the same key id (file or environment, one process
 * or another keyring), another salt another id; a keyring's own salt is kept; bounds of
 * the parameters; keyring_find derives with the kdf a manifest gives. */
static void test_passphrase_ids(void **state)
{
    (void)state;
    keyring *a = NULL, *b = NULL;
    int code, err;
    const seal_kdf *used = NULL;
    seal_kdf s1 = small_kdf(1), s2 = small_kdf(2);
    char id1[SEAL_KEY_ID_LEN];
    assert_int_equal(load(NULL, write_file("pa", 16, 'p', 1, 0600), NULL, 1, &a, &code), 0);
    setenv("RBD2S3_PASSPHRASE", "pqrstuvpqrstuvpq", 1);   /* the same 16 bytes */
    assert_int_equal(load(NULL, NULL, NULL, 1, &b, &code), 0);
    const seal_key *k1 = keyring_current(a, &s1, &used, &err);
    assert_non_null(k1);
    assert_non_null(used);
    assert_memory_equal(used->salt, s1.salt, SEAL_SALT_LEN);
    snprintf(id1, sizeof(id1), "%s", k1->id);
    assert_ptr_equal(keyring_current(a, &s1, NULL, &err), k1);     /* cached */
    assert_string_equal(keyring_current(b, &s1, NULL, &err)->id, id1);
    assert_string_not_equal(keyring_current(a, &s2, NULL, &err)->id, id1);
    assert_ptr_equal(keyring_find(b, id1, &s1), keyring_current(b, &s1, NULL, &err));
    assert_null(keyring_find(b, id1, &s2));
    assert_null(keyring_find(b, "0123456789abcdef", NULL));

    seal_kdf bad = small_kdf(3);
    bad.n = 1000;
    assert_null(keyring_current(a, &bad, NULL, &err));
    assert_int_equal(err, -EINVAL);
    bad = small_kdf(3);
    bad.r = 33;
    assert_null(keyring_current(a, &bad, NULL, &err));
    bad = small_kdf(3);
    bad.p = 0;
    assert_null(keyring_current(a, &bad, NULL, &err));
    bad = small_kdf(3);
    bad.n = 1u << 23;
    assert_null(keyring_current(a, &bad, NULL, &err));

    const seal_kdf *own = NULL, *own2 = NULL;
    const seal_key *ko = keyring_current(a, NULL, &own, &err);
    assert_non_null(ko);
    assert_int_equal(own->n, KEYRING_SCRYPT_N);
    assert_int_equal(own->r, KEYRING_SCRYPT_R);
    assert_int_equal(own->p, KEYRING_SCRYPT_P);
    assert_ptr_equal(keyring_current(a, NULL, &own2, &err), ko);
    assert_ptr_equal(own, own2);
    keyring_free(a);
    keyring_free(b);
}

/* Old key files: found by id, never current; the current key file and old ones both
 * found; more than KEYRING_MAX_KEYS refused. */
static void test_old_keys(void **state)
{
    (void)state;
    char p1[128], p2[128], p3[128], list[1200];
    snprintf(p1, sizeof(p1), "%s/old1.key", dir);
    snprintf(p2, sizeof(p2), "%s/old2.key", dir);
    snprintf(p3, sizeof(p3), "%s/cur.key", dir);
    assert_int_equal(keyring_create_file(p1), 0);
    assert_int_equal(keyring_create_file(p2), 0);
    assert_int_equal(keyring_create_file(p3), 0);
    snprintf(list, sizeof(list), " %s , %s", p1, p2);
    keyring *old = NULL, *one = NULL, *all = NULL;
    int code, err = 0;
    char id1[SEAL_KEY_ID_LEN], id2[SEAL_KEY_ID_LEN];
    assert_int_equal(load(p1, NULL, NULL, 0, &one, &code), 0);
    snprintf(id1, sizeof(id1), "%s", keyring_current(one, NULL, NULL, &err)->id);
    keyring_free(one);
    assert_int_equal(load(p2, NULL, NULL, 0, &one, &code), 0);
    snprintf(id2, sizeof(id2), "%s", keyring_current(one, NULL, NULL, &err)->id);
    keyring_free(one);
    assert_string_not_equal(id1, id2);

    assert_int_equal(load(NULL, NULL, list, 0, &old, &code), 0);
    assert_non_null(old);
    assert_null(keyring_current(old, NULL, NULL, &err));
    assert_int_not_equal(err, 0);
    assert_non_null(keyring_find(old, id1, NULL));
    assert_non_null(keyring_find(old, id2, NULL));
    assert_string_equal(keyring_find(old, id2, NULL)->id, id2);
    keyring_free(old);

    assert_int_equal(load(p3, NULL, list, 1, &all, &code), 0);
    const seal_key *cur = keyring_current(all, NULL, NULL, &err);
    assert_string_not_equal(cur->id, id1);
    assert_ptr_equal(keyring_find(all, cur->id, NULL), cur);
    assert_non_null(keyring_find(all, id1, NULL));
    keyring_free(all);

    snprintf(list, sizeof(list), "%s,%s,%s,%s,%s,%s,%s,%s,%s", p1, p1, p1, p1, p1, p1, p1,
             p1, p2);
    assert_int_equal(load(p3, NULL, list, 1, &all, &code), -1);
    assert_int_equal(code, AG_EUSAGE);
    snprintf(list, sizeof(list), "%s,%s/none.key", p1, dir);
    assert_int_equal(load(p3, NULL, list, 1, &all, &code), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_file_good),
        cmocka_unit_test(test_key_file_bad),
        cmocka_unit_test(test_no_key),
        cmocka_unit_test(test_passphrase_length),
        cmocka_unit_test(test_passphrase_ids),
        cmocka_unit_test(test_old_keys),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
