#!/usr/bin/python3
"""A local Slurm cluster of 4 virtual nodes on 127.0.0.1, for tests.

One supervisor process owns everything it starts: a private munged (its own
key and socket), slurmctld and one slurmd per virtual node (distinct node
names and ports, SlurmdParameters=config_overrides so they may claim more
CPUs than the machine has), all in the foreground as its children, with all
state in one directory.  It sets PR_SET_CHILD_SUBREAPER, so the slurmstepd's
that slurmd double-forks are reparented to it and reaped here: on machines
whose init does not reap (this one), a careless stop leaves zombies.

    cluster.py up DIR        start, wait until sinfo shows every node idle,
                             print "ready", and supervise until SIGTERM/SIGINT
                             (then stop what it started, wait for it, exit 0)
    cluster.py start DIR     the same, detached; returns once ready (the
                             detached supervisor is an orphan: where init
                             does not reap, it stays a zombie after stop;
                             tests use `up` under their own Popen)
    cluster.py stop DIR      SIGTERM the supervisor of DIR and wait for it
    cluster.py env DIR       the environment a client needs (SLURM_CONF=...)

The configuration is what the tests need: partitions `low` (default,
PreemptMode=REQUEUE, GraceTime=5) and `high` (PriorityTier 10) over the same
nodes, partition-priority preemption decided by backfill every second
(bf_interval=1: the default 30 s makes a preemption wait that long), jobs
requeueable.  Ports are chosen free below 32768 (Linux's ephemeral range
starts there), so the daemons never collide with other tests' port-0 binds.
"""
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

NODES = int(os.environ.get("MUSTER_SLURM_NODES", "4"))
CPUS = int(os.environ.get("MUSTER_SLURM_CPUS", "4"))
GRACE = int(os.environ.get("MUSTER_SLURM_GRACE", "5"))
READY_TIMEOUT = 60


def free_ports(n, lo=21000, hi=32000):
    """n consecutive ports free on 127.0.0.1 (bind-tested), below the
    ephemeral range."""
    start = lo + (os.getpid() * 7) % (hi - lo - n)
    for base in list(range(start, hi - n)) + list(range(lo, start)):
        socks = []
        try:
            for p in range(base, base + n):
                s = socket.socket()
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind(("127.0.0.1", p))
                socks.append(s)
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise SystemExit("cluster.py: no %d free consecutive ports below %d" % (n, hi))


def node_names():
    return ["sn%d" % i for i in range(1, NODES + 1)]


def write_config(d, base):
    user = os.environ.get("USER") or "root"
    names = node_names()
    ports = [base + 1 + i for i in range(NODES)]
    lines = [
        "ClusterName=musterlocal",
        "SlurmctldHost=localhost(127.0.0.1)",
        "SlurmctldPort=%d" % base,
        "SlurmUser=%s" % user,
        "SlurmdUser=root",
        "AuthType=auth/munge",
        "CredType=cred/munge",
        "AuthInfo=socket=%s/munge.sock" % d,
        "StateSaveLocation=%s/state" % d,
        "SlurmdSpoolDir=%s/spool/%%n" % d,
        "SlurmctldPidFile=%s/slurmctld.pid" % d,
        "SlurmdPidFile=%s/slurmd-%%n.pid" % d,
        "SlurmctldLogFile=%s/log/slurmctld.log" % d,
        "SlurmdLogFile=%s/log/slurmd-%%n.log" % d,
        "SlurmdParameters=config_overrides",
        "ProctrackType=proctrack/pgid",
        "TaskPlugin=task/none",
        "SwitchType=switch/none",
        "MpiDefault=none",
        "JobAcctGatherType=jobacct_gather/none",
        "AccountingStorageType=accounting_storage/none",
        "SchedulerType=sched/backfill",
        "SchedulerParameters=bf_interval=1",
        "SelectType=select/cons_tres",
        "SelectTypeParameters=CR_CPU",
        "PreemptType=preempt/partition_prio",
        "PreemptMode=REQUEUE",
        "JobRequeue=1",
        "ReturnToService=2",
        "MinJobAge=600",
        "KillWait=5",
        "InactiveLimit=0",
        "SlurmctldTimeout=30",
        "SlurmdTimeout=60",
        "MessageTimeout=10",
    ]
    for n, p in zip(names, ports):
        lines.append("NodeName=%s NodeAddr=127.0.0.1 NodeHostname=%s Port=%d "
                     "CPUs=%d RealMemory=1000 State=UNKNOWN"
                     % (n, socket.gethostname(), p, CPUS))
    lines.append("PartitionName=low Nodes=ALL Default=YES MaxTime=INFINITE "
                 "State=UP PriorityTier=1 PreemptMode=REQUEUE GraceTime=%d"
                 % GRACE)
    lines.append("PartitionName=high Nodes=ALL MaxTime=INFINITE State=UP "
                 "PriorityTier=10 PreemptMode=OFF")
    with open(os.path.join(d, "slurm.conf"), "w") as f:
        f.write("\n".join(lines) + "\n")
    # slurmd looks for cgroup.conf only with cgroup plugins; an empty
    # plugstack keeps it from reading /etc/slurm's.
    open(os.path.join(d, "plugstack.conf"), "w").close()


def client_env(d):
    env = dict(os.environ)
    env["SLURM_CONF"] = os.path.join(d, "slurm.conf")
    return env


def need(prog):
    path = shutil.which(prog) or (os.path.exists("/usr/sbin/" + prog)
                                  and "/usr/sbin/" + prog)
    if not path:
        raise SystemExit("cluster.py: %s is not installed (scripts/slurm-local.sh "
                         "installs slurm-wlm and munge)" % prog)
    return path


def all_idle(d):
    try:
        out = subprocess.run(["sinfo", "-h", "-N", "-o", "%N %t"], env=client_env(d),
                             capture_output=True, text=True, timeout=10).stdout
    except (subprocess.TimeoutExpired, OSError):
        return False
    states = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 2:
            states[parts[0]] = parts[1]
    return len(states) == NODES and all(s == "idle" for s in states.values())


class Supervisor:
    def __init__(self, d):
        self.d = d
        self.children = []  # (name, Popen)
        self.stopping = False

    def spawn(self, name, argv, env=None):
        log = open(os.path.join(self.d, "log", name + ".out"), "ab")
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                             stderr=subprocess.STDOUT, env=env)
        log.close()
        with open(os.path.join(self.d, name + ".pid"), "w") as f:
            f.write("%d\n" % p.pid)
        self.children.append((name, p))
        return p

    def start(self):
        d = self.d
        for sub in ("state", "spool", "log"):
            os.makedirs(os.path.join(d, sub), exist_ok=True)
        base = free_ports(NODES + 1)
        write_config(d, base)
        key = os.path.join(d, "munge.key")
        if not os.path.exists(key):
            subprocess.run([need("mungekey"), "-c", "-k", key], check=True,
                           capture_output=True)
        os.chmod(key, 0o600)
        self.spawn("munged", [need("munged"), "-F", "--force",
                              "--socket=%s/munge.sock" % d,
                              "--key-file=%s" % key,
                              "--pid-file=%s/munged.daemon.pid" % d,
                              "--seed-file=%s/munged.seed" % d,
                              "--log-file=%s/log/munged.log" % d])
        sock = os.path.join(d, "munge.sock")
        self.wait_for(lambda: os.path.exists(sock), "munged's socket")
        env = client_env(d)
        self.spawn("slurmctld", [need("slurmctld"), "-D", "-i", "-c",
                                 "-f", env["SLURM_CONF"]], env)
        for n in node_names():
            os.makedirs(os.path.join(d, "spool", n), exist_ok=True)
            self.spawn("slurmd-" + n, [need("slurmd"), "-D", "-N", n,
                                       "-f", env["SLURM_CONF"]], env)
        self.wait_for(lambda: all_idle(d), "%d idle nodes in sinfo" % NODES,
                      READY_TIMEOUT)

    def wait_for(self, cond, what, timeout=20):
        t0 = time.time()
        while not cond():
            self.reap()
            for name, p in self.children:
                if p.poll() is not None:
                    raise RuntimeError("%s exited with %s while waiting for %s "
                                       "(logs in %s/log)" % (name, p.returncode,
                                                             what, self.d))
            if time.time() - t0 > timeout:
                raise RuntimeError("timed out waiting for %s (logs in %s/log)"
                                   % (what, self.d))
            time.sleep(0.2)

    def reap(self):
        """Reap adopted orphans (slurmstepd's, their tasks) but not our own
        children, whose Popen objects reap them."""
        own = {p.pid for _, p in self.children}
        # waitid with WNOWAIT tells who is ready without reaping it.
        while True:
            try:
                info = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
            except ChildProcessError:
                return
            if info is None:
                return
            if info.si_pid in own:
                for _, p in self.children:
                    if p.pid == info.si_pid:
                        p.poll()
                own.discard(info.si_pid)
                continue
            try:
                os.waitpid(info.si_pid, 0)
            except ChildProcessError:
                pass

    def stop(self):
        """Cancel every job and wait (bounded) for the queue to drain, so
        no slurmstepd is left finishing a job; SIGTERM the slurmd's, then
        slurmctld, then munged, each waited for (SIGKILL after 15 s); then
        stop and reap whatever of the cluster is left: our adopted children
        and any process whose environment names this cluster's slurm.conf
        (a slurmstepd, a task)."""
        env = client_env(self.d)
        try:
            subprocess.run(["scancel", "--full", "--quiet", "--user",
                            str(os.getuid())], env=env, timeout=15,
                           capture_output=True)
            t0 = time.time()
            while time.time() - t0 < 20:
                q = subprocess.run(["squeue", "-h", "-o", "%i"], env=env,
                                   timeout=15, capture_output=True, text=True)
                if q.returncode != 0 or not q.stdout.strip():
                    break
                self.reap()
                time.sleep(0.2)
        except (OSError, subprocess.TimeoutExpired):
            pass
        order = [c for c in self.children if c[0].startswith("slurmd-")]
        order += [c for c in self.children if c[0] == "slurmctld"]
        order += [c for c in self.children if c[0] == "munged"]
        for group in (order[:-2], order[-2:-1], order[-1:]):
            for name, p in group:
                if p.poll() is None:
                    p.terminate()
            for name, p in group:
                try:
                    p.wait(15)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
                try:
                    os.unlink(os.path.join(self.d, name + ".pid"))
                except FileNotFoundError:
                    pass
        for sig, wait in ((signal.SIGTERM, 5), (signal.SIGKILL, 5)):
            left = self.leftovers()
            for pid in left:
                try:
                    os.kill(pid, sig)
                except OSError:
                    pass
            t0 = time.time()
            while left and time.time() - t0 < wait:
                self.reap_all()
                time.sleep(0.1)
                left = self.leftovers()
        self.reap_all()

    def leftovers(self):
        """Live processes of this cluster: children of this supervisor (the
        slurmstepd's it adopted) and processes whose environment holds
        SLURM_CONF=<this cluster's slurm.conf>."""
        me = os.getpid()
        needle = ("SLURM_CONF=" + client_env(self.d)["SLURM_CONF"]).encode()
        found = []
        for e in os.listdir("/proc"):
            if not e.isdigit() or int(e) == me:
                continue
            try:
                with open("/proc/%s/stat" % e) as f:
                    st = f.read().rsplit(")", 1)[1].split()
                if st[0] == "Z":
                    continue
                if int(st[1]) == me:
                    found.append(int(e))
                    continue
                with open("/proc/%s/environ" % e, "rb") as f:
                    if needle in f.read().split(b"\0"):
                        found.append(int(e))
            except (OSError, IndexError, ValueError):
                pass
        return found

    def reap_all(self):
        while True:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return


def set_subreaper():
    libc = ctypes.CDLL(None, use_errno=True)
    PR_SET_CHILD_SUBREAPER = 36
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        print("cluster.py: warning: PR_SET_CHILD_SUBREAPER failed", file=sys.stderr)


def up(d, ready_fd=None):
    d = os.path.abspath(d)
    os.makedirs(d, exist_ok=True)
    set_subreaper()
    sup = Supervisor(d)
    stop = []
    signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
    signal.signal(signal.SIGINT, lambda *a: stop.append(1))
    with open(os.path.join(d, "supervisor.pid"), "w") as f:
        f.write("%d\n" % os.getpid())
    rc = 0
    try:
        sup.start()
        msg = "ready %s\n" % os.path.join(d, "slurm.conf")
        sys.stdout.write(msg)
        sys.stdout.flush()
        if ready_fd is not None:
            os.write(ready_fd, msg.encode())
            os.close(ready_fd)
        while not stop:
            sup.reap()
            for name, p in sup.children:
                if p.poll() is not None:
                    print("cluster.py: %s exited with %s" % (name, p.returncode),
                          file=sys.stderr)
                    stop.append(1)
            time.sleep(0.2)
    except RuntimeError as e:
        print("cluster.py: %s" % e, file=sys.stderr)
        rc = 1
        if ready_fd is not None:
            os.write(ready_fd, ("failed %s\n" % e).encode())
            os.close(ready_fd)
    finally:
        sup.stop()
        try:
            os.unlink(os.path.join(d, "supervisor.pid"))
        except FileNotFoundError:
            pass
    return rc


def start(d):
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        os.setsid()
        if os.fork() != 0:
            os._exit(0)
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        os._exit(up(d, w))
    os.close(w)
    os.waitpid(pid, 0)
    msg = b""
    while True:
        chunk = os.read(r, 4096)
        if not chunk:
            break
        msg += chunk
    print(msg.decode().strip() or "failed (see %s/log)" % d)
    return 0 if msg.startswith(b"ready") else 1


def stop(d):
    path = os.path.join(os.path.abspath(d), "supervisor.pid")
    try:
        pid = int(open(path).read())
    except (OSError, ValueError):
        print("cluster.py: no cluster running in %s" % d, file=sys.stderr)
        return 1
    os.kill(pid, signal.SIGTERM)
    t0 = time.time()
    while os.path.exists(path) and time.time() - t0 < 60:
        time.sleep(0.1)
    return 0 if not os.path.exists(path) else 1


def main(argv):
    if len(argv) != 3 or argv[1] not in ("up", "start", "stop", "env"):
        print(__doc__, file=sys.stderr)
        return 2
    cmd, d = argv[1], argv[2]
    if cmd == "up":
        return up(d)
    if cmd == "start":
        return start(d)
    if cmd == "stop":
        return stop(d)
    print("export SLURM_CONF=%s" % os.path.join(os.path.abspath(d), "slurm.conf"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
