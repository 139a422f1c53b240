#!/usr/bin/python3
"""Scenario 27 — the coordinator's journal: musterd killed with SIGKILL and
restarted on the same state directory and ports carries its jobs on (the
running job keeps its epoch and its workers: no restart, no rollback to a
checkpoint; finished jobs are still listed; an exit while musterd is down
counts; a job waiting for nodes waits on; a member that does not come back
is lost as an ordinary failure); a replay of the journal gives
the same job table as the live coordinator's own snapshot (replay
equality); a damaged journal tail is reported and dropped, and a journal
of another format version is refused with the file named."""
import glob
import json
import os
import re
import shutil
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import MusterCase, bin_path, ctl_call, main  # noqa: E402


def starts(text):
    """{(epoch, rank): pid} from ckpt_train's start lines."""
    return {(int(m.group(3)), int(m.group(1))): int(m.group(2))
            for m in re.finditer(r"\] rank (\d+) pid (\d+) epoch (\d+) world (\d+)", text)}


def dump_state(case, state_dir, name):
    p = case.run_muster_bin(["musterd", "--dump-state", "--state-dir", state_dir],
                            name=name)
    case.expect_eq(p.rc, 0, "musterd --dump-state exit status", p)
    return p.out


class Journal(MusterCase):
    def run_muster_bin(self, argv, name):
        p = self.start(name, [bin_path(argv[0])] + argv[1:])
        p.wait(60)
        return p

    def status(self, d):
        s = self.run_muster(["status", "--endpoint", d.ctl_ep], timeout=20)
        return s.out if s.rc == 0 else ""

    def test_kill9_restart_carries_on(self):
        # --full-members-max 1: the 2-node job's membership is fetched
        # (job.members.get), and rebuilt from the journal after the restart.
        fm = ["--heartbeat", "100ms", "--full-members-max", "1"]
        d = self.musterd(extra=fm)
        ck = os.path.join(self.tmp, "ck")
        # A finished job first: its history must survive the restart.
        done = self.node(d, "n0", ["true"], 1, 1, "early")
        self.expect_eq(done.wait(), 0, "the first job", done)
        train = [bin_path("ckpt_train"), "--steps", "900", "--step-ms", "6"]
        extra = ["--ckpt-dir", ck, "--ckpt-every", "300ms"]
        n1 = self.node(d, "n1", train, 2, 1, "long", extra=extra)
        n2 = self.node(d, "n2", train, 2, 1, "long", extra=extra)
        self.wait_for(lambda: len(starts(n1.out + n2.out)) == 2, 30,
                      "both ranks to start")
        self.wait_for(lambda: "CKPT-COMMITTED" in d.err, 30,
                      "a checkpoint to commit")
        before = starts(n1.out + n2.out)
        self.check("kill -9 musterd mid-training; restart it on the same "
                   "state directory and agent port within 2 s")
        port = d.agent_port
        d.kill()
        time.sleep(0.5)
        d2 = self.musterd(name="musterd",
                          agent_bind="tcp://127.0.0.1:%d" % port, extra=fm)
        self.check("the job is restored running in its epoch; both nodes come "
                   "back and it goes on without a restart")
        self.wait_for(lambda: "JOB-CONTINUES" in d2.err, 30,
                      "every node of the job to come back", interval=0.1)
        self.expect("JOB-RESTORED job long epoch 1" in d2.err,
                    "restored in epoch 1", d2)
        self.expect(all("NODE-RECONCILED node %s is back in job long epoch 1"
                        % n in d2.err for n in ("n1", "n2")),
                    "each agent reported its epoch and ranks and was kept "
                    "in the epoch", d2)
        st = self.status(d2)
        self.expect(re.search(r"^long\s.*running", st, re.M),
                    "status lists the running job after the restart:\n" + st, d2)
        self.expect(re.search(r"^early\s.*succeeded", st, re.M),
                    "status still lists the finished job:\n" + st, d2)
        self.expect_eq(n1.wait(), 0, "node 1 exit status", n1, d2)
        self.expect_eq(n2.wait(), 0, "node 2 exit status", n2, d2)
        after = starts(n1.out + n2.out)
        self.check("no worker started again: same pids, epoch 1 only, nothing "
                   "restored from a checkpoint")
        self.expect_eq(after, before, "worker starts (epoch, rank) -> pid", n1, n2)
        self.expect("restored step" not in n1.out + n2.out,
                    "no rank rolled back to a checkpoint", n1, n2)
        self.expect("done at step 900" in n1.out and "done at step 900" in n2.out,
                    "both ranks trained to the end", n1, n2)
        self.wait_for(lambda: re.search(r"^long\s.*succeeded", self.status(d2), re.M),
                      20, "the job to be reported succeeded")

    def test_exit_while_down(self):
        d = self.musterd(extra=["--heartbeat", "100ms"])
        go = os.path.join(self.tmp, "go")
        script = self.write_script("w.sh", """#!/bin/sh
echo "start rank=$RANK epoch=$MUSTER_EPOCH"
while [ ! -e "%s.$RANK" ]; do sleep 0.05; done
echo "end rank=$RANK"
""" % go)
        n1 = self.node(d, "n1", [script], 2, 1, "exits")
        n2 = self.node(d, "n2", [script], 2, 1, "exits")
        self.wait_for(lambda: (n1.out + n2.out).count("start rank=") == 2, 30,
                      "both ranks to start")
        self.check("kill -9 musterd; rank 1 exits 0 while it is down; restart")
        port = d.agent_port
        d.kill()
        open(go + ".1", "w").close()
        self.wait_for(lambda: "end rank=1" in n1.out + n2.out, 20,
                      "rank 1 to end")
        d2 = self.musterd(name="musterd", agent_bind="tcp://127.0.0.1:%d" % port,
                          extra=["--heartbeat", "100ms"])
        self.wait_for(lambda: "JOB-CONTINUES job exits" in d2.err, 30,
                      "both nodes to come back")
        self.check("the exit reported on re-registration counts: when rank 0 "
                   "ends, the job succeeds in epoch 1")
        open(go + ".0", "w").close()
        self.expect_eq(n1.wait(), 0, "node 1", n1, n2, d2)
        self.expect_eq(n2.wait(), 0, "node 2", n1, n2, d2)
        self.expect_eq((n1.out + n2.out).count("start rank="), 2,
                       "no rank started again", n1, n2)
        ended = "n1" if "start rank=1" in n1.out else "n2"
        self.expect("node %s is back; its 0 running worker(s) carry on" % ended
                    in d2.err, "the exit on %s while musterd was down was "
                    "counted" % ended, d2)

    def test_waiting_job_restored(self):
        d = self.musterd(extra=["--heartbeat", "100ms"])
        n1 = self.node(d, "w1", ["true"], 2, 1, "waiting")
        self.wait_for(lambda: "RDZV-JOIN job waiting: node w1" in d.err
                      or "waiting for nodes 1/2" in n1.err, 20,
                      "w1 to wait in the rendezvous")
        self.check("kill -9 musterd while a job waits for its second node; "
                   "restart; the job is restored in rendezvous, w1 joins "
                   "again, and with w2 the job runs its first epoch")
        port = d.agent_port
        d.kill()
        d2 = self.musterd(name="musterd", agent_bind="tcp://127.0.0.1:%d" % port,
                          extra=["--heartbeat", "100ms"])
        self.expect("JOB-RESTORED job waiting: rendezvous at epoch 0" in d2.err,
                    "restored waiting for nodes", d2)
        n2 = self.node(d2, "w2", ["true"], 2, 1, "waiting")
        self.expect_eq(n1.wait(), 0, "w1", n1, n2, d2)
        self.expect_eq(n2.wait(), 0, "w2", n1, n2, d2)
        self.expect("EPOCH-START job waiting epoch 1:" in d2.err,
                    "its first epoch is epoch 1", d2)

    def test_member_not_back_is_lost(self):
        d = self.musterd(extra=["--heartbeat", "100ms"])
        ck = os.path.join(self.tmp, "ck")
        train = [bin_path("ckpt_train"), "--steps", "700", "--step-ms", "6"]
        extra = ["--ckpt-dir", ck, "--ckpt-every", "300ms"]
        n1 = self.node(d, "n1", train, "1:2", 1, "half", extra=extra)
        n2 = self.node(d, "n2", train, "1:2", 1, "half", extra=extra)
        self.wait_for(lambda: len(starts(n1.out + n2.out)) == 2, 30,
                      "both ranks to start")
        self.wait_for(lambda: "CKPT-COMMITTED" in d.err, 30,
                      "a checkpoint to commit")
        self.check("kill -9 musterd, and node n2 while musterd is down; "
                   "restart musterd with a 2 s restore window")
        port = d.agent_port
        d.kill()
        n2.kill()
        d2 = self.musterd(name="musterd",
                          agent_bind="tcp://127.0.0.1:%d" % port,
                          extra=["--heartbeat", "100ms", "--restore-window", "2s"])
        self.check("n1 comes back; n2 does not and is lost as an ordinary "
                   "failure: the job re-forms without it (epoch 2) from its "
                   "checkpoint and succeeds")
        self.expect_eq(n1.wait(), 0, "node 1 exit status", n1, d2)
        self.expect("NODE-BACK job half epoch 1: node n1 is back" in d2.err,
                    "n1 came back", d2)
        self.expect(re.search(r"NODE-LOST node n2 did not come back within 2 s",
                              d2.err), "n2 reported lost", d2)
        s = starts(n1.out)
        self.expect((2, 0) in s, "n1's rank started again in epoch 2", n1)
        self.expect(re.search(r"restored step \d+", n1.out),
                    "epoch 2 restored from the journaled checkpoint", n1)

    def test_replay_equality(self):
        # Group commit: every record of a loop turn synced at its end.
        d = self.musterd(extra=["--heartbeat", "100ms", "--journal-sync", "group"])
        ck = os.path.join(self.tmp, "ck")
        self.check("a scripted history: a success, a failure after a restart, "
                   "checkpoints, a cancelled job, a job replaced by a rerun")
        ok = self.node(d, "a1", ["true"], 1, 2, "ok")
        self.expect_eq(ok.wait(), 0, "job ok", ok)
        again = self.node(d, "a1", ["true"], 1, 1, "ok")
        self.expect_eq(again.wait(), 0, "job ok again", again)
        bad = self.node(d, "b1", ["sh", "-c", "exit 3"], 1, 1, "bad",
                        extra=["--max-restarts", "1"])
        self.expect_eq(bad.wait(), 3, "job bad", bad)
        ckj = self.node(d, "c1", [bin_path("ckpt_train"), "--steps", "200",
                                  "--step-ms", "3"], 1, 2, "ckj",
                        extra=["--ckpt-dir", ck, "--ckpt-every-steps", "50"])
        self.expect_eq(ckj.wait(), 0, "job ckj", ckj)
        pre = self.node(d, "p1", [bin_path("ckpt_train"), "--steps", "5000",
                                  "--step-ms", "3"], 1, 1, "pre",
                        extra=["--ckpt-dir", ck, "--preempt-grace", "10s"])
        self.wait_for(lambda: "rank 0 pid" in pre.out, 20, "pre to train")
        pre.signal(signal.SIGTERM)
        self.expect_eq(pre.wait(), 75, "job pre preempted (suspended)", pre)
        pool = self.agent(d, "pool0", 1)
        self.wait_for(lambda: "NODE-REGISTERED node pool0" in d.err
                      or (ctl_call(d.ctl_ep, {"t": "ctl.status"}) or {})
                      .get("nodes", 0) >= 1, 20, "the pool agent")
        job = {"id": "pooljob", "roles": [{"name": "worker", "min_nodes": 1,
                                           "max_nodes": 1, "nproc": 1}],
               "argv": ["true"], "last_call_ms": 0}
        rep = ctl_call(d.ctl_ep, {"t": "ctl.submit", "job": job})
        self.expect(rep is not None and rep.get("status") == 0,
                    "submit: %r" % (rep,), d)
        self.wait_for(lambda: "JOB-DONE job pooljob succeeded" in d.err, 20,
                      "the submitted job to finish")
        pool.stop()
        long = self.node(d, "l1", ["sleep", "30"], 1, 1, "cancelme")
        self.wait_for(lambda: "EPOCH-START job cancelme" in d.err, 20,
                      "cancelme to run")
        c = self.run_muster(["cancel", "--endpoint", d.ctl_ep, "cancelme"])
        self.expect_eq(c.rc, 0, "cancel", c)
        long.wait()
        run = self.node(d, "r1", ["sleep", "30"], 1, 1, "stillrunning")
        self.wait_for(lambda: "EPOCH-START job stillrunning" in d.err, 20,
                      "stillrunning to run")
        time.sleep(0.3)
        self.check("copy the journal while musterd runs, then stop musterd: "
                   "it snapshots its live job table")
        copy = os.path.join(self.tmp, "copy.state")
        shutil.copytree(os.path.join(d.state_dir, "journal"),
                        os.path.join(copy, "journal"))
        d.stop()
        run.kill()
        replayed = dump_state(self, copy, "dump-replayed")
        live = dump_state(self, d.state_dir, "dump-live")
        jobs = json.loads(replayed)["jobs"]
        self.check("the replayed table is the live one, field for field")
        self.expect_eq(replayed, live, "replay of the journal vs the live "
                       "table's snapshot")
        self.expect_eq(sorted(j["id"] for j in jobs),
                       ["bad", "cancelme", "ckj", "ok", "pooljob", "pre",
                        "stillrunning"], "jobs in the table")
        by = {j["id"]: j for j in jobs}
        self.expect_eq(by["bad"]["state"], "failed", "bad's state")
        self.expect_eq(by["bad"]["restarts"], 1, "bad's restarts")
        self.expect_eq(by["bad"]["exit_code"], 3, "bad's exit code")
        self.expect_eq(by["cancelme"]["state"], "cancelled", "cancelme's state")
        self.expect_eq(by["pre"]["state"], "suspended", "pre's state")
        self.expect(by["pre"]["ckpt"] is not None, "pre's restore point", d)
        self.expect_eq(by["pooljob"]["submitted"], 1, "pooljob was submitted")
        self.expect_eq(by["pooljob"]["state"], "succeeded", "pooljob's state")
        done = sorted(int(os.path.basename(os.path.dirname(m))[5:])
                      for m in glob.glob(os.path.join(ck, "ckj", "step-*", "MANIFEST")))
        self.expect(done and by["ckj"]["ckpt"] is not None
                    and by["ckj"]["ckpt"]["step"] == done[-1],
                    "ckj's restore point is its newest committed checkpoint "
                    "(%r; on disk %r)" % (by["ckj"]["ckpt"], done))
        self.expect_eq(by["stillrunning"]["state"], "running", "running job")
        self.expect_eq([m["node"] for m in by["stillrunning"]["members"]],
                       ["r1"], "running job's members")

    def test_replay_equality_burst(self):
        # The default sync: per record, and a burst's rest at the end of the
        # loop turn (16 workers exiting together are such a burst).
        d = self.musterd()
        n = self.node(d, "b1", ["true"], 1, 16, "wide")
        self.expect_eq(n.wait(), 0, "job wide", n)
        self.wait_for(lambda: "JOB-DONE job wide" in d.err, 20, "the job's end")
        time.sleep(0.3)
        self.check("a copy of the running musterd's journal replays to the "
                   "table it snapshots when stopped, all 16 exits included")
        copy = os.path.join(self.tmp, "copy.state")
        shutil.copytree(os.path.join(d.state_dir, "journal"),
                        os.path.join(copy, "journal"))
        d.stop()
        replayed = dump_state(self, copy, "dump-replayed")
        live = dump_state(self, d.state_dir, "dump-live")
        self.expect_eq(replayed, live, "replay of the journal vs the live "
                       "table's snapshot")
        wide = json.loads(replayed)["jobs"][0]
        self.expect_eq((wide["state"], wide["ok_exits"]), ("succeeded", 16),
                       "job wide in the replay")

    def test_finished_job_counters_survive_restart(self):
        d = self.musterd()
        n = self.node(d, "f1", ["true"], 1, 2, "fin")
        self.expect_eq(n.wait(), 0, "job fin", n)
        self.wait_for(lambda: "JOB-DONE job fin" in d.err, 20, "the job's end")
        before = json.loads(dump_state(self, d.state_dir, "dump-before"))["jobs"][0]
        self.expect_eq(before["ok_exits"], 2, "both workers' exits in the journal")
        self.check("kill -9 musterd and restart it on its state directory; "
                   "the finished job it restored is snapshotted when it stops "
                   "with the counters it had (ok_exits 2), as a replay gives")
        d.kill()
        d2 = self.musterd(name="musterd", state_dir=d.state_dir)
        d2.stop()
        after = json.loads(dump_state(self, d.state_dir, "dump-after"))["jobs"][0]
        self.expect_eq(after, before, "the finished job after a restart and "
                       "the snapshot at stop", d2)

    def test_bad_flags(self):
        self.check("bad journal flags are refused, naming the problem")
        state = os.path.join(self.tmp, "nojournal.state")
        for args, rc, text in (
                (["--journal-sync", "sometimes"], 2,
                 "bad value 'sometimes' for journal-sync (expected record or group)"),
                (["--restore-window", "0"], 2, "bad value '0' for restore-window"),
                (["--restore-window", "soon"], 2, "soon"),
                (["--dump-state", "--state-dir", state], 1,
                 "--dump-state: cannot read %s/journal" % state)):
            p = self.start("musterd-bad", [bin_path("musterd")] + args)
            self.expect_eq(p.wait(30), rc, "exit status of musterd %s" % args, p)
            self.expect(text in p.err, "the error names the problem", p)
        self.expect(not os.path.exists(state), "--dump-state created nothing")

    def test_torn_tail_and_bad_version(self):
        d = self.musterd()
        n = self.node(d, "t1", ["true"], 1, 1, "torn")
        self.expect_eq(n.wait(), 0, "job", n)
        d.kill()
        jdir = os.path.join(d.state_dir, "journal")
        seg = sorted(f for f in os.listdir(jdir) if f.startswith("journal-"))[-1]
        path = os.path.join(jdir, seg)
        size = os.path.getsize(path)
        self.check("a journal cut in the middle of its last record: the tail is "
                   "reported (file, offset, why) and dropped; musterd serves")
        with open(path, "r+b") as f:
            f.truncate(size - 3)
        d2 = self.musterd(name="musterd")
        self.expect(re.search(r"JOURNAL-TAIL .*%s: dropping \d+ bytes from "
                              r"offset \d+: torn record" % re.escape(path), d2.err),
                    "the dropped tail is reported", d2)
        d2.stop()
        self.check("a journal of another format version is refused, naming "
                   "the file")
        seg = sorted(f for f in os.listdir(jdir) if f.startswith("journal-"))[-1]
        path = os.path.join(jdir, seg)
        with open(path, "r+b") as f:
            f.seek(8)
            f.write(bytes([7]))
        bad = self.start("musterd-bad", [bin_path("musterd"), "--state-dir",
                                         d.state_dir, "--agent-bind",
                                         "tcp://127.0.0.1:0", "--ctl-bind",
                                         "tcp://127.0.0.1:0"])
        rc = bad.wait(30)
        self.expect(rc != 0, "musterd refuses to start", bad)
        self.expect("%s: journal format version 7; this musterd reads version 1"
                    % path in bad.err, "the error names file and version", bad)


if __name__ == "__main__":
    main()
