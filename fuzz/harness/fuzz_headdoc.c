/* fuzz_headdoc.c - the head object's parser (agent/format/headdoc.c): a document it
 * accepts is MAC'ed and written again by the project's writer, and that reads back to
 * the same fields with a MAC that authenticates under the same key only. */
#include "fuzz_util.h"

#include "agent/format/headdoc.h"

static int same(const headdoc *a, const headdoc *b)
{
    return strcmp(a->pool, b->pool) == 0 && strcmp(a->ns, b->ns) == 0 &&
           strcmp(a->image, b->image) == 0 && strcmp(a->image_id, b->image_id) == 0 &&
           strcmp(a->newest, b->newest) == 0 && strcmp(a->key_id, b->key_id) == 0 &&
           memcmp(a->newest_mac, b->newest_mac, SEAL_MAC_LEN) == 0 &&
           memcmp(a->mac, b->mac, SEAL_MAC_LEN) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static seal_key mk, other;
    static int ready;
    if (!ready) {
        uint8_t b[SEAL_KEY_LEN];
        memset(b, 0x5a, sizeof(b));
        FUZZ_CHECK(seal_master_init(&mk, b) == 0, "master key");
        b[0] ^= 1;
        FUZZ_CHECK(seal_master_init(&other, b) == 0, "master key");
        ready = 1;
    }
    headdoc h, back;
    if (headdoc_from_json((const char *)data, size, &h) != 0)
        return 0;
    char *json = NULL;
    size_t len = 0;
    FUZZ_CHECK(headdoc_to_json(&h, &mk, &json, &len) == 0, "an accepted head serialises");
    FUZZ_CHECK(headdoc_from_json(json, len, &back) == 0, "written head parses: %s", json);
    FUZZ_CHECK(same(&h, &back), "round trip: %s", json);
    FUZZ_CHECK(headdoc_mac_ok(&back, &mk) == 1, "MAC authenticates: %s", json);
    FUZZ_CHECK(headdoc_mac_ok(&back, &other) == 0, "MAC under another key: %s", json);
    free(json);
    return 0;
}
