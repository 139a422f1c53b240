# launch_worker.py — the Python worker of bench/launch.py, run unchanged by
# muster and by torchrun.  The first statement reads time.time() (the same
# CLOCK_REALTIME the C worker and the benchmark read); the instant, in
# microseconds, goes to $BENCH_DIR/start.$RANK.  Only the standard library is
# imported, so the figure is interpreter start-up plus the launcher's own cost.
import time

_T0_US = time.time_ns() // 1000

import os  # noqa: E402  (after the clock read on purpose)

with open(os.path.join(os.environ["BENCH_DIR"], "start." + os.environ["RANK"]), "w") as f:
    f.write("%d\n" % _T0_US)
