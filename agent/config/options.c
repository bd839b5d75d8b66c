/* options.c - global options: the key table, defaults, environment, command line (the
 * config file is read by options_file.c). */
#include "agent/config/options.h"
#include "agent/config/options_int.h"

#include "agent/config/keyring.h"

#include "agent/format/chunk.h"
#include "agent/config/policy.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

/* Strings the options own (config values, the environment's secret); wiped when freed. */
static char **owned;
static size_t nowned, owned_cap;

const char *opts_keep(const char *s)
{
    char *d = strdup(s);
    if (d == NULL)
        return NULL;
    if (nowned == owned_cap) {
        size_t cap = owned_cap ? owned_cap * 2 : 32;
        char **n = realloc(owned, cap * sizeof(*n));
        if (n == NULL) {
            free(d);
            return NULL;
        }
        owned = n;
        owned_cap = cap;
    }
    owned[nowned++] = d;
    return d;
}

void opts_free(void)
{
    for (size_t i = 0; i < nowned; i++) {
        OPENSSL_cleanse(owned[i], strlen(owned[i]));
        free(owned[i]);
    }
    free(owned);
    owned = NULL;
    nowned = owned_cap = 0;
}

int opts_parse_bool(const char *s, int *out)
{
    static const char *const yes[] = { "true", "yes", "on", "1" };
    static const char *const no[] = { "false", "no", "off", "0" };
    for (size_t i = 0; s != NULL && i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0 || strcasecmp(s, no[i]) == 0) {
            *out = strcasecmp(s, yes[i]) == 0;
            return 0;
        }
    }
    return -EINVAL;
}

/* No core dumps: they would hold the secret key (heap, environment). */
static void no_core_dumps(void)
{
    struct rlimit rl = { 0, 0 };
    setrlimit(RLIMIT_CORE, &rl);
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

static void defaults(ag_opts *o)
{
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    o->prefix = "rbd2s3";
    o->region = "us-east-1";
    o->progress = isatty(STDERR_FILENO);
    o->tun.threads = ncpu > 0 ? (int)ncpu : 2;
    o->tun.chunk_size = 1ULL << 20;
    o->tun.sparse_size = 64ULL << 10;
    o->tun.part_size = 5ULL << 20;
    o->tun.parts_in_flight = 4;
    o->tun.reads_in_flight = 16;
    o->tun.writes_in_flight = 16;
    o->tun.gets_in_flight = 8;
    o->tun.fetch_size = 4ULL << 20;
    o->tun.pack_size = 1ULL << 30;
    o->ceph_timeout = 120;
    o->jobs = 1;
    o->abort_timeout = 30;
    o->checkpoint_every = 4ULL << 30;
    o->resume_grace = 86400;
    o->lock_duration = 300;
    policy_unset(&o->policy);
}

/* Keys accepted in [global], the config file, and as --options. */
enum key_kind { K_STR, K_INT, K_SIZE, K_FLAG, K_CHOICE, K_SECS, K_DAYS, K_RATE };
struct key_def {
    const char *name;
    enum key_kind kind;
    size_t off;
};

#define OFF(f) offsetof(ag_opts, f)
static const opts_key keys[] = {
    { "ceph-conf", K_STR, OFF(ceph_conf) },   { "id", K_STR, OFF(id) },
    { "endpoint", K_STR, OFF(endpoint) },     { "bucket", K_STR, OFF(bucket) },
    { "prefix", K_STR, OFF(prefix) },         { "region", K_STR, OFF(region) },
    { "ca-file", K_STR, OFF(ca_file) },       { "insecure", K_FLAG, OFF(insecure) },
    { "payload-signing", K_STR, OFF(payload_signing) },
    { "retry-time", K_STR, OFF(retry_time) },
    { "metrics-file", K_STR, OFF(metrics_file) },
    { "snap-cleanup", K_CHOICE, OFF(snap_now) },
    { "chunk-digest", K_CHOICE, OFF(tun.chunk_digest) },
    { "object-lock", K_CHOICE, OFF(object_lock) },
    { "object-lock-days", K_DAYS, OFF(object_lock_days) },
    { "threads", K_INT, OFF(tun.threads) },   { "chunk-size", K_SIZE, OFF(tun.chunk_size) },
    { "sparse-size", K_SIZE, OFF(tun.sparse_size) },
    { "part-size", K_SIZE, OFF(tun.part_size) },
    { "parts-in-flight", K_INT, OFF(tun.parts_in_flight) },
    { "reads-in-flight", K_INT, OFF(tun.reads_in_flight) },
    { "writes-in-flight", K_INT, OFF(tun.writes_in_flight) },
    { "gets-in-flight", K_INT, OFF(tun.gets_in_flight) },
    { "fetch-size", K_SIZE, OFF(tun.fetch_size) },
    { "pack-size", K_SIZE, OFF(tun.pack_size) },
    { "jobs", K_INT, OFF(jobs) },             { "memory-limit", K_SIZE, OFF(memory_limit) },
    { "ceph-timeout", K_SECS, OFF(ceph_timeout) },
    { "abort-timeout", K_SECS, OFF(abort_timeout) },
    { "checkpoint-every", K_SIZE, OFF(checkpoint_every) },
    { "resume-grace", K_SECS, OFF(resume_grace) },
    { "lock-duration", K_SECS, OFF(lock_duration) },
    { "lock-renewal", K_SECS, OFF(lock_renewal) },
    { "host", K_STR, OFF(host) },
    { "encryption", K_CHOICE, OFF(encryption) },
    { "key-file", K_STR, OFF(key_file) },
    { "passphrase-file", K_STR, OFF(passphrase_file) },
    { "old-key-files", K_STR, OFF(old_key_files) },
    /* s3compat: S3 server compatibility */
    { "addressing", K_CHOICE, OFF(addressing) },
    { "storage-class", K_STR, OFF(storage_class) },
    /* copy */
    { "to-region", K_STR, OFF(to_region) },
    /* bandwidth limits */
    { "limit-upload", K_RATE, OFF(limit_upload) },
    { "limit-download", K_RATE, OFF(limit_download) },
};
#define NKEYS (sizeof(keys) / sizeof(keys[0]))

/* The values of a K_CHOICE key (two or three), stored as their index. object lock's
 * indexes are the S3_LOCK_* modes. */
#define CHOICES_MAX 3
static const struct choice_def {
    size_t off;
    const char *value[CHOICES_MAX];
} choices[] = {
    { OFF(snap_now), { "deferred", "immediate", NULL } },
    { OFF(tun.chunk_digest), { "xxh3", "sha256", NULL } },
    { OFF(encryption), { "none", "aes-256-gcm", NULL } },
    { OFF(object_lock), { "none", "governance", "compliance" } },
    { OFF(addressing), { "auto", "path", "virtual" } },   /* the S3_ADDR_* values */
};

static const char *const *choice_values(size_t off)
{
    size_t i = 0;
    while (choices[i].off != off)
        i++;
    return choices[i].value;
}

const opts_key *opts_find_key(const char *name)
{
    char norm[64];
    size_t i;
    for (i = 0; name[i] != '\0' && i + 1 < sizeof(norm); i++)
        norm[i] = (name[i] == '_' || name[i] == ' ') ? '-' : name[i];
    norm[i] = '\0';
    for (size_t k = 0; k < NKEYS; k++)
        if (strcmp(keys[k].name, norm) == 0)
            return &keys[k];
    return NULL;
}

int opts_set_key(ag_ctx *ctx, const opts_key *k, const char *value, const char *where)
{
    char *base = (char *)&ctx->opts;
    uint64_t size;
    char *end = NULL;
    const char *const *ch;
    long long secs;
    long v, max;
    switch (k->kind) {
    case K_SECS:
        if (ag_parse_duration(value, &secs) < 0 || secs < 1 ||
            secs > (k->off == OFF(resume_grace) ? 30 * 86400 : 86400))
            return ag_fail(ctx, AG_EUSAGE, "%s: %s: not a duration from 1s to %s: '%s'",
                           where, k->name, k->off == OFF(resume_grace) ? "30d" : "1d",
                           value);
        *(int *)(base + k->off) = (int)secs;
        return 0;
    case K_STR:
        *(const char **)(base + k->off) = opts_keep(value);
        return 0;
    case K_FLAG:
        if (value == NULL) {
            *(int *)(base + k->off) = 1;
            return 0;
        }
        if (opts_parse_bool(value, (int *)(base + k->off)) < 0)
            return ag_fail(ctx, AG_EUSAGE, "%s: %s: true or false (yes/no, on/off, 1/0), "
                           "not '%s'", where, k->name, value);
        return 0;
    case K_CHOICE:
        ch = choice_values(k->off);
        for (int i = 0; i < CHOICES_MAX && ch[i] != NULL; i++)
            if (strcmp(value, ch[i]) == 0) {
                *(int *)(base + k->off) = i;
                return 0;
            }
        return ag_fail(ctx, AG_EUSAGE, "%s: %s: %s%s%s or %s, not '%s'", where, k->name,
                       ch[0], ch[2] ? ", " : "", ch[2] ? ch[1] : "", ch[2] ? ch[2] : ch[1],
                       value);
    case K_DAYS:
        errno = 0;
        v = strtol(value, &end, 10);
        if (errno != 0 || end == value || *end != '\0' || v < 1 || v > 36500)
            return ag_fail(ctx, AG_EUSAGE, "%s: %s: not a number of days from 1 to 36500: "
                           "'%s'", where, k->name, value);
        *(int *)(base + k->off) = (int)v;
        return 0;
    case K_INT:
        errno = 0;
        v = strtol(value, &end, 10);
        max = k->off == OFF(jobs) ? AG_JOBS_MAX : 1024;
        if (errno != 0 || *end != '\0' || v < 1 || v > max)
            return ag_fail(ctx, AG_EUSAGE, "%s: %s: not a number from 1 to %ld: '%s'",
                           where, k->name, max, value);
        *(int *)(base + k->off) = (int)v;
        return 0;
    case K_RATE:
        if (ag_parse_rate(value, &size) < 0)
            return ag_fail(ctx, AG_EUSAGE, "%s: %s: not a rate in bytes per second from 1K "
                           "to 1T (like 20M or 20M/s: MiB/s) or 0 for none: '%s'", where,
                           k->name, value);
        *(uint64_t *)(base + k->off) = size;
        return 0;
    case K_SIZE:
        if (ag_parse_size(value, &size) < 0 || size == 0)
            return ag_fail(ctx, AG_EUSAGE, "%s: %s: not a size: '%s'", where, k->name, value);
        if (k->off == OFF(tun.chunk_size) && size > CHUNK_SIZE_MAX)
            return ag_fail(ctx, AG_EUSAGE, "%s: %s: at most %lluM, not '%s'", where, k->name,
                           (unsigned long long)(CHUNK_SIZE_MAX >> 20), value);
        if (k->off == OFF(tun.sparse_size) && (size < 4096 || (size & (size - 1)) != 0))
            return ag_fail(ctx, AG_EUSAGE, "%s: %s: not a power of two of at least 4K: '%s'",
                           where, k->name, value);
        *(uint64_t *)(base + k->off) = size;
        return 0;
    }
    return 0;
}

static void from_env(ag_opts *o)
{
    const char *v;
    if ((v = getenv("AWS_ACCESS_KEY_ID")) != NULL && v[0] != '\0')
        o->access_key = v;
    if ((v = getenv("AWS_SECRET_ACCESS_KEY")) != NULL && v[0] != '\0') {
        o->secret_key = opts_keep(v);      /* wiped by opts_free; not left in the environment */
        unsetenv("AWS_SECRET_ACCESS_KEY");
    }
    if ((v = getenv("AWS_SESSION_TOKEN")) != NULL && v[0] != '\0')
        o->session_token = v;
    /* copy: the destination's credentials */
    if ((v = getenv("RBD2S3_TO_ACCESS_KEY_ID")) != NULL && v[0] != '\0')
        o->to_access_key = v;
    if ((v = getenv("RBD2S3_TO_SECRET_ACCESS_KEY")) != NULL && v[0] != '\0') {
        o->to_secret_key = opts_keep(v);
        unsetenv("RBD2S3_TO_SECRET_ACCESS_KEY");
    }
}

/* Apply one global option given as name (without "--") and value (inl: given as
 * "--name=value"); 1 if it was one, 0 if the name is not a global option, -1 on error.
 * *used says if value was taken. A flag takes only an inline value. */
static int apply_global(ag_ctx *ctx, const char *name, const char *value, int inl, int *used)
{
    *used = 0;
    if (strcmp(name, "format") == 0) {
        if (value == NULL || (strcmp(value, "json") != 0 && strcmp(value, "text") != 0))
            return ag_fail(ctx, AG_EUSAGE, "--format takes text or json");
        ctx->opts.json = strcmp(value, "json") == 0;
        *used = 1;
        return 1;
    }
    if (strcmp(name, "no-progress") == 0) {
        ctx->opts.progress = 0;
        return 1;
    }
    if (strcmp(name, "verbose") == 0 || strcmp(name, "quiet") == 0) {
        *(name[0] == 'v' ? &ctx->opts.verbose : &ctx->opts.quiet) = 1;
        return 1;
    }
    const opts_key *k = opts_find_key(name);
    if (k == NULL)
        return 0;
    if (k->kind == K_FLAG && !inl)
        value = NULL;
    if (k->kind != K_FLAG) {
        if (value == NULL)
            return ag_fail(ctx, AG_EUSAGE, "--%s needs a value", name);
        *used = 1;
    }
    return opts_set_key(ctx, k, value, "command line") == 0 ? 1 : -1;
}

/* Split "--name=value" / "--name value"; returns the name and sets *inl for "--name=value". */
static const char *split_opt(const char *arg, char *buf, size_t bufsz, const char **inl)
{
    const char *eq = strchr(arg + 2, '=');
    *inl = NULL;
    if (eq == NULL)
        return arg + 2;
    size_t n = (size_t)(eq - (arg + 2));
    if (n >= bufsz)
        n = bufsz - 1;
    memcpy(buf, arg + 2, n);
    buf[n] = '\0';
    *inl = eq + 1;
    return buf;
}

static const char *short_alias(const char *arg)
{
    if (strcmp(arg, "-c") == 0) return "--config";
    if (strcmp(arg, "-v") == 0) return "--verbose";
    if (strcmp(arg, "-q") == 0) return "--quiet";
    if (strcmp(arg, "-h") == 0) return "--help";
    return arg;
}

/* Find -c/--config before anything else so that the command line overrides it. */
static const char *config_path(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = short_alias(argv[i]);
        if (strncmp(a, "--config=", 9) == 0)
            return a + 9;
        if (strcmp(a, "--config") == 0 && i + 1 < argc)
            return argv[i + 1];
    }
    return NULL;
}

int opts_check_lock(ag_ctx *ctx)
{
    const ag_opts *o = &ctx->opts;
    if (o->object_lock != 0 && o->object_lock_days == 0)
        return ag_fail(ctx, AG_EUSAGE, "object lock = %s needs object lock days (1 to 36500)",
                       choice_values(OFF(object_lock))[o->object_lock]);
    return 0;
}

/* The image lock's renewal must come before it expires: 0, or -1 with exit 2. */
static int check_image_lock(ag_ctx *ctx)
{
    const ag_opts *o = &ctx->opts;
    if (o->lock_renewal != 0 && o->lock_renewal >= o->lock_duration)
        return ag_fail(ctx, AG_EUSAGE, "lock duration (%ds) must be longer than lock renewal "
                       "(%ds)", o->lock_duration, o->lock_renewal);
    if (o->host != NULL && (o->host[0] == '\0' || strchr(o->host, ':') != NULL))
        return ag_fail(ctx, AG_EUSAGE, "host: not empty and without ':', not '%s'", o->host);
    return 0;
}

int opts_parse_global(ag_ctx *ctx, int argc, char **argv)
{
    no_core_dumps();
    defaults(&ctx->opts);
    const char *cfg = config_path(argc, argv);
    if (cfg == NULL && getenv("RBD2S3_CONFIG") != NULL)
        cfg = getenv("RBD2S3_CONFIG");
    if (opts_read_config(ctx, cfg ? cfg : "/etc/rbd2s3/rbd2s3.conf", cfg != NULL) < 0)
        return -1;
    ctx->opts.config = cfg;
    from_env(&ctx->opts);
    int i = 1;
    for (; i < argc; i++) {
        const char *a = short_alias(argv[i]);
        if (a[0] != '-' || strcmp(a, "-") == 0)
            break;
        if (strcmp(a, "--help") == 0) { opts_usage(); return 0; }
        if (strcmp(a, "--version") == 0) { puts("rbd2s3 " PACKAGE_VERSION); return 0; }
        if (strncmp(a, "--", 2) != 0)
            return ag_fail(ctx, AG_EUSAGE, "unknown option '%s'", a);
        char nb[64];
        const char *inl;
        const char *name = split_opt(a, nb, sizeof(nb), &inl);
        const char *val = inl ? inl : (i + 1 < argc ? argv[i + 1] : NULL);
        if (strcmp(name, "config") == 0) {
            i += inl ? 0 : 1;
            continue;
        }
        int used = 0;
        int r = apply_global(ctx, name, val, inl != NULL, &used);
        if (r < 0)
            return -1;
        if (r == 0)
            return ag_fail(ctx, AG_EUSAGE, "unknown option '%s'", a);
        if (used && !inl)
            i++;
    }
    return opts_check_lock(ctx) < 0 || check_image_lock(ctx) < 0 ? -1 : i;
}

static int command_opt(ag_ctx *ctx, const char *a, const char *val, const opts_cmd *spec,
                       int nspec, int *used)
{
    char nb[64];
    const char *inl;
    const char *name = split_opt(a, nb, sizeof(nb), &inl);
    if (inl)
        val = inl;
    for (int k = 0; k < nspec; k++) {
        if (strcmp(spec[k].name, name) != 0)
            continue;
        if (!spec[k].has_arg) {
            *spec[k].value = "1";
            *used = 0;
            return 0;
        }
        if (val == NULL)
            return ag_fail(ctx, AG_EUSAGE, "--%s needs a value", name);
        *spec[k].value = val;
        *used = inl ? 0 : 1;
        return 0;
    }
    int r = apply_global(ctx, name, val, inl != NULL, used);
    if (r < 0)
        return -1;
    if (r == 0)
        return ag_fail(ctx, AG_EUSAGE, "unknown option '%s'", a);
    if (inl)
        *used = 0;
    return 0;
}

/* The keyring the options name (ctx->want_keys), with the error line recorded. */
static int load_keys(ag_ctx *ctx)
{
    char msg[512];
    int code = AG_EUSAGE;
    if (keyring_load_msg(&ctx->opts, &ctx->keys, &code, msg, sizeof(msg)) < 0)
        return ag_fail(ctx, code, "%s", msg);
    return 0;
}

int opts_parse_command(ag_ctx *ctx, int argc, char **argv, const opts_cmd *spec, int nspec,
                       char ***positional, int *npositional)
{
    static char *pos[16];
    int np = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = short_alias(argv[i]);
        if (strncmp(a, "--", 2) == 0 && a[2] != '\0') {
            int used = 0;
            if (command_opt(ctx, a, i + 1 < argc ? argv[i + 1] : NULL, spec, nspec,
                            &used) < 0)
                return -1;
            i += used;
            continue;
        }
        if (a[0] == '-' && a[1] != '\0') {
            if (strcmp(a, "--verbose") == 0 || strcmp(a, "--quiet") == 0) {
                int used;
                apply_global(ctx, a + 2, NULL, 0, &used);
                continue;
            }
            return ag_fail(ctx, AG_EUSAGE, "unknown option '%s'", a);
        }
        if (np >= 16)
            return ag_fail(ctx, AG_EUSAGE, "too many arguments");
        pos[np++] = argv[i];
    }
    *positional = pos;
    *npositional = np;
    if (check_image_lock(ctx) < 0)
        return -1;
    if (ctx->want_keys && ctx->keys == NULL)
        return load_keys(ctx);
    return 0;
}
