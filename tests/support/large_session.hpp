#pragma once

// A large generated session and the probes of its media, for the incremental
// resolution suite and the resolver benchmark (bench/resolve_bench.cpp): many
// tracks of many clips with fades, gain envelopes, crossfades, fader and pan
// automation, LFOs, a delay, a warped clip shared by several tracks, a MIDI
// track with a groove, all through a tempo ramp.

#include "actors/timeline_resolver.hpp"

#include <string>
#include <vector>

namespace loophole::test {

struct large_session {
  messages::session_document doc;
  std::vector<messages::media_info> media; ///< The probes of media_paths_of(doc).
};

inline messages::time_value beats_of(double b) {
  return {messages::time_unit::beats, b, 1.0};
}

inline messages::time_value seconds_of(double s) {
  return {messages::time_unit::seconds, s, 1.0};
}

/// The probes of media_paths_of(doc): 30 s at 48 kHz each.
inline std::vector<messages::media_info> probes_of(const messages::session_document& doc) {
  std::vector<messages::media_info> probes;
  for (const auto& path : actors::media_paths_of(doc)) {
    messages::media_info m;
    m.path = path;
    m.media_id = "id-of-" + path.substr(path.rfind('/') + 1);
    m.channels = 2;
    m.source_frames = m.frames = 30 * 48000;
    m.source_rate = m.sample_rate = 48000;
    m.format = "WAV";
    probes.push_back(std::move(m));
  }
  return probes;
}

/// `tracks` tracks of `clips` clips each (the last track MIDI), on 8 media
/// files of 30 s at 48 kHz.
inline large_session make_large_session(size_t tracks = 64, size_t clips = 50) {
  using namespace messages;
  large_session s;
  auto& doc = s.doc;
  doc.path = "/sessions/large.json";
  doc.sample_rate = 48000;
  doc.bpm = 120.0;
  doc.tempo_changes = {{32.0, 120.0, false}, {64.0, 140.0, true}, {96.0, 100.0, false}};
  doc.grooves.push_back({"swing", 0.25, 0.6, {0.0, 0.1}, {0.0, -10.0}});
  for (size_t t = 0; t < tracks; ++t) {
    track_spec track;
    track.id = "t" + std::to_string(t);
    track.name = track.id;
    track.gain_db = -static_cast<double>(t % 7);
    track.pan = -0.75 + 1.5 * static_cast<double>(t) / static_cast<double>(tracks);
    const bool midi = t + 1 == tracks;
    if (midi)
      track.instrument = instrument_spec{};
    // Every 7th track's clips overlap by a quarter beat and crossfade.
    const double length = t % 7 == 3 ? 2.25 : 1.75;
    if (t % 7 == 3)
      track.crossfade = "equal_power";
    for (size_t k = 0; k < clips; ++k) {
      clip_spec c;
      c.position = beats_of(2.0 * static_cast<double>(k));
      c.length = beats_of(length);
      if (midi) {
        c.midi = true;
        c.groove = "swing";
        for (int n = 0; n < 4; ++n)
          c.notes.push_back(
              {beats_of(0.25 * n), beats_of(0.2), static_cast<uint8_t>(48 + n * 7), 90});
        track.clips.push_back(std::move(c));
        continue;
      }
      c.media = "media/m" + std::to_string((t + k) % 8) + ".wav";
      c.media_path = "/sessions/" + c.media;
      c.source_offset = seconds_of(0.5 * static_cast<double>(k % 8));
      c.gain_db = -static_cast<double>(k % 6);
      if (t % 7 != 3) {
        c.fade_in = fade_spec{beats_of(0.0625), "linear"};
        c.fade_out = fade_spec{beats_of(0.125), k % 2 ? "s_curve" : "equal_power"};
      }
      if (k % 5 == 0)
        c.gain_envelope = {{beats_of(0.0), 0.0, "linear"},
                           {beats_of(0.5), -6.0, "linear"},
                           {beats_of(1.0), -3.0, "hold"}};
      if (k == 7 && t % 16 == 5)
        c.warp = warp_spec{"stretch", {}, 1.25};
      track.clips.push_back(std::move(c));
    }
    if (t % 4 == 1)
      for (int p = 0; p < 8; ++p)
        track.gain_automation.push_back(
            {beats_of(12.0 * p), -3.0 * (p % 3), p % 2 ? "hold" : "linear"});
    if (t % 3 == 2)
      for (int p = 0; p < 6; ++p)
        track.pan_automation.push_back({beats_of(16.0 * p + 1), p % 2 ? -0.5 : 0.5, "linear"});
    if (t % 8 == 0) {
      modulator_spec lfo;
      lfo.target = t % 16 ? "gain_db" : "pan";
      lfo.kind = "lfo";
      lfo.period = beats_of(1.0);
      lfo.depth = t % 16 ? 3.0 : 0.25;
      track.modulators.push_back(std::move(lfo));
    }
    if (t % 16 == 9) {
      insert_spec delay;
      delay.kind = "delay";
      delay.params = {{"frames", 0.0, beats_of(0.5)},
                      {"feedback", 0.3, {}},
                      {"wet", 0.4, {}},
                      {"dry", 1.0, {}}};
      track.inserts.push_back(std::move(delay));
    }
    doc.tracks.push_back(std::move(track));
  }
  s.media = probes_of(doc);
  return s;
}

} // namespace loophole::test
