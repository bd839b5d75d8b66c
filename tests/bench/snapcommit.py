#!/usr/bin/env python3
"""snapcommit.py CONF POOL IMAGE [ROUNDS] - the median time, in ms, of creating one
snapshot of an image from a client already connected and with the image open: the
monitor commit that allocates the snapshot id plus the header update. No backup tool can
start reading an incremental's data before that, so tests/bench/run.sh reports it as the
fixed part of an incremental's time. The snapshot is removed again each round."""
import statistics
import sys
import time

import rados
import rbd


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    rounds = int(sys.argv[4]) if len(sys.argv) > 4 else 5
    cluster = rados.Rados(conffile=sys.argv[1])
    cluster.connect()
    ms = []
    try:
        ioctx = cluster.open_ioctx(sys.argv[2])
        with rbd.Image(ioctx, sys.argv[3]) as img:
            for _ in range(rounds):
                time.sleep(0.5)          # no monitor commit just before: not damped
                t0 = time.monotonic()
                img.create_snap("bench-snapcommit")
                ms.append((time.monotonic() - t0) * 1000)
                img.remove_snap("bench-snapcommit")
        ioctx.close()
    finally:
        cluster.shutdown()
    print("%.1f" % statistics.median(ms))


if __name__ == "__main__":
    main()
