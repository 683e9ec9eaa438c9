#!/usr/bin/env python3
"""Write the peer-benchmark workload as a Loophole session (docs/session-format.md, version 1).

usage: make_peer_session.py WORKLOAD OUT.json [MEDIA_DIR]

WORKLOAD A: the shared kit's plain 16-track mixdown (../shared/bench/peers, mkcmds.py).
  Track i = 0..15, id "t00".."t15", one stereo clip of MEDIA_DIR/tNN.wav at sample 0,
  fader gain_db = -16 + (i % 5), pan = -0.75 + 1.5*i/15 (the engine's constant-power balance,
  theta = (p+1)*pi/4, L*cos(theta), R*sin(theta), is exactly the kit's pan law),
  48 kHz, master gain 0 dB, no fades.
WORKLOAD B (EQ, compressor, limiter) needs the effect nodes: not yet.

MEDIA_DIR defaults to "media" beside OUT.json; clip paths are written relative to the session
file's folder, as the format requires. Standard library only.
"""
import json
import os
import sys

N_TRACKS = 16
SAMPLE_RATE = 48000


def track_gain_db(i):
    return float(-16 + (i % 5))


def track_pan(i):
    return -0.75 + 1.5 * i / (N_TRACKS - 1)


def session_a(media_rel):
    tracks = []
    for i in range(N_TRACKS):
        tracks.append({
            "id": f"t{i:02d}",
            "channels": 2,
            "gain_db": track_gain_db(i),
            "pan": track_pan(i),
            "clips": [{
                "media": f"{media_rel}/t{i:02d}.wav",
                "position": {"samples": 0},
            }],
        })
    return {
        "format": "loophole-session",
        "version": 1,
        "sample_rate": SAMPLE_RATE,
        "master": {"gain_db": 0.0, "channels": 2},
        "tracks": tracks,
    }


def main(argv):
    if len(argv) not in (3, 4) or argv[1] in ("-h", "--help"):
        sys.stderr.write("usage: make_peer_session.py WORKLOAD OUT.json [MEDIA_DIR]\n")
        return 2
    workload, out = argv[1], argv[2]
    if workload == "B":
        sys.stderr.write("make_peer_session.py: workload B needs the effect nodes: not yet\n")
        return 2
    if workload != "A":
        sys.stderr.write(f"make_peer_session.py: unknown workload {workload!r} (A or B)\n")
        return 2

    out_dir = os.path.dirname(os.path.abspath(out))
    media_dir = argv[3] if len(argv) == 4 else os.path.join(out_dir, "media")
    media_rel = os.path.relpath(os.path.abspath(media_dir), out_dir).replace(os.sep, "/")

    text = json.dumps(session_a(media_rel), indent=2) + "\n"
    tmp = out + ".tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
