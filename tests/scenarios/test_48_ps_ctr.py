#!/usr/bin/python3
"""Scenario 48 — examples/ps_ctr: parameter servers whose hash buckets move
live.  Two servers and two workers train in in-place mode; a third PS node
joins mid-run (2 -> 3: the new server copies its buckets from the two
running ones, no checkpoint) and later leaves (3 -> 2: SIGTERM to its node,
which hands its buckets to the survivors before it exits).  The servers
that were there from the start keep their processes, training goes on, and
the final table has the row count and checksum of a fault-free run of the
same data (synchronous steps make the table independent of timing) and
reaches the AUC target.  A killed worker is replaced alone: the servers
keep their processes and their state, and the job succeeds.  A server
process that fails is replaced too, and the next plan moves its buckets to
the replacement marked lost (tests/ps_plan_probe.c prints the plans)."""
import os
import re
import signal
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import MusterCase, bin_path, main  # noqa: E402

NBUCKETS = "256"
STEPS = 600
AUC_TARGET = 0.70
TABLE = re.compile(r"table rows=(\d+) checksum=([0-9a-f]{16}) auc=([0-9.]+) "
                   r"oracle_auc=([0-9.]+) servers=(\d+) step=(\d+)")
STEP = re.compile(r"^\[worker 0\] step (\d+) loss", re.M)


class PsCtr(MusterCase):
    def node(self, d, job, role, name, args, max_ps=3):
        return self.muster_run(
            ["--rdzv-endpoint", d.rdzv, "--rdzv-id", job,
             "--roles", "worker=1x2,ps=2:%dx1" % max_ps, "--role", role,
             "--node-id", name, "--nbuckets", NBUCKETS,
             "--elastic-mode", "in-place", "--max-restarts", "2",
             "--last-call", "1s", "--grace", "20s",
             "--connect-timeout", "20s", "--",
             bin_path("ps_ctr"), "--steps", str(STEPS), *args], name=name)

    def job(self, d, job, args=(), max_ps=3):
        w = self.node(d, job, "worker", job + "-w", args, max_ps)
        ps = [self.node(d, job, "ps", "%s-ps%d" % (job, i), args, max_ps)
              for i in range(2)]
        return w, ps

    def table(self, w, *procs):
        m = TABLE.findall(w.out)
        self.expect_eq(len(m), 1, "one table line", w, *procs)
        rows, csum, auc, oracle, servers, step = m[0]
        return int(rows), csum, float(auc), float(oracle), int(servers)

    def last_step(self, w):
        s = STEP.findall(w.out)
        return int(s[-1]) if s else 0

    def server_pids(self, p):
        return set(re.findall(r"\] server \d+: pid (\d+)", p.out))

    def test_scale_servers_live(self):
        d = self.musterd()
        self.check("fault-free run with 2 servers")
        w, ps = self.job(d, "ref", ["--step-ms", "0"])
        for p in [w] + ps:
            self.expect_eq(p.wait(), 0, "exit status of " + p.name, w, *ps)
        rows, csum, auc, oracle, _ = self.table(w, *ps)
        self.check("reference: %d rows, checksum %s, AUC %.4f (hidden model "
                   "%.4f)" % (rows, csum, auc, oracle))
        self.expect(auc >= AUC_TARGET, "AUC %.4f >= %.2f" % (auc, AUC_TARGET), w)

        self.check("the same run, scaled 2 -> 3 -> 2 servers while it trains")
        w, ps = self.job(d, "live", ["--step-ms", "10"])
        self.wait_for(lambda: self.last_step(w) >= 40, 60,
                      "40 steps on 2 servers")
        third = self.node(d, "live", "ps", "live-ps2", ["--step-ms", "10"])
        self.wait_for(lambda: "migration to 3 servers done" in third.out, 60,
                      "the third server to receive its buckets")
        at3 = self.last_step(w)
        self.wait_for(lambda: self.last_step(w) >= at3 + 40, 60,
                      "40 more steps on 3 servers")
        self.check("SIGTERM to the third server's node: it leaves the job")
        third.signal(signal.SIGTERM)
        self.wait_for(lambda: all("migration to 2 servers done" in p.out
                                  for p in ps), 60,
                      "both servers to take the buckets back")
        third.wait()
        for p in [w] + ps:
            self.expect_eq(p.wait(), 0, "exit status of " + p.name, w, third, *ps)
        r2, c2, auc2, _, servers = self.table(w, third, *ps)
        self.check("live run: %d rows, checksum %s, AUC %.4f, %d servers at "
                   "the end" % (r2, c2, auc2, servers))
        self.expect_eq((r2, c2), (rows, csum),
                       "row count and checksum equal the fault-free run's",
                       w, third, *ps)
        self.expect(auc2 >= AUC_TARGET, "AUC %.4f >= %.2f" % (auc2, AUC_TARGET), w)
        self.expect_eq(servers, 2, "servers at the end", w)
        moved_in = re.findall(r"server 2: migration to 3 servers done at step "
                              r"\d+: (\d+) rows in", third.out)
        handed = re.findall(r"server 2: handed over (\d+) rows", third.out)
        self.expect(moved_in and int(moved_in[0]) > 0,
                    "the new server received rows live", third)
        self.expect(handed and sum(int(x) for x in handed) > 0
                    and "drained; exiting" in third.out,
                    "the leaving server handed its rows over, then exited", third)
        self.expect("worker 0: buckets moved" in w.out and
                    "3 -> 2 servers" in w.out and "2 -> 3 servers" in w.out,
                    "the workers switched maps both ways", w)
        for p in ps:
            self.expect_eq(len(re.findall(r"\] ps_ctr: server start", p.out)), 1,
                           "%s's server never restarted" % p.name, p)

    def test_worker_replaced_alone(self):
        d = self.musterd()
        w, ps = self.job(d, "wf", ["--step-ms", "5", "--crash-rank", "1",
                                   "--crash-at", "60"], max_ps=2)
        for p in [w] + ps:
            self.expect_eq(p.wait(), 0, "exit status of " + p.name, w, *ps)
        self.check("worker 1 crashed at step 60 and was replaced, resuming there")
        self.expect("worker 1: crashing at step 60" in w.out, "the crash", w)
        self.expect(re.search(r"worker 1: joined in epoch \d+, resuming at step 6\d",
                              w.out), "the replacement resumes at the servers' step", w)
        self.check("the servers kept their processes (started once each)")
        for p in ps:
            self.expect_eq(len(re.findall(r"\] ps_ctr: server start", p.out)), 1,
                           "%s's server started once" % p.name, p)
        rows, csum, auc, oracle, servers = self.table(w, *ps)
        self.check("finished: %d rows, AUC %.4f" % (rows, auc))
        self.expect(rows > 0 and auc >= AUC_TARGET, "AUC %.4f >= %.2f"
                    % (auc, AUC_TARGET), w)

    def test_failed_server_buckets_lost(self):
        """A PS process that fails takes its rows with it: the plan of the
        next epoch moves its buckets to its replacement marked lost (the
        replacement is a new process: a new identity), and the surviving
        server keeps its buckets (no move)."""
        d = self.musterd()
        nodes = [self.muster_run(
            ["--rdzv-endpoint", d.rdzv, "--rdzv-id", "lost", "--roles",
             "worker=1x1,ps=2x1", "--role", role, "--node-id", name,
             "--nbuckets", "8", "--elastic-mode", "in-place",
             "--max-restarts", "1", "--connect-timeout", "20s", "--",
             bin_path("ps_plan_probe"), "--crash-ps", "1"], name=name)
            for role, name in (("worker", "lost-w"), ("ps", "lost-ps0"),
                               ("ps", "lost-ps1"))]
        for p in nodes:
            self.expect_eq(p.wait(), 0, "exit status of " + p.name, *nodes)
        out = "".join(p.out for p in nodes)
        plans = re.findall(r"(\w+) (\d+): plan epoch (\d+) prev (\d+) servers "
                           r"(.*?) moves(.*)", out)
        self.check("epoch 1: two servers, no moves; epoch 2: server 1's "
                   "buckets [4,8) move from the failed process, lost")
        first = {(r, n) for r, n, e, pr, sv, mv in plans if e == "1"}
        self.expect_eq(first, {("worker", "0"), ("ps", "0"), ("ps", "1")},
                       "every member read the first plan", *nodes)
        for r, n, e, pr, sv, mv in plans:
            if e == "1":
                self.expect_eq((pr, sv, mv.strip()), ("0", "[0,4] [4,4]", ""),
                               "epoch 1 plan of %s %s" % (r, n), *nodes)
        later = [(r, n, pr, sv, mv.strip()) for r, n, e, pr, sv, mv in plans
                 if e != "1"]
        self.expect_eq(sorted(later),
                       sorted([(r, n, "1", "[0,4] [4,4]", "[4,4 -1 1 1 1]")
                               for r, n in (("worker", "0"), ("ps", "0"),
                                            ("ps", "1"))]),
                       "the next epoch's plan, seen by the survivors and the "
                       "replacement", *nodes)
        self.expect("ps 1: crashing" in out, "server 1 crashed", *nodes)


if __name__ == "__main__":
    main()
