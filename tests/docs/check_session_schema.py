#!/usr/bin/env python3
"""Checks docs/session.schema.json against the documented session format.

Usage: check_session_schema.py REPO_ROOT

Validates examples/demo/session.json (must pass), a set of invalid sessions built in
memory (one per rule, each must fail) and a few valid variants (each must pass). The
rules mirror drivers/session_file.cpp, the reference validator.

Needs the jsonschema module (Debian: python3-jsonschema); a missing module is a failure,
not a skip: `make` installs it with the test packages.
"""

import copy
import json
import os
import sys

try:
    import jsonschema
except ImportError:
    print("check_session_schema: FAIL: the Python module 'jsonschema' is not importable; "
          "install the Debian package python3-jsonschema (make installs TEST_PACKAGES)",
          file=sys.stderr)
    sys.exit(1)


def base_session():
    """A small valid session that each case changes in one place."""
    return {
        "format": "loophole-session",
        "version": 1,
        "sample_rate": 48000,
        "tempo": {"bpm": 120, "time_signature": [4, 4]},
        "metadata": {"title": "t", "artist": "a", "comment": "c", "date": "2026-11-24"},
        "master": {"gain_db": 0.0, "channels": 2},
        "tracks": [
            {
                "id": "drums",
                "name": "Drums",
                "channels": 2,
                "gain_db": -3.0,
                "pan": 0.0,
                "mute": False,
                "solo": False,
                "clips": [
                    {
                        "media": "media/drums.wav",
                        "position": {"beats": 0},
                        "length": {"beats": 4},
                        "fade_in": {"length": {"samples": 240}, "shape": "linear"},
                        "fade_out": {"length": {"beats": 1}, "shape": "s_curve"},
                    }
                ],
            }
        ],
    }


def variant(change):
    doc = base_session()
    change(doc)
    return doc


def clip(doc):
    return doc["tracks"][0]["clips"][0]


def track(doc):
    return doc["tracks"][0]


def midi(doc):
    """Adds a MIDI track (an instrument, a grooved clip) and a groove; returns the document."""
    doc["grooves"] = {"swing": {"grid": 0.25, "swing": 0.6, "timing": [0, -0.1],
                                "velocity": [10, -10]}}
    doc["tracks"].append({
        "id": "keys",
        "instrument": {"kind": "sine", "attack": {"samples": 48}, "release": {"seconds": 0.1},
                       "voices": 16},
        "clips": [{"position": {"bar": 2}, "length": {"beats": 4}, "groove": "swing",
                   "notes": [{"at": {"beats": 0.25}, "length": {"beats": 0.5}, "pitch": 69,
                              "velocity": 100}],
                   "cc": [{"at": {"beats": 1}, "controller": 7, "value": 90}],
                   "pitch_bend": [{"at": {"beats": 2}, "value": -8192}]}]})
    return doc


def invalid_cases():
    """(name, document) pairs that the schema must refuse."""
    def set_(path_fn, key, value):
        return lambda d: path_fn(d).__setitem__(key, value)

    def top(d):
        return d

    def delete(path_fn, key):
        return lambda d: path_fn(d).pop(key)

    cases = [
        ("wrong format", set_(top, "format", "loophole-project")),
        ("version 2", set_(top, "version", 2)),
        ("version as a string", set_(top, "version", "1")),
        ("sample_rate 100", set_(top, "sample_rate", 100)),
        ("sample_rate 384001", set_(top, "sample_rate", 384001)),
        ("sample_rate 44100.5", set_(top, "sample_rate", 44100.5)),
        ("unknown top-level key", set_(top, "tracks_extra", [])),
        ("unknown track key", set_(track, "volume", 1.0)),
        ("unknown clip key", set_(clip, "loop", True)),
        ("unknown tempo key", lambda d: d["tempo"].__setitem__("swing", 0.5)),
        ("unknown metadata key", lambda d: d["metadata"].__setitem__("genre", "x")),
        ("unknown master key", lambda d: d["master"].__setitem__("limiter", True)),
        ("missing format", delete(top, "format")),
        ("missing version", delete(top, "version")),
        ("missing sample_rate", delete(top, "sample_rate")),
        ("missing tracks", delete(top, "tracks")),
        ("tracks not an array", set_(top, "tracks", {})),
        ("too many tracks (4097)",
         set_(top, "tracks", [{"id": "t%d" % i} for i in range(4097)])),
        ("too many clips (65537)",
         set_(track, "clips", [{"media": "m.wav", "position": {"samples": i}}
                               for i in range(65537)])),
        ("bad id (space)", set_(track, "id", "my drums")),
        ("bad id (empty)", set_(track, "id", "")),
        ("bad id (65 characters)", set_(track, "id", "a" * 65)),
        ("bad id (trailing newline)", set_(track, "id", "drums\n")),
        ("bad id (slash)", set_(track, "id", "a/b")),
        ("missing id", delete(track, "id")),
        ("pan 2", set_(track, "pan", 2)),
        ("pan -1.5", set_(track, "pan", -1.5)),
        ("track gain 25 dB", set_(track, "gain_db", 25)),
        ("clip gain -145 dB", set_(clip, "gain_db", -145)),
        ("master gain 24.5 dB", lambda d: d["master"].__setitem__("gain_db", 24.5)),
        ("master channels 4", lambda d: d["master"].__setitem__("channels", 4)),
        ("master insert of an unknown kind",
         lambda d: d["master"].__setitem__("inserts", [{"kind": "reverb"}])),
        ("compressor ratio below 1", set_(track, "inserts", [{"kind": "compressor", "ratio": 0.5}])),
        ("compressor detector of an unknown name",
         set_(track, "inserts", [{"kind": "compressor", "detector": "loud"}])),
        ("limiter true_peak as a number",
         set_(track, "inserts", [{"kind": "limiter", "true_peak": 1}])),
        ("saturation oversample 3", set_(track, "inserts", [{"kind": "saturation", "oversample": 3}])),
        ("eq with a catalog band key", set_(track, "inserts", [{"kind": "eq", "b1_freq": 100}])),
        ("eq with nine bands",
         set_(track, "inserts", [{"kind": "eq", "bands": [{"type": "peak", "freq": 100}] * 9}])),
        ("eq band with q and bandwidth", set_(track, "inserts", [
            {"kind": "eq", "bands": [{"type": "peak", "freq": 100, "q": 1, "bandwidth": 1}]}])),
        ("convolution without an impulse", set_(track, "inserts", [{"kind": "convolution"}])),
        ("sidechain on an eq", set_(track, "inserts", [{"kind": "eq", "sidechain": "drums"}])),
        ("gain insert at +30 dB", set_(track, "inserts", [{"kind": "gain", "gain_db": 30}])),
        ("automation of a time parameter",
         set_(track, "inserts", [{"kind": "gate", "automation": {"attack": []}}])),
        ("insert inputs not an array", set_(track, "inserts", [{"kind": "meter", "inputs": "clips"}])),
        ("send without a bus", set_(track, "sends", [{"gain_db": -6}])),
        ("surround azimuth 200", set_(track, "surround", {"azimuth": 200})),
        ("bus without an id", lambda d: d.__setitem__("buses", [{"kind": "return"}])),
        ("bus of an unknown kind", lambda d: d.__setitem__("buses", [{"id": "r", "kind": "aux"}])),
        ("bus of 4 channels", lambda d: d.__setitem__("buses", [{"id": "r", "channels": 4}])),
        ("bus named master", lambda d: d.__setitem__("buses", [{"id": "master"}])),
        ("bus with an unknown key", lambda d: d.__setitem__("buses", [{"id": "r", "solo": True}])),
        ("track channels 3", set_(track, "channels", 3)),
        ("track channels 0", set_(track, "channels", 0)),
        ("mute as a string", set_(track, "mute", "false")),
        ("solo as 1", set_(track, "solo", 1)),
        ("test_nodes as a string", set_(top, "test_nodes", "yes")),
        ("tempo change at beat 0",
         lambda d: d["tempo"].__setitem__("changes", [{"beat": 0, "bpm": 100}])),
        ("tempo change without bpm",
         lambda d: d["tempo"].__setitem__("changes", [{"beat": 4}])),
        ("tempo change with an unknown key",
         lambda d: d["tempo"].__setitem__("changes", [{"beat": 4, "bpm": 90, "curve": 1}])),
        ("meter change at bar 1",
         lambda d: d["tempo"].__setitem__("meter", [{"bar": 1, "time_signature": [3, 4]}])),
        ("meter change with a beat unit of 5",
         lambda d: d["tempo"].__setitem__("meter", [{"bar": 3, "time_signature": [3, 5]}])),
        ("marker without a name", set_(top, "markers", [{"at": {"beats": 1}}])),
        ("marker at bar 0", set_(top, "markers", [{"name": "x", "at": {"bar": 0}}])),
        ("position at a beat below 1 of its bar",
         lambda d: clip(d).__setitem__("position", {"bar": [2, 0.5]})),
        ("length in bars", lambda d: clip(d).__setitem__("length", {"bar": 2})),
        ("automation of an unknown parameter",
         set_(track, "automation", {"width": [{"at": {"seconds": 1}, "value": 0}]})),
        ("pan automation past the right",
         set_(track, "automation", {"pan": [{"at": {"seconds": 1}, "value": 1.5}]})),
        ("a modulator of an unknown kind",
         set_(track, "modulators", [{"target": "pan", "kind": "wobble", "depth": 1}])),
        ("an lfo without a period",
         set_(track, "modulators", [{"target": "pan", "kind": "lfo", "depth": 1}])),
        ("a pan lfo deeper than 2",
         set_(track, "modulators", [{"target": "pan", "kind": "lfo", "period": {"beats": 1},
                                     "depth": 3}])),
        ("an lfo period in samples",
         set_(track, "modulators", [{"target": "pan", "kind": "lfo", "period": {"samples": 480},
                                     "depth": 1}])),
        ("a step out of range",
         set_(track, "modulators", [{"target": "pan", "kind": "steps", "steps": [2],
                                     "period": {"beats": 1}, "depth": 1}])),
        ("automation point without a value",
         set_(track, "automation", {"gain_db": [{"at": {"seconds": 1}}]})),
        ("automation with an exponential curve",
         set_(track, "automation", {"gain_db": [{"at": {"seconds": 1}, "value": 0, "curve": "exp"}]})),
        ("clip gain envelope point in bars",
         set_(clip, "gain_envelope", [{"at": {"bar": 2}, "value": 0}])),
        ("crossfade of an unknown shape", set_(track, "crossfade", "cubic")),
        ("take without clips", set_(track, "takes", [{"id": "t1"}])),
        ("analysis region of an unknown kind",
         set_(top, "analysis", [{"id": "x", "kind": "pitch", "track": "drums",
                                 "start": {"beats": 0}, "end": {"beats": 4}}])),
        ("analysis region with a bad hash",
         set_(top, "analysis", [{"id": "x", "track": "drums", "start": {"beats": 0},
                                 "end": {"beats": 4}, "content_hash": "XYZ"}])),
        ("take id with a space",
         set_(track, "takes", [{"id": "t 1", "clips": [{"media": "a.wav", "position": {"beats": 0}}]}])),
        ("comp region without an end",
         set_(track, "comp", {"regions": [{"take": "t1", "start": {"beats": 0}}]})),
        ("comp crossfade of an unknown shape",
         set_(track, "comp", {"crossfade": {"length": {"seconds": 0.01}, "shape": "cubic"},
                              "regions": []})),
        ("loop without an end",
         lambda d: clip(d).__setitem__("loop", {"start": {"samples": 0}})),
        ("loop without a length",
         lambda d: (clip(d).pop("length"),
                    clip(d).__setitem__("loop", {"start": {"samples": 0},
                                                 "end": {"samples": 10}}))),
        ("warp with neither markers nor a ratio", set_(clip, "warp", {"mode": "stretch"})),
        ("warp with markers and a ratio",
         set_(clip, "warp", {"ratio": 2, "markers": [
             {"source": {"seconds": 1}, "timeline": {"seconds": 2}}]})),
        ("warp of an unknown mode", set_(clip, "warp", {"mode": "tape", "ratio": 2})),
        ("warp ratio above 16", set_(clip, "warp", {"ratio": 17})),
        ("warp marker without a timeline",
         set_(clip, "warp", {"markers": [{"source": {"seconds": 1}}]})),
        ("warp marker source in bars",
         set_(clip, "warp", {"markers": [{"source": {"bar": 2}, "timeline": {"seconds": 1}}]})),
        ("a looped and warped clip",
         lambda d: (clip(d).__setitem__("loop", {"start": {"samples": 0}, "end": {"samples": 10}}),
                    clip(d).__setitem__("warp", {"ratio": 2}))),
        ("inserts not an array", set_(track, "inserts", {"kind": "delay"})),
        ("insert of an unknown kind",
         set_(track, "inserts", [{"kind": "reverb", "time": {"seconds": 1}}])),
        ("delay without a time", set_(track, "inserts", [{"kind": "delay"}])),
        ("delay feedback of 1",
         set_(track, "inserts", [{"kind": "delay", "time": {"seconds": 1}, "feedback": 1.0}])),
        ("delay with a fault key",
         set_(track, "inserts", [{"kind": "delay", "time": {"seconds": 1}, "fault": "segv"}])),
        ("fault without its mode", set_(track, "inserts", [{"kind": "test.fault"}])),
        ("fault of an unknown mode",
         set_(track, "inserts", [{"kind": "test.fault", "fault": "explode"}])),
        ("fault with a negative leak",
         set_(track, "inserts", [{"kind": "test.fault", "fault": "leak", "leak_mb": -1}])),
        ("name as a number", set_(track, "name", 3)),
        ("fade shape cubic",
         set_(clip, "fade_in", {"length": {"samples": 240}, "shape": "cubic"})),
        ("fade without length", set_(clip, "fade_out", {"shape": "linear"})),
        ("fade with unknown key",
         set_(clip, "fade_out", {"length": {"beats": 1}, "shape": "linear", "curve": 2})),
        ("fade not an object", set_(clip, "fade_out", "linear")),
        ("time value with two units", set_(clip, "position", {"beats": 1, "seconds": 2})),
        ("time value with no unit", set_(clip, "position", {})),
        ("time value with unknown unit", set_(clip, "position", {"bars": 1})),
        ("time value as a bare number", set_(clip, "position", 4)),
        ("samples 1.5", set_(clip, "position", {"samples": 1.5})),
        ("negative seconds", set_(clip, "position", {"seconds": -0.5})),
        ("negative beats", set_(clip, "source_offset", {"beats": -1})),
        ("negative samples", set_(clip, "source_offset", {"samples": -1})),
        ("seconds above 1e12", set_(clip, "position", {"seconds": 1.5e12})),
        ("samples above 1e12", set_(clip, "position", {"samples": 1000000000001})),
        ("seconds as a string", set_(clip, "position", {"seconds": "1"})),
        ("zero length", set_(clip, "length", {"seconds": 0})),
        ("zero length in samples", set_(clip, "length", {"samples": 0})),
        ("missing position", delete(clip, "position")),
        ("missing media", delete(clip, "media")),
        ("empty media", set_(clip, "media", "")),
        ("metadata date 24/11/2026",
         lambda d: d["metadata"].__setitem__("date", "24/11/2026")),
        ("metadata date with time",
         lambda d: d["metadata"].__setitem__("date", "2026-11-24T10:00")),
        ("metadata title 257 characters",
         lambda d: d["metadata"].__setitem__("title", "x" * 257)),
        ("metadata comment as a number",
         lambda d: d["metadata"].__setitem__("comment", 1)),
        ("metadata not an object", set_(top, "metadata", "Demo")),
        ("bpm 0", lambda d: d["tempo"].__setitem__("bpm", 0)),
        ("bpm 1000", lambda d: d["tempo"].__setitem__("bpm", 1000)),
        ("time_signature beats 0",
         lambda d: d["tempo"].__setitem__("time_signature", [0, 4])),
        ("time_signature beats 65",
         lambda d: d["tempo"].__setitem__("time_signature", [65, 4])),
        ("time_signature unit 3",
         lambda d: d["tempo"].__setitem__("time_signature", [4, 3])),
        ("time_signature with three items",
         lambda d: d["tempo"].__setitem__("time_signature", [4, 4, 4])),
        ("time_signature with one item",
         lambda d: d["tempo"].__setitem__("time_signature", [4])),
        ("time_signature as a string",
         lambda d: d["tempo"].__setitem__("time_signature", "4/4")),
        ("track not an object", set_(top, "tracks", ["drums"])),
        ("clip not an object", set_(track, "clips", ["media/drums.wav"])),
        ("session not an object", None),
        ("a MIDI clip with media", lambda d: midi(d)["tracks"][1]["clips"][0].__setitem__(
            "media", "a.wav")),
        ("a note of pitch 128", lambda d: midi(d)["tracks"][1]["clips"][0]["notes"][0]
         .__setitem__("pitch", 128)),
        ("a note of velocity 0", lambda d: midi(d)["tracks"][1]["clips"][0]["notes"][0]
         .__setitem__("velocity", 0)),
        ("a note without a length", lambda d: midi(d)["tracks"][1]["clips"][0]["notes"][0]
         .pop("length")),
        ("a pitch bend of 8192", lambda d: midi(d)["tracks"][1]["clips"][0].__setitem__(
            "pitch_bend", [{"at": {"beats": 0}, "value": 8192}])),
        ("an instrument of kind fm", lambda d: midi(d)["tracks"][1]["instrument"]
         .__setitem__("kind", "fm")),
        ("a sampler without media", lambda d: midi(d)["tracks"][1].__setitem__(
            "instrument", {"kind": "sampler", "root_key": 60})),
        ("a sampler root_key of 128", lambda d: midi(d)["tracks"][1].__setitem__(
            "instrument", {"kind": "sampler", "media": "a.wav", "root_key": 128})),
        ("a synth waveform of noise", lambda d: midi(d)["tracks"][1].__setitem__(
            "instrument", {"kind": "synth", "waveform": "noise"})),
        ("a synth cutoff of 10 Hz", lambda d: midi(d)["tracks"][1].__setitem__(
            "instrument", {"kind": "synth", "cutoff_hz": 10})),
        ("a synth key of the sampler", lambda d: midi(d)["tracks"][1].__setitem__(
            "instrument", {"kind": "synth", "media": "a.wav"})),
        ("a swing of 0.8", lambda d: midi(d)["grooves"]["swing"].__setitem__("swing", 0.8)),
        ("a groove name with a space", lambda d: midi(d)["grooves"].__setitem__("s w", {})),
        ("a timing offset of 0.6", lambda d: midi(d)["grooves"]["swing"].__setitem__(
            "timing", [0.6])),
    ]
    out = []
    for name, change in cases:
        out.append((name, [] if change is None else variant(change)))
    return out


def valid_cases(root):
    """(name, document) pairs that the schema must accept."""
    absolute = os.path.join(os.path.abspath(root), "examples", "demo", "media", "drums.wav")

    def minimal(d):
        for key in ("tempo", "metadata", "master"):
            d.pop(key)
        d["tracks"] = [{"id": "a"}]

    cases = [
        ("base session", lambda d: None),
        ("a MIDI track with a groove", midi),
        ("minimal session (no optional keys)", minimal),
        ("no tracks", lambda d: d.__setitem__("tracks", [])),
        ("with $schema",
         lambda d: d.__setitem__("$schema", "../docs/session.schema.json")),
        ("mono track", lambda d: track(d).__setitem__("channels", 1)),
        ("solo and mute", lambda d: track(d).update({"solo": True, "mute": True})),
        ("tempo ramps, meter changes, markers and bar positions",
         lambda d: (d["tempo"].update({"changes": [{"beat": 16, "bpm": 120},
                                                   {"beat": 48, "bpm": 140, "ramp": True}],
                                       "meter": [{"bar": 9, "time_signature": [7, 8]}]}),
                    d.__setitem__("markers", [{"name": "Chorus", "at": {"bar": [9, 2.5]}},
                                              {"name": "End", "at": {"seconds": 30}}]),
                    clip(d).__setitem__("position", {"bar": 3}))),
        ("fader automation",
         lambda d: track(d).__setitem__("automation", {"gain_db": [
             {"at": {"seconds": 1}, "value": 0}, {"at": {"bar": 3}, "value": -12, "curve": "hold"}]})),
        ("a clip gain envelope",
         lambda d: clip(d).__setitem__("gain_envelope", [
             {"at": {"seconds": 0}, "value": -6, "curve": "hold"},
             {"at": {"beats": 1}, "value": -20}])),
        ("an equal-power crossfade", lambda d: track(d).__setitem__("crossfade", "equal_power")),
        ("pan automation and modulators",
         lambda d: track(d).update({
             "automation": {"pan": [{"at": {"seconds": 0}, "value": -1},
                                    {"at": {"bar": 2}, "value": 1, "curve": "hold"}]},
             "modulators": [
                 {"target": "pan", "kind": "lfo", "shape": "triangle", "period": {"beats": 0.5},
                  "phase": 0.25, "depth": 0.5},
                 {"target": "gain_db", "kind": "steps", "steps": [0, -1, 1],
                  "period": {"seconds": 0.1}, "depth": 6},
                 {"target": "gain_db", "kind": "follower", "attack_ms": 1, "depth": -12}]})),
        ("an analysis region, analysed",
         lambda d: d.__setitem__("analysis", [{"id": "hits", "kind": "transients", "track": "drums",
                                               "start": {"bar": 1}, "end": {"beats": 4},
                                               "content_hash": "0123456789abcdef0123456789abcdef",
                                               "onsets": [0, 12000]}])),
        ("takes and a comp",
         lambda d: track(d).update({
             "takes": [{"id": "t1", "clips": [{"media": "v1.wav", "position": {"bar": 5}}]},
                       {"id": "t2", "clips": [{"media": "v2.wav", "position": {"bar": 5}}]}],
             "comp": {"crossfade": {"length": {"seconds": 0.01}, "shape": "equal_power"},
                      "regions": [{"take": "t2", "start": {"bar": 5}, "end": {"bar": [7, 3]}},
                                  {"take": "t1", "start": {"bar": [7, 3]}, "end": {"bar": 9}}]}})),
        ("a looped clip",
         lambda d: clip(d).__setitem__("loop", {"start": {"beats": 1}, "end": {"seconds": 3}})),
        ("a stretched clip", lambda d: clip(d).__setitem__("warp", {"ratio": 1.25})),
        ("a varispeed clip with markers",
         lambda d: clip(d).__setitem__("warp", {"mode": "varispeed", "markers": [
             {"source": {"seconds": 1}, "timeline": {"beats": 3}},
             {"source": {"samples": 96000}, "timeline": {"seconds": 2.5}}]})),
        ("a delay insert",
         lambda d: track(d).__setitem__("inserts", [{"kind": "delay", "time": {"beats": 0.5},
                                                      "feedback": 0.4, "wet": 0.5, "dry": 1}])),
        ("a node graph of catalog inserts", lambda d: track(d).__setitem__("inserts", [
            {"kind": "eq", "id": "tone", "bands": [
                {"type": "high_pass", "freq": 80},
                {"type": "peak", "freq": 2500, "gain_db": 3, "bandwidth": 1.5}]},
            {"kind": "compressor", "id": "comp", "inputs": ["tone"], "threshold_db": -20,
             "ratio": 4, "attack": {"seconds": 0.005}, "detector": "rms", "link": True,
             "automation": {"threshold_db": [{"at": {"beats": 0}, "value": -30}]}},
            {"kind": "saturation", "id": "drive", "inputs": ["clips"], "curve": "tanh"},
            {"kind": "trim", "inputs": ["comp", "drive"], "gain_db": -3, "bypass": False},
            {"kind": "limiter", "ceiling_db": -1, "true_peak": True}])),
        ("a modulator on an insert parameter", lambda d: (
            track(d).__setitem__("inserts", [{"kind": "compressor", "id": "comp"}]),
            track(d).__setitem__("modulators", [
                {"target": "comp.threshold_db", "kind": "lfo", "period": {"beats": 1},
                 "depth": 6}]))),
        ("buses, sends, outputs, a sidechain and a 5.1 master", lambda d: (
            d.__setitem__("buses", [
                {"id": "verb", "kind": "return", "inserts": [
                    {"kind": "convolution", "impulse": "ir/hall.wav", "wet": 1}]},
                {"id": "drum-bus", "kind": "group", "channels": 6, "gain_db": -2,
                 "sends": [{"to": "verb", "gain_db": -12}]}]),
            d["master"].update({"channels": 6, "inserts": [{"kind": "limiter"}]}),
            track(d).update({"output": "drum-bus",
                             "surround": {"azimuth": -30, "spread": 0.5, "lfe": 0.1},
                             "sends": [{"to": "verb", "gain_db": -6, "pre_fader": True}]}),
            d["tracks"].append({"id": "bass", "inserts": [
                {"kind": "compressor", "sidechain": "drums", "lookahead": {"seconds": 0.005}}]}))),
        ("fault inserts with test_nodes",
         lambda d: (d.__setitem__("test_nodes", True),
                    track(d).__setitem__("inserts", [
                        {"kind": "test.fault", "fault": "segv", "at": {"seconds": 2}},
                        {"kind": "test.fault", "fault": "slow", "sleep_ms": 0.5},
                        {"kind": "test.fault", "fault": "leak", "leak_mb": 64}]))),
        ("absolute media path", lambda d: clip(d).__setitem__("media", absolute)),
        ("position in beats", lambda d: clip(d).__setitem__("position", {"beats": 4.5})),
        ("position in seconds",
         lambda d: clip(d).__setitem__("position", {"seconds": 1.25})),
        ("position in samples",
         lambda d: clip(d).__setitem__("position", {"samples": 48000})),
        ("all three time units in one clip", lambda d: clip(d).update({
            "position": {"beats": 2},
            "source_offset": {"seconds": 0.5},
            "length": {"samples": 96000},
        })),
        ("time at the limits", lambda d: clip(d).update({
            "position": {"samples": 1000000000000},
            "source_offset": {"seconds": 0},
            "length": {"beats": 1e12},
        })),
        ("zero-length fade", lambda d: clip(d).__setitem__(
            "fade_in", {"length": {"seconds": 0}, "shape": "equal_power"})),
        ("fade without shape (linear)",
         lambda d: clip(d).__setitem__("fade_in", {"length": {"beats": 1}})),
        ("fade shape exponential", lambda d: clip(d).__setitem__(
            "fade_out", {"length": {"seconds": 0.1}, "shape": "exponential"})),
        ("gains and pan at the limits", lambda d: (
            track(d).update({"gain_db": 24, "pan": -1}),
            clip(d).__setitem__("gain_db", -144),
            d["master"].__setitem__("gain_db", -144))),
        ("time_signature 64/32, bpm 999", lambda d: d["tempo"].update(
            {"time_signature": [64, 32], "bpm": 999})),
        ("empty date", lambda d: d["metadata"].__setitem__("date", "")),
        ("id with all allowed characters",
         lambda d: track(d).__setitem__("id", "Aa0_.-" + "z" * 58)),
        ("two tracks", lambda d: d["tracks"].append({"id": "bass", "channels": 1})),
        ("a sampler instrument", lambda d: midi(d)["tracks"][1].__setitem__(
            "instrument", {"kind": "sampler", "media": "media/piano.wav", "root_key": 60,
                           "attack": {"samples": 0}, "release": {"seconds": 0.2},
                           "voices": 8})),
        ("a synth instrument", lambda d: midi(d)["tracks"][1].__setitem__(
            "instrument", {"kind": "synth", "waveform": "saw", "osc2_semitones": -12,
                           "osc_mix": 0.5, "detune_cents": 7, "cutoff_hz": 1200,
                           "resonance": 0.4, "filter_env_octaves": 2,
                           "attack": {"seconds": 0.01}, "decay": {"seconds": 0.2},
                           "sustain": 0.6, "release": {"seconds": 0.3},
                           "filter_attack": {"samples": 10}, "filter_decay": {"beats": 1},
                           "filter_sustain": 0.3, "filter_release": {"seconds": 0.1},
                           "voices": 16})),
    ]
    return [(name, variant(change)) for name, change in cases]


def main(argv):
    if len(argv) != 2:
        print("usage: check_session_schema.py REPO_ROOT", file=sys.stderr)
        return 2
    root = argv[1]
    with open(os.path.join(root, "docs", "session.schema.json"), encoding="utf-8") as f:
        schema = json.load(f)

    passed = failed = 0

    def report(ok, what, detail=""):
        nonlocal passed, failed
        if ok:
            passed += 1
        else:
            failed += 1
            print("FAIL: " + what + (": " + detail if detail else ""))

    try:
        jsonschema.Draft202012Validator.check_schema(schema)
        report(True, "the schema is a valid draft 2020-12 schema")
    except jsonschema.exceptions.SchemaError as e:
        report(False, "the schema is a valid draft 2020-12 schema", e.message)
        print("%d passed, %d failed" % (passed, failed))
        return 1
    validator = jsonschema.Draft202012Validator(schema)

    def first_error(doc):
        error = jsonschema.exceptions.best_match(validator.iter_errors(doc))
        if error is None:
            return None
        return "/" + "/".join(str(p) for p in error.absolute_path) + ": " + error.message

    with open(os.path.join(root, "examples", "demo", "session.json"), encoding="utf-8") as f:
        demo = json.load(f)
    error = first_error(demo)
    report(error is None, "examples/demo/session.json is valid", error or "")

    for name, doc in valid_cases(root):
        error = first_error(doc)
        report(error is None, "valid: " + name, error or "")

    for name, doc in invalid_cases():
        error = first_error(doc)
        report(error is not None, "invalid: " + name, "the schema accepts it")

    # The base document itself must be valid, or the invalid cases prove nothing.
    report(first_error(copy.deepcopy(base_session())) is None, "the base session is valid")

    print("%d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
