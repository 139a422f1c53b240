#!/usr/bin/python3
"""Scenario 21 — the launcher never surprises: one duration rule (a bare
number is seconds) in every program, bad durations name the accepted
forms, --help on every subcommand and binary, Ctrl-C with a checkpoint
directory checkpoints and stops (a second Ctrl-C stops at once), the exit
codes of the README's table (75 preempted, 130/143 interrupted, the
--preempt-exit-code override), --python and the "No module named" hint,
and no spurious COORD-ERROR after an interrupt."""
import os
import re
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import MusterCase, bin_path, main, worker_lines  # noqa: E402

FORMS = ("is not a duration: give seconds (600), or a number with ms, s, m "
         "or h (500ms, 10m)")


def train(extra=(), steps="100000"):
    return [bin_path("ckpt_train"), "--steps", steps, "--step-ms", "3"] + list(extra)


def complete_steps(ckpt, job="default"):
    import glob
    return sorted(int(os.path.basename(os.path.dirname(m))[5:])
                  for m in glob.glob(os.path.join(ckpt, job, "step-*", "MANIFEST")))


class CliRules(MusterCase):
    # ------------------------------------------------------------ durations

    def test_bare_join_timeout_is_seconds(self):
        d = self.musterd()
        t0 = time.monotonic()
        n = self.node(d, "alone", ["true"], "2", 1, "lonely",
                      extra=["--join-timeout", "1"])
        rc = n.wait(60)
        took = time.monotonic() - t0
        self.check("--join-timeout 1 (bare: one second, not 1 ms nor 1000 s) "
                   "on a 2-node job with one node: exit 1, timed out "
                   "(took %.1f s)" % took)
        self.expect_eq(rc, 1, "exit status", n)
        self.expect("rendezvous timed out" in n.err, "message", n)
        # Not a timing assertion: it only tells 1 ms from 1 s from 1000 s.
        self.expect(0.5 < took < 30, "gave up after %.1f s" % took, n)

    def test_bare_status_timeout_is_seconds(self):
        path = os.path.join(self.tmp, "nobody.sock")
        # A socket file nobody serves (bound, never listening): the client
        # waits for the answer its --timeout long.
        import socket
        dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        dead.bind(path)
        self.addCleanup(dead.close)
        ep = "ipc://" + path
        p = self.run_muster(["status", "--endpoint", ep, "--timeout", "1"])
        self.check("muster status --timeout 1 waits one second: the error "
                   "says 'after 1.0 s'")
        self.expect_eq(p.rc, 1, "exit status", p)
        self.expect("after 1.0 s" in p.err, "message", p)

    def test_bad_durations_name_the_forms(self):
        cases = [
            ([bin_path("muster"), "run", "--join-timeout", "abc", "--", "true"],
             "--join-timeout: 'abc' "),
            ([bin_path("muster"), "run", "--connect-timeout", "-1", "--", "true"],
             "--connect-timeout: '-1' "),
            ([bin_path("muster"), "run", "--rdzv-conf", "join_timeout=soon",
              "--", "true"], "--rdzv-conf join_timeout: 'soon' "),
            ([bin_path("muster"), "status", "--timeout", "1x"], "--timeout: '1x' "),
            ([bin_path("muster"), "preempt", "--grace", "later", "j"],
             "--grace: 'later' "),
            ([bin_path("musterd"), "--heartbeat", "fast"], "heartbeat: 'fast' "),
            ([bin_path("muster-agent"), "--coordinator", "127.0.0.1:1",
              "--connect-timeout", "1d"], "--connect-timeout: '1d' "),
        ]
        for argv, needle in cases:
            p = self.start("bad-%d" % len(self.procs), argv)
            shown = " ".join(os.path.basename(a) if i == 0 else a
                             for i, a in enumerate(argv))
            self.check("%s -> exit 2 naming the accepted forms" % shown)
            self.expect_eq(p.wait(20), 2, "exit status of " + shown, p)
            self.expect(needle + FORMS in p.err, "%r not in the message"
                        % (needle + FORMS), p)

    def test_config_file_duration_is_seconds(self):
        conf = os.path.join(self.tmp, "musterd.conf")
        with open(conf, "w") as f:
            f.write("heartbeat = soon\n")
        p = self.start("conf", [bin_path("musterd"), "--config", conf])
        self.check("musterd --config with 'heartbeat = soon': exit 2, the "
                   "line and the forms named")
        self.expect_eq(p.wait(20), 2, "exit status", p)
        self.expect(conf + ":1: heartbeat: 'soon' " + FORMS in p.err, "message", p)

    # ---------------------------------------------------------------- help

    def test_help_everywhere(self):
        cmds = [[bin_path("muster"), c, "--help"]
                for c in ("run", "status", "cancel", "checkpoint", "preempt",
                          "resume", "keygen")]
        cmds += [[bin_path("muster"), "--help"], [bin_path("muster"), "help"],
                 [bin_path("muster"), "help", "status"],
                 [bin_path("muster"), "help", "run"],
                 [bin_path("muster"), "status", "-h"],
                 [bin_path("musterd"), "--help"],
                 [bin_path("muster-agent"), "--help"],
                 [bin_path("muster-exec"), "--help"]]
        for argv in cmds:
            shown = " ".join([os.path.basename(argv[0])] + argv[1:])
            p = self.start("help-%d" % len(self.procs), argv)
            self.check("%s: usage on stdout, exit 0" % shown)
            self.expect_eq(p.wait(20), 0, "exit status of " + shown, p)
            self.expect(p.out.startswith("usage: "), "usage on stdout", p)
            self.expect_eq(p.err, "", "stderr of " + shown, p)
        p = self.run_muster(["help", "preempt"])
        self.check("muster help preempt is muster preempt --help")
        self.expect("muster preempt" in p.out and "--grace" in p.out, "usage", p)
        p = self.run_muster(["run", "--help"])
        self.check("muster run --help documents --python, MUSTER_PYTHON, "
                   "--preempt-exit-code and the duration rule")
        for needle in ("--python", "MUSTER_PYTHON", "--preempt-exit-code",
                       "a bare number is seconds"):
            self.expect(needle in p.out, "%r in muster run --help" % needle, p)

    # ------------------------------------------------------ signals, codes

    def started(self, p):
        self.wait_for(lambda: "rank 1 pid" in p.out, 30, "training to start")

    def test_sigint_with_ckpt_dir_checkpoints(self):
        ck = os.path.join(self.tmp, "ck")
        args = ["--nproc-per-node", "2", "--ckpt-dir", ck, "--preempt-grace",
                "20s", "--rdzv-id", "default", "--", *train()]
        p = self.muster_run(args, name="interrupted")
        self.started(p)
        self.check("SIGINT with --ckpt-dir: checkpoint, stop, interrupted, "
                   "exit 130")
        p.signal(signal.SIGINT)
        self.expect_eq(p.wait(), 130, "exit status", p)
        m = re.search(r"job default interrupted; checkpointed, resumable from "
                      r"step (\d+)", p.err)
        self.expect(m is not None, "interrupted with a resumable step", p)
        step = int(m.group(1))
        self.expect(step in complete_steps(ck), "step %d complete" % step, p)
        self.check("no COORD-ERROR warning after the interrupt")
        self.expect("COORD-ERROR" not in p.err, "COORD-ERROR in stderr", p)
        self.assert_no_process_left(what="SIGINT with --ckpt-dir")
        self.check("the same command resumes from step %d" % step)
        q = self.muster_run(args[:-len(train())] + train(steps="%d" % (step + 20)),
                            name="resumed")
        self.expect_eq(q.wait(), 0, "exit status", q)
        self.expect("restored step %d" % step in q.out, "restored step", q)

    def test_second_sigint_stops_at_once(self):
        ck = os.path.join(self.tmp, "ck")
        # Rank 1 takes a minute to save: the checkpoint cannot commit
        # before the second SIGINT.
        p = self.muster_run(["--nproc-per-node", "2", "--ckpt-dir", ck,
                             "--preempt-grace", "120s", "--grace", "2s", "--",
                             *train(["--slow-save-rank", "1",
                                     "--slow-save-ms", "60000"])])
        self.started(p)
        p.signal(signal.SIGINT)
        self.wait_for(lambda: "interrupt again to stop at once" in p.err, 20,
                      "the first SIGINT to be taken")
        self.check("a second SIGINT while checkpointing stops at once: exit "
                   "130 well before the 120 s preemption grace")
        p.signal(signal.SIGINT)
        self.expect_eq(p.wait(40), 130, "exit status", p)
        self.expect("stopping workers now" in p.err, "message", p)
        self.expect("COORD-ERROR" not in p.err, "COORD-ERROR in stderr", p)
        self.assert_no_process_left(what="a second SIGINT")

    def test_sigterm_preempt_exit_codes(self):
        for extra, want in (([], 75), (["--preempt-exit-code", "0"], 0),
                            (["--preempt-exit-code", "99"], 99)):
            ck = os.path.join(self.tmp, "ck%d" % want)
            p = self.muster_run(["--nproc-per-node", "2", "--ckpt-dir", ck,
                                 "--preempt-grace", "20s"] + extra
                                + ["--", *train()], name="preempt-%d" % want)
            self.started(p)
            self.check("SIGTERM with --ckpt-dir %s: suspended, exit %d"
                       % (" ".join(extra) or "(default)", want))
            p.signal(signal.SIGTERM)
            self.expect_eq(p.wait(), want, "exit status", p)
            self.expect("suspended: preempted" in p.err, "suspended", p)

    def test_signals_without_ckpt_dir(self):
        prog = ["sh", "-c", 'echo ready; sleep 100']
        for sig, want in ((signal.SIGTERM, 143), (signal.SIGINT, 130)):
            p = self.muster_run(["--nproc-per-node", "2", "--grace", "2s", "--"]
                                + prog, name="sig-%d" % sig)
            self.wait_for(lambda: len(worker_lines(p.out)) == 2, 30,
                          "the workers to start")
            self.check("signal %d without --ckpt-dir: exit %d" % (sig, want))
            p.signal(sig)
            self.expect_eq(p.wait(), want, "exit status", p)
            self.expect("COORD-ERROR" not in p.err, "COORD-ERROR in stderr", p)

    def test_sigint_libmuster_workers_no_coord_error(self):
        # libmuster workers report their exits after the node left: the
        # coordinator's "unknown node" answers are expected, not warnings.
        p = self.muster_run(["--nproc-per-node", "2", "--", *train()])
        self.started(p)
        p.signal(signal.SIGINT)
        self.check("Ctrl-C of a libmuster job without --ckpt-dir: exit 130, "
                   "no COORD-ERROR")
        self.expect_eq(p.wait(), 130, "exit status", p)
        self.expect("COORD-ERROR" not in p.err, "COORD-ERROR in stderr", p)

    # -------------------------------------------------------------- python

    def test_python_flag_is_used(self):
        script = self.write_script("exe.py", "import sys\nprint('exe', sys.executable)\n",
                                   mode=0o644)
        link = os.path.join(self.tmp, "my-python")
        os.symlink(sys.executable, link)
        p = self.muster_run(["--python", link, "--", script])
        self.check("--python PATH runs the .py program under PATH")
        self.expect_eq(p.wait(), 0, "exit status", p)
        self.expect_eq(worker_lines(p.out).get(0), ["exe " + link], "sys.executable", p)
        p = self.muster_run(["--", script], env_extra={"MUSTER_PYTHON": link})
        self.check("so does MUSTER_PYTHON")
        self.expect_eq(p.wait(), 0, "exit status", p)
        self.expect_eq(worker_lines(p.out).get(0), ["exe " + link], "sys.executable", p)
        p = self.muster_run(["--python", os.path.join(self.tmp, "nope"), "--", script])
        self.check("a missing --python interpreter: exit 127, named")
        self.expect_eq(p.wait(), 127, "exit status", p)
        self.expect("nope" in p.err and "--python" in p.err, "message", p)

    def test_no_module_hint(self):
        script = self.write_script("imp.py", "import no_such_module_xyz\n", mode=0o644)
        p = self.muster_run(["--python", sys.executable, "--", script])
        self.check("a worker failing with 'No module named': the report ends "
                   "with a hint naming the interpreter")
        self.expect_eq(p.wait(), 1, "exit status", p)
        last = p.err.strip().splitlines()[-1]
        self.expect(last.startswith("muster: hint: the program ran under %s"
                                    % sys.executable), "hint line: %r" % last, p)
        # An interpreter that is not Debian's /usr/bin/python3: the hint
        # points there.
        if os.access("/usr/bin/python3", os.X_OK):
            wrapper = self.write_script("python-wrapper",
                                        "#!/bin/sh\nexec %s \"$@\"\n" % sys.executable)
            p = self.muster_run(["--python", wrapper, "--", script])
            self.check("under another interpreter the hint names "
                       "/usr/bin/python3 and --python")
            self.expect_eq(p.wait(), 1, "exit status", p)
            self.expect("hint: the program ran under %s; Debian's" % wrapper in p.err
                        and "use --python /usr/bin/python3" in p.err, "hint", p)
        p = self.muster_run(["--", "sh", "-c", "echo 'No module named x' >&2; exit 1"])
        self.check("no hint for a program that is not run under Python")
        self.expect_eq(p.wait(), 1, "exit status", p)
        self.expect("hint:" not in p.err, "no hint", p)


if __name__ == "__main__":
    main()
