/* fuzz_protectdoc.c - the protect object's parser (agent/format/protectdoc.c) and the
 * label list parser (agent/format/labels.c): an accepted protect object is written again
 * by the project's writer and reads back the same; an accepted label list printed back
 * parses to the same labels, each of which passes the syntax checks. */
#include "fuzz_util.h"

#include "agent/format/labels.h"
#include "agent/format/protectdoc.h"

static void labels_round_trip(const uint8_t *data, size_t size)
{
    char text[4096], back_text[4096];
    const char *why;
    labels_set set = { 0 }, back = { 0 };
    if (size >= sizeof(text) || memchr(data, '\0', size) != NULL)
        return;
    memcpy(text, data, size);
    text[size] = '\0';
    if (labels_add_list(&set, text, &why) != 0)
        return;
    for (size_t i = 0; i < set.n; i++)
        FUZZ_CHECK(labels_key_ok(set.kv[i].key) && labels_value_ok(set.kv[i].value),
                   "an accepted label is valid: %s", text);
    labels_str(&set, back_text, sizeof(back_text));
    FUZZ_CHECK(labels_add_list(&back, back_text, &why) == 0, "printed labels parse: %s",
               back_text);
    FUZZ_CHECK(back.n == set.n && memcmp(back.kv, set.kv, set.n * sizeof(set.kv[0])) == 0,
               "labels round trip: %s", back_text);
    FUZZ_CHECK(labels_match(&set, &back) && labels_match(&back, &set), "labels match");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    protectdoc d, back;
    const char *why;
    labels_round_trip(data, size);
    if (protectdoc_from_json((const char *)data, size, &d, &why) != 0)
        return 0;
    char *json = NULL;
    size_t len = 0;
    FUZZ_CHECK(protectdoc_to_json(&d, &json, &len) == 0, "an accepted object serialises");
    FUZZ_CHECK(protectdoc_from_json(json, len, &back, &why) == 0, "written object parses: %s",
               json);
    FUZZ_CHECK(strcmp(d.backup, back.backup) == 0 && d.since == back.since &&
               strcmp(d.reason, back.reason) == 0, "round trip: %s", json);
    free(json);
    return 0;
}
