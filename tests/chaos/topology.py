"""topology.py — the chaos test's hosts: one network namespace per agent,
joined to the root namespace (where musterd runs) by a veth pair on a
bridge, so an agent's link can be taken down or made lossy with `ip` and
`tc` while everything still runs on this one machine.

Every name carries the pid of the chaos run that made it (mc<pid>...), so
cleanup removes exactly what this run created, by name, and a later run
can remove what a run killed with SIGKILL left behind (its pid is gone).
Addresses are 10.77.<pid % 250>.0/24: the bridge is .1, agent i is .(i+2);
no traffic leaves these namespaces.

tc netem (random loss) needs a kernel with sch_netem; where it is missing
(some container kernels) a "lossy" link is a token bucket of 64 kbit/s
with a short queue, which drops what does not fit: bursts lose packets
and the heartbeat stream is delayed, which is the same pressure on the
protocol.  Which one was used is printed.
"""

import os
import re
import subprocess

PREFIX = "mc"


def sh(argv, check=True):
    r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                       text=True)
    if check and r.returncode != 0:
        raise RuntimeError("%s: exit %d: %s" % (" ".join(argv), r.returncode,
                                                r.stderr.strip()))
    return r


def have_tools():
    """'' when ip and tc can make namespaces here, else why not."""
    for tool in ("ip", "tc"):
        if sh(["sh", "-c", "command -v " + tool], check=False).returncode:
            return "%s is not installed (apt-get install iproute2)" % tool
    if os.geteuid() != 0:
        return "network namespaces need root"
    return ""


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def sweep_stale():
    """Remove namespaces and links of chaos runs that are no longer alive."""
    pat = re.compile(r"^%s(\d+)" % PREFIX)
    r = sh(["ip", "netns", "list"], check=False)
    for line in r.stdout.splitlines():
        name = line.split()[0] if line.split() else ""
        m = pat.match(name)
        if m and not _pid_alive(int(m.group(1))):
            sh(["ip", "netns", "del", name], check=False)
    r = sh(["ip", "-o", "link", "show"], check=False)
    for line in r.stdout.splitlines():
        parts = line.split(":")
        if len(parts) < 2:
            continue
        name = parts[1].strip().split("@")[0]
        m = pat.match(name)
        if m and not _pid_alive(int(m.group(1))):
            sh(["ip", "link", "del", name], check=False)


class Topology:
    def __init__(self, nagents):
        self.pid = os.getpid()
        self.n = nagents
        self.net = "10.77.%d" % (self.pid % 250)
        self.bridge = "%s%dbr" % (PREFIX, self.pid)
        self.hub_ip = self.net + ".1"
        self.netns = ["%s%d-%d" % (PREFIX, self.pid, i) for i in range(nagents)]
        self.host_if = ["%s%dh%d" % (PREFIX, self.pid, i) for i in range(nagents)]
        self.ns_if = ["%s%dn%d" % (PREFIX, self.pid, i) for i in range(nagents)]
        self.made = False
        self.netem = None
        self.shaped = set()

    def agent_ip(self, i):
        return "%s.%d" % (self.net, i + 2)

    def create(self):
        self.made = True
        sh(["ip", "link", "add", self.bridge, "type", "bridge"])
        sh(["ip", "addr", "add", self.hub_ip + "/24", "dev", self.bridge])
        sh(["ip", "link", "set", self.bridge, "up"])
        for i in range(self.n):
            ns, h, n = self.netns[i], self.host_if[i], self.ns_if[i]
            sh(["ip", "netns", "add", ns])
            sh(["ip", "link", "add", h, "type", "veth", "peer", "name", n])
            sh(["ip", "link", "set", n, "netns", ns])
            sh(["ip", "link", "set", h, "master", self.bridge])
            sh(["ip", "link", "set", h, "up"])
            nx = ["ip", "netns", "exec", ns]
            sh(nx + ["ip", "link", "set", "lo", "up"])
            sh(nx + ["ip", "addr", "add", self.agent_ip(i) + "/24", "dev", n])
            sh(nx + ["ip", "link", "set", n, "up"])
        # Can this kernel do netem?  Try once on the first agent's link.
        r = sh(["tc", "qdisc", "add", "dev", self.host_if[0], "root", "netem",
                "loss", "1%"], check=False)
        self.netem = r.returncode == 0
        if self.netem:
            sh(["tc", "qdisc", "del", "dev", self.host_if[0], "root"], check=False)

    def exec_prefix(self, i):
        return ["ip", "netns", "exec", self.netns[i]]

    def link(self, i, up):
        """Take agent i's link down (both ends lose carrier) or up again."""
        sh(["ip", "link", "set", self.host_if[i], "up" if up else "down"])

    def lossy(self, i, pct):
        """Make agent i's link lose packets (both directions)."""
        self.shaped.add(i)
        if self.netem:
            spec = ["netem", "loss", "%d%%" % pct]
        else:
            spec = ["tbf", "rate", "64kbit", "burst", "1600", "limit", "3000"]
        sh(["tc", "qdisc", "replace", "dev", self.host_if[i], "root"] + spec)
        sh(self.exec_prefix(i) + ["tc", "qdisc", "replace", "dev",
                                  self.ns_if[i], "root"] + spec)

    def clean_link(self, i):
        self.shaped.discard(i)
        sh(["tc", "qdisc", "del", "dev", self.host_if[i], "root"], check=False)
        sh(self.exec_prefix(i) + ["tc", "qdisc", "del", "dev", self.ns_if[i],
                                  "root"], check=False)

    def loss_kind(self):
        return "netem loss" if self.netem else "tbf 64kbit (netem not in this kernel)"

    def destroy(self):
        if not self.made:
            return
        for i in range(self.n):
            sh(["ip", "link", "del", self.host_if[i]], check=False)
            sh(["ip", "netns", "del", self.netns[i]], check=False)
        sh(["ip", "link", "del", self.bridge], check=False)
        self.made = False
