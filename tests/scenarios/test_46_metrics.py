#!/usr/bin/python3
"""Scenario 46 — Prometheus metrics (docs/metrics.md): musterd and
muster-agent started with --metrics-bind 127.0.0.1:0 answer GET /metrics
with text a strict parser of the exposition format (0.0.4) accepts, and
the counters move by exactly what a job did: a submitted ckpt_train job
whose rank 1 crashes once and that checkpoints every 50 steps gives two
epochs, one user restart, as many committed checkpoints as musterd logged,
checkpoint bytes, and on the agent one exit by error, one stopped worker
and two clean exits.  Metrics are off by default (no listening socket
beyond the usual ports); a bind that is not loopback-only refuses to start
without --metrics-token-file, and with one a scrape without the token (or
with a wrong one) gets 401."""
import glob
import math
import os
import re
import sys
import urllib.error
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import (MusterCase, bin_path, ctl_call, main,  # noqa: E402
                     zmq_available)

NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
TYPES = ("counter", "gauge", "histogram", "summary", "untyped")


class ExpositionError(ValueError):
    pass


def parse_labels(s, pos, line):
    """Parse '{a="x",b="y"}' from s[pos] ('{'); (dict, position after)."""
    labels = {}
    assert s[pos] == "{"
    pos += 1
    while True:
        if s[pos] == "}":
            return labels, pos + 1
        m = re.match(r"[a-zA-Z_][a-zA-Z0-9_]*", s[pos:])
        if not m:
            raise ExpositionError("bad label name in %r" % line)
        name = m.group(0)
        pos += len(name)
        if s[pos:pos + 2] != '="':
            raise ExpositionError("expected =\" after %s in %r" % (name, line))
        pos += 2
        val = []
        while True:
            if pos >= len(s):
                raise ExpositionError("unterminated label value in %r" % line)
            ch = s[pos]
            if ch == "\\":
                nxt = s[pos + 1:pos + 2]
                if nxt not in ("\\", '"', "n"):
                    raise ExpositionError("bad escape \\%s in %r" % (nxt, line))
                val.append("\n" if nxt == "n" else nxt)
                pos += 2
            elif ch == '"':
                pos += 1
                break
            else:
                val.append(ch)
                pos += 1
        if name in labels:
            raise ExpositionError("label %s twice in %r" % (name, line))
        labels[name] = "".join(val)
        if s[pos] == ",":
            pos += 1
        elif s[pos] != "}":
            raise ExpositionError("expected , or } in %r" % line)


def parse_value(text, line):
    if text in ("+Inf", "-Inf", "NaN"):
        return float(text.replace("Inf", "inf").replace("NaN", "nan"))
    if not re.match(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$", text):
        raise ExpositionError("bad value %r in %r" % (text, line))
    return float(text)


def parse_exposition(text):
    """A strict reader of the Prometheus text format 0.0.4 as muster writes
    it: every family has HELP then TYPE before its samples, names and
    labels are valid, no series twice, counters end in _total and never go
    negative, and each histogram series has cumulative buckets in
    ascending le ending with +Inf equal to its _count, and a _sum.
    Returns {family: {"type", "help", "samples": {(name, labels): value}}}."""
    if not text.endswith("\n"):
        raise ExpositionError("the text does not end with a newline")
    fams = {}
    cur = None
    for line in text.split("\n")[:-1]:
        if line == "":
            raise ExpositionError("empty line")
        if line.startswith("#"):
            parts = line.split(" ", 3)
            if len(parts) < 3 or parts[1] not in ("HELP", "TYPE"):
                raise ExpositionError("stray comment %r" % line)
            name = parts[2]
            if not NAME.match(name):
                raise ExpositionError("bad metric name %r" % name)
            if parts[1] == "HELP":
                if name in fams:
                    raise ExpositionError("family %s twice" % name)
                if len(parts) < 4 or not parts[3].strip():
                    raise ExpositionError("empty HELP of %s" % name)
                fams[name] = {"help": parts[3], "type": None, "samples": {}}
                cur = name
            else:
                if cur != name or fams[name]["type"] is not None:
                    raise ExpositionError("TYPE of %s not right after its HELP" % name)
                if len(parts) != 4 or parts[3] not in TYPES:
                    raise ExpositionError("bad TYPE line %r" % line)
                fams[name]["type"] = parts[3]
            continue
        m = re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", line)
        if not m:
            raise ExpositionError("bad sample line %r" % line)
        sname = m.group(0)
        pos = len(sname)
        labels = {}
        if pos < len(line) and line[pos] == "{":
            labels, pos = parse_labels(line, pos, line)
        if line[pos:pos + 1] != " ":
            raise ExpositionError("no value in %r" % line)
        rest = line[pos + 1:].split(" ")
        if len(rest) not in (1, 2):
            raise ExpositionError("bad value/timestamp in %r" % line)
        value = parse_value(rest[0], line)
        if cur is None or fams[cur]["type"] is None:
            raise ExpositionError("sample %r before its HELP and TYPE" % line)
        ftype = fams[cur]["type"]
        allowed = {cur}
        if ftype == "histogram":
            allowed = {cur + "_bucket", cur + "_sum", cur + "_count"}
        if sname not in allowed:
            raise ExpositionError("sample %s outside its family %s" % (sname, cur))
        key = (sname, tuple(sorted(labels.items())))
        if key in fams[cur]["samples"]:
            raise ExpositionError("series %r twice" % (key,))
        fams[cur]["samples"][key] = value
    for name, f in fams.items():
        if f["type"] is None:
            raise ExpositionError("family %s has no TYPE" % name)
        if not name.startswith("muster_"):
            raise ExpositionError("family %s is not prefixed muster_" % name)
        if f["type"] == "counter":
            if not name.endswith("_total"):
                raise ExpositionError("counter %s does not end in _total" % name)
            for k, v in f["samples"].items():
                if v < 0 or math.isnan(v):
                    raise ExpositionError("counter %r is %r" % (k, v))
        if f["type"] == "histogram":
            check_histogram(name, f["samples"])
    return fams


def check_histogram(name, samples):
    series = {}
    for (sname, labels), v in samples.items():
        d = dict(labels)
        le = d.pop("le", None)
        key = tuple(sorted(d.items()))
        s = series.setdefault(key, {"buckets": [], "sum": None, "count": None})
        if sname == name + "_bucket":
            if le is None:
                raise ExpositionError("%s bucket without le" % name)
            s["buckets"].append((parse_value(le, le), v))
        elif sname == name + "_sum":
            s["sum"] = v
        else:
            s["count"] = v
    for key, s in series.items():
        b = s["buckets"]
        if not b or s["sum"] is None or s["count"] is None:
            raise ExpositionError("%s%r lacks buckets, _sum or _count" % (name, key))
        les = [le for le, _ in b]
        if les != sorted(les) or len(set(les)) != len(les):
            raise ExpositionError("%s%r: le not ascending" % (name, key))
        if les[-1] != float("inf"):
            raise ExpositionError("%s%r: last bucket is not +Inf" % (name, key))
        counts = [c for _, c in b]
        if counts != sorted(counts):
            raise ExpositionError("%s%r: buckets not cumulative" % (name, key))
        if counts[-1] != s["count"]:
            raise ExpositionError("%s%r: +Inf bucket %r != _count %r"
                                  % (name, key, counts[-1], s["count"]))


def value(fams, name, **labels):
    """The value of one series (a histogram: its _count)."""
    f = fams[name]
    sname = name + "_count" if f["type"] == "histogram" else name
    return f["samples"].get((sname, tuple(sorted(labels.items()))), 0.0)


def scrape(url, token=None, method="GET"):
    """(status, body) of a request to url."""
    req = urllib.request.Request(url, method=method)
    if token is not None:
        req.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read().decode(), r.headers.get("Content-Type")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(), e.headers.get("Content-Type")


def listening_tcp_ports(pid):
    """TCP ports the process `pid` listens on (from /proc)."""
    inodes = set()
    for fd in glob.glob("/proc/%d/fd/*" % pid):
        try:
            t = os.readlink(fd)
        except OSError:
            continue
        if t.startswith("socket:["):
            inodes.add(t[8:-1])
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                for row in f:
                    c = row.split()
                    if c[3] == "0A" and c[9] in inodes:
                        ports.add(int(c[1].rsplit(":", 1)[1], 16))
        except OSError:
            pass
    return ports


JOB_STEPS = "400"


class Metrics(MusterCase):
    def metrics_url_of_musterd(self, d):
        with open(d.endpoints_file) as f:
            for line in f:
                parts = line.split()
                if len(parts) == 2 and parts[0] == "metrics":
                    return parts[1]
        return None

    def metrics_url_of_agent(self, a):
        def found():
            m = re.search(r"METRICS serving (http://\S+)", a.err)
            return m.group(1) if m else None
        return self.wait_for(found, 15, "%s to say where it serves metrics" % a.name)

    def scrape_ok(self, url, what, *procs, token=None):
        status, body, ctype = scrape(url, token)
        self.expect_eq(status, 200, "GET %s (%s)" % (url, what), *procs)
        self.expect((ctype or "").startswith("text/plain; version=0.0.4"),
                    "content type %r" % ctype, *procs)
        try:
            return parse_exposition(body)
        except ExpositionError as e:
            self.expect(False, "%s: not valid Prometheus text: %s\n%s"
                        % (what, e, body[:3000]), *procs)

    def test_counters_move_with_a_job(self):
        why = zmq_available()
        if why:
            print("SKIPPED: cannot submit on the control port: " + why, flush=True)
            self.skipTest(why)
        d = self.musterd(extra=["--metrics-bind", "127.0.0.1:0"])
        durl = self.metrics_url_of_musterd(d)
        self.check("musterd writes its metrics URL to the endpoints file")
        self.expect(durl is not None and durl.startswith("http://127.0.0.1:")
                    and durl.endswith("/metrics"), "metrics URL %r" % durl, d)
        a = self.agent(d, "pool0", 2, ["--metrics-bind", "127.0.0.1:0"])
        aurl = self.metrics_url_of_agent(a)
        self.wait_for(lambda: (ctl_call(d.ctl_ep, {"t": "ctl.status"}) or {})
                      .get("nodes") == 1, 20, "the agent to register")

        self.check("both endpoints answer with valid Prometheus text before any job")
        before = self.scrape_ok(durl, "musterd, before", d)
        abefore = self.scrape_ok(aurl, "agent, before", a)
        for name in ("muster_jobs", "muster_epochs_total", "muster_restarts_total",
                     "muster_rendezvous_duration_seconds",
                     "muster_node_loss_detection_seconds",
                     "muster_checkpoint_duration_seconds",
                     "muster_checkpoint_bytes_total", "muster_checkpoints_total",
                     "muster_kv_request_seconds", "muster_barrier_wait_seconds",
                     "muster_heartbeat_lag_seconds", "muster_nodes", "muster_workers",
                     "muster_scheduler_queue_length",
                     "muster_scheduler_placement_seconds"):
            self.expect(name in before, "musterd lacks %s" % name, d)
        for name in ("muster_agent_workers", "muster_agent_worker_exits_total",
                     "muster_agent_spawn_seconds", "muster_agent_output_bytes_total",
                     "muster_agent_coordinator_connected"):
            self.expect(name in abefore, "the agent lacks %s" % name, a)
        self.expect_eq(value(before, "muster_epochs_total"), 0, "epochs before", d)
        self.expect_eq(value(before, "muster_nodes", state="free"), 1,
                       "free nodes before", d)
        self.expect_eq(value(abefore, "muster_agent_coordinator_connected"), 1,
                       "agent connected", a)

        ck = os.path.join(self.tmp, "ck")
        job = {"id": "metrics46",
               "roles": [{"name": "worker", "min_nodes": 1, "max_nodes": 1,
                          "nproc": 2}],
               "argv": [bin_path("ckpt_train"), "--steps", JOB_STEPS,
                        "--step-ms", "5", "--crash-at", "200", "--crash-rank", "1"],
               "last_call_ms": 0, "max_restarts": 3, "ckpt_dir": ck,
               "ckpt_every_steps": 50}
        rep = ctl_call(d.ctl_ep, {"t": "ctl.submit", "job": job})
        self.expect(rep is not None and rep.get("status") == 0, "submit: %r" % (rep,), d)

        def finished():
            f = parse_exposition(scrape(durl)[1])
            done = sum(value(f, "muster_jobs", state=s)
                       for s in ("succeeded", "failed", "cancelled"))
            return f if done else None
        after = self.wait_for(finished, 90, "the job to finish (seen in muster_jobs)",
                              interval=0.3)
        after = self.scrape_ok(durl, "musterd, after", d)
        aafter = self.scrape_ok(aurl, "agent, after", a)

        self.check("the job succeeded: muster_jobs{state=succeeded} 1")
        self.expect_eq(value(after, "muster_jobs", state="succeeded"), 1,
                       "succeeded jobs", d, a)
        self.check("two epochs, two rendezvous rounds timed, one placement")
        self.expect_eq(value(after, "muster_epochs_total"), 2, "epochs", d, a)
        self.expect_eq(value(after, "muster_rendezvous_duration_seconds"), 2,
                       "rendezvous observations", d)
        self.expect_eq(value(after, "muster_scheduler_placement_seconds"), 1,
                       "placement observations", d)
        self.check("one restart, caused by the user's program")
        self.expect_eq(value(after, "muster_restarts_total", cause="user"), 1,
                       "user restarts", d)
        for cause in ("infra", "scale_up", "preempt"):
            self.expect_eq(value(after, "muster_restarts_total", cause=cause), 0,
                           "%s restarts" % cause, d)
        committed_logged = len(re.findall(r"CKPT-COMMITTED", d.err))
        self.check("checkpoints committed = CKPT-COMMITTED lines of musterd (%d)"
                   % committed_logged)
        committed = value(after, "muster_checkpoints_total", outcome="committed")
        self.expect(committed_logged >= 2, "at least two checkpoints committed", d, a)
        self.expect_eq(committed, committed_logged, "committed checkpoints", d)
        ended = sum(value(after, "muster_checkpoints_total", outcome=o)
                    for o in ("committed", "aborted", "dropped"))
        self.expect_eq(value(after, "muster_checkpoint_duration_seconds"), ended,
                       "a duration for every checkpoint attempt that ended", d)
        newest = sorted(glob.glob(os.path.join(ck, "metrics46", "step-*", "MANIFEST")))
        self.expect(newest, "a committed checkpoint on disk", d)
        shard_bytes = sum(os.path.getsize(p) for p in
                          glob.glob(os.path.join(os.path.dirname(newest[-1]), "*"))
                          if not p.endswith("MANIFEST"))
        self.check("checkpoint bytes count every committed shard (>= the newest "
                   "step's %d bytes, <= %d x that)" % (shard_bytes, committed))
        got = value(after, "muster_checkpoint_bytes_total")
        self.expect(shard_bytes > 0 and shard_bytes <= got <= committed * shard_bytes,
                    "checkpoint bytes %r" % got, d)
        self.check("nothing is running any more, the node is free again")
        self.expect_eq(value(after, "muster_workers"), 0, "workers", d)
        self.expect_eq(value(after, "muster_nodes", state="free"), 1, "free nodes", d)

        self.check("the agent counted 4 spawns, 2 clean exits, 1 error exit "
                   "and 1 worker it stopped for the restart")
        self.expect_eq(value(aafter, "muster_agent_spawn_seconds"), 4, "spawns", a)
        got = {c: value(aafter, "muster_agent_worker_exits_total", cause=c)
               for c in ("ok", "error", "stopped", "signal", "hung", "fenced",
                         "failed_to_start")}
        self.expect_eq(got, {"ok": 2, "error": 1, "stopped": 1, "signal": 0,
                             "hung": 0, "fenced": 0, "failed_to_start": 0},
                       "worker exits by cause", a)
        self.expect_eq(value(aafter, "muster_agent_epochs_total"), 2, "agent epochs", a)
        self.expect(value(aafter, "muster_agent_output_bytes_total", stream="stdout")
                    >= len("[worker 0] done at step"), "stdout bytes counted", a)
        self.expect_eq(value(aafter, "muster_agent_workers", state="running"), 0,
                       "running workers", a)

        self.check("other paths and methods: 404 and 405")
        self.expect_eq(scrape(durl.replace("/metrics", "/"))[0], 404, "GET /", d)
        self.expect_eq(scrape(durl, method="POST")[0], 405, "POST /metrics", d)

    def test_kv_barrier_and_node_loss(self):
        why = zmq_available()
        if why:
            print("SKIPPED: cannot submit on the control port: " + why, flush=True)
            self.skipTest(why)
        d = self.musterd(extra=["--metrics-bind", "127.0.0.1:0"])
        durl = self.metrics_url_of_musterd(d)
        self.agent(d, "pool0", 2)
        self.wait_for(lambda: (ctl_call(d.ctl_ep, {"t": "ctl.status"}) or {})
                      .get("nodes") == 1, 20, "the agent to register")
        job = {"id": "hello46",
               "roles": [{"name": "worker", "min_nodes": 1, "max_nodes": 1,
                          "nproc": 2}],
               "argv": [bin_path("hello_gang")], "last_call_ms": 0}
        rep = ctl_call(d.ctl_ep, {"t": "ctl.submit", "job": job})
        self.expect(rep is not None and rep.get("status") == 0, "submit: %r" % (rep,), d)

        def succeeded():
            f = parse_exposition(scrape(durl)[1])
            return f if value(f, "muster_jobs", state="succeeded") == 1 else None
        self.wait_for(succeeded, 60, "hello_gang to succeed", interval=0.3)
        f = self.scrape_ok(durl, "after hello_gang", d)
        self.check("hello_gang's KV traffic: 1 put and 2 gets answered, "
                   "2 ranks released by its barrier")
        self.expect_eq((value(f, "muster_kv_request_seconds", op="put"),
                        value(f, "muster_kv_request_seconds", op="get"),
                        value(f, "muster_barrier_wait_seconds")), (1, 2, 2),
                       "KV put, get and barrier observations", d)
        self.check("heartbeats are timed (lag observed once a node sent two)")
        self.wait_for(lambda: value(parse_exposition(scrape(durl)[1]),
                                    "muster_heartbeat_lag_seconds") >= 1,
                      20, "a heartbeat's lag to be observed")
        self.expect_eq(value(f, "muster_nodes_lost_total", how="connection"), 0,
                       "nodes lost before the kill", d)

        self.check("a free agent SIGKILLed: one node lost by its connection, "
                   "its detection timed")
        b = self.agent(d, "pool1", 1)
        self.wait_for(lambda: value(parse_exposition(scrape(durl)[1]),
                                    "muster_nodes", state="free") == 2,
                      20, "the second agent to register")
        b.kill()
        self.wait_for(lambda: value(parse_exposition(scrape(durl)[1]),
                                    "muster_nodes_lost_total", how="connection") == 1,
                      20, "musterd to declare pool1 lost")
        f = self.scrape_ok(durl, "after the kill", d)
        self.expect_eq(value(f, "muster_node_loss_detection_seconds"), 1,
                       "loss detections timed", d)
        self.expect_eq(value(f, "muster_nodes", state="free"), 1, "free nodes", d)

    def test_off_by_default(self):
        d = self.musterd(extra=["--log-level", "info"])
        a = self.agent(d, "pool0", 1)
        self.wait_for(lambda: "NODE-REGISTERED node pool0" in d.err, 15,
                      "the agent to register")
        self.check("without --metrics-bind musterd listens on its agent and "
                   "control ports only, and names no metrics URL")
        ports = listening_tcp_ports(d.pid)
        want = {int(d.agent_ep.rsplit(":", 1)[1]), int(d.ctl_tcp_ep.rsplit(":", 1)[1])}
        self.expect_eq(ports, want, "musterd's listening ports", d)
        self.expect(self.metrics_url_of_musterd(d) is None, "no metrics line", d)
        self.expect("METRICS" not in d.err, "no METRICS line", d)
        self.check("without --metrics-bind muster-agent listens on no TCP port")
        self.expect_eq(listening_tcp_ports(a.pid), set(), "agent's ports", a)
        self.expect("METRICS" not in a.err, "no METRICS line", a)
        self.check("with --metrics-bind, one more port, the metrics URL's")
        d2 = self.musterd("musterd2", extra=["--metrics-bind", "127.0.0.1:0"])
        url = self.metrics_url_of_musterd(d2)
        port = int(url.rsplit(":", 1)[1].split("/")[0])
        ports2 = listening_tcp_ports(d2.pid)
        self.expect(port in ports2 and len(ports2) == 3,
                    "ports %r, metrics %d" % (ports2, port), d2)

    def token_file(self, name, token, mode=0o600):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(token + "\n")
        os.chmod(path, mode)
        return path

    def test_non_loopback_needs_a_token(self):
        state = os.path.join(self.tmp, "d.state")
        self.check("musterd --metrics-bind 0.0.0.0:0 without a token refuses to start")
        p = self.start("musterd-open", [bin_path("musterd"), "--agent-bind",
                                        "127.0.0.1:0", "--ctl-bind", "none",
                                        "--state-dir", state,
                                        "--metrics-bind", "0.0.0.0:0"])
        self.expect_eq(p.wait(15), 2, "exit status", p)
        lines = [ln for ln in p.err.splitlines() if "metrics" in ln]
        self.expect(len(lines) == 1 and "--metrics-token-file" in lines[0]
                    and "not loopback-only" in lines[0],
                    "one line naming the problem: %r" % lines, p)
        self.check("muster-agent --metrics-bind 0.0.0.0:0 without a token refuses too")
        p = self.start("agent-open", [bin_path("muster-agent"), "--coordinator",
                                      "127.0.0.1:1", "--insecure",
                                      "--metrics-bind", "0.0.0.0:0"])
        self.expect_eq(p.wait(15), 2, "exit status", p)
        self.expect("--metrics-token-file" in p.err, "names the flag", p)
        self.check("a token file others can read is refused, naming its mode")
        loose = self.token_file("loose", "x" * 32, 0o644)
        p = self.start("musterd-loose", [bin_path("musterd"), "--agent-bind",
                                         "127.0.0.1:0", "--ctl-bind", "none",
                                         "--state-dir", state,
                                         "--metrics-bind", "0.0.0.0:0",
                                         "--metrics-token-file", loose])
        self.expect_eq(p.wait(15), 2, "exit status", p)
        self.expect("chmod 600" in p.err and "0644" in p.err, "says why", p)
        self.check("a short token is refused")
        short = self.token_file("short", "abc")
        p = self.start("musterd-short", [bin_path("musterd"), "--agent-bind",
                                         "127.0.0.1:0", "--ctl-bind", "none",
                                         "--state-dir", state,
                                         "--metrics-bind", "0.0.0.0:0",
                                         "--metrics-token-file", short])
        self.expect_eq(p.wait(15), 2, "exit status", p)
        self.expect("too short" in p.err, "says why", p)

        token = "s3cret-" + "t" * 25
        tf = self.token_file("token", token)
        d = self.musterd(extra=["--metrics-bind", "0.0.0.0:0",
                                "--metrics-token-file", tf])
        url = self.metrics_url_of_musterd(d)
        port = int(url.rsplit(":", 1)[1].split("/")[0])
        local = "http://127.0.0.1:%d/metrics" % port
        self.check("with a token file: no Authorization header gets 401")
        status, body, _ = scrape(local)
        self.expect_eq(status, 401, "status without a token", d)
        self.expect("Bearer" in body, "401 says what to send: %r" % body, d)
        self.check("a wrong token (and one that is a prefix of it) gets 401")
        self.expect_eq(scrape(local, "wrong-" + "t" * 26)[0], 401, "wrong token", d)
        self.expect_eq(scrape(local, token[:-1])[0], 401, "prefix of the token", d)
        self.expect_eq(scrape(local, token + "x")[0], 401, "token plus a byte", d)
        self.check("the right token gets valid Prometheus text")
        self.scrape_ok(local, "with the token", d, token=token)
        self.check("muster-agent enforces the same token")
        a = self.agent(d, "pool0", 1, ["--metrics-bind", "0.0.0.0:0",
                                       "--metrics-token-file", tf])
        aurl = self.metrics_url_of_agent(a)
        aport = int(aurl.rsplit(":", 1)[1].split("/")[0])
        alocal = "http://127.0.0.1:%d/metrics" % aport
        self.expect_eq(scrape(alocal)[0], 401, "agent without a token", a)
        self.scrape_ok(alocal, "agent with the token", a, token=token)


if __name__ == "__main__":
    main()
