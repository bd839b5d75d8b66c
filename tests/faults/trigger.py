#!/usr/bin/env python3
"""trigger.py - run one rbd2s3 command and hit it with a fault at a chosen moment.

    trigger.py [options] -- CMD [ARG...]

CMD's stderr goes through this script, line by line, into --stderr FILE (so that its
`-v` lines and `RBD2S3_S3_TRACE=1` lines can trigger); its stdout goes straight to
--stdout FILE (default /dev/null). The fault fires once, at the first of:
  --match REGEX [--nth N]   the Nth stderr line that matches REGEX (Python re.search)
  --at SECONDS              that many seconds after the start
then waits --delay SECONDS and does --action:
  kill     SIGKILL                     term   SIGTERM (then --term-grace applies)
  int      SIGINT                      hook   run --hook CMD (bash -c) and go on
With --pause, CMD is stopped (SIGSTOP) while the hook runs and continued afterwards;
the hook finds CMD's pid in $TRIGGER_PID. --then-term SECONDS: that long after the
action, SIGTERM (as --action term).

Every run is bounded: if CMD still runs --guard SECONDS after the start (default 600),
it is a hang: SIGTERM, then SIGKILL after --term-grace SECONDS (default 30). A SIGTERM
sent by --action term that is not obeyed within --term-grace is a hang too.

The last stdout line is the outcome, space-separated key=value:
  rc=N (negative: killed by that signal) fired=0|1 fired_at=S elapsed=S hang=0|1
  term_to_exit=S (seconds from our SIGTERM to the exit, or -1) line="matched line"
"""
import argparse
import os
import re
import signal
import subprocess
import sys
import threading
import time


def parse():
    ap = argparse.ArgumentParser()
    ap.add_argument("--match")
    ap.add_argument("--nth", type=int, default=1)
    ap.add_argument("--at", type=float)
    ap.add_argument("--delay", type=float, default=0.0)
    ap.add_argument("--action", choices=["kill", "term", "int", "hook"], default="kill")
    ap.add_argument("--hook")
    ap.add_argument("--pause", action="store_true")
    ap.add_argument("--then-term", type=float)
    ap.add_argument("--guard", type=float, default=600.0)
    ap.add_argument("--term-grace", type=float, default=30.0)
    ap.add_argument("--stderr", default="/dev/null")
    ap.add_argument("--stdout", default="/dev/null")
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    if a.cmd and a.cmd[0] == "--":
        a.cmd = a.cmd[1:]
    if not a.cmd:
        ap.error("no command")
    if a.action == "hook" and not a.hook:
        ap.error("--action hook needs --hook")
    return a


class Run:
    def __init__(self, a):
        self.a = a
        self.t0 = time.monotonic()
        self.fire = threading.Event()
        self.fired_at = -1.0
        self.line = ""
        self.term_sent = None
        self.hang = False
        out = open(a.stdout, "wb")
        self.proc = subprocess.Popen(a.cmd, stdin=subprocess.DEVNULL, stdout=out,
                                     stderr=subprocess.PIPE)
        out.close()

    def now(self):
        return time.monotonic() - self.t0

    def read_stderr(self):
        rx = re.compile(self.a.match) if self.a.match else None
        seen = 0
        with open(self.a.stderr, "wb") as log:
            for raw in self.proc.stderr:
                log.write(raw)
                log.flush()
                if rx is None or self.fire.is_set():
                    continue
                text = raw.decode("utf-8", "replace").rstrip("\n")
                if rx.search(text):
                    seen += 1
                    if seen == self.a.nth:
                        self.line = text
                        self.fire.set()

    def signal(self, sig):
        try:
            self.proc.send_signal(sig)
        except ProcessLookupError:
            pass

    def act(self):
        a = self.a
        if a.delay > 0:
            time.sleep(a.delay)
        if self.proc.poll() is not None:
            return
        self.fired_at = self.now()
        if a.action == "kill":
            self.signal(signal.SIGKILL)
        elif a.action == "int":
            self.signal(signal.SIGINT)
        elif a.action == "term":
            self.term_sent = self.now()
            self.signal(signal.SIGTERM)
        else:
            if a.pause:
                self.signal(signal.SIGSTOP)
            env = dict(os.environ, TRIGGER_PID=str(self.proc.pid))
            subprocess.run(["bash", "-c", a.hook], stdin=subprocess.DEVNULL, env=env)
            if a.pause:
                self.signal(signal.SIGCONT)
        if a.then_term is not None:
            time.sleep(a.then_term)
            if self.proc.poll() is None:
                self.term_sent = self.now()
                self.signal(signal.SIGTERM)

    def wait_for_trigger(self):
        """Fire at the match or at --at; stop waiting when the command ends."""
        while self.proc.poll() is None:
            left = None if self.a.at is None else self.a.at - self.now()
            if left is not None and left <= 0:
                self.line = "at %.3fs" % self.a.at
                break
            if self.fire.wait(0.01 if left is None else min(0.01, left)):
                break
            if self.now() > self.a.guard:
                return False
        if self.proc.poll() is not None:
            return False
        return True

    def bounded_wait(self):
        """Wait for the exit within the guard (and a sent SIGTERM within its grace)."""
        a = self.a
        while True:
            try:
                return self.proc.wait(timeout=0.05)
            except subprocess.TimeoutExpired:
                pass
            t = self.now()
            if self.term_sent is not None and t - self.term_sent > a.term_grace:
                self.hang = True
                self.signal(signal.SIGKILL)
                return self.proc.wait()
            if self.term_sent is None and t > a.guard:
                self.hang = True
                self.term_sent = t
                self.signal(signal.SIGTERM)


def main():
    a = parse()
    r = Run(a)
    reader = threading.Thread(target=r.read_stderr, daemon=True)
    reader.start()
    if (a.match or a.at is not None) and r.wait_for_trigger():
        r.act()
    rc = r.bounded_wait()
    elapsed = r.now()
    reader.join(5)
    tte = -1.0
    if r.term_sent is not None:
        tte = elapsed - r.term_sent
    line = r.line.replace('"', "'")
    print('rc=%d fired=%d fired_at=%.3f elapsed=%.3f hang=%d term_to_exit=%.3f line="%s"'
          % (rc, 1 if r.fired_at >= 0 else 0, r.fired_at, elapsed, 1 if r.hang else 0,
             tte, line))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    os.environ.setdefault("LC_ALL", "C")
    sys.exit(main())
