/* enckeys.c - the data keys of encrypted backups in the repository (see enckeys.h). */
#include "agent/repo/trust/enckeys.h"

#include "agent/config/keyring.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static seal_owner owner_of(const manifest *m)
{
    return (seal_owner){ m->pool, m->ns, m->image, m->image_id, m->id };
}

/* 1 when m's mac is the MAC of its body under data key dk, 0 when not, -ENOMEM. */
static int mac_ok(const manifest *m, const seal_key *dk)
{
    char *body = NULL;
    size_t len = 0;
    int rc = manifest_mac_body(m, &body, &len);
    if (rc == -ENOMEM)
        return rc;
    int ok = rc == 0 && seal_mac_ok(dk, body, len, m->enc.mac);
    free(body);
    return ok;
}

int enckeys_open(ag_ctx *ctx, cat_entry *e, const char **why)
{
    const manifest *m = &e->m;
    e->dk = NULL;
    if (!m->enc.on || ctx->keys == NULL)
        return 0;
    const seal_key *mk = keyring_find(ctx->keys, m->enc.key_id,
                                      m->enc.has_kdf ? &m->enc.kdf : NULL);
    if (mk == NULL)
        return 0;
    seal_key *dk = calloc(1, sizeof(*dk));
    if (dk == NULL)
        return ag_fail(ctx, AG_EFAIL, "out of memory");
    seal_owner o = owner_of(m);
    int ok = seal_unwrap(mk, &o, m->enc.wrapped, dk) == 0 ? mac_ok(m, dk) : 0;
    if (ok == 1) {
        e->dk = dk;
        return 0;
    }
    seal_key_wipe(dk);
    free(dk);
    if (ok < 0)
        return ag_fail(ctx, AG_EFAIL, "out of memory");
    *why = "authentication failed";
    return 1;
}

int enckeys_require(ag_ctx *ctx, const cat_entry *e)
{
    if (!e->m.enc.on || e->dk != NULL)
        return 0;
    char name[600];
    naming_spec_str(&e->spec, name, sizeof(name));
    if (ctx->keys == NULL)
        return ag_fail(ctx, AG_EKEY, "backup %s of %s is encrypted with key %s: no key "
                       "configured (key file, passphrase file or RBD2S3_PASSPHRASE)",
                       e->id, name, e->m.enc.key_id);
    return ag_fail(ctx, AG_EKEY, "backup %s of %s is encrypted with key %s: no configured "
                   "key has this id", e->id, name, e->m.enc.key_id);
}

const char *enckeys_link_why(const cat_entry *child, const cat_entry *parent)
{
    const manifest_enc *c = &child->m.enc, *p = &parent->m.enc;
    if (c->on && !p->on)
        return "an encrypted backup on a plain parent";
    if (!c->on && p->on)
        return "a plain backup on an encrypted parent";
    if (c->on && (!c->has_parent_mac || memcmp(c->parent_mac, p->mac, SEAL_MAC_LEN) != 0))
        return "parent mac mismatch";
    return NULL;
}

int enckeys_link_ok(ag_ctx *ctx, const cat_entry *child, const cat_entry *parent)
{
    const char *why = enckeys_link_why(child, parent);
    if (why == NULL)
        return 0;
    char name[600];
    naming_spec_str(&child->spec, name, sizeof(name));
    return ag_fail(ctx, AG_EINTEGRITY, "backup %s of %s: chain broken: %s (parent %s)",
                   child->id, name, why, parent->id);
}

int enckeys_encrypts(const ag_ctx *ctx)
{
    return ctx->keys != NULL && keyring_encrypts(ctx->keys);
}

int enckeys_ready(ag_ctx *ctx)
{
    if (ctx->opts.encryption && !enckeys_encrypts(ctx))
        return ag_fail(ctx, AG_EUSAGE, "encryption is on but no master key was loaded "
                       "(give --encryption and the key options before the command)");
    return 0;
}

int enckeys_parent_ok(const ag_ctx *ctx, const cat_entry *e)
{
    if (enckeys_encrypts(ctx))
        return e->m.enc.on && e->dk != NULL;
    return !e->m.enc.on;
}

/* The newest backup of spec in c, or NULL. */
static const cat_entry *newest_of(const catalog *c, const naming_spec *spec)
{
    for (size_t i = c->n; i-- > 0;) {
        const naming_spec *s = &c->e[i].spec;
        if (strcmp(s->pool, spec->pool) == 0 && strcmp(s->ns, spec->ns) == 0 &&
            strcmp(s->image, spec->image) == 0)
            return &c->e[i];
    }
    return NULL;
}

int enckeys_check_mix(ag_ctx *ctx, const catalog *c, const naming_spec *spec, int full)
{
    if (enckeys_ready(ctx) < 0)
        return -1;
    const cat_entry *last = newest_of(c, spec);
    int enc = enckeys_encrypts(ctx);
    if (last == NULL || last->m.enc.on == enc || (enc && full))
        return 0;
    char name[600];
    naming_spec_str(spec, name, sizeof(name));
    if (!enc)
        return ag_fail(ctx, AG_EUSAGE, "%s: the newest backup %s is encrypted (key %s): "
                       "set encryption = aes-256-gcm and its key to back it up; a plain "
                       "backup never follows an encrypted one", name, last->id,
                       last->m.enc.key_id);
    return ag_fail(ctx, AG_EUSAGE, "%s: the newest backup %s is not encrypted: a chain "
                   "never mixes; request a full backup (--full) to start an encrypted "
                   "chain, or set encryption = none", name, last->id);
}

void enckeys_follow(const ag_ctx *ctx, const catalog *c, const cat_entry *parent,
                    manifest *m)
{
    if (!enckeys_encrypts(ctx))
        return;
    const cat_entry *from = parent;
    for (size_t i = c->n; from == NULL && i-- > 0;)
        if (c->e[i].m.enc.on && c->e[i].m.enc.has_kdf && c->e[i].dk != NULL)
            from = &c->e[i];
    if (parent != NULL) {
        m->enc.has_parent_mac = 1;
        memcpy(m->enc.parent_mac, parent->m.enc.mac, SEAL_MAC_LEN);
    }
    if (from != NULL && from->m.enc.has_kdf) {
        m->enc.has_kdf = 1;
        m->enc.kdf = from->m.enc.kdf;
    }
}

int enckeys_seal_manifest(ag_ctx *ctx, const seal_key *dk, manifest *m)
{
    const seal_kdf *used = NULL;
    int err = 0;
    const seal_key *mk = keyring_current(ctx->keys, m->enc.has_kdf ? &m->enc.kdf : NULL,
                                         &used, &err);
    if (mk == NULL)
        return ag_fail(ctx, err == -EIO ? AG_EFAIL : AG_EUSAGE, "backup %s: no current "
                       "master key to wrap its data key (key file, passphrase file or "
                       "RBD2S3_PASSPHRASE)", m->id);
    m->enc.on = 1;
    snprintf(m->enc.key_id, sizeof(m->enc.key_id), "%s", mk->id);
    m->enc.has_kdf = used != NULL;
    if (used != NULL)
        m->enc.kdf = *used;
    else
        memset(&m->enc.kdf, 0, sizeof(m->enc.kdf));
    seal_owner o = owner_of(m);
    if (seal_wrap(mk, &o, dk, m->enc.wrapped) < 0)
        return ag_fail(ctx, AG_EFAIL, "backup %s: cannot wrap its data key (OpenSSL)", m->id);
    char *body = NULL;
    size_t len = 0;
    int rc = manifest_mac_body(m, &body, &len);
    if (rc == 0)
        rc = seal_mac(dk, body, len, m->enc.mac);
    free(body);
    if (rc < 0)
        return ag_fail(ctx, AG_EFAIL, "backup %s: cannot authenticate the manifest", m->id);
    return 0;
}
