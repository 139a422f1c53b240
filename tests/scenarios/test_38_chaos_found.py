#!/usr/bin/python3
"""Scenario 38 — bugs tests/chaos found, each reduced to a deterministic
case: a pool agent cut off past its job's outage window fences its workers
and registers again as a free node; a submitted job whose pool node
re-registers while the job waits out
its restart backoff takes that node when its next round opens (it used to
wait for free nodes forever, with the node free: "waiting for free nodes:
needs 1, 1 free")."""
import os
import re
import signal
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import MusterCase, ctl_call, main  # noqa: E402


class ChaosFound(MusterCase):
    def test_node_back_during_backoff(self):
        d = self.musterd(extra=["--heartbeat", "100ms"])
        count = os.path.join(self.tmp, "count")
        # Attempts 1-5 fail at once (so the restart backoff grows to 1.6 s),
        # the 6th runs until its agent is killed, the 7th succeeds.
        script = self.write_script("w.sh", """#!/bin/sh
n=$(cat %(c)s 2>/dev/null || echo 0); n=$((n + 1)); echo $n > %(c)s
echo "attempt $n"
[ $n -lt 6 ] && exit 3
[ $n -eq 6 ] && exec sleep 60
exit 0
""" % {"c": count})
        a = self.agent(d, "p0", 1)
        self.wait_for(lambda: (ctl_call(d.ctl_ep, {"t": "ctl.status"}) or {})
                      .get("nodes", 0) >= 1, 20, "the pool agent")
        job = {"id": "backoff", "roles": [{"name": "worker", "min_nodes": 1,
                                           "max_nodes": 1, "nproc": 1}],
               "argv": [script], "last_call_ms": 0, "max_restarts": 20,
               "cordon_failures": 100}
        rep = ctl_call(d.ctl_ep, {"t": "ctl.submit", "job": job})
        self.expect(rep is not None and rep.get("status") == 0,
                    "submit: %r" % (rep,), d)
        self.wait_for(lambda: "attempt 6" in a.out, 30, "the 6th attempt")
        self.check("kill -9 the agent and start it again at once: it "
                   "registers (free) while the job waits out its backoff")
        a.kill()
        a2 = self.agent(d, "p0", 1)
        self.wait_for(lambda: re.search(r"JOB-RECOVER job backoff epoch 6: "
                                        r"node p0 lost", d.err), 20,
                      "the job to recover from the node's loss")
        self.check("when the backoff ends the round takes the free node; the "
                   "7th attempt runs and the job succeeds")
        self.wait_for(lambda: "JOB-DONE job backoff succeeded" in d.err, 30,
                      "the job to take its node again and succeed")
        self.expect("attempt 7" in a2.out, "the 7th attempt ran on the "
                    "restarted agent", a2, d)

    def test_pool_agent_registers_again_after_its_outage_window(self):
        d = self.musterd(extra=["--heartbeat", "100ms"])
        a = self.agent(d, "p0", 1, extra=["--log-level", "info"])
        self.wait_for(lambda: (ctl_call(d.ctl_ep, {"t": "ctl.status"}) or {})
                      .get("nodes", 0) >= 1, 20, "the pool agent")
        job = {"id": "cutoff", "roles": [{"name": "worker", "min_nodes": 1,
                                          "max_nodes": 1, "nproc": 1}],
               "argv": ["/bin/sleep", "60"], "last_call_ms": 0,
               "outage_ms": 1500}
        rep = ctl_call(d.ctl_ep, {"t": "ctl.submit", "job": job})
        self.expect(rep is not None and rep.get("status") == 0,
                    "submit: %r" % (rep,), d)
        self.wait_for(lambda: "EPOCH-START job cutoff epoch 1" in a.err, 20,
                      "the job to start")
        self.check("SIGSTOP musterd past the job's outage window (1.5 s): the "
                   "pool agent kills the job's worker, then registers again "
                   "and stays in the pool")
        d.signal(signal.SIGSTOP)
        try:
            self.wait_for(lambda: "JOB-ABANDONED" in a.err, 20,
                          "the agent to fence its worker and abandon the job")
        finally:
            d.signal(signal.SIGCONT)
        self.wait_for(lambda: a.err.count("REGISTERED") >= 2, 20,
                      "the agent to register again")
        self.expect(a.running(), "the agent is still running", a)
        self.wait_for(lambda: (ctl_call(d.ctl_ep, {"t": "ctl.status"}) or {})
                      .get("nodes", 0) >= 1, 20, "the node back in the pool")


if __name__ == "__main__":
    main()
