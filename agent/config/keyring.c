/* keyring.c - the master keys of a process (keyring.h): key files and a passphrase
 * checked and read into locked memory, scrypt derivations cached per salt, core dumps
 * off while a key is loaded, everything wiped on free. */
#include "agent/config/keyring.h"

#include "agent/common/context.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#define PASS_MAX 1024                   /* longest passphrase (bytes) */
#define SCRYPT_MAXMEM (1ull << 30)      /* scrypt parameters needing more are refused */
#define CACHE_BLOCK 16                  /* derivations per block of the cache */

/* One scrypt derivation of the passphrase: its parameters and the master key. */
typedef struct kr_derived {
    seal_kdf kdf;
    seal_key key;
} kr_derived;

/* A block of derivations; blocks are never moved, so a key handed out stays valid. */
typedef struct kr_block {
    kr_derived d[CACHE_BLOCK];
    int n;
    struct kr_block *next;
} kr_block;

struct keyring {
    pthread_mutex_t lock;               /* guards the cache and own */
    int encrypts;                       /* encryption = aes-256-gcm */
    int has_file;                       /* keys[0] is the current key (a key file) */
    seal_key keys[KEYRING_MAX_KEYS];    /* key files: the current one first, then old */
    int nkeys;
    int has_pass;                       /* a passphrase is the current key */
    size_t passlen;
    char pass[PASS_MAX + 1];
    int has_own;                        /* own: the salt of new chains, made on first use */
    seal_kdf own;
    kr_block *cache;
};

/* Memory that holds secrets: page-aligned, locked (a failure is a warning, once), out
 * of core dumps; NULL when out of memory. */
static void *locked_alloc(size_t n)
{
    static int warned;
    void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    if (mlock(p, n) != 0 && !warned) {
        warned = 1;
        ag_warn("warning: cannot lock the key memory in RAM (mlock: %s): keys may reach "
                "swap", strerror(errno));
    }
    (void)madvise(p, n, MADV_DONTDUMP);
    return p;
}

static void locked_free(void *p, size_t n)
{
    if (p == NULL)
        return;
    OPENSSL_cleanse(p, n);
    (void)munlock(p, n);
    (void)munmap(p, n);
}

/* No core dumps while a key is loaded (they would hold it). */
static void no_core_dumps(void)
{
    struct rlimit rl = { 0, 0 };
    (void)setrlimit(RLIMIT_CORE, &rl);
    (void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

/* Where a load's error line goes (no "rbd2s3: " prefix), and its exit code. */
typedef struct kr_err {
    int code;
    char msg[512];
} kr_err;

/* Record the error line in e, code AG_EUSAGE; -1. */
static int fail(kr_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(kr_err *e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
    va_end(ap);
    e->code = AG_EUSAGE;
    return -1;
}

/* Open what's file at path (a key file, a passphrase file) if it is a regular file, not a
 * symbolic link, owned by us or root and closed to group and others; the fd, or -1 with
 * the error in e. */
static int open_secret(const char *what, const char *path, struct stat *sb, kr_err *e)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0 && errno == ELOOP)
        return fail(e, "%s %s: a symbolic link: name the file itself", what, path);
    if (fd < 0)
        return fail(e, "%s %s: %s", what, path, strerror(errno));
    const char *rule = NULL;
    if (fstat(fd, sb) != 0 || !S_ISREG(sb->st_mode))
        rule = "not a regular file";
    else if (sb->st_uid != 0 && sb->st_uid != geteuid())
        rule = "belongs to another user: it must be ours or root's";
    else if ((sb->st_mode & (S_IRWXG | S_IRWXO)) != 0)
        rule = "open to group or others: allow its owner only (chmod 600)";
    if (rule != NULL) {
        close(fd);
        return fail(e, "%s %s: %s", what, path, rule);
    }
    return fd;
}

/* Read up to n bytes of fd into b; the count, or -1. */
static ssize_t read_all(int fd, void *b, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, (char *)b + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

/* Read the key file at path into kr->keys[kr->nkeys]. 0, or -1 (error in e). */
static int load_key_file(keyring *kr, const char *what, const char *path, kr_err *e)
{
    struct stat sb;
    uint8_t raw[SEAL_KEY_LEN + 1];
    int fd = open_secret(what, path, &sb, e);
    if (fd < 0)
        return -1;
    ssize_t n = sb.st_size == SEAL_KEY_LEN ? read_all(fd, raw, sizeof(raw)) : -2;
    close(fd);
    int rc = n == SEAL_KEY_LEN ? seal_master_init(&kr->keys[kr->nkeys], raw) : -EINVAL;
    OPENSSL_cleanse(raw, sizeof(raw));
    if (rc == -EINVAL)
        return fail(e, "%s %s: not 32 bytes: a key file holds exactly 32 random bytes "
                    "(rbd2s3 key create)", what, path);
    if (rc != 0)
        return fail(e, "%s %s: cannot derive its keys (OpenSSL)", what, path);
    kr->nkeys++;
    return 0;
}

/* The passphrase: the first line of the passphrase file. 0, or -1 (error in e). */
static int load_pass_file(keyring *kr, const char *path, kr_err *e)
{
    struct stat sb;
    int fd = open_secret("passphrase file", path, &sb, e);
    if (fd < 0)
        return -1;
    ssize_t n = read_all(fd, kr->pass, PASS_MAX + 1);
    close(fd);
    if (n < 0)
        return fail(e, "passphrase file %s: %s", path, strerror(errno));
    char *nl = memchr(kr->pass, '\n', (size_t)n);
    size_t len = nl != NULL ? (size_t)(nl - kr->pass) : (size_t)n;
    if (len > 0 && kr->pass[len - 1] == '\r')
        len--;
    OPENSSL_cleanse(kr->pass + len, sizeof(kr->pass) - len);
    if (len > PASS_MAX)
        return fail(e, "passphrase file %s: a passphrase of over %d bytes", path, PASS_MAX);
    kr->passlen = len;
    kr->has_pass = 1;
    return 0;
}

int keyring_read_secret(const char *what, const char *path, char *out, size_t outsz,
                        char *msg, size_t msgsz)
{
    struct stat sb;
    kr_err e = { 0 };
    int fd = open_secret(what, path, &sb, &e);
    ssize_t n = fd >= 0 ? read_all(fd, out, outsz - 1) : -1;
    if (fd >= 0)
        close(fd);
    size_t len = 0;
    if (n >= 0) {
        out[n] = '\0';
        len = strcspn(out, "\r\n");
        if (len == (size_t)n && (size_t)n == outsz - 1)
            fail(&e, "%s %s: its first line is over %zu bytes", what, path, outsz - 2);
        else if (len == 0)
            fail(&e, "%s %s: empty first line", what, path);
    } else if (fd >= 0) {
        fail(&e, "%s %s: %s", what, path, strerror(errno));
    }
    if (e.code != 0) {
        OPENSSL_cleanse(out, outsz);
        snprintf(msg, msgsz, "%s", e.msg);
        return -1;
    }
    OPENSSL_cleanse(out + len, outsz - len);
    return 0;
}

/* The passphrase from RBD2S3_PASSPHRASE, wiped from the environment. */
static int load_pass_env(keyring *kr, kr_err *e)
{
    char *v = getenv("RBD2S3_PASSPHRASE");
    size_t len = strlen(v);
    if (len <= PASS_MAX)
        memcpy(kr->pass, v, len);
    OPENSSL_cleanse(v, len);
    unsetenv("RBD2S3_PASSPHRASE");
    if (len > PASS_MAX)
        return fail(e, "RBD2S3_PASSPHRASE: a passphrase of over %d bytes", PASS_MAX);
    kr->passlen = len;
    kr->has_pass = 1;
    return 0;
}

/* Each of the comma-separated old key files. */
static int load_old_keys(keyring *kr, const char *list, kr_err *e)
{
    const char *p = list;
    while (*p != '\0') {
        p += strspn(p, " \t,");
        size_t n = strcspn(p, ",");
        while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
            n--;
        if (n == 0)
            break;
        if (kr->nkeys == KEYRING_MAX_KEYS)
            return fail(e, "old key files: more than %d keys in all", KEYRING_MAX_KEYS);
        char *path = strndup(p, n);
        if (path == NULL)
            return fail(e, "old key files: out of memory");
        int rc = load_key_file(kr, "old key file", path, e);
        free(path);
        if (rc < 0)
            return -1;
        p += strcspn(p, ",");
    }
    return 0;
}

/* The current key source: one of key file, passphrase file, RBD2S3_PASSPHRASE. */
static int load_current(keyring *kr, const ag_opts *o, int env, kr_err *e)
{
    int sources = (o->key_file != NULL) + (o->passphrase_file != NULL) + env;
    if (sources > 1)
        return fail(e, "several master keys: name one of key file, passphrase file and "
                    "RBD2S3_PASSPHRASE");
    if (o->key_file != NULL) {
        kr->has_file = 1;
        return load_key_file(kr, "key file", o->key_file, e);
    }
    int rc = 0;
    if (o->passphrase_file != NULL)
        rc = load_pass_file(kr, o->passphrase_file, e);
    else if (env)
        rc = load_pass_env(kr, e);
    if (rc == 0 && kr->has_pass && kr->passlen < KEYRING_PASS_MIN)
        return fail(e, "%s%s: a passphrase of fewer than %d bytes",
                    o->passphrase_file != NULL ? "passphrase file " : "RBD2S3_PASSPHRASE",
                    o->passphrase_file != NULL ? o->passphrase_file : "", KEYRING_PASS_MIN);
    return rc;
}

/* keyring_load's work; the error in e. */
static int load(const struct ag_opts *o, keyring **out, kr_err *e)
{
    const char *env = getenv("RBD2S3_PASSPHRASE");
    int has_env = env != NULL && env[0] != '\0';
    *out = NULL;
    if (o->key_file == NULL && o->passphrase_file == NULL && !has_env) {
        if (o->encryption)
            return fail(e, "encryption = aes-256-gcm but no key: set key file or "
                        "passphrase file, or RBD2S3_PASSPHRASE");
        if (o->old_key_files == NULL)
            return 0;
    }
    keyring *kr = locked_alloc(sizeof(*kr));
    if (kr == NULL)
        return fail(e, "keyring: out of memory");
    memset(kr, 0, sizeof(*kr));
    pthread_mutex_init(&kr->lock, NULL);
    kr->encrypts = o->encryption;
    no_core_dumps();
    if (load_current(kr, o, has_env, e) < 0 ||
        (o->old_key_files != NULL && load_old_keys(kr, o->old_key_files, e) < 0)) {
        keyring_free(kr);
        return -1;
    }
    *out = kr;
    return 0;
}

int keyring_load(const struct ag_opts *o, keyring **out, int *code)
{
    kr_err e = { 0, "" };
    if (load(o, out, &e) == 0)
        return 0;
    ag_warn("%s", e.msg);
    *code = e.code;
    return -1;
}

int keyring_load_msg(const struct ag_opts *o, keyring **out, int *code, char *msg,
                     size_t msgsz)
{
    kr_err e = { 0, "" };
    if (load(o, out, &e) == 0)
        return 0;
    snprintf(msg, msgsz, "%s", e.msg);
    *code = e.code;
    return -1;
}

int keyring_encrypts(const keyring *kr)
{
    return kr != NULL && kr->encrypts;
}

/* 1 when k is within seal.h's bounds and needs at most SCRYPT_MAXMEM. */
static int kdf_ok(const seal_kdf *k)
{
    return k->n >= (1u << 10) && k->n <= (1u << 22) && (k->n & (k->n - 1)) == 0 &&
        k->r >= 1 && k->r <= 32 && k->p >= 1 && k->p <= 16 &&
        128ull * k->r * (k->n + 2) + 128ull * k->r * k->p <= SCRYPT_MAXMEM;
}

/* scrypt of the passphrase with k into out. 0 or -EIO. */
static int scrypt(const keyring *kr, const seal_kdf *k, uint8_t out[SEAL_KEY_LEN])
{
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "SCRYPT", NULL);
    EVP_KDF_CTX *ctx = kdf != NULL ? EVP_KDF_CTX_new(kdf) : NULL;
    uint64_t n = k->n, maxmem = SCRYPT_MAXMEM + (1u << 20);
    uint32_t r = k->r, p = k->p;
    int rc = -EIO;
    if (ctx != NULL) {
        OSSL_PARAM params[] = {
            OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PASSWORD, (void *)kr->pass,
                                              kr->passlen),
            OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)k->salt,
                                              SEAL_SALT_LEN),
            OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_N, &n),
            OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_R, &r),
            OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_P, &p),
            OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_MAXMEM, &maxmem),
            OSSL_PARAM_construct_end(),
        };
        if (EVP_KDF_derive(ctx, out, SEAL_KEY_LEN, params) == 1)
            rc = 0;
    }
    EVP_KDF_CTX_free(ctx);
    EVP_KDF_free(kdf);
    return rc;
}

static int kdf_equal(const seal_kdf *a, const seal_kdf *b)
{
    return memcmp(a->salt, b->salt, SEAL_SALT_LEN) == 0 && a->n == b->n && a->r == b->r &&
        a->p == b->p;
}

/* The derivation of the passphrase with k, from the cache or made and cached; NULL with
 * *err set (-EINVAL: parameters out of bounds, -EIO, -ENOMEM). Called locked. */
static kr_derived *derive(keyring *kr, const seal_kdf *k, int *err)
{
    kr_block *b;
    for (b = kr->cache; b != NULL; b = b->next)
        for (int i = 0; i < b->n; i++)
            if (kdf_equal(&b->d[i].kdf, k))
                return &b->d[i];
    if (!kdf_ok(k)) {
        *err = -EINVAL;
        return NULL;
    }
    if (kr->cache == NULL || kr->cache->n == CACHE_BLOCK) {
        b = locked_alloc(sizeof(*b));
        if (b == NULL) {
            *err = -ENOMEM;
            return NULL;
        }
        memset(b, 0, sizeof(*b));
        b->next = kr->cache;
        kr->cache = b;
    }
    kr_derived *d = &kr->cache->d[kr->cache->n];
    uint8_t mk[SEAL_KEY_LEN];
    int rc = scrypt(kr, k, mk);
    if (rc == 0)
        rc = seal_master_init(&d->key, mk);
    OPENSSL_cleanse(mk, sizeof(mk));
    if (rc != 0) {
        seal_key_wipe(&d->key);
        *err = rc;
        return NULL;
    }
    d->kdf = *k;
    kr->cache->n++;
    return d;
}

const seal_key *keyring_current(keyring *kr, const seal_kdf *kdf,
                                const seal_kdf **used, int *err)
{
    *err = 0;
    if (used != NULL)
        *used = NULL;
    if (kr != NULL && kr->has_file)
        return &kr->keys[0];
    if (kr == NULL || !kr->has_pass) {
        *err = -ENOKEY;
        return NULL;
    }
    pthread_mutex_lock(&kr->lock);
    if (kdf == NULL && !kr->has_own) {
        if (RAND_bytes(kr->own.salt, SEAL_SALT_LEN) != 1) {
            pthread_mutex_unlock(&kr->lock);
            *err = -EIO;
            return NULL;
        }
        kr->own.n = KEYRING_SCRYPT_N;
        kr->own.r = KEYRING_SCRYPT_R;
        kr->own.p = KEYRING_SCRYPT_P;
        kr->has_own = 1;
    }
    kr_derived *d = derive(kr, kdf != NULL ? kdf : &kr->own, err);
    pthread_mutex_unlock(&kr->lock);
    if (d == NULL)
        return NULL;
    if (used != NULL)
        *used = &d->kdf;
    return &d->key;
}

const seal_key *keyring_find(keyring *kr, const char *id, const seal_kdf *kdf)
{
    if (kr == NULL || id == NULL)
        return NULL;
    for (int i = 0; i < kr->nkeys; i++)
        if (strcmp(kr->keys[i].id, id) == 0)
            return &kr->keys[i];
    if (!kr->has_pass)
        return NULL;
    const seal_key *found = NULL;
    int err = 0;
    pthread_mutex_lock(&kr->lock);
    if (kdf != NULL) {
        kr_derived *d = derive(kr, kdf, &err);
        if (d != NULL && strcmp(d->key.id, id) == 0)
            found = &d->key;
    }
    for (kr_block *b = kdf == NULL ? kr->cache : NULL; found == NULL && b != NULL;
         b = b->next)
        for (int i = 0; found == NULL && i < b->n; i++)
            if (strcmp(b->d[i].key.id, id) == 0)
                found = &b->d[i].key;
    pthread_mutex_unlock(&kr->lock);
    return found;
}

void keyring_free(keyring *kr)
{
    if (kr == NULL)
        return;
    kr_block *b = kr->cache;
    while (b != NULL) {
        kr_block *next = b->next;
        locked_free(b, sizeof(*b));
        b = next;
    }
    pthread_mutex_destroy(&kr->lock);
    locked_free(kr, sizeof(*kr));
}

int keyring_create_file(const char *path)
{
    uint8_t key[SEAL_KEY_LEN];
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    int rc = 0;
    if (fchmod(fd, 0600) != 0)
        rc = -errno;
    else if (RAND_bytes(key, sizeof(key)) != 1)
        rc = -EIO;
    else if (write(fd, key, sizeof(key)) != (ssize_t)sizeof(key) || fsync(fd) != 0)
        rc = errno != 0 ? -errno : -EIO;
    OPENSSL_cleanse(key, sizeof(key));
    if (close(fd) != 0 && rc == 0)
        rc = -errno;
    if (rc != 0)
        unlink(path);
    return rc;
}
