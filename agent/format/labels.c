/* labels.c - backup labels: syntax, sets, filters (pure). */
#include "agent/format/labels.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static int is_lower_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

int labels_key_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > LABELS_KEY_MAX || !is_lower_alnum(s[0]))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!is_lower_alnum(s[i]) && strchr("._-", s[i]) == NULL)
            return 0;
    return 1;
}

int labels_value_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > LABELS_VALUE_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!is_lower_alnum(c) && !(c >= 'A' && c <= 'Z') && strchr("._:/@+-", c) == NULL)
            return 0;
    }
    return 1;
}

/* Split kv[0..len) at its first '=' into key and value. */
static int split(const char *kv, size_t len, labels_kv *out, const char **why)
{
    const char *eq = memchr(kv, '=', len);
    if (eq == NULL) {
        *why = "a label is KEY=VALUE";
        return -EINVAL;
    }
    size_t kl = (size_t)(eq - kv), vl = len - kl - 1;
    if (kl > LABELS_KEY_MAX || vl > LABELS_VALUE_MAX) {
        *why = "label key at most 63, value at most 128 characters";
        return -EINVAL;
    }
    memcpy(out->key, kv, kl);
    out->key[kl] = '\0';
    memcpy(out->value, eq + 1, vl);
    out->value[vl] = '\0';
    if (!labels_key_ok(out->key)) {
        *why = "label key: 1 to 63 of a-z 0-9 . _ - (starting with a letter or digit)";
        return -EINVAL;
    }
    if (!labels_value_ok(out->value)) {
        *why = "label value: 1 to 128 of A-Z a-z 0-9 . _ : / @ + -";
        return -EINVAL;
    }
    return 0;
}

static int add_n(labels_set *set, const char *kv, size_t len, int unique, const char **why)
{
    labels_kv one;
    memset(&one, 0, sizeof(one));       /* a set is copied whole: no byte left unset */
    if (split(kv, len, &one, why) < 0)
        return -EINVAL;
    for (size_t i = 0; unique && i < set->n; i++)
        if (strcmp(set->kv[i].key, one.key) == 0) {
            *why = "a label key given twice";
            return -EINVAL;
        }
    if (set->n >= LABELS_MAX) {
        *why = "at most 16 labels";
        return -EINVAL;
    }
    set->kv[set->n++] = one;
    return 0;
}

int labels_add(labels_set *set, const char *kv, int unique, const char **why)
{
    return add_n(set, kv, strlen(kv), unique, why);
}

int labels_add_list(labels_set *set, const char *list, const char **why)
{
    const char *p = list;
    while (*p != '\0') {
        while (*p == ' ' || *p == '\t')
            p++;
        size_t len = strcspn(p, ",");
        size_t end = len;
        while (end > 0 && (p[end - 1] == ' ' || p[end - 1] == '\t'))
            end--;
        if (add_n(set, p, end, 1, why) < 0)
            return -EINVAL;
        p += len;
        if (*p == ',')
            p++;
    }
    return 0;
}

int labels_collect(int argc, char **argv, const char *name, int unique, labels_set *set,
                   const char **bad, const char **why)
{
    size_t nl = strlen(name);
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        if (strncmp(a, "--", 2) != 0 || strncmp(a + 2, name, nl) != 0)
            continue;
        if (a[2 + nl] == '=')
            v = a + 3 + nl;
        else if (a[2 + nl] == '\0' && i + 1 < argc)
            v = argv[++i];
        else
            continue;           /* another option, or no value (the parser says so) */
        *bad = v;
        if (labels_add(set, v, unique, why) < 0)
            return -EINVAL;
    }
    return 0;
}

int labels_match(const labels_set *have, const labels_set *filter)
{
    for (size_t f = 0; filter != NULL && f < filter->n; f++) {
        int found = 0;
        for (size_t i = 0; have != NULL && i < have->n && !found; i++)
            found = strcmp(have->kv[i].key, filter->kv[f].key) == 0 &&
                    strcmp(have->kv[i].value, filter->kv[f].value) == 0;
        if (!found)
            return 0;
    }
    return 1;
}

void labels_str(const labels_set *set, char *out, size_t outsz)
{
    size_t used = 0;
    if (outsz == 0)
        return;
    out[0] = '\0';
    for (size_t i = 0; set != NULL && i < set->n && used < outsz; i++) {
        int w = snprintf(out + used, outsz - used, "%s%s=%s", i ? "," : "", set->kv[i].key,
                         set->kv[i].value);
        if (w < 0)
            break;
        used += (size_t)w;
    }
}
