/* test_prune_hold.c - what prune keeps beyond its policy (agent/command/prune/hold.c):
 * protected backups and their chains, --label selection, chains a kept backup needs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>
#include <string.h>

#include "agent/command/prune/prune.h"

#define N 6
/* F0 full, I1 I2 I3 incrementals on it, F4 full, I5 incremental on F4 (oldest first) */
static cat_entry e[N];
static catalog cat = { e, N, 0, NULL };
static labels_set prod, dev;

static void setup_catalog(void)
{
    const char *why;
    memset(e, 0, sizeof(e));
    memset(&prod, 0, sizeof(prod));
    memset(&dev, 0, sizeof(dev));
    labels_add(&prod, "env=prod", 1, &why);
    labels_add(&dev, "env=dev", 1, &why);
    for (int i = 0; i < N; i++) {
        snprintf(e[i].id, sizeof(e[i].id), "20261121T08300%dZ", i);
        snprintf(e[i].m.id, sizeof(e[i].m.id), "%s", e[i].id);
        e[i].m.full = i == 0 || i == 4;
        if (!e[i].m.full)
            snprintf(e[i].m.parent_id, sizeof(e[i].m.parent_id), "%s", e[i - 1].id);
        e[i].m.snap_time = 1795249800 + i * 60;
        e[i].m.labels = i == 2 || i == 5 ? &dev : &prod;   /* not owned: never cleared */
    }
}

static void items_of(ret_item *it)
{
    for (int i = 0; i < N; i++)
        it[i] = (ret_item){ e[i].m.snap_time, e[i].m.full ? -1 : i - 1, 0 };
}

static void test_protected_keeps_its_chain(void **state)
{
    (void)state;
    setup_catalog();
    ret_item it[N];
    unsigned char doomed[N], other[N];
    long by[N];
    protect_state prot[N];
    labels_set none = { 0 };
    memset(prot, 0, sizeof(prot));
    prot[2].on = 1;
    items_of(it);
    ret_policy p = { .last = 1 };
    assert_int_equal(prune_select(&p, &cat, 0, N, &none, it, doomed, other), 0);
    unsigned char want_sel[N] = { 1, 1, 1, 1, 0, 0 };
    assert_memory_equal(doomed, want_sel, N);
    prune_protect_hold(0, N, it, prot, doomed, by);
    unsigned char want[N] = { 0, 0, 0, 1, 0, 0 };   /* I3 alone goes */
    assert_memory_equal(doomed, want, N);
    assert_int_equal(by[0], 2);
    assert_int_equal(by[1], 2);
    assert_int_equal(by[2], -1);
    assert_int_equal(by[3], -1);
    assert_int_equal(by[4], -1);                    /* kept by the policy itself */
}

static void test_protected_newest_and_old_full(void **state)
{
    (void)state;
    setup_catalog();
    ret_item it[N];
    unsigned char doomed[N], other[N];
    long by[N];
    protect_state prot[N];
    labels_set none = { 0 };
    memset(prot, 0, sizeof(prot));
    prot[0].on = 1;                                  /* a full: nothing else needed */
    prot[3].on = 1;                                  /* its chain: F0 I1 I2 */
    items_of(it);
    ret_policy p = { .last = 1 };
    prune_select(&p, &cat, 0, N, &none, it, doomed, other);
    prune_protect_hold(0, N, it, prot, doomed, by);
    unsigned char want[N] = { 0, 0, 0, 0, 0, 0 };
    assert_memory_equal(doomed, want, N);
    assert_int_equal(by[2], 3);
    assert_int_equal(by[1], 3);
    assert_int_equal(by[0], 3);                      /* protected itself, and needed by I3 */
}

static void test_label_selection(void **state)
{
    (void)state;
    setup_catalog();
    ret_item it[N];
    unsigned char doomed[N], other[N];
    long by[N];
    protect_state prot[N];
    memset(prot, 0, sizeof(prot));
    items_of(it);
    /* env=prod: F0 I1 I3 F4 considered; keep-last 1 keeps F4; I2 (dev) stays and needs
     * F0 and I1; I3 (prod) needs I2, which is not considered: I3 goes, I2 stays */
    ret_policy p = { .last = 1 };
    assert_int_equal(prune_select(&p, &cat, 0, N, &prod, it, doomed, other), 0);
    unsigned char want_other[N] = { 0, 0, 1, 0, 0, 1 };
    assert_memory_equal(other, want_other, N);
    unsigned char want_sel[N] = { 1, 1, 0, 1, 0, 0 };
    assert_memory_equal(doomed, want_sel, N);
    prune_protect_hold(0, N, it, prot, doomed, by);
    unsigned char want[N] = { 0, 0, 0, 1, 0, 0 };
    assert_memory_equal(doomed, want, N);
    assert_int_equal(by[1], 2);                      /* needed by kept I2 */
    assert_int_equal(by[0], 2);
    /* I3 dev too; env=dev: I2, I3 and I5 considered, keep-last 1 keeps I5, and F4 (not
     * considered) stays for it; I2 and I3 go, their parents (not considered) stay */
    e[3].m.labels = &dev;
    items_of(it);
    prune_select(&p, &cat, 0, N, &dev, it, doomed, other);
    prune_protect_hold(0, N, it, prot, doomed, by);
    unsigned char want_dev[N] = { 0, 0, 1, 1, 0, 0 };
    assert_memory_equal(doomed, want_dev, N);
    assert_int_equal(by[4], -1);                     /* F4: not considered, not doomed */
}

static void test_label_keeps_child_parent(void **state)
{
    (void)state;
    setup_catalog();
    ret_item it[N];
    unsigned char doomed[N], other[N];
    long by[N];
    protect_state prot[N];
    memset(prot, 0, sizeof(prot));
    items_of(it);
    /* env=dev with I3 in it: keep-last 1 keeps I5; I2 is dropped, but I3 (prod, not
     * considered) needs I2: I2 stays, needed by I3 */
    e[3].m.labels = &prod;
    ret_policy p = { .last = 1 };
    prune_select(&p, &cat, 0, N, &dev, it, doomed, other);
    prune_protect_hold(0, N, it, prot, doomed, by);
    unsigned char want[N] = { 0, 0, 0, 0, 0, 0 };
    assert_memory_equal(doomed, want, N);
    assert_int_equal(by[2], 3);
}

/* The second image of a catalog, [4, 6): parents are relative to its first entry. */
static void test_parents_relative_to_from(void **state)
{
    (void)state;
    setup_catalog();
    ret_item it[N];
    unsigned char doomed[N] = { 0, 0, 0, 0, 1, 0 };
    long by[N];
    protect_state prot[N];
    memset(prot, 0, sizeof(prot));
    prot[5].on = 1;
    it[4] = (ret_item){ e[4].m.snap_time, -1, 0 };
    it[5] = (ret_item){ e[5].m.snap_time, 0, 0 };    /* F4, the first of the range */
    prune_protect_hold(4, N, it, prot, doomed, by);
    assert_int_equal(doomed[4], 0);                 /* kept: the parent of protected I5 */
    assert_int_equal(by[4], 5);
    assert_int_equal(by[5], -1);
    unsigned char sel[N], oth[N];
    labels_set none = { 0 };
    ret_policy p = { .last = 1 };
    assert_int_equal(prune_select(&p, &cat, 4, N, &none, it, sel, oth), 0);
    assert_int_equal(sel[4] + sel[5], 0);
    assert_int_equal(it[5].why & RET_LAST, RET_LAST);
    assert_int_equal(it[4].why & RET_CHAIN, RET_CHAIN);   /* its chain, found at from + 0 */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_protected_keeps_its_chain),
        cmocka_unit_test(test_protected_newest_and_old_full),
        cmocka_unit_test(test_label_selection),
        cmocka_unit_test(test_label_keeps_child_parent),
        cmocka_unit_test(test_parents_relative_to_from),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
