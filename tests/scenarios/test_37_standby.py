#!/usr/bin/python3
"""Scenario 37 — a standby musterd: it follows the primary's journal over
ZeroMQ (--standby-of the primary's --standby-bind, with a copy of the
primary's server key), and when the primary is killed with SIGKILL it takes
over under the next fencing term; the agents (muster run --standby) rotate
to it and the running job goes on in its epoch with no worker restarted and
the right checksum.  A primary that was only stopped (SIGSTOP) and wakes
after the takeover does not act: it is told the higher term and steps
down.  A standby whose primary never answers waits, saying so, and never
takes over; one without the server key is refused naming the file."""
import os
import re
import shutil
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import MusterCase, bin_path, free_port, main  # noqa: E402

STEPS = 900


def starts(text):
    """{(epoch, rank): pid} from ckpt_train's start lines."""
    return {(int(m.group(3)), int(m.group(1))): int(m.group(2))
            for m in re.finditer(r"\] rank (\d+) pid (\d+) epoch (\d+) world (\d+)", text)}


def checksums(text):
    return re.findall(r"done at step %d checksum ([0-9a-f]+)" % STEPS, text)


def read_endpoints(path):
    eps = {}
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                parts = line.split()
                if len(parts) == 2:
                    eps[parts[0]] = parts[1]
    return eps


class Standby(MusterCase):
    def primary(self):
        d = self.musterd(name="primary", extra=[
            "--heartbeat", "100ms", "--standby-bind", "tcp://127.0.0.1:0"])
        d.standby_ep = read_endpoints(d.endpoints_file).get("standby")
        self.expect(d.standby_ep is not None,
                    "the primary lists its standby endpoint", d)
        return d

    def standby(self, d, copy_keys=True, primary_ep=None, extra=()):
        """A standby musterd of primary d on a fixed agent port (the nodes
        name it before it serves)."""
        sdir = os.path.join(self.tmp, "standby.state")
        os.makedirs(sdir, mode=0o711, exist_ok=True)
        if copy_keys:
            for f in ("server.key", "server.key_secret"):
                shutil.copy2(os.path.join(d.state_dir, f), os.path.join(sdir, f))
            auth = os.path.join(d.state_dir, "authorized")
            if os.path.isdir(auth):
                shutil.copytree(auth, os.path.join(sdir, "authorized"),
                                dirs_exist_ok=True)
        port = free_port()
        s = self.start("standby", [
            bin_path("musterd"), "--standby-of", primary_ep or d.standby_ep,
            "--agent-bind", "tcp://127.0.0.1:%d" % port,
            "--ctl-bind", "tcp://127.0.0.1:0", "--state-dir", sdir,
            "--endpoints-file", os.path.join(self.tmp, "standby.endpoints"),
            "--heartbeat", "100ms"] + list(extra))
        s.agent_port = port
        s.state_dir = sdir
        s.endpoints_file = os.path.join(self.tmp, "standby.endpoints")
        return s

    def reference(self):
        """The checksum of an uninterrupted run of the same training."""
        p = self.muster_run(["--nproc-per-node", "1", "--",
                             bin_path("ckpt_train"), "--steps", str(STEPS),
                             "--step-ms", "0"], name="reference")
        self.expect_eq(p.wait(), 0, "the reference run", p)
        sums = checksums(p.out)
        self.expect_eq(len(sums), 1, "the reference run's checksum line", p)
        return sums[0]

    def job(self, d, s, tag):
        ck = os.path.join(self.tmp, "ck-" + tag)
        train = [bin_path("ckpt_train"), "--steps", str(STEPS), "--step-ms", "5"]
        extra = ["--ckpt-dir", ck, "--ckpt-every", "300ms",
                 "--standby", "127.0.0.1:%d" % s.agent_port]
        n1 = self.node(d, "n1", train, 2, 1, tag, extra=extra)
        n2 = self.node(d, "n2", train, 2, 1, tag, extra=extra)
        self.wait_for(lambda: len(starts(n1.out + n2.out)) == 2, 30,
                      "both ranks to start")
        self.wait_for(lambda: "CKPT-COMMITTED" in d.err, 30,
                      "a checkpoint to commit")
        return n1, n2

    def finishes_unrestarted(self, n1, n2, before, want, s):
        self.expect_eq(n1.wait(), 0, "node 1 exit status", n1, s)
        self.expect_eq(n2.wait(), 0, "node 2 exit status", n2, s)
        self.check("no worker started again: same pids, epoch 1 only, nothing "
                   "restored from a checkpoint; the right checksum")
        self.expect_eq(starts(n1.out + n2.out), before,
                       "worker starts (epoch, rank) -> pid", n1, n2)
        self.expect("restored step" not in n1.out + n2.out,
                    "no rank rolled back to a checkpoint", n1, n2)
        self.expect_eq(checksums(n1.out + n2.out), [want, want],
                       "both ranks end with the uninterrupted run's checksum",
                       n1, n2)

    def test_kill9_standby_takes_over(self):
        want = self.reference()
        d = self.primary()
        s = self.standby(d)
        self.wait_for(lambda: "STANDBY-SYNCED" in s.err, 30,
                      "the standby to sync with the primary")
        n1, n2 = self.job(d, s, "long")
        before = starts(n1.out + n2.out)
        self.check("kill -9 the primary mid-training: the standby takes over")
        d.kill()
        self.wait_for(lambda: "TAKEOVER" in s.err, 30, "the standby to take over")
        self.expect(re.search(r"taking over as term 2\b", s.err),
                    "the standby serves under term 2", s)
        with open(os.path.join(s.state_dir, "term")) as f:
            self.expect_eq(f.read().strip(), "2", "the term stored durably", s)
        self.wait_for(lambda: "JOB-CONTINUES" in s.err, 30,
                      "both nodes to register with the standby", interval=0.1)
        self.expect("JOB-RESTORED job long epoch 1" in s.err,
                    "the standby restored the job in epoch 1", s)
        self.expect("COORD-SWITCH" in n1.err and "COORD-SWITCH" in n2.err,
                    "both agents moved to the standby", n1, n2)
        eps = read_endpoints(s.endpoints_file)
        st = self.run_muster(["status", "--endpoint", eps["ctl-local"]])
        self.expect(re.search(r"^long\s.*running", st.out, re.M),
                    "the standby lists the running job:\n" + st.out, s)
        self.finishes_unrestarted(n1, n2, before, want, s)

    def test_sigstop_old_primary_steps_down(self):
        want = self.reference()
        d = self.primary()
        s = self.standby(d)
        self.wait_for(lambda: "STANDBY-SYNCED" in s.err, 30,
                      "the standby to sync with the primary")
        n1, n2 = self.job(d, s, "stalled")
        before = starts(n1.out + n2.out)
        self.check("SIGSTOP the primary until the standby has taken over and "
                   "the nodes are back; then SIGCONT")
        d.signal(signal.SIGSTOP)
        try:
            self.wait_for(lambda: "JOB-CONTINUES" in s.err, 30,
                          "both nodes to register with the standby",
                          interval=0.1)
        finally:
            d.signal(signal.SIGCONT)
        self.check("the old primary hears of term 2 and steps down without "
                   "acting")
        rc = d.wait(20)
        self.expect_eq(rc, 3, "the old primary's exit status", d)
        self.expect(re.search(r"STEP-DOWN a coordinator of term 2 took over "
                              r"\(this one is term 1; told by ", d.err),
                    "the old primary says why it stepped down", d)
        self.finishes_unrestarted(n1, n2, before, want, s)

    def test_lower_term_refused(self):
        d = self.primary()
        s = self.standby(d)
        self.wait_for(lambda: "STANDBY-SYNCED" in s.err, 30,
                      "the standby to sync with the primary")
        ck = os.path.join(self.tmp, "ck-t")
        train = [bin_path("ckpt_train"), "--steps", "100000", "--step-ms", "5"]
        extra = ["--ckpt-dir", ck, "--standby", "127.0.0.1:%d" % s.agent_port]
        n1 = self.node(d, "n1", train, 2, 1, "terms", extra=extra)
        n2 = self.node(d, "n2", train, 2, 1, "terms", extra=extra)
        self.wait_for(lambda: len(starts(n1.out + n2.out)) == 2, 30,
                      "both ranks to start")
        port = d.agent_port
        d.kill()
        self.wait_for(lambda: "JOB-CONTINUES" in s.err, 30,
                      "both nodes to register with the standby (term 2)",
                      interval=0.1)
        self.check("kill the new primary (term 2) and start the old one again "
                   "on its state directory (term 1): the agents, rotating "
                   "back to it, register saying term 2, and it steps down")
        s.kill()
        old = self.musterd(name="primary", state_dir=d.state_dir,
                           agent_bind="tcp://127.0.0.1:%d" % port,
                           extra=["--heartbeat", "100ms"])
        self.expect_eq(old.wait(30), 3, "the term-1 coordinator's exit status",
                       old, n1, n2)
        self.expect(re.search(r"STEP-DOWN a coordinator of term 2 took over "
                              r"\(this one is term 1; told by agent\.register "
                              r"of node\)", old.err),
                    "it says why it stepped down", old)
        self.expect("NODE-RECONCILED" not in old.err
                    and "JOB-RECOVER" not in old.err,
                    "it took no node back and decided nothing", old)
        self.expect_eq(len(starts(n1.out + n2.out)), 2,
                       "no worker was started again", n1, n2)
        self.expect(n1.running() and n2.running(),
                    "both nodes still run their epoch-1 workers", n1, n2)

    def test_fresh_agent_skips_silent_first_endpoint(self):
        self.check("an agent started while the first coordinator of its list "
                   "is the standby (not serving) tries the next one and "
                   "registers there (found by tests/chaos: restarted agents "
                   "waited on the standby forever)")
        d = self.primary()
        s = self.standby(d)
        self.wait_for(lambda: "STANDBY-SYNCED" in s.err, 30,
                      "the standby to sync with the primary")
        argv = [bin_path("muster-agent"), "--coordinator",
                "tcp://127.0.0.1:%d,%s" % (s.agent_port, d.agent_ep),
                "--slots", "1", "--node-id", "pool-a", "--log-level", "info",
                "--state-dir", os.path.join(self.tmp, "pool-a.agent"),
                "--join-token-file", d.token_file]
        a = self.start("pool-a", argv)
        self.wait_for(lambda: "REGISTERED node pool-a" in a.err, 30,
                      "the agent (exchanging its join token) to register "
                      "with the primary")
        self.expect("no answer yet at tcp://127.0.0.1:%d" % s.agent_port in a.err,
                    "the agent says it moved on from the silent endpoint", a)
        self.check("restarted on the same state directory (its key already "
                   "enrolled), it moves on again and registers")
        a.kill()
        b = self.start("pool-a-again", argv)
        self.wait_for(lambda: "REGISTERED node pool-a" in b.err, 30,
                      "the restarted agent to register with the primary")
        self.expect("no answer yet" in b.err, "it moved on again", b)

    def test_run_standby_host_killed(self):
        self.check("muster run --standby, the same command on 3 nodes: the "
                   "first hosts the coordinator as a musterd child streaming "
                   "its journal, the node at the standby's address runs the "
                   "standby; kill -9 the hosting launcher: the standby takes "
                   "over, the job re-forms on the 2 others from its last "
                   "checkpoint and ends with the uninterrupted checksum")
        want = self.reference()
        port, sport = free_port(), free_port()
        ck = os.path.join(self.tmp, "ck-ha")
        train = [bin_path("ckpt_train"), "--steps", str(STEPS), "--step-ms", "5"]
        extra = ["--standby", "127.0.0.1:%d" % sport, "--ckpt-dir", ck,
                 "--ckpt-every", "300ms"]
        ep = "127.0.0.1:%d" % port
        n1 = self.node(ep, "n1", train, "2:3", 1, "ha", extra=extra)
        self.wait_for(lambda: "serving the coordinator at" in n1.err, 30,
                      "the first node to host")
        host = re.search(r"musterd pid (\d+)", n1.err)
        self.expect(host is not None and "with a standby at 127.0.0.1:%d" % sport
                    in n1.err, "the host names its musterd and the standby", n1)
        n2 = self.node(ep, "n2", train, "2:3", 1, "ha", extra=extra)
        self.wait_for(lambda: "runs the job's standby coordinator" in n2.err, 30,
                      "the second node (first at the standby's address) to "
                      "run the standby")
        n3 = self.node(ep, "n3", train, "2:3", 1, "ha", extra=extra)
        self.wait_for(lambda: len(starts(n1.out + n2.out + n3.out)) == 3, 30,
                      "three ranks to start")
        self.wait_for(lambda: "(committed)" in n2.out + n3.out, 30,
                      "a checkpoint to commit")
        self.expect("standby coordinator" not in n3.err,
                    "only one node runs the standby", n3)
        self.check("kill -9 the hosting launcher (its musterd dies with it)")
        n1.kill()
        mpid = int(host.group(1))
        self.wait_for(lambda: not os.path.exists("/proc/%d/stat" % mpid)
                      or open("/proc/%d/stat" % mpid).read().split()[2] == "Z",
                      10, "the host's musterd to die with its launcher")
        self.expect_eq(n2.wait(), 0, "node 2 exit status", n2, n3)
        self.expect_eq(n3.wait(), 0, "node 3 exit status", n2, n3)
        self.expect("TAKEOVER" in n2.err, "the standby took over", n2)
        self.expect(re.search(r"epoch 1 stopped: node n1 lost", n3.err),
                    "the lost host is reported as a node loss", n3)
        self.expect("resuming job ha from step" in n3.err,
                    "the job resumed from its checkpoint", n3)
        # ckpt_train has no collective, so the survivors' epoch-1 ranks may
        # run to the end before the host is declared lost: every final
        # line, and the re-formed epoch's on both nodes, has the checksum.
        sums = checksums(n2.out + n3.out)
        self.expect(len(sums) >= 2 and set(sums) == {want},
                    "every final checksum is the uninterrupted run's: %r" % sums,
                    n2, n3)
        self.expect(re.search(r"epoch 2 world 2", n2.out)
                    and re.search(r"epoch 2 world 2", n3.out),
                    "both survivors ran the re-formed epoch 2 at world 2", n2, n3)
        run = os.path.join(self.env["MUSTER_STATE_DIR"], "run")
        left = [f for f in os.listdir(run) if f.endswith(".standby")]
        self.expect_eq(left, [], "the standby's state directory removed", n2)

    def test_no_primary_waits(self):
        d = self.primary()
        self.check("a standby of an endpoint where nothing answers waits and "
                   "says so; it never takes over without a journal")
        s = self.standby(d, primary_ep="tcp://127.0.0.1:%d" % free_port(),
                         extra=["--standby-lease", "200ms"])
        self.wait_for(lambda: "STANDBY-WAIT" in s.err, 20,
                      "the standby to report that it waits")
        self.expect(re.search(r"no journal from the primary at tcp://127\.0\.0\.1:"
                              r"\d+ after [\d.]+ s", s.err), "names the primary", s)
        self.expect(s.running() and "TAKEOVER" not in s.err,
                    "no takeover without a journal", s)
        self.expect(not os.path.exists(s.endpoints_file),
                    "it serves nothing", s)
        s.signal(signal.SIGTERM)
        s.wait(10)
        self.check("a standby without the primary's server key is refused, "
                   "naming the file")
        bare = os.path.join(self.tmp, "bare.state")
        os.makedirs(bare, mode=0o711)
        p = self.start("standby-nokey", [
            bin_path("musterd"), "--standby-of", d.standby_ep,
            "--agent-bind", "tcp://127.0.0.1:0", "--ctl-bind", "none",
            "--state-dir", bare])
        self.expect_eq(p.wait(20), 1, "exit status without a key", p)
        self.expect("no server key pair at %s/server.key" % bare in p.err
                    and "copy the primary's server.key" in p.err,
                    "the error names the missing key file and the fix", p)
        bad = self.start("standby-bad", [bin_path("musterd"), "--standby-of",
                                         "nowhere", "--state-dir", bare])
        self.expect_eq(bad.wait(20), 2, "exit status for a bad endpoint", bad)
        self.expect("--standby-of" in bad.err, "names the flag", bad)

    def test_bad_flags(self):
        self.check("--standby is for joining nodes and needs an endpoint; an "
                   "empty entry in --coordinator's list is refused")
        cases = [
            (["run", "--standby", "127.0.0.1:1", "--", "true"],
             "--standby needs --rdzv-endpoint"),
            (["run", "--rdzv-endpoint", "127.0.0.1:7", "--host",
              "--standby", "127.0.0.1:7", "--", "true"],
             "--standby 127.0.0.1:7 is the --rdzv-endpoint itself"),
            (["run", "--rdzv-endpoint", "127.0.0.1:1", "--standby", "nowhere",
              "--", "true"], "--standby"),
        ]
        for args, want in cases:
            p = self.run_muster(args, timeout=20)
            self.expect_eq(p.rc, 2, "exit status of muster %s" % args, p)
            self.expect(want in p.err, "the error says: " + want, p)
        a = self.start("agent-bad", [bin_path("muster-agent"), "--coordinator",
                                     "127.0.0.1:1,,127.0.0.1:2", "--slots", "1"])
        self.expect_eq(a.wait(20), 2, "exit status of muster-agent", a)
        self.expect("an empty or overlong endpoint in the list" in a.err,
                    "the error names the bad list", a)


if __name__ == "__main__":
    main()
