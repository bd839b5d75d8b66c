/* options_file.c - the config file: read whole (at most 1 MiB), parsed by inih into
 * [global] keys, [pool:NAME] sections and [serve], a file holding the secret key checked
 * closed. */
#include "agent/config/options_int.h"

#include "agent/config/policy.h"

#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct ini_state {
    ag_ctx *ctx;
    const char *path;
    int has_secret;         /* a `secret key` line was read */
} ini_state;

/* A key of a [pool:NAME] section. */
static int on_pool_key(ini_state *st, const char *pool, const char *name, const char *value)
{
    if (pool[0] == '\0') {
        ag_fail(st->ctx, AG_EUSAGE, "%s: [pool:] needs a pool name", st->path);
        return 0;
    }
    ag_pool_conf *pc = policy_pool(st->ctx, pool, 1);
    if (pc == NULL) {
        ag_fail(st->ctx, AG_EUSAGE, "%s: too many [pool:] sections", st->path);
        return 0;
    }
    int rc = policy_set_pool_key(st->ctx, pc, name, value, st->path);
    if (rc == 0)
        ag_fail(st->ctx, AG_EUSAGE, "%s: unknown key '%s' in [pool:%s]", st->path, name, pool);
    return rc > 0;
}

/* A key of the [serve] section (`rbd2s3 serve`): listen = HOST:PORT, token file = PATH. */
static int on_serve_key(ini_state *st, const char *name, const char *value)
{
    const char **to = NULL;
    if (strcmp(name, "listen") == 0)
        to = &st->ctx->opts.serve_listen;
    else if (strcmp(name, "token file") == 0 || strcmp(name, "token_file") == 0 ||
             strcmp(name, "token-file") == 0)
        to = &st->ctx->opts.serve_token_file;
    if (to == NULL) {
        ag_fail(st->ctx, AG_EUSAGE, "%s: unknown key '%s' in [serve]", st->path, name);
        return 0;
    }
    if ((*to = opts_keep(value)) == NULL) {
        ag_fail(st->ctx, AG_EFAIL, "out of memory");
        return 0;
    }
    return 1;
}

static int on_ini(void *user, const char *section, const char *name, const char *value)
{
    ini_state *st = user;
    if (strncmp(section, "pool:", 5) == 0)
        return on_pool_key(st, section + 5, name, value);
    if (strcmp(section, "serve") == 0)
        return on_serve_key(st, name, value);
    if (strcmp(section, "global") != 0) {
        ag_fail(st->ctx, AG_EUSAGE, "%s: unknown section [%s]", st->path, section);
        return 0;
    }
    int pk = policy_set_key(st->ctx, &st->ctx->opts.policy, name, value, st->path);
    if (pk != 0)
        return pk > 0;
    if (strcmp(name, "access_key") == 0 || strcmp(name, "access key") == 0) {
        st->ctx->opts.access_key = opts_keep(value);
        return 1;
    }
    if (strcmp(name, "secret_key") == 0 || strcmp(name, "secret key") == 0) {
        st->ctx->opts.secret_key = opts_keep(value);
        st->has_secret = 1;
        return 1;
    }
    if (strcmp(name, "to_access_key") == 0 || strcmp(name, "to access key") == 0) {
        st->ctx->opts.to_access_key = opts_keep(value);
        return 1;
    }
    if (strcmp(name, "to_secret_key") == 0 || strcmp(name, "to secret key") == 0) {
        st->ctx->opts.to_secret_key = opts_keep(value);
        st->has_secret = 1;
        return 1;
    }
    const opts_key *k = opts_find_key(name);
    if (k == NULL) {
        ag_fail(st->ctx, AG_EUSAGE, "%s: unknown key '%s' in [global]", st->path, name);
        return 0;
    }
    return opts_set_key(st->ctx, k, value, st->path) == 0;
}

#define CONFIG_MAX_BYTES (1u << 20)

/* The whole config file of the open fd (at most CONFIG_MAX_BYTES; a pipe such as
 * `-c <(...)` works too), NUL-terminated, or NULL with an error recorded. The caller
 * frees it with wipe_free(). */
static char *slurp(ag_ctx *ctx, int fd, const char *path, size_t *len)
{
    char *buf = malloc(CONFIG_MAX_BYTES + 1);
    size_t n = 0;
    ssize_t r = 1;
    while (buf != NULL && r > 0 && n <= CONFIG_MAX_BYTES) {
        r = read(fd, buf + n, CONFIG_MAX_BYTES + 1 - n);
        n += r > 0 ? (size_t)r : 0;
        if (r < 0 && errno == EINTR)
            r = 1;
    }
    if (buf == NULL || r < 0 || n > CONFIG_MAX_BYTES) {
        if (buf == NULL || r < 0)
            ag_fail(ctx, AG_EUSAGE, "cannot read config file %s: %s", path,
                    buf == NULL ? "out of memory" : strerror(errno));
        else
            ag_fail(ctx, AG_EUSAGE, "config file %s: longer than 1 MiB", path);
        if (buf != NULL)
            OPENSSL_cleanse(buf, n);
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

static void wipe_free(char *buf, size_t len)
{
    if (buf != NULL)
        OPENSSL_cleanse(buf, len);
    free(buf);
}

/* inih reads a line into INI_MAX_LINE bytes (newline and NUL included): a longer one
 * is split and its tail parsed as another line (a wrong value or line number). */
static int check_line_lengths(ag_ctx *ctx, const char *path, const char *buf)
{
    int line = 1;
    for (const char *p = buf; *p != '\0'; line++) {
        const char *nl = strchr(p, '\n');
        size_t len = nl != NULL ? (size_t)(nl - p) : strlen(p);
        if (len > INI_MAX_LINE - 2)
            return ag_fail(ctx, AG_EUSAGE, "%s: line %d: longer than %d bytes", path, line,
                           INI_MAX_LINE - 2);
        if (nl == NULL)
            break;
        p = nl + 1;
    }
    return 0;
}

/* A file holding the secret key must belong to root or to us and be closed to others. */
static int check_secret_perms(ag_ctx *ctx, const char *path, const struct stat *sb)
{
    if (sb->st_uid != 0 && sb->st_uid != geteuid())
        return ag_fail(ctx, AG_EUSAGE, "config file %s holds the secret key but belongs to "
                       "uid %lu, not to root or to uid %lu", path, (unsigned long)sb->st_uid,
                       (unsigned long)geteuid());
    if ((sb->st_mode & (S_IRWXG | S_IRWXO)) != 0)
        return ag_fail(ctx, AG_EUSAGE, "config file %s holds the secret key but has mode "
                       "%04o: allow its owner only (chmod 600)", path,
                       (unsigned)(sb->st_mode & 07777));
    return 0;
}

int opts_read_config(ag_ctx *ctx, const char *path, int must_exist)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && !must_exist && (errno == ENOENT || errno == EACCES))
        return 0;
    if (fd < 0)
        return ag_fail(ctx, AG_EUSAGE, "cannot read config file %s: %s", path,
                       strerror(errno));
    struct stat sb;
    size_t len = 0;
    char *buf = fstat(fd, &sb) == 0 ? slurp(ctx, fd, path, &len) : NULL;
    if (buf == NULL && ctx->exit_code == AG_OK)
        ag_fail(ctx, AG_EUSAGE, "cannot read config file %s: %s", path, strerror(errno));
    close(fd);
    if (buf == NULL || check_line_lengths(ctx, path, buf) < 0) {
        wipe_free(buf, len);
        return -1;
    }
    ini_state st = { ctx, path, 0 };
    int rc = ini_parse_string(buf, on_ini, &st);
    wipe_free(buf, len);
    if (ctx->exit_code != AG_OK)
        return -1;
    if (rc != 0)
        return ag_fail(ctx, AG_EUSAGE, "%s: line %d: syntax error", path, rc);
    return st.has_secret ? check_secret_perms(ctx, path, &sb) : 0;
}
