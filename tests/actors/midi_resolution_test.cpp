// actors/midi_resolution.hpp through resolve_timeline: a track's MIDI clips become its
// instrument node's events, each on the frame of its beat through the tempo map (checked
// against the tempo map's closed forms written out here), through grooves, cut at the clip's
// end, sorted; the instrument takes the place of the clips' sum before the fader.

#define BOOST_TEST_MODULE actors_midi_resolution
#define BOOST_TEST_DYN_LINK
#include "actors/timeline_resolver.hpp"
#include "kernel/error.hpp"
#include "signal/render_graph.hpp"

#include <boost/test/unit_test.hpp>
#include <cmath>
#include <string>
#include <vector>

using loophole::actors::media_paths_of;
using loophole::actors::resolve_timeline;
using loophole::messages::clip_spec;
using loophole::messages::groove_spec;
using loophole::messages::instrument_spec;
using loophole::messages::midi_control_spec;
using loophole::messages::midi_note_spec;
using loophole::messages::render_plan;
using loophole::messages::session_document;
using loophole::messages::time_unit;
using loophole::messages::time_value;
using loophole::messages::track_spec;
using loophole::signal::midi_event;
using loophole::signal::node_kind;
namespace status = loophole::signal::midi_status;

namespace {

time_value beats(double b) {
  return {time_unit::beats, b, 1.0};
}

midi_note_spec note(double at, double length, uint8_t pitch, uint8_t velocity = 100) {
  return {beats(at), beats(length), pitch, velocity};
}

clip_spec midi_clip(double position, std::vector<midi_note_spec> notes) {
  clip_spec c;
  c.midi = true;
  c.position = beats(position);
  c.notes = std::move(notes);
  return c;
}

session_document midi_doc(std::vector<clip_spec> clips, double bpm = 120) {
  session_document doc;
  doc.path = "/studio/song.json";
  doc.sample_rate = 48000;
  doc.bpm = bpm;
  track_spec t;
  t.id = "keys";
  t.channels = 1;
  t.instrument =
      instrument_spec{"sine", {time_unit::samples, 48, 1}, {time_unit::samples, 480, 1}, 8, {}, {}, {}};
  t.clips = std::move(clips);
  doc.tracks.push_back(t);
  return doc;
}

render_plan resolved(const session_document& doc) {
  BOOST_TEST_REQUIRE(media_paths_of(doc).empty());
  auto plan = resolve_timeline(doc, {}, {});
  if (!plan)
    BOOST_FAIL("not resolved: " << loophole::kernel::describe(plan.error()));
  return std::move(*plan);
}

const loophole::signal::render_node& instrument_of(const render_plan& plan) {
  for (const auto& n : plan.graph.nodes)
    if (n.kind == node_kind::instrument)
      return n;
  BOOST_FAIL("no instrument node");
  return plan.graph.nodes.front();
}

/// Seconds at `beat` of the map {120 bpm; at beat 4, 120; ramp to 180 at beat 12}, from the
/// closed forms of docs/session-format.md: over a ramp of B beats from T0 to T1, lasting
/// d = 120 B / (T0 + T1) s with a = (T1 - T0) / d, t(beats) = 120 beats / (T0 + sqrt(T0^2 +
/// 120 a beats)).
double ramp_seconds(double beat) {
  if (beat <= 4)
    return beat * 0.5;
  const double d = 120.0 * 8 / (120 + 180), a = (180.0 - 120) / d;
  if (beat <= 12) {
    const double x = beat - 4;
    return 2.0 + 120.0 * x / (120 + std::sqrt(120.0 * 120 + 120 * a * x));
  }
  return 2.0 + d + (beat - 12) * 60.0 / 180;
}

int64_t frame_at(double seconds) {
  return std::llround(seconds * 48000);
}

} // namespace

BOOST_AUTO_TEST_CASE(note_ons_and_offs_land_on_the_frames_of_their_beats_through_a_ramp) {
  auto doc = midi_doc({midi_clip(2.0, {note(0, 0.5, 60), note(1.5, 0.5, 62), note(3.25, 1, 64),
                                       note(7, 0.75, 65), note(11.125, 2, 67, 1)})});
  doc.tempo_changes = {{4.0, 120.0, false}, {12.0, 180.0, true}};
  const auto plan = resolved(doc);
  const auto& events = instrument_of(plan).events;
  std::vector<midi_event> expected;
  for (const auto& n : doc.tracks[0].clips[0].notes) {
    const double on = 2.0 + n.at.value;
    expected.push_back({frame_at(ramp_seconds(on)), status::note_on, n.pitch, n.velocity});
    expected.push_back({frame_at(ramp_seconds(on + n.length.value)), status::note_off, n.pitch, 0});
  }
  std::stable_sort(expected.begin(), expected.end(),
                   [](const auto& a, const auto& b) { return a.frame < b.frame; });
  BOOST_TEST_REQUIRE(events.size() == expected.size());
  for (size_t i = 0; i < events.size(); ++i)
    BOOST_TEST((events[i] == expected[i]),
               "event " << i << ": frame " << events[i].frame << " vs " << expected[i].frame);
  // The render lasts to the last note-off and its release.
  BOOST_TEST(plan.graph.frame_count == frame_at(ramp_seconds(15.125)) + 480);
}

BOOST_AUTO_TEST_CASE(the_instrument_stands_where_the_clips_sum_would_before_the_fader) {
  auto doc = midi_doc({midi_clip(0, {note(0, 1, 60)}), midi_clip(4, {note(0, 1, 64)})});
  doc.tracks[0].gain_db = -6;
  const auto plan = resolved(doc);
  const auto& g = plan.graph;
  const auto& inst = instrument_of(plan);
  BOOST_TEST(inst.inputs.empty());
  BOOST_TEST(inst.channels == 1u);
  BOOST_TEST(loophole::signal::param_or(inst, "attack_frames", -1) == 48);
  BOOST_TEST(loophole::signal::param_or(inst, "release_frames", -1) == 480);
  BOOST_TEST(loophole::signal::param_or(inst, "voices", -1) == 8);
  BOOST_TEST(inst.events.size() == 4u); // both clips, one node
  size_t faders = 0;
  for (const auto& n : g.nodes)
    if (n.kind == node_kind::gain && n.inputs == std::vector<uint32_t>{inst.id})
      ++faders;
  BOOST_TEST(faders == 1u);
  BOOST_TEST(g.media.empty());
}

BOOST_AUTO_TEST_CASE(a_swung_clip_moves_its_off_beat_16ths_by_the_swing_offset) {
  std::vector<midi_note_spec> notes;
  for (int s = 0; s < 8; ++s)
    notes.push_back(note(s * 0.25, 0.125, 60, 100));
  auto clip = midi_clip(0, notes);
  clip.groove = "swing";
  auto doc = midi_doc({clip});
  doc.grooves = {groove_spec{"swing", 0.25, 0.6, {}, {0, 20}}};
  const auto plan = resolved(doc);
  std::vector<int64_t> ons;
  for (const auto& e : instrument_of(plan).events)
    if (e.status == status::note_on) {
      ons.push_back(e.frame);
      // Velocity offsets cycle per step: +0 on the on-beats, +20 on the off-beats.
      BOOST_TEST(e.data2 == (ons.size() % 2 == 1 ? 100 : 120));
    }
  BOOST_TEST_REQUIRE(ons.size() == 8u);
  for (int s = 0; s < 8; ++s) // 120 bpm: 0.05 beat is 1200 frames
    BOOST_TEST(ons[static_cast<size_t>(s)] == s * 6000 + (s % 2 ? 1200 : 0));
  // The note keeps its length: its note-off moves with it.
  const auto& events = instrument_of(plan).events;
  for (size_t i = 0; i < events.size(); ++i)
    if (events[i].status == status::note_off)
      BOOST_TEST(events[i].frame % 6000 == (events[i].frame / 6000 % 2 ? 4200 : 3000));
}

BOOST_AUTO_TEST_CASE(a_clip_length_cuts_notes_and_leaves_out_what_comes_after_it) {
  auto clip = midi_clip(1, {note(0, 3, 60), note(2, 1, 62), note(1, 0.5, 64)});
  clip.length = beats(2);
  clip.cc = {{beats(1.5), 7, 64}, {beats(2), 7, 10}};
  const auto plan = resolved(midi_doc({clip}));
  const auto& events = instrument_of(plan).events;
  const std::vector<midi_event> expected{{24000, status::note_on, 60, 100},
                                         {48000, status::note_on, 64, 100},
                                         {60000, status::note_off, 64, 0},
                                         {60000, status::control_change, 7, 64},
                                         {72000, status::note_off, 60, 0}};
  BOOST_TEST_REQUIRE(events.size() == expected.size());
  for (size_t i = 0; i < events.size(); ++i)
    BOOST_TEST((events[i] == expected[i]), "event " << i);
}

BOOST_AUTO_TEST_CASE(at_one_frame_note_offs_come_before_controllers_and_note_ons) {
  auto clip = midi_clip(0, {note(1, 1, 60), note(0, 1, 60)});
  clip.pitch_bend = {{beats(1), 0, -8192}, {beats(2), 0, 8191}, {beats(3), 0, 0}};
  const auto plan = resolved(midi_doc({clip}));
  const auto& events = instrument_of(plan).events;
  const std::vector<midi_event> expected{
      {0, status::note_on, 60, 100},     {24000, status::note_off, 60, 0},
      {24000, status::pitch_bend, 0, 0}, {24000, status::note_on, 60, 100},
      {48000, status::note_off, 60, 0},  {48000, status::pitch_bend, 127, 127},
      {72000, status::pitch_bend, 0, 64}};
  BOOST_TEST_REQUIRE(events.size() == expected.size());
  for (size_t i = 0; i < events.size(); ++i)
    BOOST_TEST((events[i] == expected[i]), "event " << i);
}

BOOST_AUTO_TEST_CASE(a_note_shorter_than_a_frame_still_lasts_one) {
  const auto plan = resolved(midi_doc({midi_clip(0, {note(1, 1e-9, 60)})}));
  const auto& events = instrument_of(plan).events;
  BOOST_TEST_REQUIRE(events.size() == 2u);
  BOOST_TEST(events[1].frame == events[0].frame + 1);
}

BOOST_AUTO_TEST_CASE(an_attack_too_long_is_refused_at_its_pointer) {
  auto doc = midi_doc({midi_clip(0, {note(0, 1, 60)})});
  doc.tracks[0].instrument->attack = {time_unit::seconds, 100, 1};
  auto plan = resolve_timeline(doc, {}, {});
  BOOST_TEST_REQUIRE(!plan);
  const auto what = loophole::kernel::describe(plan.error());
  BOOST_TEST(what.find("/studio/song.json: /tracks/0/instrument/attack: is longer than 2^22") !=
                 std::string::npos,
             what);
}
