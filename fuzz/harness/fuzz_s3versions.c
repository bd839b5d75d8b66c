/* fuzz_s3versions.c - libFuzzer harness: the ListVersionsResult parser (s3/versions.c).
 * Input: a response body. Checks: every entry reported has a key of 1..1024 bytes and a
 * version id of 1..1024 bytes; a delete marker has size 0 and no ETag; the markers of
 * the next page are the last entry's key and id (when an entry was reported); a callback
 * that stops the walk stops it at once. */
#include "fuzz/harness/fuzz_util.h"
#include "s3/s3_internal.h"

#include <libxml/parser.h>

typedef struct seen {
    size_t n, stop_at;
    char *key, *id;           /* the last entry's */
} seen;

static int on_version(const s3_version_info *v, void *arg)
{
    seen *s = arg;
    size_t kl = v->key ? strlen(v->key) : 0, il = v->version_id ? strlen(v->version_id) : 0;
    FUZZ_CHECK(kl >= 1 && kl <= 1024, "key of %zu bytes", kl);
    FUZZ_CHECK(il >= 1 && il <= 1024, "version id of %zu bytes", il);
    FUZZ_CHECK(v->etag != NULL, "no etag string");
    FUZZ_CHECK(!v->is_delete_marker || (v->size == 0 && v->etag[0] == '\0'),
               "a delete marker with a size or an ETag");
    free(s->key);
    free(s->id);
    s->key = strdup(v->key);
    s->id = strdup(v->version_id);
    s->n++;
    return s->stop_at && s->n == s->stop_at ? 5 : 0;
}

static void walk(const uint8_t *d, size_t n, size_t stop_at)
{
    seen s = { .stop_at = stop_at };
    s3_list_skip skip;
    char *nk = NULL, *ni = NULL;
    int truncated = 0, cb_rc = 0;
    int rc = s3_xml_versions_page(d, n, on_version, &s, &truncated, &nk, &ni, &cb_rc, &skip);
    if (rc == 0 && s.n > 0) {
        FUZZ_CHECK(nk != NULL && ni != NULL && !strcmp(nk, s.key) && !strcmp(ni, s.id),
                   "next markers are not the last entry's");
    }
    if (rc == 0 && stop_at)
        FUZZ_CHECK(s.n <= stop_at && (cb_rc == 5) == (s.n == stop_at), "stop");
    if (rc != 0)
        FUZZ_CHECK(nk == NULL && ni == NULL, "markers left on failure");
    free(nk);
    free(ni);
    free(s.key);
    free(s.id);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > (1u << 20))
        return 0;
    walk(data, size, 0);
    walk(data, size, 1);
    return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    xmlInitParser();
    s3_xml_silence();       /* as creating a client does */
    return 0;
}
