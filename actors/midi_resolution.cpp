#include "actors/midi_resolution.hpp"

#include "actors/groove.hpp"
#include "kernel/error.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace loophole::actors {

namespace {

using signal::midi_event;
namespace status = signal::midi_status;

caf::error fail(const messages::session_document& doc, const std::string& pointer,
                const std::string& reason) {
  return kernel::make_error(kernel::errc::bad_session, doc.path + ": " + pointer + ": " + reason);
}

uint8_t data_byte(int64_t x) {
  return static_cast<uint8_t>(std::clamp<int64_t>(x, 0, 127));
}

} // namespace

caf::expected<midi_track> resolve_midi_track(const messages::session_document& doc, size_t t,
                                             const timebase& tb) {
  const auto& track = doc.tracks[t];
  const auto& instrument = *track.instrument;
  const auto tp = "/tracks/" + std::to_string(t);
  midi_track out;
  // Attack and release in beats count at the opening tempo, as a delay time.
  const auto attack = tb.frames_from(0, instrument.attack);
  const auto release = tb.frames_from(0, instrument.release);
  for (auto [frames, key] : {std::pair{attack, "attack"}, std::pair{release, "release"}})
    if (frames > 4194304)
      return fail(doc, tp + "/instrument/" + key, "is longer than 2^22 frames");
  if (instrument.kind == "sine") {
    out.params = {{"model", 0.0},
                  {"attack_frames", static_cast<double>(attack)},
                  {"release_frames", static_cast<double>(release)},
                  {"voices", static_cast<double>(instrument.voices)}};
  } else {
    for (const auto& p : instrument.params) {
      if (!p.time) {
        out.params.push_back({p.name, p.value});
        continue;
      }
      const auto frames = tb.frames_from(0, *p.time);
      if (frames > 4194304)
        return fail(doc, tp + "/instrument/" + p.name.substr(0, p.name.size() - 7),
                    "is longer than 2^22 frames");
      out.params.push_back({p.name, static_cast<double>(frames)});
    }
  }

  for (size_t k = 0; k < track.clips.size(); ++k) {
    const auto& clip = track.clips[k];
    const auto cp = tp + "/clips/" + std::to_string(k);
    const messages::groove_spec* groove = nullptr;
    for (const auto& g : doc.grooves)
      if (g.name == clip.groove)
        groove = &g;
    const double start = tb.beat_of(clip.position);
    // Events at or after the clip's end are left out, notes are cut there.
    const double end =
        clip.length ? tb.beat_after(start, *clip.length) : std::numeric_limits<double>::infinity();
    // Frames of a beat, refused past the longest timeline; a groove may pull
    // a note at the session's start before it: it starts at frame 0.
    std::string error;
    auto frame = [&](double beat, const std::string& at) {
      const auto f = std::max<int64_t>(0, tb.frame_of_beat(beat));
      if (f > max_frames && error.empty())
        error = at;
      return f;
    };
    if (clip.length)
      out.end_frame = std::max(out.end_frame, frame(end, cp + "/length"));
    for (size_t i = 0; i < clip.notes.size(); ++i) {
      const auto& note = clip.notes[i];
      const auto at = cp + "/notes/" + std::to_string(i);
      double on = tb.beat_after(start, note.at);
      if (on >= end)
        continue;
      double off = std::min(tb.beat_after(on, note.length), end);
      double velocity = note.velocity;
      if (groove) {
        // The whole note moves with its start; its length stays.
        const auto g = apply_groove(*groove, on, velocity);
        off += g.beat - on;
        on = g.beat;
        velocity = std::clamp(std::round(g.velocity), 1.0, 127.0);
      }
      const auto on_frame = frame(on, at + "/at");
      // A note lasts at least one frame, so its note-off never comes first.
      const auto off_frame = std::max(on_frame + 1, frame(off, at + "/length"));
      out.events.push_back(
          {on_frame, status::note_on, note.pitch, data_byte(static_cast<int64_t>(velocity))});
      out.events.push_back({off_frame, status::note_off, note.pitch, 0});
      out.end_frame = std::max(out.end_frame, off_frame + release);
    }
    for (auto [list, key] :
         {std::pair{&clip.cc, "/cc/"}, std::pair{&clip.pitch_bend, "/pitch_bend/"}})
      for (size_t i = 0; i < list->size(); ++i) {
        const auto& x = (*list)[i];
        const double beat = tb.beat_after(start, x.at);
        if (beat >= end)
          continue;
        const auto f = frame(beat, cp + key + std::to_string(i) + "/at");
        if (list == &clip.cc)
          out.events.push_back({f, status::control_change, x.controller, data_byte(x.value)});
        else // 14 bits, centre 8192: low 7 bits first
          out.events.push_back({f, status::pitch_bend, data_byte((x.value + 8192) & 0x7F),
                                data_byte((x.value + 8192) >> 7)});
        out.end_frame = std::max(out.end_frame, f + 1);
      }
    if (!error.empty())
      return fail(doc, error, "is past the longest timeline (2^50 frames)");
  }
  if (out.events.size() > signal::max_events)
    return fail(doc, tp + "/clips", "more than 2^22 MIDI events on one track");
  // By frame, then note-offs, controllers, note-ons; otherwise clip order.
  std::stable_sort(out.events.begin(), out.events.end(),
                   [](const midi_event& a, const midi_event& b) {
                     return a.frame != b.frame ? a.frame < b.frame
                                               : signal::event_rank(a) < signal::event_rank(b);
                   });
  return out;
}

} // namespace loophole::actors
