#!/usr/bin/env python3
"""Generate docs/protocol.md from common/proto_schema.def.

The schema is the one declaration of the wire protocol; this page is made
from it so the documentation cannot drift.  `--check` exits 1 if the page
in the tree is not what the schema gives (a ctest test runs that).
"""
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = ROOT / "common" / "proto_schema.def"
OUT = ROOT / "docs" / "protocol.md"

KIND = {
    "U64": "uint", "I64": "int", "BOOL": "bool", "STR": "str", "BIN": "bin",
    "STRLIST": "[str]", "STRMAP": "{str: str}",
}

INTRO = """# muster wire protocol

*Generated from `common/proto_schema.def` by `scripts/protocol-doc.py`; do not
edit by hand.*

Every message is one ZeroMQ frame (after the routing frames of a ROUTER, and
an empty delimiter frame for REQ clients) holding one msgpack map:

    { "v": 1, "t": "<type>", <field>: <value>, ... }

Fields are keyed by name. A receiver ignores fields it does not know, so a
newer peer may add optional fields. A message with a missing required
field, a field of the wrong msgpack type, more than one body frame, or
anything over a bound (64 MiB per message, 16 MiB per string, 2^20
entries per list or map) is refused: the receiver answers with an `error`
message and carries on. An unknown `t` is `MUSTER_ETYPE` (-10003), a `v`
other than 1 is `MUSTER_EVERSION` (-10002), anything else malformed
`MUSTER_EPROTO` (-10001). Optional fields may be sent as nil.

Directions: A = agent, C = coordinator (`musterd`), W = worker (libmuster),
P = platform client on the control port.

## The control port

musterd serves platforms on two control endpoints, both authenticated
(`docs/security.md`):

- the local socket `ipc://STATE_DIR/ctl.sock` (`/var/lib/muster/ctl.sock`
  for a root musterd): the caller is the local user the kernel names;
- the TCP port (`--ctl-bind`, default `tcp://127.0.0.1:29401`), which speaks
  CURVE: the client needs the server's public key (`STATE_DIR/server.key`)
  and a key pair whose public certificate is in `STATE_DIR/users/` (`muster
  keygen`). A peer without such a key gets no answer at all.

Connect a DEALER (or REQ) socket and send one request at a time; every
request gets exactly one answer: its reply message, or `error` with a
negative `code` (see `include/muster/error.h`) and a `message` for a person.
A user sees and acts on their own jobs only (`MUSTER_EPERM`, -10023,
otherwise); root, musterd's own user and admin keys on every job. A
submitted job belongs to its submitter and runs as that user.

Every control message, with who may send it, a request and reply example
and its errors, is documented in [`docs/control-port.md`](control-port.md);
errors there carry `code_name` and, when one field is at fault, `field`.

| request | answer | what it does |
|---|---|---|
| `ctl.status` | `ctl.status.reply` | every job of the caller (or the one named) with state, epoch, world, nodes, restarts, reason, owner; and the number of registered nodes |
| `ctl.submit` | `ctl.reply` | a job spec to run on free registered nodes (`muster-agent` without a job); `MUSTER_EEXIST` if a job of that id is still live, `MUSTER_EPERM` if another user's job holds the id |
| `ctl.cancel` | `ctl.reply` | stop a job's workers (SIGTERM, grace, SIGKILL) and finish it as `cancelled`; `MUSTER_ENOTFOUND`, `MUSTER_EJOBDONE`, `MUSTER_EPERM` |
| `ctl.checkpoint`, `ctl.preempt`, `ctl.resume` | `ctl.reply` | checkpoint now; checkpoint, stop and suspend within `grace_ms`; run a suspended job again |

Job states: `pending`, `rendezvous`, `running`, `recovering`, `stopping`,
`succeeded`, `failed`, `cancelled`, `suspended`.

Example (Python, pyzmq + msgpack), locally and over TCP:

    s = zmq.Context().socket(zmq.DEALER)
    s.connect("ipc:///var/lib/muster/ctl.sock")
    s.send(msgpack.packb({"v": 1, "t": "ctl.status"}))
    print(msgpack.unpackb(s.recv()))

    c = zmq.Context().socket(zmq.DEALER)
    c.curve_serverkey = SERVER_PUBLIC_KEY            # from server.key
    c.curve_publickey, c.curve_secretkey = MY_PUBLIC, MY_SECRET   # muster keygen
    c.connect("tcp://head:29401")

Agents reach the agent port with CURVE too: a join token's enrolment key may
send only `auth.enroll` (answered by `auth.enrolled`), which authorizes the
node's own key; everything else on that port needs that key.

## Messages
"""


def parse(text):
    items = []
    cur = None
    for line in text.splitlines():
        m = re.match(r'MU_RECORD\((\w+), "(.*)"\)', line)
        if m:
            cur = {"kind": "record", "name": m.group(1), "doc": m.group(2), "fields": []}
            items.append(cur)
            continue
        m = re.match(r'MU_MESSAGE\((\w+), (\w+), "([^"]+)", "(.*)"\)', line)
        if m:
            cur = {"kind": "message", "name": m.group(2), "wire": m.group(3),
                   "doc": m.group(4), "fields": []}
            items.append(cur)
            continue
        m = re.match(r'MU_FIELD\((\w+), (\w+), (\w+), (\w+), (\d), "(.*)"\)', line)
        if m:
            kind, field, sub, req, doc = m.group(2), m.group(3), m.group(4), m.group(5), m.group(6)
            if kind == "REC":
                t = sub
            elif kind == "RECLIST":
                t = "[" + sub + "]"
            else:
                t = KIND[kind]
            cur["fields"].append((field, t, req == "1", doc))
    return items


def render(items):
    out = [INTRO]
    for it in items:
        if it["kind"] != "message":
            continue
        out.append("### `%s`\n\n%s\n" % (it["wire"], it["doc"]))
        out.append(table(it["fields"]))
    out.append("## Records\n\nNested maps used by the messages above.\n")
    for it in items:
        if it["kind"] != "record":
            continue
        out.append("### `%s`\n\n%s\n" % (it["name"], it["doc"]))
        out.append(table(it["fields"]))
    return "\n".join(out)


def table(fields):
    rows = ["| field | type | required | meaning |", "|---|---|---|---|"]
    for f, t, req, doc in fields:
        rows.append("| `%s` | %s | %s | %s |" % (f, t, "yes" if req else "", doc.replace("|", "\\|")))
    return "\n".join(rows) + "\n"


def main():
    page = render(parse(SCHEMA.read_text()))
    if len(sys.argv) > 1 and sys.argv[1] == "--check":
        if not OUT.exists() or OUT.read_text() != page:
            print("docs/protocol.md is out of date: run scripts/protocol-doc.py")
            return 1
        print("docs/protocol.md matches the schema")
        return 0
    OUT.write_text(page)
    return 0


if __name__ == "__main__":
    sys.exit(main())
