/* labels.h - backup labels: KEY=VALUE pairs given to `backup --label`, recorded in the
 * manifest and matched by the `--label` filters of list, prune and verify (pure).
 *
 * Syntax: KEY is 1 to LABELS_KEY_MAX characters of [a-z0-9._-] starting with a letter
 * or a digit; VALUE is 1 to LABELS_VALUE_MAX characters of [A-Za-z0-9._:/@+-]; at most
 * LABELS_MAX labels per backup, each key once. */
#ifndef RBD2S3_LABELS_H
#define RBD2S3_LABELS_H

#include <stddef.h>

#define LABELS_MAX 16
#define LABELS_KEY_MAX 63
#define LABELS_VALUE_MAX 128

typedef struct labels_kv {
    char key[LABELS_KEY_MAX + 1];
    char value[LABELS_VALUE_MAX + 1];
} labels_kv;

/* A set of labels (a backup's, or a filter's: every pair must be present). */
typedef struct labels_set {
    size_t n;
    labels_kv kv[LABELS_MAX];
} labels_set;

/* 1 if s is a valid key (value), else 0. */
int labels_key_ok(const char *s);
int labels_value_ok(const char *s);

/* Add "KEY=VALUE" to set. unique: a key already in set is refused (a backup's labels);
 * else it is added again (a filter). 0, or -EINVAL with *why a static text. */
int labels_add(labels_set *set, const char *kv, int unique, const char **why);

/* Add every "KEY=VALUE" of a comma-separated list (spaces around items ignored), as
 * labels_add with unique set. 0 or -EINVAL with *why set. */
int labels_add_list(labels_set *set, const char *list, const char **why);

/* The values of every "--NAME VALUE" and "--NAME=VALUE" in argv[0..argc) added to set
 * (a repeatable option that opts_parse_command keeps only the last of). 0, or -EINVAL
 * with *bad the offending argument and *why a static text. */
int labels_collect(int argc, char **argv, const char *name, int unique, labels_set *set,
                   const char **bad, const char **why);

/* 1 if every pair of filter is in have (have may be NULL: no labels), else 0. */
int labels_match(const labels_set *have, const labels_set *filter);

/* "k=v,k2=v2" (sorted as stored) into out; "" for NULL or none. Never fails (cut). */
void labels_str(const labels_set *set, char *out, size_t outsz);

#endif
