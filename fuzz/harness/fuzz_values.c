/* fuzz_values.c - libFuzzer harness: the value parsers (common/context.c, format/naming.c):
 * sizes, durations, image specs, escaped key parts, manifest keys, dates, backup ids.
 * Input: a selector byte, then the text (a NUL splits two texts where two are needed).
 * Round trips: a spec prints and parses back the same and its manifest key splits back
 * into it; an escaped part unescapes to itself; a manifest key that splits is the key
 * derived from its parts; a date or time printed back parses to the same value. */
#include "fuzz/harness/fuzz_util.h"
#include "agent/common/context.h"

#include <inttypes.h>

#define PREFIX "rbd2s3"
#define SOME_ID "20261121T083000Z"

static void check_spec(const char *s, int allow_at)
{
    naming_spec a, b;
    char text[3 * NAMING_MAX + 8], ip[4 * 3 * NAMING_MAX], key[4 * 3 * NAMING_MAX + 64];
    char id[NAMING_ID_LEN];
    if (naming_parse_spec(s, allow_at, &a) != 0)
        return;
    naming_spec_str(&a, text, sizeof(text));
    /* a part holding '@' or '/' cannot print back: only the others must */
    if (strchr(a.pool, '@') || strchr(a.ns, '@') || strchr(a.image, '@'))
        return;
    FUZZ_CHECK(naming_parse_spec(text, 0, &b) == 0, "'%s' prints as '%s', which is refused",
               s, text);
    FUZZ_CHECK(strcmp(a.pool, b.pool) == 0 && strcmp(a.ns, b.ns) == 0 &&
               strcmp(a.image, b.image) == 0, "'%s' prints as '%s', read differently", s, text);
    if (naming_image_prefix(PREFIX, &a, ip, sizeof(ip)) != 0 ||
        naming_manifest_key(ip, SOME_ID, key, sizeof(key)) != 0)
        return;
    FUZZ_CHECK(naming_parse_manifest_key(PREFIX, key, &b, id) == 0,
               "the manifest key '%s' of '%s' does not split", key, s);
    FUZZ_CHECK(strcmp(a.pool, b.pool) == 0 && strcmp(a.ns, b.ns) == 0 &&
               strcmp(a.image, b.image) == 0 && strcmp(id, SOME_ID) == 0,
               "the manifest key '%s' of '%s' splits into other parts", key, s);
}

static void check_escape(const char *s)
{
    char esc[3 * 1024 + 1], back[1024 + 1];
    if (strlen(s) > 1024)
        return;
    size_t n = naming_escape(s, esc, sizeof(esc));
    FUZZ_CHECK(n < sizeof(esc), "escape length %zu", n);
    for (size_t i = 0; esc[i] != '\0'; i++)
        FUZZ_CHECK(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-%",
                          esc[i]) != NULL, "escaped '%s' holds byte 0x%02x", esc,
                   (unsigned char)esc[i]);
    FUZZ_CHECK(naming_unescape(esc, back, sizeof(back)) == 0 && strcmp(back, s) == 0,
               "'%s' escapes to '%s', which does not unescape to it", s, esc);
}

/* A manifest key that splits must be exactly the key derived from what it split into. */
static void check_manifest_key(const char *prefix, const char *key)
{
    naming_spec spec;
    char id[NAMING_ID_LEN], ip[4 * 3 * NAMING_MAX], again[4 * 3 * NAMING_MAX + 64];
    if (naming_parse_manifest_key(prefix, key, &spec, id) != 0)
        return;
    FUZZ_CHECK(naming_is_backup_id(id), "'%s' splits with id '%s'", key, id);
    FUZZ_CHECK(naming_image_prefix(prefix, &spec, ip, sizeof(ip)) == 0 &&
               naming_manifest_key(ip, id, again, sizeof(again)) == 0,
               "'%s' splits into parts that give no key", key);
    FUZZ_CHECK(strcmp(again, key) == 0, "'%s' splits into parts whose key is '%s'", key, again);
}

static void check_date(const char *s)
{
    time_t t;
    char back[21];
    if (naming_parse_iso8601(s, &t) != 0)
        return;
    naming_iso8601(t, back);
    FUZZ_CHECK(strcmp(back, s) == 0, "'%s' parses, prints back as '%s'", s, back);
}

static void check_time(time_t t)
{
    char iso[21], id[NAMING_ID_LEN];
    time_t back;
    naming_iso8601(t, iso);
    /* before 1970 only the date round trip (check_date) is required: the fix of years
     * below 1000 may be to print them with 4 digits or to refuse them when reading */
    if (iso[0] != '\0' && t >= 0)
        FUZZ_CHECK(naming_parse_iso8601(iso, &back) == 0 && back == t,
                   "%lld prints as '%s', which does not parse back", (long long)t, iso);
    if (naming_backup_id(t, NULL, NULL, id) == 0)
        FUZZ_CHECK(naming_is_backup_id(id), "%lld gives backup id '%s'", (long long)t, id);
}

static void check_numbers(int which, const char *s)
{
    uint64_t v, w;
    long long d, e;
    char buf[64];
    if (which == 0 && ag_parse_size(s, &v) == 0) {
        snprintf(buf, sizeof(buf), "%" PRIu64, v);
        FUZZ_CHECK(ag_parse_size(buf, &w) == 0 && w == v, "size '%s' = %s", s, buf);
        ag_fmt_size(v, buf, sizeof(buf));
    }
    if (which == 1 && ag_parse_duration(s, &d) == 0) {
        FUZZ_CHECK(d >= 0, "duration '%s' is %lld", s, d);
        snprintf(buf, sizeof(buf), "%llds", d);
        FUZZ_CHECK(ag_parse_duration(buf, &e) == 0 && e == d, "duration '%s' = %s", s, buf);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 4096)
        return 0;
    fz_in in = { data + 1, size - 1 };
    char *a = fz_str(&in), *b = fz_str(&in);
    switch (data[0] % 8) {
    case 0: case 1: check_numbers(data[0] % 8, a); break;
    case 2: check_spec(a, data[0] & 8); break;
    case 3: check_escape(a); break;
    case 4: check_manifest_key(a, b); break;
    case 5: check_date(a); break;
    case 6: check_time((time_t)fz_uint(&(fz_in){ data + 1, size - 1 }, 8)); break;
    default: naming_is_backup_id(a); break;
    }
    free(a);
    free(b);
    return 0;
}
