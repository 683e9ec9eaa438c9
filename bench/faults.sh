#!/usr/bin/env bash
# bench/faults.sh [RUNS]
#
# Two figures of crash safety, on workload A of the shared peer kit (../shared/bench/peers:
# 16 stereo tracks x 60 s, 48 kHz, 24-bit, summed to a 24-bit WAV):
#
#   resume_s             how long after a Signal worker is SIGKILLed the render's progress
#                        resumes: from the moment of the kill (taken here, before kill(2)) to the
#                        job's "resumed" event in its --diagnostics report (wall clock). The
#                        render is stretched with a `slow` test.fault insert on one track (0.5 ms
#                        a block) so there is a middle to kill it in; one worker is killed at a
#                        random point of each run. Median of RUNS.
#   checkpoint_overhead  median render time with a checkpoint after every segment
#                        (render.checkpoint_ms = 0: the worst case, 88 checkpoints, each with its
#                        node snapshots and its checkpoint file written beside the output) over
#                        the median with checkpoints off (checkpoint_ms = 3600000), minus 1;
#                        rounds interleaved.
#
# Every faulted output is compared with an undisturbed render of the same session: a faulted
# run that differs fails the benchmark. The last line is
#     faults resume_s=<median> checkpoint_overhead=<ratio>
#
# Environment: LOOPHOLE_BIN (default <repo>/build/bin/loophole), LOOPHOLE_PEERS_KIT.
# Work folder: <repo>/build/bench/faults (the media are shared with bench/peers.sh).
set -euo pipefail

RUNS=${1:-7}
if [[ $# -gt 1 || ! $RUNS =~ ^[1-9][0-9]*$ ]]; then
    echo "usage: bench/faults.sh [RUNS]   (default 7)" >&2
    exit 2
fi
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
KIT=${LOOPHOLE_PEERS_KIT:-$ROOT/../shared/bench/peers}
BIN=${LOOPHOLE_BIN:-$ROOT/build/bin/loophole}
WORK=$ROOT/build/bench/peers
die() {
    echo "faults.sh: $*" >&2
    exit 1
}
[[ -d $KIT ]] || die "peer kit not found at $KIT (set LOOPHOLE_PEERS_KIT)"
KIT=$(cd "$KIT" && pwd)
[[ $BIN == /* ]] || BIN=$PWD/$BIN
[[ -x $BIN ]] || die "engine not found at $BIN: build it first (make), or set LOOPHOLE_BIN"
command -v python3 >/dev/null || die "python3 is missing (apt-get install -y python3)"
command -v g++ >/dev/null || die "g++ is missing (apt-get install -y g++)"

mkdir -p "$WORK"
cd "$WORK"
# shellcheck source=bench/peer_media.sh
source "$HERE/peer_media.sh"
ensure_peer_media
python3 "$HERE/make_peer_session.py" A session_A.json

python3 - "$RUNS" "$BIN" <<'PYEOF'
import json, os, random, statistics, subprocess, sys, time

runs, binary = int(sys.argv[1]), sys.argv[2]
env = dict(os.environ)
env.pop("LOOPHOLE_RENDER_CHECKPOINT_MS", None)

def render(session, out, extra_env=None, diagnostics=None):
    cmd = [binary, "render", session, "-o", out, "--bits", "24", "--workers", "2", "--force",
           "--progress", "none"]
    if diagnostics:
        cmd += ["--diagnostics", diagnostics]
    return subprocess.Popen(cmd, env=dict(env, **(extra_env or {})),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

def finish(p, what):
    _, err = p.communicate()
    if p.returncode != 0:
        sys.exit(f"faults.sh: {what} failed ({p.returncode}): {err.decode().strip()}")

def same(a, b):
    with open(a, "rb") as x, open(b, "rb") as y:
        return x.read() == y.read()

# -- checkpoint overhead: every segment vs none, interleaved --------------------------------------
times = {"every": [], "none": []}
settings = {"every": {"LOOPHOLE_RENDER_CHECKPOINT_MS": "0"},
            "none": {"LOOPHOLE_RENDER_CHECKPOINT_MS": "3600000"}}
for r in range(runs + 1):  # round 0 warms the caches
    for name in ("none", "every"):
        t0 = time.monotonic()
        p = render("session_A.json", f"ck_{name}.wav", settings[name],
                   diagnostics=f"ck_{name}.json")
        finish(p, f"the {name} render")
        if r > 0:
            times[name].append(time.monotonic() - t0)
if not same("ck_every.wav", "ck_none.wav"):
    sys.exit("faults.sh: checkpoints changed the output")
checkpoints = json.load(open("ck_every.json"))["checkpoints"]
med = {k: statistics.median(v) for k, v in times.items()}
overhead = med["every"] / med["none"] - 1.0
print(f"checkpoints: none {med['none']:.3f} s, after every segment ({checkpoints}) "
      f"{med['every']:.3f} s (medians of {runs})")

# -- resume after a worker is killed --------------------------------------------------------------
s = json.load(open("session_A.json"))
s["test_nodes"] = True
s["tracks"][0]["inserts"] = [{"kind": "test.fault", "fault": "slow", "sleep_ms": 0.5}]
json.dump(s, open("session_A_slow.json", "w"))
finish(render("session_A_slow.json", "slow_ref.wav"), "the undisturbed slow render")
rng = random.Random(2026)
delays = []
for r in range(runs):
    p = render("session_A_slow.json", "slow_killed.wav", diagnostics="slow_killed.json")
    time.sleep(rng.uniform(0.4, 1.0))
    kids = subprocess.run(["pgrep", "-P", str(p.pid), "-x", "loophole-signal"],
                          capture_output=True, text=True).stdout.split()
    if not kids:
        finish(p, "the slow render")
        sys.exit("faults.sh: no Signal worker to kill (the render ended too soon)")
    killed_at = time.time()
    os.kill(int(rng.choice(kids)), 9)
    finish(p, "the killed render")
    if not same("slow_killed.wav", "slow_ref.wav"):
        sys.exit("faults.sh: a render resumed after a kill differs from the undisturbed one")
    events = json.load(open("slow_killed.json"))["events"]
    resumed = [e["unix_time"] for e in events if e["kind"] == "resumed"]
    if not resumed:
        sys.exit("faults.sh: the diagnostics report no resumption")
    delays.append(resumed[0] - killed_at)
print("resume after a kill: " + ", ".join(f"{d * 1000:.0f} ms" for d in delays) +
      " (outputs byte-identical to the undisturbed render)")
print(f"faults resume_s={statistics.median(delays):.3f} checkpoint_overhead={overhead:.3f}")
PYEOF
