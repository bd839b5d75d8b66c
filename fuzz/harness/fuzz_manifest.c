/* fuzz_manifest.c - libFuzzer harness: the manifest codec (agent/format/manifest.c).
 * Input: a mode byte, then a JSON document. With mode bit 0 set the harness first puts
 * the right checksum into the document (as a forger would), so that the fuzzer reaches
 * the member checks behind it. Round trip: a manifest that parses serialises, parses
 * back to the same struct, and serialises to the same bytes. */
#include "fuzz/harness/fuzz_util.h"
#include "agent/format/manifest.h"

#include <json-c/json.h>
#include <openssl/evp.h>

/* The document with "checksum" set to what manifest.c computes (the SHA-256 of the
 * plain serialisation without it); malloc'ed, or NULL if the text is no JSON object. */
static char *with_checksum(const char *text, size_t len, int pretty, size_t *outlen)
{
    json_tokener *tok = json_tokener_new();
    json_object *doc = tok ? json_tokener_parse_ex(tok, text, (int)len) : NULL;
    if (tok)
        json_tokener_free(tok);
    if (doc == NULL || !json_object_is_type(doc, json_type_object)) {
        json_object_put(doc);
        return NULL;
    }
    json_object_object_del(doc, "checksum");
    size_t n = 0;
    const char *plain = json_object_to_json_string_length(doc, JSON_C_TO_STRING_PLAIN, &n);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    char sum[8 + 64 + 1] = "sha256:";
    if (plain == NULL || !EVP_Digest(plain, n, md, &mdlen, EVP_sha256(), NULL)) {
        json_object_put(doc);
        return NULL;
    }
    for (unsigned i = 0; i < 32; i++)
        snprintf(sum + 7 + 2 * i, 3, "%02x", md[i]);
    json_object_object_add(doc, "checksum", json_object_new_string(sum));
    const char *s = json_object_to_json_string_length(
        doc, pretty ? JSON_C_TO_STRING_PRETTY : JSON_C_TO_STRING_PLAIN, &n);
    char *out = s ? strndup(s, n) : NULL;
    *outlen = n;
    json_object_put(doc);
    return out;
}

/* 1 if the strings are both NULL or equal. */
static int same_str(const char *a, const char *b)
{
    return (a == NULL || b == NULL) ? a == b : strcmp(a, b) == 0;
}

/* 1 if a and b hold the same manifest: the fixed fields bytewise (both were zeroed
 * before parsing, so their padding compares equal too), the owned keys and ETags (of
 * the data objects and the index) by content. */
static int same(const manifest *a, const manifest *b)
{
    manifest x = *a, y = *b;
    x.objects = y.objects = NULL;
    x.objects_cap = y.objects_cap = 0;
    x.index.key = y.index.key = x.index.etag = y.index.etag = NULL;
    if (memcmp(&x, &y, sizeof(x)) != 0 || !same_str(a->index.key, b->index.key) ||
        !same_str(a->index.etag, b->index.etag))
        return 0;
    for (size_t i = 0; i < a->nobjects; i++) {
        const manifest_object *ao = &a->objects[i], *bo = &b->objects[i];
        if (ao->size != bo->size || !same_str(ao->key, bo->key) ||
            !same_str(ao->etag, bo->etag))
            return 0;
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static manifest m, back;
    if (size < 1 || size > (1u << 20))
        return 0;
    int mode = data[0];
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    char *fixed = NULL;
    if (mode & 1) {
        if ((fixed = with_checksum(text, len, mode & 2, &len)) == NULL)
            return 0;
        text = fixed;
    }
    manifest_init(&m);
    if (manifest_from_json(text, len, &m) == 0) {
        char *j1 = NULL, *j2 = NULL;
        size_t l1 = 0, l2 = 0;
        int rc = manifest_to_json(&m, &j1, &l1);
        FUZZ_CHECK(rc == 0, "an accepted manifest does not serialise (%d)", rc);
        manifest_init(&back);
        rc = manifest_from_json(j1, l1, &back);
        FUZZ_CHECK(rc == 0, "the serialised manifest does not parse back (%d):\n%s", rc, j1);
        FUZZ_CHECK(same(&m, &back), "the manifest differs after the round trip:\n%s", j1);
        FUZZ_CHECK(manifest_to_json(&back, &j2, &l2) == 0 && l1 == l2 &&
                   memcmp(j1, j2, l1) == 0, "serialisation is not stable");
        free(j1);
        free(j2);
        manifest_clear(&back);
    }
    manifest_clear(&m);
    free(fixed);
    return 0;
}
