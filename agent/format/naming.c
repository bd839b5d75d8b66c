/* naming.c - image specs, backup ids, escaped object keys and UTC dates. */
#include "agent/format/naming.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define MANIFEST_NAME "manifest.json"
#define CHECKPOINT_NAME "checkpoint.json"
#define HEAD_NAME "head.json"
#define BACKUP_ID_BASE 16          /* "YYYYMMDDTHHMMSSZ" */
#define BACKUP_ID_MAX_SUFFIX 99999

/* Copy n bytes of src into dst[dstsz] and terminate; -EINVAL if it does not fit. */
static int copy_part(char *dst, size_t dstsz, const char *src, size_t n)
{
    if (n == 0 || n >= dstsz)
        return -EINVAL;
    memcpy(dst, src, n);
    dst[n] = '\0';
    return 0;
}

int naming_parse_spec(const char *s, int allow_at, naming_spec *spec)
{
    memset(spec, 0, sizeof(*spec));
    if (s == NULL)
        return -EINVAL;
    const char *at = strchr(s, '@');
    size_t pathlen = at ? (size_t)(at - s) : strlen(s);
    int rc = 0;

    if (at != NULL) {
        if (!allow_at || strchr(at + 1, '@') != NULL)
            rc = -EINVAL;
        else
            rc = copy_part(spec->at, sizeof(spec->at), at + 1, strlen(at + 1));
    }

    const char *parts[3];
    size_t lens[3];
    size_t np = 0;
    const char *p = s;
    const char *end = s + pathlen;
    while (rc == 0) {
        const char *slash = memchr(p, '/', (size_t)(end - p));
        if (np == 3) {
            rc = -EINVAL;
            break;
        }
        parts[np] = p;
        lens[np] = slash ? (size_t)(slash - p) : (size_t)(end - p);
        np++;
        if (slash == NULL)
            break;
        p = slash + 1;
    }
    if (rc == 0 && np < 2)
        rc = -EINVAL;
    if (rc == 0)
        rc = copy_part(spec->pool, sizeof(spec->pool), parts[0], lens[0]);
    if (rc == 0 && np == 3)
        rc = copy_part(spec->ns, sizeof(spec->ns), parts[1], lens[1]);
    if (rc == 0)
        rc = copy_part(spec->image, sizeof(spec->image), parts[np - 1], lens[np - 1]);
    if (rc != 0)
        memset(spec, 0, sizeof(*spec));
    return rc;
}

void naming_spec_str(const naming_spec *spec, char *out, size_t outsz)
{
    if (spec->ns[0] != '\0')
        snprintf(out, outsz, "%s/%s/%s", spec->pool, spec->ns, spec->image);
    else
        snprintf(out, outsz, "%s/%s", spec->pool, spec->image);
}

/* t as "YYYYMMDDTHHMMSSZ" (iso = 0) or "YYYY-MM-DDTHH:MM:SSZ" (iso = 1) into
 * out[size], the year always with 4 digits; -EINVAL outside years 1970..9999. */
static int format_utc(time_t t, int iso, char *out, size_t size)
{
    struct tm tm;
    int n;
    if (t < 0 || gmtime_r(&t, &tm) == NULL || tm.tm_year > 9999 - 1900)
        return -EINVAL;
    if (iso)
        n = snprintf(out, size, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    else
        n = snprintf(out, size, "%04d%02d%02dT%02d%02d%02dZ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    return n < 0 || (size_t)n >= size ? -EINVAL : 0;
}

int naming_backup_id(time_t t, int (*taken)(const char *id, void *arg), void *arg,
                     char out[NAMING_ID_LEN])
{
    char base[NAMING_ID_LEN];
    int rc = format_utc(t, 0, base, sizeof(base));
    out[0] = '\0';
    if (rc != 0)
        return rc;
    memcpy(out, base, BACKUP_ID_BASE + 1);
    if (taken == NULL)
        return 0;
    for (unsigned n = 1; n <= BACKUP_ID_MAX_SUFFIX + 1; n++) {
        int r = taken(out, arg);
        if (r <= 0) {
            if (r < 0)
                out[0] = '\0';
            return r;
        }
        snprintf(out, NAMING_ID_LEN, "%.16s-%u", base, n);
    }
    out[0] = '\0';
    return -EEXIST;
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

int naming_is_backup_id(const char *s)
{
    static const char pattern[] = "DDDDDDDDTDDDDDDZ";
    size_t len = strlen(s);
    if (len < BACKUP_ID_BASE || len >= NAMING_ID_LEN)
        return 0;
    for (size_t i = 0; i < BACKUP_ID_BASE; i++) {
        if (pattern[i] == 'D' ? !is_digit(s[i]) : s[i] != pattern[i])
            return 0;
    }
    if (len == BACKUP_ID_BASE)
        return 1;
    /* "-N", N a decimal without leading zero */
    if (s[BACKUP_ID_BASE] != '-' || len == BACKUP_ID_BASE + 1 || s[BACKUP_ID_BASE + 1] == '0')
        return 0;
    for (size_t i = BACKUP_ID_BASE + 1; i < len; i++) {
        if (!is_digit(s[i]))
            return 0;
    }
    return 1;
}

static int is_plain(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || is_digit((char)c) ||
           c == '.' || c == '_' || c == '-';
}

/* "." and ".." are escaped whole (%2E): as key components, URL path normalisation
 * (curl, proxies) would collapse them. */
size_t naming_escape(const char *in, char *out, size_t outsz)
{
    static const char hex[] = "0123456789ABCDEF";
    int dots = strcmp(in, ".") == 0 || strcmp(in, "..") == 0;
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)in; *p != '\0'; p++) {
        char enc[3];
        size_t k;
        if (is_plain(*p) && !dots) {
            enc[0] = (char)*p;
            k = 1;
        } else {
            enc[0] = '%';
            enc[1] = hex[*p >> 4];
            enc[2] = hex[*p & 15];
            k = 3;
        }
        for (size_t i = 0; i < k; i++, n++) {
            if (n + 1 < outsz)
                out[n] = enc[i];
        }
    }
    if (outsz > 0)
        out[n < outsz ? n : outsz - 1] = '\0';
    return n;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

int naming_unescape(const char *in, char *out, size_t outsz)
{
    size_t n = 0;
    if (outsz == 0)
        return -EINVAL;
    for (const char *p = in; *p != '\0'; p++) {
        int c = (unsigned char)*p;
        if (c == '%') {
            int hi = hex_value(p[1]);
            int lo = hi < 0 ? -1 : hex_value(p[2]);
            if (lo < 0 || (hi == 0 && lo == 0))
                return -EINVAL;
            c = hi * 16 + lo;
            p += 2;
        }
        if (n + 1 >= outsz)
            return -EINVAL;
        out[n++] = (char)c;
    }
    out[n] = '\0';
    return 0;
}

/* Append s escaped, then sep (if not '\0'), at out[*pos]. */
static int append_escaped(char *out, size_t outsz, size_t *pos, const char *s, char sep)
{
    size_t need = naming_escape(s, out + *pos, outsz - *pos);
    if (need + 1 >= outsz - *pos)
        return -ENAMETOOLONG;
    *pos += need;
    if (sep != '\0') {
        out[(*pos)++] = sep;
        out[*pos] = '\0';
    }
    return 0;
}

int naming_image_prefix(const char *prefix, const naming_spec *spec, char *out, size_t outsz)
{
    size_t plen = prefix ? strlen(prefix) : 0;
    size_t pos = 0;
    int rc = 0;

    if (outsz == 0)
        return -ENAMETOOLONG;
    out[0] = '\0';
    if (spec->pool[0] == '\0' || spec->image[0] == '\0')
        return -EINVAL;
    while (plen > 0 && prefix[plen - 1] == '/')
        plen--;
    if (plen > 0) {
        if (plen + 1 >= outsz)
            return -ENAMETOOLONG;
        memcpy(out, prefix, plen);
        out[plen] = '/';
        out[plen + 1] = '\0';
        pos = plen + 1;
    }
    rc = append_escaped(out, outsz, &pos, spec->pool, '/');
    if (rc == 0 && spec->ns[0] != '\0')
        rc = append_escaped(out, outsz, &pos, spec->ns, '/');
    if (rc == 0)
        rc = append_escaped(out, outsz, &pos, spec->image, '/');
    if (rc != 0)
        out[0] = '\0';
    return rc;
}

/* "<image_prefix><id>/<leaf>" into out; -EINVAL for an empty id or one with '/'. */
static int backup_key(const char *image_prefix, const char *id, const char *leaf, char *out,
                      size_t outsz)
{
    if (id[0] == '\0' || strchr(id, '/') != NULL)
        return -EINVAL;
    int n = snprintf(out, outsz, "%s%s/%s", image_prefix, id, leaf);
    if (n < 0 || (size_t)n >= outsz) {
        if (outsz > 0)
            out[0] = '\0';
        return -ENAMETOOLONG;
    }
    return 0;
}

int naming_data_key(const char *image_prefix, const char *id, unsigned n, char *out,
                    size_t outsz)
{
    char leaf[32];
    snprintf(leaf, sizeof(leaf), "data.%u", n);
    return backup_key(image_prefix, id, leaf, out, outsz);
}

int naming_index_key(const char *image_prefix, const char *id, char *out, size_t outsz)
{
    return backup_key(image_prefix, id, "index", out, outsz);
}

int naming_checkpoint_key(const char *image_prefix, const char *id, int seg, char *out,
                          size_t outsz)
{
    char leaf[32];
    if (seg < 0)
        snprintf(leaf, sizeof(leaf), CHECKPOINT_NAME);
    else
        snprintf(leaf, sizeof(leaf), "checkpoint.%d", seg);
    return backup_key(image_prefix, id, leaf, out, outsz);
}

int naming_manifest_key(const char *image_prefix, const char *id, char *out, size_t outsz)
{
    return backup_key(image_prefix, id, MANIFEST_NAME, out, outsz);
}

int naming_head_key(const char *image_prefix, char *out, size_t outsz)
{
    size_t n = strlen(image_prefix);
    if (n == 0 || image_prefix[n - 1] != '/')
        return -EINVAL;
    int w = snprintf(out, outsz, "%s" HEAD_NAME, image_prefix);
    if (w < 0 || (size_t)w >= outsz) {
        if (outsz > 0)
            out[0] = '\0';
        return -ENAMETOOLONG;
    }
    return 0;
}

/* Unescape the component [p, p+n) into dst[dstsz]. */
static int unescape_part(const char *p, size_t n, char *dst, size_t dstsz)
{
    char tmp[NAMING_MAX * 3];
    if (n == 0 || n >= sizeof(tmp))
        return -EINVAL;
    memcpy(tmp, p, n);
    tmp[n] = '\0';
    return naming_unescape(tmp, dst, dstsz);
}

/* The kind of a leaf name of a backup folder, or NAMING_LEAF_NONE. */
static int leaf_kind(const char *leaf)
{
    if (strcmp(leaf, MANIFEST_NAME) == 0)
        return NAMING_LEAF_MANIFEST;
    if (strcmp(leaf, "index") == 0)
        return NAMING_LEAF_INDEX;
    if (strcmp(leaf, CHECKPOINT_NAME) == 0)
        return NAMING_LEAF_CHECKPOINT;
    int ck = strncmp(leaf, "checkpoint.", 11) == 0;
    if (strncmp(leaf, "data.", 5) != 0 && !ck)
        return NAMING_LEAF_NONE;
    const char *d = leaf + (ck ? 11 : 5);
    size_t n = strlen(d);
    if (n == 0 || n > 9 || (d[0] == '0' && n > 1))
        return NAMING_LEAF_NONE;
    for (size_t i = 0; i < n; i++)
        if (!is_digit(d[i]))
            return NAMING_LEAF_NONE;
    return ck ? NAMING_LEAF_CHECKPOINT : NAMING_LEAF_DATA;
}

/* Split rest = "pool[/ns]/image/id" (rlen bytes) into spec and id. */
static int split_folder(const char *p, size_t rest, naming_spec *spec, char id[NAMING_ID_LEN])
{
    const char *parts[4];
    size_t lens[4];
    size_t np = 0;
    const char *end = p + rest;
    for (const char *q = p;; ) {
        const char *slash = memchr(q, '/', (size_t)(end - q));
        if (np == 4)
            return -EINVAL;
        parts[np] = q;
        lens[np] = slash ? (size_t)(slash - q) : (size_t)(end - q);
        np++;
        if (slash == NULL)
            break;
        q = slash + 1;
    }
    if (np < 3 || lens[np - 1] == 0 || lens[np - 1] >= NAMING_ID_LEN)
        return -EINVAL;
    memcpy(id, parts[np - 1], lens[np - 1]);
    id[lens[np - 1]] = '\0';

    int rc = naming_is_backup_id(id) ? 0 : -EINVAL;
    if (rc == 0)
        rc = unescape_part(parts[0], lens[0], spec->pool, sizeof(spec->pool));
    if (rc == 0 && np == 4)
        rc = unescape_part(parts[1], lens[1], spec->ns, sizeof(spec->ns));
    if (rc == 0)
        rc = unescape_part(parts[np - 2], lens[np - 2], spec->image, sizeof(spec->image));
    return rc;
}

int naming_parse_object_key(const char *prefix, const char *key, naming_spec *spec,
                            char id[NAMING_ID_LEN], int *kind)
{
    size_t plen = prefix ? strlen(prefix) : 0;
    size_t klen = strlen(key);
    const char *p = key;

    memset(spec, 0, sizeof(*spec));
    id[0] = '\0';
    *kind = NAMING_LEAF_NONE;
    while (plen > 0 && prefix[plen - 1] == '/')
        plen--;
    if (plen > 0) {
        if (klen <= plen || memcmp(key, prefix, plen) != 0 || key[plen] != '/')
            return -EINVAL;
        p = key + plen + 1;
    }
    const char *leaf = strrchr(p, '/');
    int k = leaf != NULL ? leaf_kind(leaf + 1) : NAMING_LEAF_NONE;
    int rc = k != NAMING_LEAF_NONE ? split_folder(p, (size_t)(leaf - p), spec, id) : -EINVAL;

    /* Only canonical keys: rebuilding must give the same key back. */
    char again[NAMING_MAX * 12];
    if (rc == 0)
        rc = naming_image_prefix(prefix, spec, again, sizeof(again));
    if (rc == 0) {
        size_t ilen = strlen(again);
        if (snprintf(again + ilen, sizeof(again) - ilen, "%s%s", id, leaf) < 0 ||
            strcmp(again, key) != 0)
            rc = -EINVAL;
    }
    if (rc != 0) {
        memset(spec, 0, sizeof(*spec));
        id[0] = '\0';
        return rc;
    }
    *kind = k;
    return 0;
}

int naming_parse_manifest_key(const char *prefix, const char *key, naming_spec *spec,
                              char id[NAMING_ID_LEN])
{
    int kind;
    int rc = naming_parse_object_key(prefix, key, spec, id, &kind);
    if (rc == 0 && kind != NAMING_LEAF_MANIFEST) {
        memset(spec, 0, sizeof(*spec));
        id[0] = '\0';
        rc = -EINVAL;
    }
    return rc;
}

void naming_iso8601(time_t t, char out[21])
{
    if (format_utc(t, 1, out, 21) != 0)
        out[0] = '\0';
}

/* Parse n decimal digits at s. */
static int parse_digits(const char *s, int n, int *v)
{
    *v = 0;
    for (int i = 0; i < n; i++) {
        if (!is_digit(s[i]))
            return -EINVAL;
        *v = *v * 10 + (s[i] - '0');
    }
    return 0;
}

int naming_parse_iso8601(const char *s, time_t *t)
{
    static const char pattern[] = "DDDD-DD-DDTDD:DD:DDZ";
    int year, mon, day, hour, min, sec;

    if (strlen(s) != sizeof(pattern) - 1)
        return -EINVAL;
    for (size_t i = 0; i < sizeof(pattern) - 1; i++) {
        if (pattern[i] == 'D' ? !is_digit(s[i]) : s[i] != pattern[i])
            return -EINVAL;
    }
    parse_digits(s, 4, &year);
    parse_digits(s + 5, 2, &mon);
    parse_digits(s + 8, 2, &day);
    parse_digits(s + 11, 2, &hour);
    parse_digits(s + 14, 2, &min);
    parse_digits(s + 17, 2, &sec);
    if (year < 1970)
        return -EINVAL;             /* nothing rbd2s3 writes is older */

    struct tm tm = {0};
    tm.tm_year = year - 1900;
    tm.tm_mon = mon - 1;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_min = min;
    tm.tm_sec = sec;
    time_t v = timegm(&tm);

    /* timegm normalises (Feb 30 -> Mar 2): the fields must come back unchanged. */
    struct tm back;
    if (gmtime_r(&v, &back) == NULL || back.tm_year != year - 1900 || back.tm_mon != mon - 1 ||
        back.tm_mday != day || back.tm_hour != hour || back.tm_min != min || back.tm_sec != sec)
        return -EINVAL;
    *t = v;
    return 0;
}
