#!/usr/bin/env bash
# bench/peers.sh WORKLOAD [RUNS]
#
# Times `loophole render` beside sox and ecasound on the shared kit's peer workload
# (../shared/bench/peers, see its README.md), in one run, interleaved round by round, and checks
# that the three outputs agree. WORKLOAD: A (plain 16-track mix: agreement within 2 LSB at 24 bit);
# B (per-track EQ and compressor, master limiter: the peers' effects are not the same algorithms,
# so agreement is loudness: overall RMS level within 0.5 dB of each peer).
# RUNS: timed rounds (default 5), after one untimed warm-up round.
#
# Environment:
#   LOOPHOLE_BIN        the engine (default: <repo>/build/bin/loophole)
#   LOOPHOLE_PEERS_KIT  the peer kit (default: <repo>/../shared/bench/peers)
#
# Work folder: <repo>/build/bench/peers (gen_media, media/, the session, the outputs, logs).
# Exit status: 0 ok; 1 a prerequisite is missing, a tool failed or the outputs disagree;
# 2 usage.
set -euo pipefail

LSB_LIMIT=2          # A: agreement tolerance, in LSB at 24 bit (1 LSB = 1/8388608 full scale)
RMS_DB_LIMIT=0.5     # B: agreement tolerance of the overall RMS level, in dB
SECONDS_OF_AUDIO=60  # the kit's media length: x-realtime = 60 / median wall seconds

usage() {
    echo "usage: bench/peers.sh WORKLOAD [RUNS]   (WORKLOAD: A or B; RUNS: timed rounds, default 5)" >&2
}
die() {
    echo "peers.sh: $*" >&2
    exit 1
}

WORKLOAD=${1:-}
RUNS=${2:-5}
case "$WORKLOAD" in
    A | B) ;;
    -h | --help)
        usage
        exit 0
        ;;
    *)
        usage
        exit 2
        ;;
esac
if [[ $# -gt 2 || ! $RUNS =~ ^[1-9][0-9]*$ ]]; then
    usage
    exit 2
fi

# ---- locations -------------------------------------------------------------------------------
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
KIT=${LOOPHOLE_PEERS_KIT:-$ROOT/../shared/bench/peers}
BIN=${LOOPHOLE_BIN:-$ROOT/build/bin/loophole}
WORK=$ROOT/build/bench/peers

[[ -d $KIT ]] || die "peer kit not found at $KIT (set LOOPHOLE_PEERS_KIT)"
KIT=$(cd "$KIT" && pwd)
for f in gen_media.cpp "sox_$WORKLOAD.sh" "eca_$WORKLOAD.sh"; do
    [[ -f $KIT/$f ]] || die "peer kit at $KIT lacks $f"
done

[[ $BIN == /* ]] || BIN=$PWD/$BIN
if [[ ! -f $BIN || ! -x $BIN ]]; then
    die "engine not found (or not executable) at $BIN: build it first (make -C build, or make test),
          or point LOOPHOLE_BIN at it"
fi

# ---- tools (this script installs nothing) ------------------------------------------------------
missing=()
need() { # need COMMAND APT_PACKAGE
    command -v "$1" >/dev/null 2>&1 || missing+=("$1 (apt-get install -y $2)")
}
need sox sox
need soxi sox
need ecasound ecasound
need python3 python3
need g++ g++
[[ -f /usr/include/sndfile.h ]] || missing+=("sndfile.h (apt-get install -y libsndfile1-dev)")
if [[ ${#missing[@]} -gt 0 ]]; then
    printf 'peers.sh: missing: %s\n' "${missing[@]}" >&2
    exit 1
fi

TIME_BIN=""
if [[ -x /usr/bin/time ]] && /usr/bin/time -f %M -o /dev/null true >/dev/null 2>&1; then
    TIME_BIN=/usr/bin/time
fi

mkdir -p "$WORK"
cd "$WORK"

# ---- media: build the kit's generator and generate once ----------------------------------------
# shellcheck source=bench/peer_media.sh
source "$HERE/peer_media.sh"
ensure_peer_media

SESSION=$WORK/session_$WORKLOAD.json
python3 "$HERE/make_peer_session.py" "$WORKLOAD" "$SESSION"

# ---- comparison method: max |a - b| through sox, in LSB at 24 bit ------------------------------
# `sox -m -v 1 A -v -1 B` mixes A and -B with the given volumes (no auto-scaling when -v is given);
# `stat` prints the extremes with 6 decimals (1 LSB = 1.2e-7 would print as 0.000000), so a small
# difference is measured again amplified (`vol 4096` below 1024 LSB, `vol 65536` below 64 LSB),
# where it cannot clip and the 6 decimals resolve it to better than 0.001 LSB.
sox_peak() { # sox_peak A B GAIN -> max |(a - b) * GAIN|, full scale 1
    local out
    out=$(sox -D -m -v 1 "$1" -v -1 "$2" -n vol "$3" stat 2>&1) || {
        printf '%s\n' "$out" >&2
        return 1
    }
    awk '/^Maximum amplitude:/ { mx = $3 } /^Minimum amplitude:/ { mn = $3 }
         END { if (mx == "" || mn == "") exit 1
               if (mx < 0) mx = -mx; if (mn < 0) mn = -mn
               printf "%.9f\n", (mx > mn ? mx : mn) }' <<<"$out"
}
diff_lsb() { # diff_lsb A B -> max |a - b| in LSB at 24 bit (2 decimals)
    local coarse gain peak
    coarse=$(sox_peak "$1" "$2" 1) || return 1
    gain=$(awk -v c="$coarse" 'BEGIN { l = c * 8388608; print (l < 64 ? 65536 : (l < 1024 ? 4096 : 1)) }')
    peak=$coarse
    if [[ $gain != 1 ]]; then
        peak=$(sox_peak "$1" "$2" "$gain") || return 1
    fi
    awk -v p="$peak" -v g="$gain" 'BEGIN { printf "%.2f\n", p * 8388608 / g }'
}
within() { # within LSB LIMIT
    awk -v d="$1" -v l="$2" 'BEGIN { exit !(d <= l) }'
}
same_format() { # same_format FILE REFERENCE -> checks rate, channels, bits, length
    local f=$1 r=$2 k a b
    for k in r c b s; do
        a=$(soxi -"$k" "$f" 2>/dev/null) || {
            echo "peers.sh: cannot read $f" >&2
            return 1
        }
        b=$(soxi -"$k" "$r")
        if [[ $a != "$b" ]]; then
            echo "peers.sh: $f differs from $r in soxi -$k: $a vs $b" >&2
            return 1
        fi
    done
}

# Self-test of the method on small constructed 24-bit files: identical -> 0; one sample +1 LSB -> 1;
# one sample -3 LSB -> 3.
mkdir -p selftest
python3 - selftest <<'EOF'
import math, struct, sys, wave
d = sys.argv[1]
n = 4800
base = [int(round(4000000 * math.sin(2 * math.pi * 440 * k / 48000))) for k in range(n)]
def write(name, mod):
    frames = bytearray()
    for k, v in enumerate(base):
        for ch, s in ((0, v), (1, -v // 3)):
            frames += struct.pack("<i", s + mod.get((k, ch), 0))[:3]
    with wave.open(f"{d}/{name}", "wb") as f:
        f.setnchannels(2); f.setsampwidth(3); f.setframerate(48000); f.writeframes(bytes(frames))
write("a.wav", {})
write("b1.wav", {(100, 0): 1})
write("b3.wav", {(2000, 1): -3})
EOF
while read -r file expect; do
    got=$(diff_lsb selftest/a.wav "selftest/$file") || die "comparison self-test: sox failed"
    awk -v g="$got" -v e="$expect" 'BEGIN { d = g - e; exit !(d < 0.01 && d > -0.01) }' ||
        die "comparison self-test: a.wav vs $file measured $got LSB, expected $expect"
done <<<$'a.wav 0\nb1.wav 1\nb3.wav 3'
echo "comparison method: self-test ok (0, 1 and 3 LSB measured exactly)"

# ---- timing ------------------------------------------------------------------------------------
echo
echo "workload $WORKLOAD: 16 tracks x ${SECONDS_OF_AUDIO} s, 48 kHz, 24-bit; $RUNS timed rounds after 1 warm-up; $(nproc) cores"
echo "engine: $BIN"
echo "kit:    $KIT"
echo "work:   $WORK"
rm -f out_loophole.wav out_sox.wav out_eca.wav out_loophole_nodither.wav

python3 - "$RUNS" "$BIN" "$SESSION" "$KIT" "$WORKLOAD" "$SECONDS_OF_AUDIO" "$TIME_BIN" <<'EOF'
import os, statistics, subprocess, sys, time

runs, binary, session, kit, workload = int(sys.argv[1]), *sys.argv[2:6]
audio_s, time_bin = float(sys.argv[6]), sys.argv[7]
tools = [
    ("loophole", [binary, "render", session, "-o", "out_loophole.wav", "--bits", "24",
                  "--workers", "2", "--force", "--progress", "none"]),
    ("sox", ["sh", os.path.join(kit, f"sox_{workload}.sh"), "out_sox.wav"]),
    ("ecasound", ["sh", os.path.join(kit, f"eca_{workload}.sh"), "out_eca.wav"]),
]

def run(name, cmd, rss_file=None):
    if rss_file:
        cmd = [time_bin, "-f", "%M", "-o", rss_file] + cmd
    with open(f"log_{name}.txt", "wb") as log:
        t0 = time.perf_counter()
        rc = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log).returncode
        t1 = time.perf_counter()
    if rc != 0:
        with open(f"log_{name}.txt", "rb") as log:
            tail = log.read()[-2000:].decode(errors="replace")
        sys.stderr.write(f"peers.sh: {name} failed (exit status {rc}): {' '.join(cmd)}\n{tail}\n")
        sys.exit(1)
    return t1 - t0

# warm-up round, untimed; peak RSS is measured here (GNU time), so the timed runs carry no wrapper
rss = {}
for name, cmd in tools:
    rss_file = f"rss_{name}.txt" if time_bin else None
    run(name, cmd, rss_file)
    if rss_file:
        try:
            with open(rss_file) as fh:
                rss[name] = int(fh.read().split()[-1])  # KiB
        except (OSError, ValueError, IndexError):
            pass

times = {name: [] for name, _ in tools}
for r in range(runs):
    for name, cmd in tools:
        times[name].append(run(name, cmd))
    print(f"round {r + 1}/{runs}: " + "  ".join(f"{n} {times[n][-1]:.3f} s" for n, _ in tools),
          flush=True)

med = {name: statistics.median(t) for name, t in times.items()}
print()
print(f"{'tool':<10} {'median s':>9} {'min s':>8} {'max s':>8} {'x-realtime':>11} {'max RSS':>10}")
for name, _ in tools:
    t = times[name]
    m = f"{rss[name] / 1024:.1f} MiB" if name in rss else "-"
    print(f"{name:<10} {med[name]:>9.3f} {min(t):>8.3f} {max(t):>8.3f} {audio_s / med[name]:>10.1f}x {m:>10}")
if not time_bin:
    print("(max RSS skipped: GNU time is not installed at /usr/bin/time; apt-get install -y time)")
else:
    print("(max RSS: GNU time %M on the warm-up run)")
with open(f"ratios_{workload}.txt", "w") as fh:
    fh.write(f"{workload} loophole/sox={med['loophole'] / med['sox']:.2f} "
             f"loophole/ecasound={med['loophole'] / med['ecasound']:.2f}\n")
EOF

# ---- agreement ---------------------------------------------------------------------------------
rms_db() { # rms_db FILE -> the overall RMS level in dBFS (sox stats, all channels)
    local out
    out=$(sox "$1" -n stats 2>&1) || {
        printf '%s\n' "$out" >&2
        return 1
    }
    awk '/^RMS lev dB/ { print $4; found = 1 } END { exit !found }' <<<"$out"
}
peak_db() { # peak_db FILE -> the overall sample peak in dBFS
    sox "$1" -n stats 2>&1 | awk '/^Pk lev dB/ { print $4; found = 1 } END { exit !found }'
}
if [[ $WORKLOAD == B ]]; then
    echo
    echo "agreement (overall RMS level, limit $RMS_DB_LIMIT dB; the effects differ between tools):"
    # ecasound pads its output to a whole buffer (2882560 frames for 2880000): lengths are
    # reported, not required to match; rate, channels and width must.
    for f in out_eca.wav out_loophole.wav; do
        for k in r c b; do
            [[ $(soxi -"$k" "$f") == $(soxi -"$k" out_sox.wav) ]] ||
                die "$f differs from out_sox.wav in soxi -$k"
        done
    done
    printf '  lengths (frames): loophole %s, sox %s, ecasound %s\n' \
        "$(soxi -s out_loophole.wav)" "$(soxi -s out_sox.wav)" "$(soxi -s out_eca.wav)"
    ok=0
    declare -A level
    for tool in loophole sox eca; do
        level[$tool]=$(rms_db "out_$tool.wav") || die "cannot measure out_$tool.wav"
        printf '  %-10s RMS %7s dB   peak %7s dB\n' "$tool" "${level[$tool]}" "$(peak_db "out_$tool.wav")"
    done
    for peer in sox eca; do
        d=$(awk -v a="${level[loophole]}" -v b="${level[$peer]}" 'BEGIN { d = a - b; printf "%+.2f", d }')
        printf '  %-40s %7s dB\n' "loophole vs ${peer/eca/ecasound}:" "$d"
        awk -v d="$d" -v l="$RMS_DB_LIMIT" 'BEGIN { exit !(d <= l && d >= -l) }' || ok=1
    done
    d=$(awk -v a="${level[sox]}" -v b="${level[eca]}" 'BEGIN { printf "%+.2f", a - b }')
    printf '  %-40s %7s dB (the peers, for reference)\n' "sox vs ecasound:" "$d"
    [[ $ok == 0 ]] || die "AGREEMENT FAILED: loophole's RMS level is more than $RMS_DB_LIMIT dB from a peer's"
    echo "  gate: within $RMS_DB_LIMIT dB of both peers"
    echo
    cat "ratios_$WORKLOAD.txt"
    exit 0
fi

echo
echo "agreement (max |difference| at 24 bit, limit $LSB_LIMIT LSB):"
same_format out_sox.wav out_eca.wav || die "sox and ecasound outputs differ in format or length"
d=$(diff_lsb out_sox.wav out_eca.wav) || die "comparison failed"
printf '  %-40s %7s LSB (the peers, for reference)\n' "sox vs ecasound:" "$d"

check_loophole() { # check_loophole FILE LABEL -> prints both pairs; status 0 if both within limit
    local f=$1 label=$2 ok=0 peer d
    same_format "$f" out_sox.wav || return 1
    for peer in sox eca; do
        d=$(diff_lsb "$f" "out_$peer.wav") || return 1
        [[ $peer == eca ]] && peer=ecasound
        printf '  %-40s %7s LSB\n' "loophole ($label) vs $peer:" "$d"
        within "$d" "$LSB_LIMIT" || ok=1
    done
    return $ok
}

if check_loophole out_loophole.wav "default dither"; then
    echo "  gate: default dither output, within $LSB_LIMIT LSB of both peers"
else
    echo "  default (dithered) output exceeds $LSB_LIMIT LSB; rendering again with --dither none ..."
    "$BIN" render "$SESSION" -o out_loophole_nodither.wav --bits 24 --workers 2 --force \
        --progress none --dither none >log_loophole_nodither.txt 2>&1 ||
        die "loophole --dither none failed; see $WORK/log_loophole_nodither.txt"
    if check_loophole out_loophole_nodither.wav "--dither none"; then
        echo "  gate: --dither none output, within $LSB_LIMIT LSB of both peers"
    else
        die "AGREEMENT FAILED: loophole (--dither none) differs from a peer by more than $LSB_LIMIT LSB"
    fi
fi

echo
cat "ratios_$WORKLOAD.txt"
