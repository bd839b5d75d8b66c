/* keyring.h - the master keys of a process: the current one (writes and reads) and old
 * ones (reads during a rotation), from key files or a passphrase through scrypt, held in
 * locked memory, wiped on free; core dumps are off while a key is loaded.
 *
 * Configuration (config file, [global]; never argv for secrets):
 *   encryption = none | aes-256-gcm      the repository's choice (default none)
 *   key file = PATH                      32 random bytes (`rbd2s3 key create PATH`),
 *                                        a regular file, mode 0600 or stricter, owned
 *                                        by the user running rbd2s3 (or root)
 *   passphrase file = PATH               instead of a key file: the passphrase (first
 *                                        line), same mode rules; or the environment
 *                                        variable RBD2S3_PASSPHRASE. At least
 *                                        KEYRING_PASS_MIN bytes.
 *   old key files = PATH[, PATH...]      earlier master keys, for reading only
 * A passphrase becomes a master key through scrypt (OpenSSL EVP_KDF "SCRYPT") with a
 * salt and parameters that each encrypted manifest carries ("kdf"), so the same
 * passphrase opens a repository wherever it is; a new backup takes the salt of its
 * parent (or of the newest encrypted backup seen), else a new random one.
 *
 * Errors: a key file that is not a regular file, has group/other permissions, is not
 * exactly 32 bytes, or a passphrase too short, is a usage error (AG_EUSAGE) with one
 * line naming the file and the rule; no secret byte is ever printed. */
#ifndef RBD2S3_KEYRING_H
#define RBD2S3_KEYRING_H

#include <stddef.h>
#include <stdint.h>

#include "agent/format/seal.h"

#define KEYRING_PASS_MIN 12          /* shortest passphrase accepted */
#define KEYRING_MAX_KEYS 9           /* the current key and up to 8 old ones */

/* scrypt defaults for new salts: N = 2^15, r = 8, p = 1 (32 MiB, ~0.1 s). */
#define KEYRING_SCRYPT_N (1u << 15)
#define KEYRING_SCRYPT_R 8u
#define KEYRING_SCRYPT_P 1u

/* Opaque: the keys of this process. */
typedef struct keyring keyring;

/* Load the keys that the options name (encryption, key file, passphrase file or
 * RBD2S3_PASSPHRASE, old key files). *out is NULL when encryption is none and no key is
 * named (a plain repository), else a keyring. Turns core dumps off (PR_SET_DUMPABLE 0,
 * RLIMIT_CORE 0) and locks the key memory (mlock; a failure to lock is a warning).
 * 0, or -1 with one line on stderr (prefix "rbd2s3: ") and *code set to AG_EUSAGE. */
struct ag_opts;
int keyring_load(const struct ag_opts *o, keyring **out, int *code);
/* The same, but the error line goes into msg[0..msgsz) (without the prefix) instead of
 * stderr, for a caller that records it (opts_parse_command: ag_fail). */
int keyring_load_msg(const struct ag_opts *o, keyring **out, int *code, char *msg,
                     size_t msgsz);

/* 1 when new backups must be encrypted (encryption = aes-256-gcm), else 0. */
int keyring_encrypts(const keyring *kr);

/* The master key for writing: from the key file, or (passphrase) derived with kdf
 * (NULL: the keyring's own salt, made at random on first use, default parameters);
 * *used receives the parameters actually used (for the manifest; NULL when the key came
 * from a key file). Derivations are cached per salt and parameters; a key returned
 * stays valid until keyring_free. NULL when the keyring has no current key (only old
 * ones; -ENOKEY in *err), kdf is out of the bounds of seal.h or needs over 1 GiB
 * (-EINVAL), or scrypt failed (-EIO). kr may be NULL (-ENOKEY). */
const seal_key *keyring_current(keyring *kr, const seal_kdf *kdf,
                                const seal_kdf **used, int *err);

/* The master key whose key id is id (current or old; passphrase keys derived with kdf,
 * which a manifest gives; kdf NULL: the derivations made so far), or NULL when no key of
 * the keyring has that id. */
const seal_key *keyring_find(keyring *kr, const char *id, const seal_kdf *kdf);

/* Read the first line of a secret file (a bearer token, ...) into out[0..outsz), NUL
 * terminated, with the rules of key files: a regular file, not a symbolic link, ours or
 * root's, closed to group and others. what names the file in errors ("token file").
 * 0, or -1 with one line (naming the file and the rule, never a byte of the secret) in
 * msg and out wiped: a line of outsz bytes or more, or an empty one, is refused too. */
int keyring_read_secret(const char *what, const char *path, char *out, size_t outsz,
                        char *msg, size_t msgsz);

/* Wipe every key, unlock and free. Safe on NULL. */
void keyring_free(keyring *kr);

/* Write a new key file at path: 32 bytes from RAND_bytes, created O_EXCL with mode
 * 0600 (an existing file is never overwritten). 0, or -errno (-EEXIST, ...). */
int keyring_create_file(const char *path);

#endif
