#!/usr/bin/python3
"""deploy_k8s.py — the Kubernetes manifests of deploy/k8s, checked offline.

No cluster is reachable here, so this is what can be checked without one
(docs/deploy.md says what was and was not tried):

  * every file parses as YAML; every object has apiVersion, kind,
    metadata.name and metadata.namespace `muster` (the Namespace excepted),
    and the kind's required fields (a workload's selector, template,
    containers with image and command; a Service's ports; ...);
  * references resolve: a Service's selector matches a workload's pod
    labels and its targetPort names a containerPort of those pods; a
    StatefulSet's serviceName is a headless Service; every volumeMount
    names a volume (or a volumeClaimTemplate); every secret volume names the
    Secret and keys it holds; every PVC claim exists; every $(VAR) in args
    is an env var of the container;
  * muster's own rules: the agents' --rdzv-endpoint is the musterd
    Service's DNS name and port; the Volcano PodGroup's minMember equals the
    job's --nnodes MIN and its pods name the PodGroup and the volcano
    scheduler; SIGTERM's grace (terminationGracePeriodSeconds) is longer
    than --preempt-grace; exit 75 (preempted) is ignored by the Job's
    podFailurePolicy, and restartPolicy is Never (which it requires);
    the node id and address come from the downward API; no token is
    passed inline (only --join-token-file from the Secret);
  * every flag the manifests give muster or musterd is in that program's
    --help (with --bin DIR).

Each check is also run against a broken copy of the manifests (mutations
below) and must fail there: the checker cannot pass vacuously.

Usage: deploy_k8s.py [--bin DIR]
"""
import argparse
import copy
import glob
import os
import re
import subprocess
import sys

import yaml

SRC = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
K8S = os.path.join(SRC, "deploy", "k8s")
WORKLOADS = {"Deployment", "StatefulSet", "Job", "DaemonSet"}


def load():
    objs = []
    for path in sorted(glob.glob(os.path.join(K8S, "*.yaml"))):
        with open(path) as f:
            for doc in yaml.safe_load_all(f):
                if doc is not None:
                    objs.append((os.path.basename(path), doc))
    return objs


def get(obj, path, default=None):
    cur = obj
    for p in path.split("."):
        if not isinstance(cur, dict) or p not in cur:
            return default
        cur = cur[p]
    return cur


def pod_spec(obj):
    return get(obj, "spec.template.spec")


def pod_labels(obj):
    return get(obj, "spec.template.metadata.labels", {}) or {}


def flag_value(args, flag):
    for i, a in enumerate(args):
        if a == flag and i + 1 < len(args):
            return str(args[i + 1])
        if isinstance(a, str) and a.startswith(flag + "="):
            return a.split("=", 1)[1]
    return None


def duration_s(v):
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m|h)?", v or "")
    if not m:
        return None
    n = float(m.group(1))
    return n * {"ms": 0.001, None: 1, "s": 1, "m": 60, "h": 3600}[m.group(2)]


def check(objs, helps=None):
    """A list of problems (empty: the manifests pass)."""
    errs = []
    by_kind = {}
    for f, o in objs:
        where = "%s: %s/%s" % (f, o.get("kind"), get(o, "metadata.name"))
        for k in ("apiVersion", "kind"):
            if not o.get(k):
                errs.append("%s: no %s" % (where, k))
        if not get(o, "metadata.name"):
            errs.append("%s: no metadata.name" % where)
        if o.get("kind") != "Namespace" and get(o, "metadata.namespace") != "muster":
            errs.append("%s: metadata.namespace is not muster" % where)
        by_kind.setdefault(o.get("kind"), {})[get(o, "metadata.name")] = (f, o)
    if "muster" not in by_kind.get("Namespace", {}):
        errs.append("no Namespace muster")
    secrets = by_kind.get("Secret", {})
    pvcs = by_kind.get("PersistentVolumeClaim", {})
    services = by_kind.get("Service", {})
    workloads = [(f, o) for f, o in objs if o.get("kind") in WORKLOADS]

    for f, o in workloads:
        where = "%s: %s/%s" % (f, o["kind"], get(o, "metadata.name"))
        spec = pod_spec(o)
        if not spec or not spec.get("containers"):
            errs.append("%s: no pod template with containers" % where)
            continue
        sel = get(o, "spec.selector.matchLabels")
        if o["kind"] != "Job":
            if not sel:
                errs.append("%s: no spec.selector.matchLabels" % where)
            elif any(pod_labels(o).get(k) != v for k, v in sel.items()):
                errs.append("%s: selector %r does not match the pod labels %r"
                            % (where, sel, pod_labels(o)))
        if o["kind"] == "StatefulSet":
            sn = get(o, "spec.serviceName")
            svc = services.get(sn)
            if svc is None:
                errs.append("%s: serviceName %s is no Service" % (where, sn))
            elif get(svc[1], "spec.clusterIP") != "None":
                errs.append("%s: serviceName %s is not headless" % (where, sn))
        volumes = {v.get("name"): v for v in spec.get("volumes", []) or []}
        claims = {get(t, "metadata.name") for t in
                  get(o, "spec.volumeClaimTemplates", []) or []}
        for v in volumes.values():
            sec = v.get("secret")
            if sec is not None:
                s = secrets.get(sec.get("secretName"))
                if s is None:
                    errs.append("%s: volume %s: no Secret %s"
                                % (where, v["name"], sec.get("secretName")))
                else:
                    keys = set((s[1].get("data") or {}).keys()) | set(
                        (s[1].get("stringData") or {}).keys())
                    for it in sec.get("items", []) or []:
                        if it.get("key") not in keys:
                            errs.append("%s: volume %s: Secret %s has no key %s"
                                        % (where, v["name"], sec["secretName"],
                                           it.get("key")))
            pvc = v.get("persistentVolumeClaim")
            if pvc is not None and pvc.get("claimName") not in pvcs:
                errs.append("%s: volume %s: no PersistentVolumeClaim %s"
                            % (where, v["name"], pvc.get("claimName")))
        for c in (spec.get("initContainers") or []) + spec["containers"]:
            cw = "%s container %s" % (where, c.get("name"))
            if not c.get("image"):
                errs.append("%s: no image" % cw)
            if not c.get("command"):
                errs.append("%s: no command" % cw)
            for m in c.get("volumeMounts", []) or []:
                if m.get("name") not in volumes and m.get("name") not in claims:
                    errs.append("%s: volumeMount %s names no volume"
                                % (cw, m.get("name")))
            env = {e.get("name"): e for e in c.get("env", []) or []}
            args = [str(a) for a in c.get("args", []) or []]
            for a in args:
                for var in re.findall(r"\$\((\w+)\)", a):
                    if var not in env:
                        errs.append("%s: $(%s) in args is no env var" % (cw, var))
            prog = os.path.basename((c.get("command") or [""])[0])
            if helps and prog in helps:
                opts = args[1:] if prog == "muster" and args[:1] == ["run"] else args
                for a in opts:
                    if a == "--":
                        break
                    if a.startswith("--"):
                        name = a.split("=", 1)[0]
                        if not re.search(r"(^|[\s,])%s\b" % re.escape(name),
                                         helps[prog]):
                            errs.append("%s: %s is not in `%s --help`"
                                        % (cw, name, prog))
            if prog == "muster" and args[:1] == ["run"]:
                errs += check_muster_run(o, spec, c, env, args, cw, by_kind)
    for name, (f, s) in services.items():
        where = "%s: Service/%s" % (f, name)
        sel = get(s, "spec.selector") or {}
        ports = get(s, "spec.ports") or []
        if not ports:
            errs.append("%s: no ports" % where)
        match = [o for _, o in workloads if sel and all(
            pod_labels(o).get(k) == v for k, v in sel.items())]
        if not match:
            errs.append("%s: selector %r matches no workload's pods" % (where, sel))
        for p in ports:
            tp = p.get("targetPort", p.get("port"))
            if isinstance(tp, str):
                names = {cp.get("name") for o in match for c in
                         pod_spec(o)["containers"] for cp in c.get("ports", []) or []}
                if tp not in names:
                    errs.append("%s: targetPort %s is no containerPort name of "
                                "its pods" % (where, tp))
    return errs


def check_muster_run(job, spec, c, env, args, cw, by_kind):
    errs = []
    ep = flag_value(args, "--rdzv-endpoint") or ""
    host, _, port = ep.rpartition(":")
    svc_name = host.split(".")[0]
    svc = by_kind.get("Service", {}).get(svc_name)
    if svc is None or not host.endswith(".muster.svc") and host != svc_name:
        errs.append("%s: --rdzv-endpoint %s is not a Service of namespace muster"
                    % (cw, ep))
    elif str(port) not in [str(p.get("port")) for p in get(svc[1], "spec.ports")]:
        errs.append("%s: --rdzv-endpoint port %s is not a port of Service %s"
                    % (cw, port, svc_name))
    if flag_value(args, "--join-token") is not None:
        errs.append("%s: a token inline in args (use --join-token-file)" % cw)
    tokf = flag_value(args, "--join-token-file")
    mounts = {m.get("mountPath"): m.get("name") for m in c.get("volumeMounts", [])}
    if tokf is None or os.path.dirname(tokf) not in mounts:
        errs.append("%s: --join-token-file %s is not on a mounted volume"
                    % (cw, tokf))
    for flag, field in (("--node-id", "metadata.name"),
                        ("--advertise-host", "status.podIP")):
        v = flag_value(args, flag) or ""
        m = re.fullmatch(r"\$\((\w+)\)", v)
        if not m or get(env.get(m.group(1), {}), "valueFrom.fieldRef.fieldPath") != field:
            errs.append("%s: %s is not the downward API's %s" % (cw, flag, field))
    nn = flag_value(args, "--nnodes") or "1"
    lo = int(nn.split(":")[0])
    hi = int(nn.split(":")[-1])
    grace = duration_s(flag_value(args, "--preempt-grace") or "30s")
    tgps = spec.get("terminationGracePeriodSeconds", 30)
    if grace is None or not grace < tgps:
        errs.append("%s: --preempt-grace %s is not shorter than "
                    "terminationGracePeriodSeconds %s" % (cw, grace, tgps))
    if job["kind"] == "Job":
        par = get(job, "spec.parallelism", 1)
        if not lo <= par <= hi:
            errs.append("%s: parallelism %s outside --nnodes %s" % (cw, par, nn))
        if spec.get("restartPolicy") != "Never":
            errs.append("%s: restartPolicy must be Never (podFailurePolicy)" % cw)
        rules = get(job, "spec.podFailurePolicy.rules", []) or []
        if not any(r.get("action") == "Ignore" and 75 in
                   (get(r, "onExitCodes.values", []) or []) for r in rules):
            errs.append("%s: podFailurePolicy does not ignore exit 75 "
                        "(preempted)" % cw)
        group = get(job, "spec.template.metadata.annotations", {}).get(
            "scheduling.k8s.io/group-name")
        pg = by_kind.get("PodGroup", {}).get(group)
        if pg is None:
            errs.append("%s: the pods name no PodGroup (annotation "
                        "scheduling.k8s.io/group-name)" % cw)
        else:
            if get(pg[1], "spec.minMember") != lo:
                errs.append("%s: PodGroup %s minMember %s is not --nnodes MIN %d"
                            % (cw, group, get(pg[1], "spec.minMember"), lo))
            if spec.get("schedulerName") != "volcano":
                errs.append("%s: schedulerName is not volcano" % cw)
    return errs


# Broken copies that must each fail: (what, mutate(objs)).
def _find(objs, kind, name=None):
    for _, o in objs:
        if o.get("kind") == kind and (name is None or get(o, "metadata.name") == name):
            return o
    raise KeyError(kind)


def _muster(objs):
    return pod_spec(_find(objs, "Job"))["containers"][0]


def _set_arg(objs, flag, value):
    a = _muster(objs)["args"]
    a[a.index(flag) + 1] = value


MUTATIONS = [
    ("secret key renamed", lambda o: _find(o, "Secret")["stringData"].update(
        {"token": _find(o, "Secret")["stringData"].pop("join-token")})),
    ("service selector typo", lambda o: _find(o, "Service", "musterd")["spec"]
        ["selector"].update({"app.kubernetes.io/name": "musterdd"})),
    ("targetPort unnamed", lambda o: _find(o, "Service", "musterd")["spec"]
        ["ports"][0].update({"targetPort": "agents"})),
    ("minMember differs", lambda o: _find(o, "PodGroup")["spec"].update(
        {"minMember": 3})),
    ("grace too short", lambda o: pod_spec(_find(o, "Job")).update(
        {"terminationGracePeriodSeconds": 30})),
    ("exit 75 not ignored", lambda o: _find(o, "Job")["spec"].pop("podFailurePolicy")),
    ("endpoint port", lambda o: _set_arg(o, "--rdzv-endpoint",
                                         "musterd.muster.svc:29401")),
    ("node id not downward", lambda o: _set_arg(o, "--node-id", "node1")),
    ("volume mount missing", lambda o: pod_spec(_find(o, "Job"))["volumes"].pop(0)),
    ("no namespace", lambda o: _find(o, "Service", "musterd")["metadata"].pop(
        "namespace")),
    ("inline token", lambda o: _muster(o)["args"].extend(["--join-token", "x"])),
    ("headless lost", lambda o: _find(o, "Service", "musterd-headless")["spec"]
        .pop("clusterIP")),
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin")
    a = ap.parse_args()
    helps = {}
    if a.bin:
        for prog in ("muster", "musterd"):
            argv = [os.path.join(a.bin, prog)] + (["run"] if prog == "muster" else []) + ["--help"]
            helps[prog] = subprocess.run(argv, capture_output=True, text=True).stdout
    objs = load()
    kinds = sorted({o.get("kind") for _, o in objs})
    print("deploy/k8s: %d objects (%s)" % (len(objs), ", ".join(kinds)))
    errs = check(objs, helps)
    for e in errs:
        print("FAIL " + e)
    bad = 0
    for what, mutate in MUTATIONS:
        m = copy.deepcopy(objs)
        mutate(m)
        found = check(m, helps)
        if not found:
            print("FAIL the check passes a broken copy: %s" % what)
            bad += 1
        else:
            print("ok   broken copy caught (%s): %s" % (what, found[0]))
    if errs or bad:
        return 1
    print("deploy/k8s: all checks pass; %d broken copies caught" % len(MUTATIONS))
    return 0


if __name__ == "__main__":
    sys.exit(main())
