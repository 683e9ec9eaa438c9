#!/usr/bin/env python3
"""Write the peer-benchmark workload as a Loophole session (docs/session-format.md, version 1).

usage: make_peer_session.py WORKLOAD OUT.json [MEDIA_DIR]

WORKLOAD A: the shared kit's plain 16-track mixdown (../shared/bench/peers, mkcmds.py).
  Track i = 0..15, id "t00".."t15", one stereo clip of MEDIA_DIR/tNN.wav at sample 0,
  fader gain_db = -16 + (i % 5), pan = -0.75 + 1.5*i/15 (the engine's constant-power balance,
  theta = (p+1)*pi/4, L*cos(theta), R*sin(theta), is exactly the kit's pan law),
  48 kHz, master gain 0 dB, no fades.
WORKLOAD B: the same tracks, each with the kit's effects as inserts before the fader: a peaking
  EQ at 100 * 2^(0.4 i) Hz, bandwidth 1 octave, +4 dB for even i and -4 dB for odd i (the RBJ
  bandwidth form sox's `equalizer F 1o G` uses), then a feed-forward compressor, peak detector,
  stereo-linked, threshold -24 dB, 3:1, 5 ms attack, 100 ms release, 1 dB knee (ecasound's sc4
  settings in the kit); the master bus ends in a lookahead limiter at -1 dBFS with a 50 ms release.

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


def eq_frequency(i):
    return 100.0 * 2 ** (0.4 * i)


def session_b(media_rel):
    session = session_a(media_rel)
    for i, track in enumerate(session["tracks"]):
        track["inserts"] = [
            {"id": "eq", "kind": "eq",
             "bands": [{"type": "peak", "freq": eq_frequency(i),
                        "gain_db": 4.0 if i % 2 == 0 else -4.0, "bandwidth": 1.0}]},
            {"id": "comp", "kind": "compressor", "detector": "peak", "link": True,
             "threshold_db": -24.0, "ratio": 3.0, "knee_db": 1.0,
             "attack": {"seconds": 0.005}, "release": {"seconds": 0.1}},
        ]
    session["master"]["inserts"] = [
        {"id": "limiter", "kind": "limiter", "ceiling_db": -1.0,
         "release": {"seconds": 0.05}, "lookahead": {"seconds": 0.005}},
    ]
    return session


def main(argv):
    if len(argv) not in (3, 4) or argv[1] in ("-h", "--help"):
        sys.stderr.write("usage: make_peer_session.py WORKLOAD OUT.json [MEDIA_DIR]\n")
        return 2
    workload, out = argv[1], argv[2]
    if workload not in ("A", "B"):
        sys.stderr.write(f"make_peer_session.py: unknown workload {workload!r} (A or B)\n")
        return 2

    out_dir = os.path.dirname(os.path.abspath(out))
    media_dir = argv[3] if len(argv) == 4 else os.path.join(out_dir, "media")
    media_rel = os.path.relpath(os.path.abspath(media_dir), out_dir).replace(os.sep, "/")

    make = session_a if workload == "A" else session_b
    text = json.dumps(make(media_rel), indent=2) + "\n"
    tmp = out + ".tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
