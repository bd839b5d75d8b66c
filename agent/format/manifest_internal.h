/* manifest_internal.h - what the manifest codec's files (manifest.c, manifest_enc.c,
 * manifest_labels.c) share: json-c helpers. Private to agent/format/. */
#ifndef RBD2S3_MANIFEST_INTERNAL_H
#define RBD2S3_MANIFEST_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "agent/format/manifest.h"

/* How documents are serialised for their checksum and MAC. */
#define HASH_FLAGS JSON_C_TO_STRING_PLAIN

/* Adds that remember the first failure in *rc (json-c returns NULL on ENOMEM): each
 * takes v (or puts it on failure); nothing is added once *rc is set. */
void mj_add(json_object *o, const char *k, json_object *v, int *rc);
void mj_add_str(json_object *o, const char *k, const char *v, int *rc);
void mj_add_u64(json_object *o, const char *k, uint64_t v, int *rc);

/* Getters: 0, or -EINVAL when the member is missing or not of its type. */
int mj_member(json_object *o, const char *k, json_type t, json_object **v);
/* A string without NUL that fits dst (dstsz with its NUL). */
int mj_str(json_object *o, const char *k, char *dst, size_t dstsz);
/* A non-negative integer up to UINT64_MAX (json-c types values above INT64_MAX as
 * uint64; get_int64 clamps them to INT64_MAX). */
int mj_u64(json_object *o, const char *k, uint64_t *out);

/* The document of m without "checksum" (json-c object, the caller puts it), or NULL
 * with *rc set (-ENOMEM, -EINVAL). whole = 0 leaves out "key" and "mac" too: the body
 * of the MAC (manifest_mac_body). "format" is 2 when m->enc.on, else 1. */
json_object *manifest_build_doc(const manifest *m, int whole, int *rc);

/* manifest_enc.c: the encryption members. */
/* manifest_check's rules of m->enc: 0 or -EINVAL. */
int manifest_enc_check(const manifest *m);
/* Add "encryption" (and with whole, "key" and "mac") to doc when m->enc.on; the first
 * failure goes into *rc. */
void manifest_enc_build(json_object *doc, const manifest *m, int whole, int *rc);
/* Parse the members of a document of this format into m->enc (format 1: none of them
 * may be present). 0 or -EINVAL. */
int manifest_enc_parse(json_object *doc, int format, manifest *m);

/* manifest_labels.c: the labels member. */
/* manifest_check's rules of m->labels (valid, each key once, never empty): 0 or -EINVAL. */
int manifest_labels_check(const manifest *m);
/* Add "labels" to doc when m has labels; the first failure goes into *rc. */
void manifest_labels_build(json_object *doc, const manifest *m, int *rc);
/* Parse "labels" of a document of this format into m->labels. 0, -EINVAL or -ENOMEM. */
int manifest_labels_parse(json_object *doc, int format, manifest *m);

#endif
