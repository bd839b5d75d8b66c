#!/usr/bin/env python3
"""report.py - tables and summary for tests/bench/run.sh (informational only).

  report.py table   RESULTS SCENARIO      one scenario's table (1..6, onto, serve, instant,
                                          scale, thin, ratelimit)
  report.py summary RESULTS HEADER        the summary block (HEADER: text printed first)

RESULTS is the TSV run.sh writes, one timed run a line:
  scenario  row  round  elapsed_seconds  max_rss_kib  [tool_cpu_s  cluster_cpu_s]
(tool CPU: user + system of the command and its children; cluster CPU: what the
sandbox's monitors, OSDs and RGW used meanwhile; older files lack the two columns)
and lines "#info  key  value" for numbers the tables mention (sizes, bytes).
Nothing here passes or fails: targets are reported as "meets" / "misses".
"""
import statistics
import sys

ROW_TITLES = {
    "pipeline": "pipeline (rbd export-diff | lz4 | aws s3 cp)",
    "pipeline-restore": "pipeline (aws s3 cp | lz4 -d | rbd import-diff)",
    "pipeline-inc": "pipeline (rbd export-diff --from-snap | lz4 | aws s3 cp)",
    "pipeline-chain": "pipeline (6 x aws s3 cp | lz4 -d | rbd import-diff)",
    "rbd2s3": "rbd2s3",
    "rbd2s3-nochange": "rbd2s3 with nothing changed (before the change; no target)",
    "rbd2s3-newest": "rbd2s3 restore newest (full + 5 incrementals)",
    "rbd2s3-full": "rbd2s3 restore the full alone",
    "backup-small": "rbd2s3 backup --full, small image",
    "backup-large": "rbd2s3 backup --full, large image",
    "restore-small": "rbd2s3 restore, small image",
    "restore-large": "rbd2s3 restore, large image",
    "backup-plain": "rbd2s3 backup --full, plain",
    "backup-enc": "rbd2s3 backup --full, aes-256-gcm",
    "restore-plain": "rbd2s3 restore, plain",
    "restore-enc": "rbd2s3 restore, aes-256-gcm",
    "onto": "rbd2s3 restore --onto the standby (full -> 1% incremental)",
    "onto-full": "rbd2s3 restore of the incremental into a new image",
    "serve-qemu": "qemu-img convert http://(rbd2s3 serve)/IMG@ID.raw to a file",
    "serve-file": "rbd2s3 restore --to-file",
    "instant-usable": "rbd2s3 restore --instant --detach (until usable)",
    "instant-total": "  its background copy, until committed",
    "instant-full": "rbd2s3 restore into a new image",
    "loop": "script loop (snap create, export-diff --from-snap | lz4 | aws s3 cp, snap rm)",
    "run": "rbd2s3 run",
    "jobs": "rbd2s3 run --jobs 8",
    "full-small": "rbd2s3 backup --full, small image",
    "full-large": "rbd2s3 backup --full, thin large image",
    "nochange-small": "rbd2s3 backup with nothing changed, small image",
    "nochange-large": "rbd2s3 backup with nothing changed, thin large image",
    "rl-backup": "rbd2s3 backup --full --limit-upload",
    "rl-pipe-backup": "pipeline, aws s3 cp under s3.max_bandwidth",
    "rl-restore": "rbd2s3 restore --limit-download",
    "rl-pipe-restore": "pipeline restore, aws s3 cp under s3.max_bandwidth",
    "rl-backup-free": "rbd2s3 backup --full, no limit",
    "rl-restore-free": "rbd2s3 restore, no limit",
}

# the ratelimit group: each limited row, the bytes it moved (info key) and its direction
RL_ROWS = (("rl-backup", "rl_bytes_rbd2s3", "upload"),
           ("rl-pipe-backup", "rl_bytes_pipeline", "upload"),
           ("rl-restore", "rl_bytes_rbd2s3", "download"),
           ("rl-pipe-restore", "rl_bytes_pipeline", "download"))


def load(path):
    rows = {}      # (scen, row) -> {round: (el, rss)}
    cpu = {}       # (scen, row) -> {round: (tool_cpu, cluster_cpu)}
    order = {}     # scen -> [row, ...] in first-seen order
    info = {}
    with open(path) as f:
        for line in f:
            p = line.rstrip("\n").split("\t")
            if not p or not p[0]:
                continue
            if p[0] == "#info":
                info[p[1]] = p[2]
                continue
            scen, row, rnd, el, rss = p[0], p[1], int(p[2]), float(p[3]), int(p[4])
            rows.setdefault((scen, row), {})[rnd] = (el, rss)
            if len(p) >= 7:
                cpu.setdefault((scen, row), {})[rnd] = (float(p[5]), float(p[6]))
            order.setdefault(scen, [])
            if row not in order[scen]:
                order[scen].append(row)
    info["_cpu"] = cpu
    return rows, order, info


def med_cpu(info, scen, row):
    """(tool, cluster) CPU seconds, medians over the rounds, or None"""
    r = info["_cpu"].get((scen, row))
    if not r:
        return None
    return (statistics.median(v[0] for v in r.values()),
            statistics.median(v[1] for v in r.values()))


def cpu_notes(info, scen, ours, theirs):
    """CPU seconds of both tools and of the cluster behind them; the cluster's share is
    the same work for both (the same bytes read and stored), so it bounds the ratio."""
    a, b = med_cpu(info, scen, ours), med_cpu(info, scen, theirs)
    if a is None or b is None:
        return []
    n = ["CPU seconds (medians), the tool + Ceph and RGW daemons: rbd2s3 %.2f + %.2f = %.2f, "
         "pipeline %.2f + %.2f = %.2f; total ratio %s" % (
             a[0], a[1], a[0] + a[1], b[0], b[1], b[0] + b[1], fmt_ratio(ratio(a[0] + a[1], b[0] + b[1])))]
    return n


def med(rows, scen, row):
    r = rows.get((scen, row))
    return statistics.median(v[0] for v in r.values()) if r else None


def peak_rss(rows, scen, row):
    r = rows.get((scen, row))
    return max(v[1] for v in r.values()) if r else None


def med_rss(rows, scen, row):
    r = rows.get((scen, row))
    return statistics.median(v[1] for v in r.values()) if r else None


def mib(kib):
    return "%.0f MiB" % (kib / 1024.0)


def gib(b):
    return "%.2f GiB" % (int(b) / 2.0 ** 30)


def ratio(a, b):
    return a / b if a is not None and b else None


def fmt_ratio(x):
    return "n/a" if x is None else "%.2fx" % x


def verdict(ok):
    return "n/a" if ok is None else ("meets" if ok else "misses")


HEADINGS = {
    "1": "1. Full backup",
    "2": "2. Restore of that full backup (into the destination cluster)",
    "3": "3. Incremental backup after 1% of the image changed",
    "4": "4. Restore of the end of a chain (full + 5 incrementals, each rewriting the same quarter)",
    "5": "5. Peak RSS of rbd2s3 at default settings, small vs large image holding the same data",
    "6": "6. Cost of encryption: rbd2s3 full backup and restore, plain vs aes-256-gcm",
    "onto": "onto. Catch-up restore of a 1% change (restore --onto) vs a full restore",
    "serve": "serve. A backup read over HTTP by qemu-img convert vs restore --to-file",
    "instant": "instant. Time until the target is usable: restore --instant vs a full restore",
    "scale": "scale. Many small images, 1% changed: the script loop vs rbd2s3 run",
    "thin": "scale (thin). A huge thin image vs a small one holding the same data",
    "ratelimit": "ratelimit. Backup and restore under a bandwidth limit",
}


def table(rows, order, info, scen):
    out = []
    title = HEADINGS[scen]
    if scen in "1234" and "size" in info:
        title += " - %s image, %s written" % (gib(info["size"]), gib(info["written"]))
    if scen == "4" and "chain_size" in info:
        title = HEADINGS[scen] + " - %s image" % gib(info["chain_size"])
    for k in ("onto", "serve", "instant"):
        if scen == k and k + "_size" in info:
            title += " - %s image, %s written" % (gib(info[k + "_size"]), gib(info[k + "_written"]))
    if scen == "scale" and "scale_images" in info:
        title += " - %s images of %.0f MiB, %.0f MiB written in each, %.0f KiB changed" % (
            info["scale_images"], int(info["scale_size"]) / 2**20,
            int(info["scale_written"]) / 2**20, int(info.get("scale_changed", 0)) / 1024)
    if scen == "thin" and "thin_small" in info:
        title += " - %s and %s images, %s written in each" % (
            gib(info["thin_small"]), gib(info["thin_large"]), gib(info["thin_written"]))
    if scen == "ratelimit" and "rl_rate" in info:
        title += " - %.0f MiB of random data at %.0f MiB/s (%.2f MB/s)" % (
            int(info["rl_size"]) / 2**20, int(info["rl_rate"]) / 2**20, int(info["rl_rate"]) / 1e6)
    if scen == "6" and "enc_size" in info:
        title += " - %s image, %s written" % (gib(info["enc_size"]), gib(info["enc_written"]))
    if scen == "5" and "small_size" in info:
        title += " - %s and %s images, %s written in each" % (
            gib(info["small_size"]), gib(info["large_size"]), gib(info["rss_written"]))
    out.append("== %s ==" % title)
    names = order.get(scen, [])
    if not names:
        out.append("  (not run)")
        return "\n".join(out)
    rounds = sorted({r for n in names for r in rows[(scen, n)]})
    w = max(len(ROW_TITLES.get(n, n)) for n in names) + 2
    hdr = "  %-*s" % (w, "time" if scen == "5" else "") + "".join("%10s" % ("round %d" % r) for r in rounds)
    hdr += "%10s%14s" % ("median", "max RSS")
    out.append(hdr)
    for n in names:
        d = rows[(scen, n)]
        line = "  %-*s" % (w, ROW_TITLES.get(n, n))
        line += "".join("%10s" % ("%.2f s" % d[r][0] if r in d else "-") for r in rounds)
        line += "%10s%14s" % ("%.2f s" % med(rows, scen, n), mib(peak_rss(rows, scen, n)))
        out.append(line)
    if scen == "5":
        out.append("  %-*s" % (w, "max RSS") + "".join("%10s" % ("round %d" % r) for r in rounds)
                   + "%10s%14s" % ("median", "peak"))
        for n in names:
            d = rows[(scen, n)]
            out.append("  %-*s" % (w, ROW_TITLES.get(n, n)) +
                       "".join("%10s" % (mib(d[r][1]) if r in d else "-") for r in rounds) +
                       "%10s%14s" % (mib(med_rss(rows, scen, n)), mib(peak_rss(rows, scen, n))))
    out.extend("  " + l for l in scenario_notes(rows, info, scen))
    return "\n".join(out)


def floor_notes(rows, info):
    """What no tool can go below here: reading starts only once the snapshot exists (one
    monitor commit, measured alone), and the Ceph and RGW daemons' CPU for the incremental
    shares the machine's cores. Then the same with rbd2s3's own CPU on those cores: the
    time if the incremental kept every core busy, next to the time measured. Then the
    snapshot create plus the upload alone (upload_note), and the floors of rbd2s3's backup
    with nothing changed (nochange_notes)."""
    try:
        snap = float(info["snap_commit_ms"]) / 1000
        ncpu = int(info["ncpu"])
    except (KeyError, ValueError):
        return []
    c, full = med_cpu(info, "3", "rbd2s3"), med(rows, "1", "rbd2s3")
    if c is None or not full:
        return []
    bound = snap + c[1] / ncpu
    busy = snap + (c[0] + c[1]) / ncpu
    return ["floor on this machine: snapshot create %.0f ms + daemons' CPU %.2f s / %d cores "
            "= %.0f ms = %.1f%% of rbd2s3's full" % (snap * 1000, c[1], ncpu, bound * 1000,
                                                     100 * bound / full),
            "with rbd2s3's own CPU (%.2f s) on the same cores: %.0f ms = %.1f%% of its full; "
            "measured %.0f ms" % (c[0], busy * 1000, 100 * busy / full,
                                  1000 * med(rows, "3", "rbd2s3"))] + \
        upload_note(info, snap, full) + nochange_notes(rows, info, full, ncpu, c[1])


def upload_alone(info):
    """(seconds, bytes) of the independent client's upload of what the incremental
    stored, or None when not measured."""
    try:
        return float(info["upload_alone_ms"]) / 1000, int(info["stored_inc_rbd2s3"])
    except (KeyError, ValueError):
        return None


def upload_note(info, snap, full):
    """The snapshot create plus an independent client's upload, alone, of the bytes the
    incremental stored (curl, one PUT): no tool that stores those bytes ends sooner."""
    u = upload_alone(info)
    if u is None:
        return []
    up, stored = u
    return ["upload of the %.1f MiB it stored by curl alone (one PUT): %.0f ms; + snapshot "
            "create = %.0f ms = %.1f%% of rbd2s3's full" % (stored / 2**20, up * 1000,
                                                          (snap + up) * 1000,
                                                          100 * (snap + up) / full)]


def nochange_notes(rows, info, full, ncpu, d_inc):
    """Floors of rbd2s3's own incremental from its backup with nothing changed (the part
    that moves no data: process start, connect, snapshot, commit). Its data can be read
    only once the snapshot exists and must be stored before the commit, so neither the
    upload alone nor the daemons' CPU that the changed data added (the incremental's less
    the nothing-changed backup's: reading the image and storing the parts, the same work
    behind any tool), spread over every core, can overlap it."""
    fixed, c = med(rows, "3", "rbd2s3-nochange"), med_cpu(info, "3", "rbd2s3-nochange")
    if fixed is None or c is None:
        return []
    notes = []
    u = upload_alone(info)
    if u is not None:
        notes.append("rbd2s3 backup with nothing changed: %.0f ms; + that upload = %.0f ms = "
                     "%.1f%% of its full" % (fixed * 1000, (fixed + u[0]) * 1000,
                                            100 * (fixed + u[0]) / full))
    t = fixed + max(0.0, d_inc - c[1]) / ncpu
    notes.append("rbd2s3 backup with nothing changed + the daemons' CPU the data added "
                 "(%.2f - %.2f s) / %d cores = %.0f ms = %.1f%% of its full, with rbd2s3 "
                 "taking no CPU" % (d_inc, c[1], ncpu, t * 1000, 100 * t / full))
    return notes


def targets(rows, info):
    """[(scenario, target text, measured text, ok-or-None)]"""
    t = []
    r = ratio(med(rows, "1", "rbd2s3"), med(rows, "1", "pipeline"))
    t.append(("1", "full backup time <= 0.6x pipeline", fmt_ratio(r), None if r is None else r <= 0.6))
    r = ratio(med(rows, "2", "rbd2s3"), med(rows, "2", "pipeline-restore"))
    t.append(("2", "restore time <= 0.6x pipeline", fmt_ratio(r), None if r is None else r <= 0.6))
    r = ratio(med(rows, "3", "rbd2s3"), med(rows, "1", "rbd2s3"))
    t.append(("3", "1% incremental <= 5% of full backup time",
              "n/a" if r is None else "%.1f%%" % (100 * r), None if r is None else r <= 0.05))
    r = ratio(med(rows, "4", "rbd2s3-newest"), med(rows, "4", "rbd2s3-full"))
    t.append(("4", "restore of chain end <= 1.3x restore of full", fmt_ratio(r),
              None if r is None else r <= 1.3))
    for op in ("backup", "restore"):
        s, l = peak_rss(rows, "5", op + "-small"), peak_rss(rows, "5", op + "-large")
        for name, v in (("small", s), ("large", l)):
            size = info.get(name + "_size")
            t.append(("5", "peak RSS %s %s image < 256 MiB" % (op, gib(size) if size else name),
                      "n/a" if v is None else mib(v), None if v is None else v < 256 * 1024))
        # per-run peaks move ~10% from run to run whatever the size: compare the medians
        # of the rounds' peaks, as the times are; the largest peaks are shown beside them
        r = ratio(med_rss(rows, "5", op + "-large"), med_rss(rows, "5", op + "-small"))
        rp = ratio(l, s)
        t.append(("5", "peak RSS %s large/small within 10%%" % op,
                  "%s (largest: %s)" % (fmt_ratio(r), fmt_ratio(rp)),
                  None if r is None else 0.9 <= r <= 1.1))
    for op in ("backup", "restore"):
        r = enc_ratio(rows, op)
        t.append(("6", "encrypted %s <= 1.10x plain" % op, fmt_ratio(r),
                  None if r is None else r <= 1.10))
    r = ratio(med(rows, "onto", "onto"), med(rows, "onto", "onto-full"))
    t.append(("onto", "restore --onto of a 1% change <= 10% of a full restore",
              "n/a" if r is None else "%.1f%%" % (100 * r), None if r is None else r <= 0.10))
    r = ratio(med(rows, "serve", "serve-file"), med(rows, "serve", "serve-qemu"))
    t.append(("serve", "qemu-img convert from serve >= 0.8x restore --to-file throughput",
              fmt_ratio(r), None if r is None else r >= 0.8))
    u = med(rows, "instant", "instant-usable")
    t.append(("inst", "restore --instant usable in < 2 s", "n/a" if u is None else "%.2f s" % u,
              None if u is None else u < 2.0))
    return t + scale_targets(rows) + rl_targets(rows, info)


def rl_rate(rows, info, row, key):
    """The achieved rate of a row of the ratelimit group in bytes/s (the bytes over the
    median elapsed time), and its ratio to the limit; (None, None) when not run."""
    m = med(rows, "ratelimit", row)
    if m is None or key not in info or "rl_rate" not in info:
        return None, None
    rate = int(info[key]) / m
    return rate, rate / int(info["rl_rate"])


def rl_targets(rows, info):
    """rbd2s3's limited backup and restore within 10% of the limit."""
    t = []
    for row, key, way in RL_ROWS[0], RL_ROWS[2]:
        rate, r = rl_rate(rows, info, row, key)
        t.append(("rl", "%s rate within 10%% of --limit-%s" % (way, way),
                  "n/a" if r is None else "%.3fx" % r, None if r is None else 0.9 <= r <= 1.1))
    return t


def scale_targets(rows):
    """The scale group: run and run --jobs 8 against the script loop (medians); the thin
    large image against the small one, times and the medians of the rounds' peak RSS."""
    t = []
    for row, lim in (("run", 0.8), ("jobs", 0.2)):
        r = ratio(med(rows, "scale", row), med(rows, "scale", "loop"))
        t.append(("scal", "%s <= %.1fx the script loop" % (ROW_TITLES[row], lim), fmt_ratio(r),
                  None if r is None else r <= lim))
    for kind, what in (("full", "backup --full"), ("nochange", "backup, nothing changed")):
        r = ratio(med(rows, "thin", kind + "-large"), med(rows, "thin", kind + "-small"))
        t.append(("thin", "%s time large/small <= 1.2x" % what, fmt_ratio(r),
                  None if r is None else r <= 1.2))
        r = ratio(med_rss(rows, "thin", kind + "-large"), med_rss(rows, "thin", kind + "-small"))
        t.append(("thin", "%s peak RSS large/small within 10%%" % what, fmt_ratio(r),
                  None if r is None else 0.9 <= r <= 1.1))
    return t


def enc_ratio(rows, op):
    """Time of the encrypted backup or restore over the plain one (medians)."""
    return ratio(med(rows, "6", op + "-enc"), med(rows, "6", op + "-plain"))


def scenario_notes(rows, info, scen):
    n = []
    if scen == "1":
        r = ratio(med(rows, "1", "rbd2s3"), med(rows, "1", "pipeline"))
        n.append("ratio rbd2s3/pipeline (medians): %s" % fmt_ratio(r))
        if "stored_full_rbd2s3" in info:
            n.append("bytes in the bucket: pipeline %s, rbd2s3 %s" % (
                gib(info["stored_full_pipeline"]), gib(info["stored_full_rbd2s3"])))
        n.extend(cpu_notes(info, "1", "rbd2s3", "pipeline"))
        m = med(rows, "1", "rbd2s3")
        if m and "written" in info:
            n.append("rbd2s3 throughput: %.0f MiB/s of written data" % (int(info["written"]) / 2**20 / m))
    elif scen == "2":
        r = ratio(med(rows, "2", "rbd2s3"), med(rows, "2", "pipeline-restore"))
        n.append("ratio rbd2s3/pipeline (medians): %s" % fmt_ratio(r))
        n.extend(cpu_notes(info, "2", "rbd2s3", "pipeline-restore"))
    elif scen == "3":
        r = ratio(med(rows, "3", "rbd2s3"), med(rows, "3", "pipeline-inc"))
        n.append("ratio rbd2s3/pipeline (medians): %s" % fmt_ratio(r))
        n.extend(cpu_notes(info, "3", "rbd2s3", "pipeline-inc"))
        a = ratio(med(rows, "3", "rbd2s3"), med(rows, "1", "rbd2s3"))
        b = ratio(med(rows, "3", "pipeline-inc"), med(rows, "1", "pipeline"))
        n.append("incremental/full time: rbd2s3 %s, pipeline %s" % (
            "n/a" if a is None else "%.1f%%" % (100 * a), "n/a" if b is None else "%.1f%%" % (100 * b)))
        n.extend(floor_notes(rows, info))
        if "changed" in info:
            n.append("changed: %s in 64 KiB writes; bytes in the bucket: pipeline %.1f MiB, rbd2s3 %.1f MiB" % (
                "%.1f MiB" % (int(info["changed"]) / 2**20),
                int(info.get("stored_inc_pipeline", 0)) / 2**20,
                int(info.get("stored_inc_rbd2s3", 0)) / 2**20))
        if "osd_out_inc_rbd2s3" in info:
            n.append("bytes the source OSD sent during the incremental of round 1 (image reads, "
                     "and RGW's): rbd2s3 %.1f MiB, pipeline %s" % (
                         int(info["osd_out_inc_rbd2s3"]) / 2**20,
                         "%.1f MiB" % (int(info["osd_out_inc_pipeline"]) / 2**20)
                         if "osd_out_inc_pipeline" in info else "n/a"))
    elif scen == "4":
        r = ratio(med(rows, "4", "rbd2s3-newest"), med(rows, "4", "rbd2s3-full"))
        n.append("ratio rbd2s3 newest/full (medians): %s" % fmt_ratio(r))
        r = ratio(med(rows, "4", "rbd2s3-newest"), med(rows, "4", "pipeline-chain"))
        n.append("ratio rbd2s3 newest/pipeline chain (medians): %s" % fmt_ratio(r))
        n.append("(restores into the source cluster; pipeline chain: sum of its 6 steps, run after the rbd2s3 rounds; see README)")
    elif scen == "6":
        for op in ("backup", "restore"):
            a, b = med(rows, "6", op + "-enc"), med(rows, "6", op + "-plain")
            if a is None or b is None:
                continue
            line = "%s: aes-256-gcm %.2f s, plain %.2f s, ratio %s" % (
                op, a, b, fmt_ratio(enc_ratio(rows, op)))
            c, d = med_cpu(info, "6", op + "-enc"), med_cpu(info, "6", op + "-plain")
            if c is not None and d is not None:
                line += "; rbd2s3 CPU %.2f s vs %.2f s" % (c[0], d[0])
            n.append(line)
        if "stored_enc" in info:
            n.append("bytes in the bucket: plain %s, aes-256-gcm %s" % (
                gib(info["stored_plain"]), gib(info["stored_enc"])))
    elif scen == "onto":
        r = ratio(med(rows, "onto", "onto"), med(rows, "onto", "onto-full"))
        if r is not None:
            n.append("restore --onto / full restore (medians): %.1f%% (%.2f s vs %.2f s)" % (
                100 * r, med(rows, "onto", "onto"), med(rows, "onto", "onto-full")))
        if "onto_bytes_written" in info:
            n.append("restore --onto wrote %.1f MiB and discarded %.1f MiB (the change: %.1f MiB "
                     "in 64 KiB writes)" % (int(info["onto_bytes_written"]) / 2**20,
                                           int(info["onto_bytes_discarded"]) / 2**20,
                                           int(info.get("onto_changed", 0)) / 2**20))
    elif scen == "serve":
        r = ratio(med(rows, "serve", "serve-file"), med(rows, "serve", "serve-qemu"))
        if r is not None:
            n.append("throughput of qemu-img convert from serve / restore --to-file (medians): "
                     "%.2fx (%.2f s vs %.2f s)" % (r, med(rows, "serve", "serve-qemu"),
                                                    med(rows, "serve", "serve-file")))
    elif scen == "instant":
        u, f = med(rows, "instant", "instant-usable"), med(rows, "instant", "instant-full")
        if u is not None and f is not None:
            n.append("usable after %.2f s with --instant, %.2f s with a full restore (%.1f%%); "
                     "the background copy ended after %.2f s" % (
                         u, f, 100 * u / f, med(rows, "instant", "instant-total")))
    elif scen == "scale":
        lp = med(rows, "scale", "loop")
        for row in ("run", "jobs"):
            m = med(rows, "scale", row)
            n.append("%s / script loop (medians): %s (%s vs %s)" % (
                ROW_TITLES[row], fmt_ratio(ratio(m, lp)), "n/a" if m is None else "%.2f s" % m,
                "n/a" if lp is None else "%.2f s" % lp))
        k = med(rows, "scale", "run")
        if k is not None and "scale_images" in info:
            n.append("rbd2s3 run: %.2f s per image" % (k / int(info["scale_images"])))
    elif scen == "thin":
        for kind in ("full", "nochange"):
            s, l = med(rows, "thin", kind + "-small"), med(rows, "thin", kind + "-large")
            ms, ml = med_rss(rows, "thin", kind + "-small"), med_rss(rows, "thin", kind + "-large")
            if s and l:
                n.append("%s: large/small time %s (%.2f s vs %.2f s), peak RSS (median of the "
                         "rounds) %s (%s vs %s)" % (kind, fmt_ratio(l / s), l, s,
                                                     fmt_ratio(ml / ms), mib(ml), mib(ms)))
    elif scen == "ratelimit":
        for row, key, way in RL_ROWS:
            rate, r = rl_rate(rows, info, row, key)
            if r is not None:
                n.append("%s: %.1f MiB in %.2f s = %.2f MiB/s, %.3fx the limit" % (
                    ROW_TITLES[row], int(info[key]) / 2**20, med(rows, "ratelimit", row),
                    rate / 2**20, r))
        for row, key in (("rl-backup-free", "rl_bytes_rbd2s3"), ("rl-restore-free", "rl_bytes_rbd2s3")):
            m = med(rows, "ratelimit", row)
            if m and key in info:
                n.append("%s: %.2f MiB/s" % (ROW_TITLES[row], int(info[key]) / 2**20 / m))
    elif scen == "5":
        for op in ("backup", "restore"):
            s, l = peak_rss(rows, "5", op + "-small"), peak_rss(rows, "5", op + "-large")
            ms, ml = med_rss(rows, "5", op + "-small"), med_rss(rows, "5", op + "-large")
            if s and l:
                n.append("%s peak RSS, median of the rounds: small %s, large %s, large/small %s;"
                         " largest: %s, %s, %s" % (op, mib(ms), mib(ml), fmt_ratio(ml / ms),
                                                   mib(s), mib(l), fmt_ratio(l / s)))
    return n


def summary(rows, order, info, header):
    out = ["== Summary (informational: no pass/fail on speed) =="]
    out.extend(header.rstrip("\n").split("\n"))
    out.append("")
    t = targets(rows, info)
    w = max(len(x[1]) for x in t) + 2
    out.append("  %-4s %-*s %-12s %s" % ("#", w, "target", "measured", "result"))
    for scen, text, meas, ok in t:
        out.append("  %-4s %-*s %-12s %s" % (scen, w, text, meas, verdict(ok)))
    out.append("")
    out.append("  other numbers (medians):")
    for scen in list("123456") + ["onto", "serve", "instant", "scale", "thin", "ratelimit"]:
        for l in scenario_notes(rows, info, scen):
            if not l.startswith("("):
                out.append("    %s: %s" % (scen, l))
    if "checksums" in info:
        out.append("")
        out.append("  checksums: %s" % info["checksums"])
    return "\n".join(out)


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    rows, order, info = load(sys.argv[2])
    if sys.argv[1] == "table":
        print(table(rows, order, info, sys.argv[3]))
    elif sys.argv[1] == "summary":
        with open(sys.argv[3]) as f:
            print(summary(rows, order, info, f.read()))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
