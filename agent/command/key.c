/* key.c - the key command: `key create FILE` writes a new master key file (32 random
 * bytes, mode 0600, never over an existing file) and prints its key id; `key rotate`
 * rewraps the data keys of every manifest under a new master key. */
#include "agent/common/context.h"
#include "agent/command/command.h"
#include "agent/config/keyring.h"
#include "agent/config/options.h"
#include "agent/repo/catalog.h"
#include "agent/repo/trust/head.h"
#include "agent/repo/trust/lockinfo.h"
#include "agent/repo/trust/retain.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEY_USAGE "usage: key create FILE | key rotate [POOL[/IMAGE]] " \
    "(--new-key-file FILE | --new-passphrase-file FILE)"

/* The key id of the key file at path (read back through the keyring's checks) into
 * id; 0, or -1 with the keyring's line printed and *code set. */
static int key_file_id(const char *path, char id[SEAL_KEY_ID_LEN], int *code)
{
    ag_opts o;
    keyring *kr = NULL;
    int err = 0;
    memset(&o, 0, sizeof(o));
    o.key_file = path;
    if (keyring_load(&o, &kr, code) < 0)
        return -1;
    const seal_key *k = keyring_current(kr, NULL, NULL, &err);
    snprintf(id, SEAL_KEY_ID_LEN, "%s", k != NULL ? k->id : "");
    keyring_free(kr);
    return 0;
}

/* key create FILE. */
static int key_create(ag_ctx *ctx, const char *path)
{
    char id[SEAL_KEY_ID_LEN];
    int rc = keyring_create_file(path);
    if (rc == -EEXIST)
        return ag_fail(ctx, AG_EEXIST, "%s: exists: a key file is never overwritten", path);
    if (rc < 0)
        return ag_fail(ctx, AG_EFAIL, "%s: cannot create the key file: %s", path,
                       strerror(-rc));
    int code = AG_OK;
    if (key_file_id(path, id, &code) < 0)
        return ag_fail(ctx, code, "%s: cannot read the new key file back", path);
    if (ctx->opts.json) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "key_file", json_object_new_string(path));
        json_object_object_add(o, "key_id", json_object_new_string(id));
        printf("%s\n", json_object_to_json_string_ext(o, AG_JSON_OUT));
        json_object_put(o);
    } else {
        printf("%s: key id %s\n", path, id);
    }
    ag_info(ctx, "keep a copy of %s in a safe place: without it, backups encrypted "
            "with it cannot be restored", path);
    return 0;
}

/* One rotation: the new master key, the catalog, the counts. */
typedef struct rotate_job {
    ag_ctx *ctx;
    keyring *newkr;             /* holds the new key */
    const seal_key *nk;
    const seal_kdf *nkdf;       /* the new passphrase key's parameters; NULL: a key file */
    catalog cat;
    int locked;                 /* the bucket has Object Lock: rewrites keep retentions */
    size_t rewrapped, skipped, failed;
} rotate_job;

/* The new master key from its file; a bad file's line is recorded. */
static int rotate_new_key(rotate_job *r, const char *key_file, const char *pass_file)
{
    char msg[512];
    ag_opts o;
    int code = AG_OK, err = 0;
    memset(&o, 0, sizeof(o));
    o.key_file = key_file;
    o.passphrase_file = pass_file;
    if ((key_file == NULL) == (pass_file == NULL))
        return ag_fail(r->ctx, AG_EUSAGE, KEY_USAGE);
    if (keyring_load_msg(&o, &r->newkr, &code, msg, sizeof(msg)) < 0)
        return ag_fail(r->ctx, code, "the new key: %s", msg);
    r->nk = keyring_current(r->newkr, NULL, &r->nkdf, &err);
    if (r->nk == NULL)
        return ag_fail(r->ctx, AG_EFAIL, "key rotate: the new key cannot be derived");
    return 0;
}

/* PUT json to key in place of its current version; in a locked bucket with that
 * version's retention (retain_keep: same mode and date, whatever object lock says, so
 * that a rotation leaves no backup deletable). 0, or a negative code with err filled. */
static int rewrite(rotate_job *r, const char *key, const char *json, size_t len,
                   s3_error *err)
{
    int rc = r->locked ? retain_keep(r->ctx, key, err) : 0;
    if (rc == 0)
        rc = s3_put(r->ctx->s3, key, json, len, "application/json", NULL, err);
    retain_end(r->ctx);
    return rc;
}

/* Rewrap e's data key under the new key and rewrite its manifest (the MAC stays:
 * "key" is outside it; the checksum is recomputed). 0, or -1 with a warning. */
static int rewrap(rotate_job *r, cat_entry *e)
{
    manifest *m = &e->m;
    manifest_enc was = m->enc;
    seal_owner o = { m->pool, m->ns, m->image, m->image_id, m->id };
    char prefix[4096], key[4200], *json = NULL;
    size_t len = 0;
    s3_error err;
    memset(&err, 0, sizeof(err));
    int rc = ag_image_prefix(r->ctx, &e->spec, prefix, sizeof(prefix)) < 0 ? -ENAMETOOLONG
             : naming_manifest_key(prefix, e->id, key, sizeof(key));
    if (rc == 0)
        rc = seal_wrap(r->nk, &o, e->dk, m->enc.wrapped);
    snprintf(m->enc.key_id, sizeof(m->enc.key_id), "%s", r->nk->id);
    m->enc.has_kdf = r->nkdf != NULL;
    if (r->nkdf != NULL)
        m->enc.kdf = *r->nkdf;
    if (rc == 0)
        rc = manifest_to_json(m, &json, &len);
    if (rc == 0)
        rc = rewrite(r, key, json, len, &err);
    free(json);
    if (rc == 0)
        return 0;
    m->enc = was;
    ag_warn("%s: not rewrapped: %s", key, err.message[0] ? err.message : strerror(-rc));
    return -1;
}

static void rotate_entry(rotate_job *r, cat_entry *e)
{
    char name[NAMING_SPEC_MAX];
    if (!e->m.enc.on)
        return;
    if (strcmp(e->m.enc.key_id, r->nk->id) == 0) {
        r->skipped++;
        return;
    }
    naming_spec_str(&e->spec, name, sizeof(name));
    if (e->dk == NULL) {
        ag_warn("%s@%s: no configured key opens it (key id %s): not rewrapped", name, e->id,
                e->m.enc.key_id);
        r->failed++;
        return;
    }
    if (rewrap(r, e) < 0) {
        r->failed++;
        return;
    }
    ag_info(r->ctx, "%s@%s: rewrapped (key id %s)", name, e->id, r->nk->id);
    r->rewrapped++;
}

/* The newest authenticated encrypted backup of the image of entries [from, to), or NULL. */
static const manifest *newest_sealed(const catalog *c, size_t from, size_t to)
{
    for (size_t i = to; i-- > from;)
        if (c->e[i].m.enc.on && c->e[i].dk != NULL)
            return &c->e[i].m;
    return NULL;
}

/* Write h, the head of spec's image, under the new key; in a locked bucket with the
 * retention of the head it replaces (retain_keep). 0, or -1 with a warning. */
static int rotate_head(rotate_job *r, const naming_spec *spec, headdoc *h)
{
    char prefix[4096], key[4200];
    s3_error err;
    memset(&err, 0, sizeof(err));
    int rc = 0;
    if (r->locked) {
        rc = ag_image_prefix(r->ctx, spec, prefix, sizeof(prefix)) < 0 ? -ENAMETOOLONG
             : naming_head_key(prefix, key, sizeof(key));
        rc = rc < 0 ? rc : retain_keep(r->ctx, key, &err);
    }
    if (rc < 0)
        ag_warn("%s/%s: its head object was not rewritten (%s)", h->pool, h->image,
                s3_strerror(rc, &err));
    else
        rc = head_write(r->ctx, h, r->nk);
    retain_end(r->ctx);
    return rc < 0 ? -1 : 0;
}

/* The image of entries [from, to): its head checked under the old keys, its manifests
 * rewrapped, then its head rewritten under the new key. */
static void rotate_image(rotate_job *r, size_t from, size_t to)
{
    ag_ctx *ctx = r->ctx;
    const naming_spec *spec = &r->cat.e[from].spec;
    headdoc h;
    int have = head_read(ctx, &r->cat, spec, &h);
    if (have < 0) {
        ag_warn("%s", ctx->errmsg);
        ctx->exit_code = AG_OK;
        ctx->errmsg[0] = '\0';
        r->failed++;
        return;
    }
    for (size_t i = from; i < to; i++)
        rotate_entry(r, &r->cat.e[i]);
    const manifest *m = newest_sealed(&r->cat, from, to);
    if (have == 1 && strcmp(h.key_id, r->nk->id) == 0)
        return;
    if (have == 0 && (m == NULL || headdoc_from_manifest(&h, m) < 0))
        return;
    if (rotate_head(r, spec, &h) < 0)
        r->failed++;
}

static int same_image(const naming_spec *a, const naming_spec *b)
{
    return strcmp(a->pool, b->pool) == 0 && strcmp(a->ns, b->ns) == 0 &&
           strcmp(a->image, b->image) == 0;
}

static void rotate_report(rotate_job *r)
{
    if (r->ctx->opts.json) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "key_id", json_object_new_string(r->nk->id));
        json_object_object_add(o, "rewrapped", json_object_new_int64((int64_t)r->rewrapped));
        json_object_object_add(o, "skipped", json_object_new_int64((int64_t)r->skipped));
        json_object_object_add(o, "failed", json_object_new_int64((int64_t)r->failed));
        printf("%s\n", json_object_to_json_string_ext(o, AG_JSON_OUT));
        json_object_put(o);
    } else {
        printf("key %s: rewrapped %zu, skipped %zu, failed %zu\n", r->nk->id, r->rewrapped,
               r->skipped, r->failed);
    }
    if (r->failed > 0)
        ag_fail(r->ctx, AG_EINTEGRITY, "key rotate: %zu backups or heads not rewrapped",
                r->failed);
}

/* key rotate [POOL[/IMAGE]]: every encrypted manifest under the prefix (or of the pool
 * or image) gets its data key rewrapped under the new master key; nothing else of a
 * backup is rewritten. Idempotent: a manifest already under the new key is skipped. */
static int key_rotate(ag_ctx *ctx, const char *where, const char *key_file,
                      const char *pass_file)
{
    rotate_job r;
    naming_spec spec;
    char msg[512];
    int code = AG_OK;
    memset(&r, 0, sizeof(r));
    r.ctx = ctx;
    int image = where != NULL && strchr(where, '/') != NULL;
    if (image && naming_parse_spec(where, 0, &spec) < 0)
        return ag_fail(ctx, AG_EUSAGE, KEY_USAGE);
    if (rotate_new_key(&r, key_file, pass_file) == 0 && ctx->keys == NULL &&
        keyring_load_msg(&ctx->opts, &ctx->keys, &code, msg, sizeof(msg)) < 0)
        ag_fail(ctx, code, "%s", msg);
    if (ctx->exit_code == AG_OK && catalog_load(ctx, image ? &spec : NULL, &r.cat) == 0 &&
        lockinfo_enabled(ctx, &r.locked) == 0) {
        for (size_t i = 0; i < r.cat.n;) {
            size_t j = i + 1;
            while (j < r.cat.n && same_image(&r.cat.e[i].spec, &r.cat.e[j].spec))
                j++;
            if (where == NULL || image || strcmp(r.cat.e[i].spec.pool, where) == 0)
                rotate_image(&r, i, j);
            i = j;
        }
        rotate_report(&r);
    }
    catalog_free(&r.cat);
    keyring_free(r.newkr);
    return ctx->exit_code == AG_OK ? 0 : -1;
}

int cmd_key(ag_ctx *ctx, int argc, char **argv)
{
    char **pos;
    int npos;
    const char *nkf = NULL, *npf = NULL;
    opts_cmd specs[] = { { "new-key-file", 1, &nkf }, { "new-passphrase-file", 1, &npf } };
    if (opts_parse_command(ctx, argc, argv, specs, 2, &pos, &npos) < 0)
        return ctx->exit_code;
    if (npos == 2 && strcmp(pos[0], "create") == 0 && nkf == NULL && npf == NULL)
        key_create(ctx, pos[1]);
    else if ((npos == 1 || npos == 2) && strcmp(pos[0], "rotate") == 0)
        key_rotate(ctx, npos == 2 ? pos[1] : NULL, nkf, npf);
    else
        ag_fail(ctx, AG_EUSAGE, KEY_USAGE);
    return ctx->exit_code;
}
