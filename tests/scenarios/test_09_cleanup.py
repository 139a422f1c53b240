#!/usr/bin/python3
"""Scenario 9 — no process left behind.  Workers that start background
grandchildren (one of them in its own session) are all gone after: SIGTERM
to muster run (grace, then SIGKILL for workers that ignore SIGTERM); SIGKILL
to muster run itself (muster-exec notices its agent died and reaps the
worker's whole tree); SIGKILL or SIGTERM to musterd while a job runs (the
nodes do not hang: they give up after --connect-timeout and stop their
workers); a node of a 2-node gang killed or stopped (the survivor does not
hang either); SIGKILL to a pool muster-agent running a submitted job."""
import os
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import (MusterCase, ctl_call, main, tagged_pids,  # noqa: E402
                     worker_lines, zmq_available)

# Each worker: two background sleeps (one in a new session, out of reach of
# a process-group kill), says "ready" with its pid, then waits.
WORKER = ("sleep 100 & (setsid sleep 100 &) ; sleep 100 & "
          'echo "ready $$ $MUSTER_AGENT_ENDPOINT"; wait')
IGNORES_TERM = "trap '' TERM; " + WORKER


class Cleanup(MusterCase):
    def wait_ready(self, procs, nworkers):
        def ready():
            n = sum(sum(1 for ls in worker_lines(p.out, "worker").values()
                        for l in ls if l.startswith("ready ")) for p in procs)
            return n >= nworkers
        self.wait_for(ready, 30, "%d workers to be ready" % nworkers)
        # Forget the agents' ipc directories with the test (a SIGKILLed
        # agent cannot remove its own).
        for p in procs:
            for ls in worker_lines(p.out, "worker").values():
                for l in ls:
                    parts = l.split()
                    if len(parts) == 3 and parts[2].startswith("ipc://"):
                        self.extra_dirs.append(os.path.dirname(parts[2][6:]))
        pids = tagged_pids(self.tag)
        self.check("%d tagged processes are running (launcher, muster-exec, "
                   "workers, grandchildren)" % len(pids))
        return pids

    def test_sigterm_to_muster_run(self):
        p = self.muster_run(["--nproc-per-node", "2", "--grace", "3s", "--",
                             "sh", "-c", WORKER])
        self.wait_ready([p], 2)
        p.signal(signal.SIGTERM)
        rc = p.wait(30)
        self.check("SIGTERM: muster run exits 143")
        self.expect_eq(rc, 143, "exit status", p)
        self.assert_no_process_left(what="SIGTERM to muster run")

    def test_sigint_to_muster_run_term_ignored(self):
        p = self.muster_run(["--nproc-per-node", "2", "--grace", "1s", "--",
                             "sh", "-c", IGNORES_TERM])
        self.wait_ready([p], 2)
        p.signal(signal.SIGINT)
        rc = p.wait(30)
        self.check("SIGINT, workers ignoring SIGTERM: killed after the grace, "
                   "muster run exits 130")
        self.expect_eq(rc, 130, "exit status", p)
        self.assert_no_process_left(what="SIGINT to muster run")

    def test_sigkill_to_muster_run(self):
        p = self.muster_run(["--nproc-per-node", "2", "--", "sh", "-c", WORKER])
        self.wait_ready([p], 2)
        p.signal(signal.SIGKILL)
        rc = p.wait(30)
        self.check("muster run SIGKILLed (exit status %s)" % rc)
        self.expect_eq(rc, -signal.SIGKILL, "exit status", p)
        self.assert_no_process_left(
            what="SIGKILL to muster run (muster-exec must reap its workers)")

    def test_sigkill_to_musterd_during_job(self):
        self.coordinator_dies(signal.SIGKILL)

    def test_sigterm_to_musterd_during_job(self):
        self.coordinator_dies(signal.SIGTERM)

    def coordinator_dies(self, sig):
        d = self.musterd()
        nodes = [self.node(d, "k%d" % i, ["sh", "-c", WORKER], "2", 1, "orphaned",
                           extra=["--connect-timeout", "3s"]) for i in range(2)]
        self.wait_ready(nodes, 2)
        d.signal(sig)
        rc = d.wait(30)
        self.check("musterd ended by signal %d (exit status %s)" % (sig, rc))
        t0 = time.monotonic()
        for n in nodes:
            rc = n.wait(60)  # bound against a hang
            self.check("musterd gone: node %s ends by itself with exit 1 (after %.1f s)"
                       % (n.name, time.monotonic() - t0))
            self.expect_eq(rc, 1, "exit status of %s" % n.name, n)
            self.check("node %s names the coordinator it lost" % n.name)
            self.expect(d.agent_ep in n.err, "%s not in stderr" % d.agent_ep, n)
        self.assert_no_process_left(what="signal %d to musterd" % sig)

    def test_node_lost_from_running_gang(self):
        self.lose_a_node(signal.SIGKILL)

    def test_node_stopped_in_running_gang(self):
        self.lose_a_node(signal.SIGTERM)

    def lose_a_node(self, sig):
        """One node of a 2-node gang goes away; the survivor must not hang:
        it re-forms, finds nobody within --join-timeout and ends."""
        d = self.musterd()
        nodes = [self.node(d, "s%d" % i, ["sh", "-c", WORKER], "2", 2, "shrink",
                           extra=["--join-timeout", "5s", "--grace", "1s"])
                 for i in range(2)]
        self.wait_ready(nodes, 4)
        victim, survivor = nodes
        victim.signal(sig)
        rc = victim.wait(30)
        self.check("the node that got signal %d ends (exit status %s)" % (sig, rc))
        self.expect_eq(rc, -sig if sig == signal.SIGKILL else 128 + sig,
                       "exit status of %s" % victim.name, victim)
        t0 = time.monotonic()
        rc = survivor.wait(60)  # bound against a hang
        self.check("the survivor ends by itself, non-zero (exit %s after %.1f s)"
                   % (rc, time.monotonic() - t0))
        self.expect(rc != 0, "survivor exit status %s" % rc, survivor)
        self.check("the survivor says why (the gang could not re-form)")
        self.expect("rendezvous timed out" in survivor.err, "reason", survivor)
        self.check("musterd keeps serving")
        self.expect(d.running(), "musterd exited", d)
        self.assert_no_process_left(what="losing a node", allow=[d])

    def test_sigkill_to_pool_agent(self):
        why = zmq_available()
        if why:
            print("SKIPPED: cannot submit on the control port: " + why, flush=True)
            self.skipTest(why)
        d = self.musterd()
        a = self.agent(d, "pool0", 2)
        self.wait_for(lambda: (ctl_call(d.ctl_ep, {"t": "ctl.status"}) or {})
                      .get("nodes") == 1, 20, "the agent to register")
        job = {"id": "pooljob", "roles": [{"name": "worker", "min_nodes": 1,
                                           "max_nodes": 1, "nproc": 2}],
               "argv": ["sh", "-c", WORKER], "last_call_ms": 0}
        rep = ctl_call(d.ctl_ep, {"t": "ctl.submit", "job": job})
        self.expect(rep is not None and rep.get("status") == 0, "submit: %r" % (rep,), d)
        self.wait_ready([a], 2)
        a.signal(signal.SIGKILL)
        a.wait(10)
        self.check("muster-agent SIGKILLed while running a submitted job")
        self.assert_no_process_left(what="SIGKILL to muster-agent", allow=[d])
        self.check("musterd is still serving after losing the agent")
        self.expect(d.running(), "musterd exited", d)

    def test_stale_run_dirs_of_dead_agents_removed(self):
        import fcntl
        import socket
        tmpdir = os.path.join(self.tmp, "t")
        os.mkdir(tmpdir)
        def mkdir(name, lock=None, sock=None, old=False):
            d = os.path.join(tmpdir, name)
            os.mkdir(d)
            keep = []
            if lock is not None:
                f = open(os.path.join(d, "lock"), "w")
                if lock == "held":
                    fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    keep.append(f)
                else:
                    f.close()
            if sock is not None:
                s = socket.socket(socket.AF_UNIX)
                s.bind(os.path.join(d, "a.sock"))
                if sock == "listening":
                    s.listen(1)
                keep.append(s)
            if old:
                t = time.time() - 3600
                os.utime(d, (t, t))
            return d, keep
        # a SIGKILLed agent: its lock file is there, nobody holds it
        dead, k1 = mkdir("muster-dead01", lock="free", sock="bound")
        # an agent from before the lock, killed an hour ago
        legacy, k2 = mkdir("muster-dead02", sock="bound", old=True)
        # a live agent; and one caught between bind() and listen()
        live, k3 = mkdir("muster-live01", lock="held", sock="bound", old=True)
        young, k4 = mkdir("muster-live02", sock="bound")
        try:
            p = self.muster_run(["--quiet", "--", "true"],
                                env_extra={"TMPDIR": tmpdir})
            self.expect_eq(p.wait(), 0, "exit status", p)
            self.check("an agent removes the run directories of dead agents, "
                       "keeps live ones' (even before they listen), and "
                       "leaves none of its own")
            self.expect(not os.path.exists(dead), "dead agent's dir removed", p)
            self.expect(not os.path.exists(legacy),
                        "old lockless dead agent's dir removed", p)
            self.expect(os.path.exists(os.path.join(live, "a.sock")),
                        "live agent's socket kept", p)
            self.expect(os.path.exists(os.path.join(young, "a.sock")),
                        "starting agent's socket kept", p)
            self.expect_eq(sorted(os.listdir(tmpdir)),
                           ["muster-live01", "muster-live02"],
                           "what is left in TMPDIR", p)
        finally:
            for s in k1 + k2 + k3 + k4:
                s.close()

if __name__ == "__main__":
    main()
