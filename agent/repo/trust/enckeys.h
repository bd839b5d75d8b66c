/* enckeys.h - the data keys of encrypted backups in the repository: a manifest opened
 * and authenticated with the configured master keys (catalog), a new one wrapped and
 * MACed (writer), chains that never mix or splice, and the backups a new one may follow.
 * Never prints a secret. */
#ifndef RBD2S3_ENCKEYS_H
#define RBD2S3_ENCKEYS_H

#include "agent/repo/catalog.h"

/* Open entry e's data key (catalog_load, after its manifest verified): nothing for a
 * plain manifest; for an encrypted one whose key id a key of ctx->keys has, unwrap the
 * data key and check the manifest's mac: e->dk is then set (malloc'ed, the catalog
 * frees it). Without such a key e->dk stays NULL: the backup is listed, and
 * enckeys_require refuses to read it. Returns 0; 1 with *why set (static text) when a
 * key has the id but the wrap or the mac does not authenticate (a damaged manifest);
 * -1 with the error recorded (out of memory). */
int enckeys_open(ag_ctx *ctx, cat_entry *e, const char **why);

/* 0 when e can be read (plain, or its data key is open), else -1 with AG_EKEY and one
 * line recorded: the backup, its image and its key id, and whether no key at all is
 * configured or none has that id. */
int enckeys_require(ag_ctx *ctx, const cat_entry *e);

/* The link of child to parent in a chain: both plain, or both encrypted with the
 * child's parent_mac equal to the parent's mac. NULL when it holds, else what breaks it
 * (static text, e.g. "parent mac mismatch"). Cannot fail. */
const char *enckeys_link_why(const cat_entry *child, const cat_entry *parent);
/* The same as an error: 0, or -1 with AG_EINTEGRITY recorded ("chain broken: ..."). */
int enckeys_link_ok(ag_ctx *ctx, const cat_entry *child, const cat_entry *parent);

/* 1 when new backups are encrypted (ctx->keys says encryption = aes-256-gcm). */
int enckeys_encrypts(const ag_ctx *ctx);

/* 0 when the encryption setting and the loaded keys agree; -1 with AG_EUSAGE recorded
 * when encryption is on but no keyring encrypts (the options came after the command,
 * once the keys were loaded): a backup must never silently be plain. */
int enckeys_ready(ag_ctx *ctx);

/* 1 when a new backup may follow e as its parent: an encrypted, authenticated backup
 * (its data key open) when new backups are encrypted, a plain one otherwise. */
int enckeys_parent_ok(const ag_ctx *ctx, const cat_entry *e);

/* Before a new backup of spec, with c its image's catalog: refuse a plain backup after
 * an encrypted newest one, and an encrypted backup after a plain newest one unless
 * full (an explicitly requested full starts an encrypted chain). 0, or -1 with AG_EUSAGE
 * and one line naming the setting to change. */
int enckeys_check_mix(ag_ctx *ctx, const catalog *c, const naming_spec *spec, int full);

/* The chain part of a new encrypted backup's m->enc: the parent's mac (parent NULL: a
 * full) and the passphrase's kdf of the parent, else of the newest encrypted backup of
 * c (the same salt, so the same master key). Nothing for a plain repository. */
void enckeys_follow(const ag_ctx *ctx, const catalog *c, const cat_entry *parent,
                    manifest *m);

/* Seal manifest m of a new backup whose data key is dk: enc.on, the current master
 * key's id, its kdf, the wrapped data key, then the mac of manifest_mac_body (m must be
 * complete: call it last before manifest_to_json). 0, or -1 with the error recorded. */
int enckeys_seal_manifest(ag_ctx *ctx, const seal_key *dk, manifest *m);

#endif
