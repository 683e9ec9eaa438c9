// drivers/session_file.hpp: a valid session (docs/session-format.md) parses into exactly the
// session_document it describes, with media paths resolved against the session's folder; every
// rule of the format refuses a violation with "<file>: <JSON pointer>: <reason>".

#define BOOST_TEST_MODULE drivers_session_file
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

#include "drivers/session_file.hpp"
#include "tests/support/temp_dir.hpp"

namespace fs = std::filesystem;
using loophole::drivers::parse_session;
using loophole::drivers::read_session_file;
using loophole::drivers::session_error;
using loophole::messages::session_document;
using loophole::messages::time_unit;
using loophole::messages::time_value;

namespace {

const std::string session_path = "/studio/sessions/song.json";

// -- building session texts ------------------------------------------------------------------

const std::string head = R"("format": "loophole-session", "version": 1, "sample_rate": 48000)";

/// A valid session with `extra` top-level members and the given tracks array.
std::string doc_with(const std::string& extra, const std::string& tracks = R"([{"id": "a"}])") {
  return "{" + head + (extra.empty() ? "" : ", " + extra) + R"(, "tracks": )" + tracks + "}";
}

/// A valid session whose only track is `track`.
std::string doc_with_track(const std::string& track) {
  return doc_with("", "[" + track + "]");
}

/// A valid session whose only track has the one clip `clip`.
std::string doc_with_clip(const std::string& clip) {
  return doc_with_track(R"({"id": "a", "clips": [)" + clip + "]}");
}

/// A clip at position 0 of media "a.wav" with `extra` members.
std::string clip_with(const std::string& extra) {
  return R"({"media": "a.wav", "position": {"samples": 0})" +
         (extra.empty() ? std::string{} : ", " + extra) + "}";
}

// -- checking refusals -------------------------------------------------------------------------

/// Parses `text`; it must be refused as invalid with the message
/// "<session_path>: <pointer>: ..." containing `reason`.
void expect_refused(const std::string& text, const std::string& pointer,
                    const std::string& reason) {
  BOOST_TEST_CONTEXT("session " << text) {
    try {
      parse_session(text, session_path);
      BOOST_ERROR("accepted; expected a refusal at " << pointer);
    } catch (const session_error& e) {
      const std::string what = e.what();
      BOOST_TEST((e.which() == session_error::kind::invalid));
      const auto prefix = session_path + ": " + pointer + ": ";
      BOOST_TEST(what.rfind(prefix, 0) == 0u,
                 "'" << what << "' does not start with '" << prefix << "'");
      BOOST_TEST(what.size() > prefix.size(), "no reason in '" << what << "'");
      BOOST_TEST(what.find(reason) != std::string::npos,
                 "'" << what << "' does not say '" << reason << "'");
    }
  }
}

bool same(const time_value& a, time_unit unit, double value) {
  return a.unit == unit && a.value == value;
}

/// A folder of this suite's own.
class temp_dir : public loophole::test::temp_dir {
public:
  temp_dir() : loophole::test::temp_dir("session-file-test") {}
};

void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  BOOST_TEST_REQUIRE(static_cast<bool>(out), "cannot write " << path);
}

} // namespace

// -- valid sessions --------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(a_full_session_parses_into_every_field) {
  const std::string text = R"({
    "$schema": "https://loophole.example/session.schema.json",
    "format": "loophole-session",
    "version": 1,
    "sample_rate": 44100,
    "tempo": {"bpm": 112.5, "time_signature": [7, 8]},
    "metadata": {"title": "Demo", "artist": "Loophole", "comment": "take 3", "date": "2024-05-31"},
    "master": {"gain_db": -1.5, "channels": 2},
    "tracks": [
      {"id": "drums", "name": "Drum kit", "channels": 1, "gain_db": -2.0, "pan": -0.25,
       "mute": true, "solo": false,
       "clips": [
         {"media": "media/drums.wav", "position": {"beats": 4.5},
          "source_offset": {"seconds": 0.25}, "length": {"samples": 96000}, "gain_db": 3.0,
          "fade_in": {"length": {"samples": 480}, "shape": "equal_power"},
          "fade_out": {"length": {"beats": 1}, "shape": "s_curve"}},
         {"media": "../shared/bass.flac", "position": {"seconds": 12}},
         {"media": "/abs/pad.wav", "position": {"samples": 0},
          "fade_in": {"length": {"seconds": 0.5}}}
       ]},
      {"id": "vox.2_lead-x", "solo": true, "pan": 1, "gain_db": 24,
       "clips": [{"media": "./takes/./vox.wav", "position": {"samples": 123},
                  "fade_out": {"length": {"samples": 1}, "shape": "exponential"}}]},
      {"id": "empty", "channels": 2, "gain_db": -144, "pan": -1}
    ]
  })";
  const auto doc = parse_session(text, session_path);
  BOOST_TEST(doc.path == session_path);
  BOOST_TEST(doc.version == 1u);
  BOOST_TEST(doc.sample_rate == 44100u);
  BOOST_TEST(doc.bpm == 112.5);
  BOOST_TEST(doc.beats_per_bar == 7u);
  BOOST_TEST(doc.beat_unit == 8u);
  BOOST_TEST(doc.metadata.title == "Demo");
  BOOST_TEST(doc.metadata.artist == "Loophole");
  BOOST_TEST(doc.metadata.comment == "take 3");
  BOOST_TEST(doc.metadata.date == "2024-05-31");
  BOOST_TEST(doc.master_gain_db == -1.5);
  BOOST_TEST(doc.master_channels == 2u);
  BOOST_TEST_REQUIRE(doc.tracks.size() == 3u);

  const auto& drums = doc.tracks[0];
  BOOST_TEST(drums.id == "drums");
  BOOST_TEST(drums.name == "Drum kit");
  BOOST_TEST(drums.channels == 1u);
  BOOST_TEST(drums.gain_db == -2.0);
  BOOST_TEST(drums.pan == -0.25);
  BOOST_TEST(drums.mute);
  BOOST_TEST(!drums.solo);
  BOOST_TEST_REQUIRE(drums.clips.size() == 3u);

  const auto& c0 = drums.clips[0];
  BOOST_TEST(c0.media == "media/drums.wav");
  BOOST_TEST(c0.media_path == "/studio/sessions/media/drums.wav");
  BOOST_TEST(same(c0.position, time_unit::beats, 4.5));
  BOOST_TEST(same(c0.source_offset, time_unit::seconds, 0.25));
  BOOST_TEST_REQUIRE(c0.length.has_value());
  BOOST_TEST(same(*c0.length, time_unit::samples, 96000.0));
  BOOST_TEST(c0.gain_db == 3.0);
  BOOST_TEST_REQUIRE(c0.fade_in.has_value());
  BOOST_TEST(same(c0.fade_in->length, time_unit::samples, 480.0));
  BOOST_TEST(c0.fade_in->shape == "equal_power");
  BOOST_TEST_REQUIRE(c0.fade_out.has_value());
  BOOST_TEST(same(c0.fade_out->length, time_unit::beats, 1.0));
  BOOST_TEST(c0.fade_out->shape == "s_curve");

  const auto& c1 = drums.clips[1];
  BOOST_TEST(c1.media == "../shared/bass.flac");
  BOOST_TEST(c1.media_path == "/studio/shared/bass.flac");
  BOOST_TEST(same(c1.position, time_unit::seconds, 12.0));
  BOOST_TEST(same(c1.source_offset, time_unit::samples, 0.0));
  BOOST_TEST(!c1.length.has_value());
  BOOST_TEST(c1.gain_db == 0.0);
  BOOST_TEST(!c1.fade_in.has_value());
  BOOST_TEST(!c1.fade_out.has_value());

  const auto& c2 = drums.clips[2];
  BOOST_TEST(c2.media_path == "/abs/pad.wav");
  BOOST_TEST_REQUIRE(c2.fade_in.has_value());
  BOOST_TEST(same(c2.fade_in->length, time_unit::seconds, 0.5));
  BOOST_TEST(c2.fade_in->shape == "linear"); // the default shape

  const auto& vox = doc.tracks[1];
  BOOST_TEST(vox.id == "vox.2_lead-x");
  BOOST_TEST(vox.name == "vox.2_lead-x"); // the name defaults to the id
  BOOST_TEST(vox.channels == 2u);
  BOOST_TEST(vox.gain_db == 24.0);
  BOOST_TEST(vox.pan == 1.0);
  BOOST_TEST(!vox.mute);
  BOOST_TEST(vox.solo);
  BOOST_TEST_REQUIRE(vox.clips.size() == 1u);
  BOOST_TEST(vox.clips[0].media_path == "/studio/sessions/takes/vox.wav");
  BOOST_TEST(same(vox.clips[0].position, time_unit::samples, 123.0));
  BOOST_TEST_REQUIRE(vox.clips[0].fade_out.has_value());
  BOOST_TEST(vox.clips[0].fade_out->shape == "exponential");

  const auto& empty = doc.tracks[2];
  BOOST_TEST(empty.gain_db == -144.0);
  BOOST_TEST(empty.pan == -1.0);
  BOOST_TEST(empty.clips.empty());
}

BOOST_AUTO_TEST_CASE(a_minimal_session_gets_the_documented_defaults) {
  const auto doc = parse_session(doc_with(""), session_path);
  BOOST_TEST(doc.sample_rate == 48000u);
  BOOST_TEST(doc.bpm == 120.0);
  BOOST_TEST(doc.beats_per_bar == 4u);
  BOOST_TEST(doc.beat_unit == 4u);
  BOOST_TEST(doc.metadata.title.empty());
  BOOST_TEST(doc.metadata.date.empty());
  BOOST_TEST(doc.master_gain_db == 0.0);
  BOOST_TEST(doc.master_channels == 2u);
  BOOST_TEST_REQUIRE(doc.tracks.size() == 1u);
  const auto& t = doc.tracks[0];
  BOOST_TEST(t.name == "a");
  BOOST_TEST(t.channels == 2u);
  BOOST_TEST(t.gain_db == 0.0);
  BOOST_TEST(t.pan == 0.0);
  BOOST_TEST(!t.mute);
  BOOST_TEST(!t.solo);
  BOOST_TEST(t.clips.empty());

  // No tracks at all is a valid document (a render refuses it later).
  BOOST_TEST(parse_session(doc_with("", "[]"), session_path).tracks.empty());
}

BOOST_AUTO_TEST_CASE(the_limits_of_each_range_are_accepted) {
  BOOST_CHECK_NO_THROW(parse_session(
      R"({"format": "loophole-session", "version": 1, "sample_rate": 8000, "tracks": []})",
      session_path));
  BOOST_CHECK_NO_THROW(parse_session(
      R"({"format": "loophole-session", "version": 1, "sample_rate": 384000, "tracks": []})",
      session_path));
  BOOST_CHECK_NO_THROW(parse_session(doc_with(R"("tempo": {"bpm": 0.001})"), session_path));
  BOOST_CHECK_NO_THROW(parse_session(doc_with(R"("tempo": {"bpm": 999})"), session_path));
  BOOST_CHECK_NO_THROW(
      parse_session(doc_with(R"("tempo": {"time_signature": [1, 1]})"), session_path));
  BOOST_CHECK_NO_THROW(
      parse_session(doc_with(R"("tempo": {"time_signature": [64, 32]})"), session_path));
  BOOST_CHECK_NO_THROW(parse_session(doc_with(R"("master": {"gain_db": -144})"), session_path));
  BOOST_CHECK_NO_THROW(parse_session(doc_with(R"("master": {"gain_db": 24})"), session_path));
  BOOST_CHECK_NO_THROW(
      parse_session(doc_with_track(R"({"id": ")" + std::string(64, 'x') + R"("})"), session_path));
  BOOST_CHECK_NO_THROW(
      parse_session(doc_with_clip(clip_with(R"("length": {"samples": 1})")), session_path));
  BOOST_CHECK_NO_THROW(parse_session(
      doc_with_clip(clip_with(R"("source_offset": {"seconds": 1e12})")), session_path));
}

BOOST_AUTO_TEST_CASE(media_paths_are_resolved_against_the_sessions_folder) {
  auto media_path_of = [](const std::string& session, const std::string& media) {
    const auto doc = parse_session(
        doc_with_clip(R"({"media": ")" + media + R"(", "position": {"samples": 0}})"), session);
    BOOST_TEST(doc.tracks.at(0).clips.at(0).media == media); // kept as written
    return doc.tracks.at(0).clips.at(0).media_path;
  };
  BOOST_TEST(media_path_of("/a/b/song.json", "x.wav") == "/a/b/x.wav");
  BOOST_TEST(media_path_of("/a/b/song.json", "media/x.wav") == "/a/b/media/x.wav");
  BOOST_TEST(media_path_of("/a/b/song.json", "../x.wav") == "/a/x.wav");
  BOOST_TEST(media_path_of("/a/b/song.json", "./m/../x.wav") == "/a/b/x.wav");
  BOOST_TEST(media_path_of("/a/b/song.json", "/elsewhere/x.wav") == "/elsewhere/x.wav");
  BOOST_TEST(media_path_of("/a/b/song.json", "/elsewhere/./y/../x.wav") == "/elsewhere/x.wav");
  BOOST_TEST(media_path_of("proj/song.json", "x.wav") == "proj/x.wav");
  BOOST_TEST(media_path_of("song.json", "media/x.wav") == "media/x.wav");
}

// -- refusals: the document as a whole -------------------------------------------------------

BOOST_AUTO_TEST_CASE(text_that_is_not_json_is_refused_naming_the_byte) {
  for (const std::string text : {"", "{", R"({"format": "loophole-session",})", "nope",
                                 R"({"format": "loophole-session"} trailing)"}) {
    BOOST_TEST_CONTEXT("text '" << text << "'") {
      try {
        parse_session(text, session_path);
        BOOST_ERROR("accepted");
      } catch (const session_error& e) {
        const std::string what = e.what();
        BOOST_TEST((e.which() == session_error::kind::invalid));
        BOOST_TEST(what.rfind(session_path + ": not valid JSON (byte ", 0) == 0u, what);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(a_root_that_is_not_an_object_is_refused) {
  expect_refused("[1, 2]", "/", "a session is a JSON object");
  expect_refused("\"loophole-session\"", "/", "a session is a JSON object");
  expect_refused("null", "/", "a session is a JSON object");
}

BOOST_AUTO_TEST_CASE(a_missing_or_wrong_format_is_refused) {
  expect_refused(R"({"version": 1, "sample_rate": 48000, "tracks": []})", "/",
                 "missing required key 'format'");
  expect_refused(R"({"format": "loophole-project", "version": 1, "sample_rate": 48000,
                     "tracks": []})",
                 "/format", "must be \"loophole-session\"");
  expect_refused(R"({"format": 1, "version": 1, "sample_rate": 48000, "tracks": []})", "/format",
                 "is not a string");
}

BOOST_AUTO_TEST_CASE(a_missing_or_unsupported_version_is_refused) {
  expect_refused(R"({"format": "loophole-session", "sample_rate": 48000, "tracks": []})", "/",
                 "missing required key 'version'");
  expect_refused(R"({"format": "loophole-session", "version": 2, "sample_rate": 48000,
                     "tracks": []})",
                 "/version", "version 2 is not supported");
  expect_refused(R"({"format": "loophole-session", "version": 0, "sample_rate": 48000,
                     "tracks": []})",
                 "/version", "is not supported");
  expect_refused(R"({"format": "loophole-session", "version": "1", "sample_rate": 48000,
                     "tracks": []})",
                 "/version", "is not an integer");
  expect_refused(R"({"format": "loophole-session", "version": 1.0, "sample_rate": 48000,
                     "tracks": []})",
                 "/version", "is not an integer");
}

BOOST_AUTO_TEST_CASE(a_missing_out_of_range_or_fractional_sample_rate_is_refused) {
  const std::string start = R"({"format": "loophole-session", "version": 1, )";
  expect_refused(start + R"("tracks": []})", "/", "missing required key 'sample_rate'");
  expect_refused(start + R"("sample_rate": 7999, "tracks": []})", "/sample_rate",
                 "7999 is outside [8000, 384000]");
  expect_refused(start + R"("sample_rate": 384001, "tracks": []})", "/sample_rate",
                 "384001 is outside [8000, 384000]");
  expect_refused(start + R"("sample_rate": -48000, "tracks": []})", "/sample_rate",
                 "is outside [8000, 384000]");
  expect_refused(start + R"("sample_rate": 48000.0, "tracks": []})", "/sample_rate",
                 "is not an integer");
  expect_refused(start + R"("sample_rate": 4.8e4, "tracks": []})", "/sample_rate",
                 "is not an integer");
  expect_refused(start + R"("sample_rate": "48000", "tracks": []})", "/sample_rate",
                 "is not an integer");
}

BOOST_AUTO_TEST_CASE(an_unknown_top_level_key_is_refused_listing_the_allowed_ones) {
  expect_refused(doc_with(R"("tempi": {"bpm": 100})"), "/tempi",
                 "unknown key (allowed: format, version, sample_rate, tempo, metadata, master, "
                 "tracks, buses, markers, test_nodes, analysis, grooves, $schema)");
}

BOOST_AUTO_TEST_CASE(missing_tracks_or_tracks_that_are_not_an_array_are_refused) {
  expect_refused("{" + head + "}", "/", "missing required key 'tracks'");
  expect_refused("{" + head + R"(, "tracks": {"id": "a"}})", "/tracks", "is not an array");
}

// -- refusals: tempo, metadata, master -------------------------------------------------------

BOOST_AUTO_TEST_CASE(a_tempo_out_of_range_is_refused) {
  expect_refused(doc_with(R"("tempo": {"bpm": 0})"), "/tempo/bpm", "0 is below the minimum 0.001");
  expect_refused(doc_with(R"("tempo": {"bpm": -120})"), "/tempo/bpm", "is below the minimum");
  expect_refused(doc_with(R"("tempo": {"bpm": 1000})"), "/tempo/bpm",
                 "1000 is above the maximum 999");
  expect_refused(doc_with(R"("tempo": {"bpm": "fast"})"), "/tempo/bpm", "is not a number");
  expect_refused(doc_with(R"("tempo": 120)"), "/tempo", "is not an object");
  expect_refused(doc_with(R"("tempo": {"swing": 0.5})"), "/tempo/swing", "unknown key");
}

BOOST_AUTO_TEST_CASE(a_time_signature_of_the_wrong_shape_or_values_is_refused) {
  const std::string shape = "must be [beats per bar, beat unit]";
  for (const std::string bad :
       {R"("4/4")", "[4]", "[4, 4, 4]", "[4.0, 4]", "[4, 4.0]", R"(["4", 4])", "{}", "4"})
    expect_refused(doc_with(R"("tempo": {"time_signature": )" + bad + "}"), "/tempo/time_signature",
                   shape);
  expect_refused(doc_with(R"("tempo": {"time_signature": [0, 4]})"), "/tempo/time_signature/0",
                 "beats per bar must be in [1, 64]");
  expect_refused(doc_with(R"("tempo": {"time_signature": [65, 4]})"), "/tempo/time_signature/0",
                 "beats per bar must be in [1, 64]");
  expect_refused(doc_with(R"("tempo": {"time_signature": [-4, 4]})"), "/tempo/time_signature/0",
                 "beats per bar must be in [1, 64]");
  for (const std::string unit : {"0", "3", "6", "64", "-4"})
    expect_refused(doc_with(R"("tempo": {"time_signature": [4, )" + unit + "]}"),
                   "/tempo/time_signature/1", "the beat unit must be 1, 2, 4, 8, 16 or 32");
}

BOOST_AUTO_TEST_CASE(a_date_that_is_not_yyyy_mm_dd_is_refused) {
  for (const std::string bad : {"2024-5-31", "31/05/2024", "2024_05_31", "20240531", "yesterday"})
    expect_refused(doc_with(R"("metadata": {"date": ")" + bad + R"("})"), "/metadata/date",
                   "\"" + bad + "\" is not a date YYYY-MM-DD");
  // Longer than a date: refused by the length limit, at the same place.
  expect_refused(doc_with(R"("metadata": {"date": "2024-05-31T12:00"})"), "/metadata/date",
                 "is longer than 10 bytes");
  expect_refused(doc_with(R"("metadata": {"date": 20240531})"), "/metadata/date",
                 "is not a string");
  expect_refused(doc_with(R"("metadata": {"genre": "pop"})"), "/metadata/genre", "unknown key");
  expect_refused(doc_with(R"("metadata": {"title": ")" + std::string(257, 't') + R"("})"),
                 "/metadata/title", "is longer than 256 bytes");
}

BOOST_AUTO_TEST_CASE(a_master_gain_out_of_range_is_refused) {
  expect_refused(doc_with(R"("master": {"gain_db": 24.5})"), "/master/gain_db",
                 "24.5 is above the maximum 24");
  expect_refused(doc_with(R"("master": {"gain_db": -145})"), "/master/gain_db",
                 "-145 is below the minimum -144");
  expect_refused(doc_with(R"("master": {"gain_db": "loud"})"), "/master/gain_db",
                 "is not a number");
  expect_refused(doc_with(R"("master": {"channels": 4})"), "/master/channels",
                 "4 is not 1, 2, 6 (5.1), 8 (7.1) or 12 (7.1.4)");
  expect_refused(doc_with(R"("master": {"limiter": true})"), "/master/limiter", "unknown key");
}

// -- refusals: tracks ------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(a_track_that_is_not_an_object_is_refused) {
  expect_refused(doc_with("", R"([{"id": "a"}, "b"])"), "/tracks/1", "a track is an object");
}

BOOST_AUTO_TEST_CASE(a_missing_or_malformed_track_id_is_refused) {
  expect_refused(doc_with_track(R"({"name": "no id"})"), "/tracks/0", "missing required key 'id'");
  for (const std::string bad : {"", "a b", "drums/1", "caf\u00e9", "a:b", "*"})
    expect_refused(doc_with_track(R"({"id": ")" + bad + R"("})"), "/tracks/0/id",
                   "\"" + bad + "\" is not an id of 1 to 64 letters, digits, _ . -");
  expect_refused(doc_with_track(R"({"id": ")" + std::string(65, 'x') + R"("})"), "/tracks/0/id",
                 "is longer than 64 bytes");
  expect_refused(doc_with_track(R"({"id": 7})"), "/tracks/0/id", "is not a string");
}

BOOST_AUTO_TEST_CASE(a_duplicate_track_id_is_refused_at_the_later_track) {
  expect_refused(doc_with("", R"([{"id": "a"}, {"id": "b"}, {"id": "a"}])"), "/tracks/2/id",
                 "\"a\" is the id of an earlier track too");
}

BOOST_AUTO_TEST_CASE(each_bad_track_field_is_refused_at_its_pointer) {
  expect_refused(doc_with_track(R"({"id": "a", "volume": 3})"), "/tracks/0/volume",
                 "unknown key (allowed: id, name, channels, gain_db, pan, mute, solo, clips, inserts, crossfade, automation, takes, comp, modulators, instrument, sends, output, surround)");
  expect_refused(doc_with_track(R"({"id": "a", "channels": 3})"), "/tracks/0/channels",
                 "3 is outside [1, 2]");
  expect_refused(doc_with_track(R"({"id": "a", "channels": 0})"), "/tracks/0/channels",
                 "0 is outside [1, 2]");
  expect_refused(doc_with_track(R"({"id": "a", "channels": 2.0})"), "/tracks/0/channels",
                 "is not an integer");
  expect_refused(doc_with_track(R"({"id": "a", "gain_db": 40})"), "/tracks/0/gain_db",
                 "40 is above the maximum 24");
  expect_refused(doc_with_track(R"({"id": "a", "gain_db": -200})"), "/tracks/0/gain_db",
                 "-200 is below the minimum -144");
  expect_refused(doc_with_track(R"({"id": "a", "pan": 2})"), "/tracks/0/pan",
                 "2 is above the maximum 1");
  expect_refused(doc_with_track(R"({"id": "a", "pan": -1.5})"), "/tracks/0/pan",
                 "-1.5 is below the minimum -1");
  expect_refused(doc_with_track(R"({"id": "a", "mute": "yes"})"), "/tracks/0/mute",
                 "\"yes\" is not true or false");
  expect_refused(doc_with_track(R"({"id": "a", "solo": 1})"), "/tracks/0/solo",
                 "1 is not true or false");
  expect_refused(doc_with_track(R"({"id": "a", "name": ["x"]})"), "/tracks/0/name",
                 "is not a string");
  expect_refused(doc_with_track(R"({"id": "a", "clips": {"media": "a.wav"}})"), "/tracks/0/clips",
                 "is not an array");
  // The index in the pointer is the track's.
  expect_refused(doc_with("", R"([{"id": "a"}, {"id": "b"}, {"id": "c", "pan": 9}])"),
                 "/tracks/2/pan", "9 is above the maximum 1");
}

// -- refusals: clips -------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(a_clip_that_is_not_an_object_is_refused) {
  expect_refused(doc_with_clip("\"a.wav\""), "/tracks/0/clips/0", "a clip is an object");
}

BOOST_AUTO_TEST_CASE(a_clip_without_media_or_position_or_with_empty_media_is_refused) {
  expect_refused(doc_with_clip(R"({"position": {"samples": 0}})"), "/tracks/0/clips/0",
                 "missing required key 'media'");
  expect_refused(doc_with_clip(R"({"media": "a.wav"})"), "/tracks/0/clips/0",
                 "missing required key 'position'");
  expect_refused(doc_with_clip(R"({"media": "", "position": {"samples": 0}})"),
                 "/tracks/0/clips/0/media", "is empty");
  expect_refused(doc_with_clip(R"({"media": 3, "position": {"samples": 0}})"),
                 "/tracks/0/clips/0/media", "is not a string");
}

BOOST_AUTO_TEST_CASE(an_unknown_clip_key_is_refused) {
  expect_refused(doc_with_clip(clip_with(R"("looped": true)")), "/tracks/0/clips/0/looped",
                 "unknown key (allowed: media, position, source_offset, length, gain_db, "
                 "fade_in, fade_out, loop, gain_envelope, warp, groove)");
  expect_refused(doc_with_clip(clip_with(R"("loop": true)")), "/tracks/0/clips/0/loop",
                 "is not an object");
  expect_refused(doc_with_clip(clip_with(R"("loop": {"start": {"samples": 0}})")),
                 "/tracks/0/clips/0/loop", "missing required key 'end'");
  expect_refused(doc_with_clip(clip_with(
                   R"("loop": {"start": {"samples": 0}, "end": {"samples": 10}})")),
                 "/tracks/0/clips/0/loop", "needs a length");
  auto doc = parse_session(doc_with_clip(clip_with(
                             R"("length": {"seconds": 10}, "loop": {"start": {"samples": 100}, "end": {"beats": 2}})")),
                           session_path);
  const auto& c = doc.tracks.at(0).clips.at(0);
  BOOST_TEST_REQUIRE(c.loop_start.has_value());
  BOOST_TEST(same(*c.loop_start, time_unit::samples, 100));
  BOOST_TEST(same(*c.loop_end, time_unit::beats, 2));
}

BOOST_AUTO_TEST_CASE(a_warp_is_read_with_markers_or_a_ratio) {
  auto doc = parse_session(doc_with_clip(clip_with(
                             R"("warp": {"mode": "varispeed", "markers": [
                                  {"source": {"seconds": 1}, "timeline": {"beats": 3}},
                                  {"source": {"samples": 96000}, "timeline": {"seconds": 2.5}}]})")),
                           session_path);
  const auto& w = doc.tracks.at(0).clips.at(0).warp;
  BOOST_TEST_REQUIRE(w.has_value());
  BOOST_TEST(w->mode == "varispeed");
  BOOST_TEST_REQUIRE(w->markers.size() == 2u);
  BOOST_TEST(same(w->markers[0].source, time_unit::seconds, 1));
  BOOST_TEST(same(w->markers[0].timeline, time_unit::beats, 3));
  BOOST_TEST(same(w->markers[1].source, time_unit::samples, 96000));
  BOOST_TEST(same(w->markers[1].timeline, time_unit::seconds, 2.5));
  BOOST_TEST(w->ratio == 0.0);

  doc = parse_session(doc_with_clip(clip_with(R"("warp": {"ratio": 1.25})")), session_path);
  const auto& r = doc.tracks.at(0).clips.at(0).warp;
  BOOST_TEST_REQUIRE(r.has_value());
  BOOST_TEST(r->mode == "stretch"); // the default
  BOOST_TEST(r->ratio == 1.25);
  BOOST_TEST(r->markers.empty());
  BOOST_TEST(!parse_session(doc_with_clip(clip_with("")), session_path)
                .tracks.at(0).clips.at(0).warp.has_value());
}

BOOST_AUTO_TEST_CASE(each_bad_warp_field_is_refused_at_its_pointer) {
  const std::string at = "/tracks/0/clips/0/warp";
  auto refused = [&](const std::string& warp, const std::string& pointer,
                     const std::string& reason) {
    expect_refused(doc_with_clip(clip_with(R"("warp": )" + warp)), at + pointer, reason);
  };
  refused("1.25", "", "is not an object");
  refused(R"({"ratio": 1.25, "speed": 2})", "/speed",
          "unknown key (allowed: mode, markers, ratio)");
  refused(R"({"mode": "tape", "ratio": 1.25})", "/mode", "\"tape\" is not stretch or varispeed");
  refused(R"({"mode": 1, "ratio": 1.25})", "/mode", "is not a string");
  refused(R"({"mode": "stretch"})", "", "give either 'markers' or 'ratio'");
  refused(R"({"ratio": 1.25, "markers": []})", "", "give either 'markers' or 'ratio'");
  refused(R"({"ratio": 0.05})", "/ratio", "is below the minimum 0.0625");
  refused(R"({"ratio": 17})", "/ratio", "is above the maximum 16");
  refused(R"({"ratio": "1.25"})", "/ratio", "is not a number");
  refused(R"({"markers": []})", "/markers", "is not an array of 1 to 100000 markers");
  refused(R"({"markers": {}})", "/markers", "is not an array of 1 to 100000 markers");
  refused(R"({"markers": [3]})", "/markers/0", "a marker is an object");
  refused(R"({"markers": [{"source": {"samples": 1}}]})", "/markers/0",
          "missing required key 'timeline'");
  refused(R"({"markers": [{"timeline": {"samples": 1}}]})", "/markers/0",
          "missing required key 'source'");
  refused(R"({"markers": [{"source": {"samples": 1}, "timeline": {"samples": 1}, "x": 1}]})",
          "/markers/0/x", "unknown key (allowed: source, timeline)");
  refused(R"({"markers": [{"source": {"bar": 2}, "timeline": {"samples": 1}}]})",
          "/markers/0/source/bar", "cannot be given in bars");
  refused(R"({"markers": [{"source": {"samples": 1}, "timeline": {"seconds": -1}}]})",
          "/markers/0/timeline/seconds", "is not a time in [0, 1e12]");
  expect_refused(doc_with_clip(clip_with(
                   R"("length": {"seconds": 1}, "loop": {"start": {"samples": 0}, "end": {"samples": 10}}, "warp": {"ratio": 2})")),
                 at, "a clip cannot be both looped and warped");
}

BOOST_AUTO_TEST_CASE(the_pointer_names_the_track_and_the_clip) {
  const auto text = doc_with("", R"([{"id": "a"},
    {"id": "b", "clips": [{"media": "a.wav", "position": {"samples": 0}},
                          {"media": "b.wav", "position": {"samples": 0}, "gain_db": 30}]}])");
  expect_refused(text, "/tracks/1/clips/1/gain_db", "30 is above the maximum 24");
}

BOOST_AUTO_TEST_CASE(a_time_value_that_is_not_one_unit_is_refused) {
  const std::string reason = "is not a time value: give exactly one of";
  for (const std::string bad :
       {R"({"beats": 1, "seconds": 2})", "{}", "0", R"("1s")", "[0]", "null"})
    expect_refused(doc_with_clip(R"({"media": "a.wav", "position": )" + bad + "}"),
                   "/tracks/0/clips/0/position", reason);
  expect_refused(doc_with_clip(clip_with(R"("length": {"samples": 1, "beats": 1})")),
                 "/tracks/0/clips/0/length", reason);
}

BOOST_AUTO_TEST_CASE(a_time_value_with_an_unknown_unit_is_refused) {
  expect_refused(doc_with_clip(R"({"media": "a.wav", "position": {"bars": 2}})"),
                 "/tracks/0/clips/0/position/bars",
                 "unknown time unit (beats, seconds or samples, or bar)");
  expect_refused(doc_with_clip(clip_with(R"("source_offset": {"frames": 2})")),
                 "/tracks/0/clips/0/source_offset/frames", "unknown time unit");
}

BOOST_AUTO_TEST_CASE(a_time_value_of_the_wrong_type_or_sign_is_refused) {
  const std::string at = "/tracks/0/clips/0/position/";
  auto with_position = [](const std::string& t) {
    return doc_with_clip(R"({"media": "a.wav", "position": )" + t + "}");
  };
  expect_refused(with_position(R"({"samples": 1.5})"), at + "samples", "1.5 is not an integer");
  expect_refused(with_position(R"({"samples": 48000.0})"), at + "samples", "is not an integer");
  expect_refused(with_position(R"({"samples": "48000"})"), at + "samples", "is not an integer");
  expect_refused(with_position(R"({"beats": "4"})"), at + "beats", "\"4\" is not a number");
  expect_refused(with_position(R"({"seconds": true})"), at + "seconds", "true is not a number");
  expect_refused(with_position(R"({"seconds": -1})"), at + "seconds",
                 "-1 is not a time in [0, 1e12]");
  expect_refused(with_position(R"({"beats": -0.5})"), at + "beats", "is not a time in [0, 1e12]");
  expect_refused(with_position(R"({"samples": -1})"), at + "samples", "is not a time in [0, 1e12]");
  expect_refused(with_position(R"({"seconds": 2e12})"), at + "seconds",
                 "is not a time in [0, 1e12]");
}

BOOST_AUTO_TEST_CASE(a_clip_length_of_zero_is_refused) {
  for (const std::string zero : {R"({"samples": 0})", R"({"beats": 0})", R"({"seconds": 0.0})"})
    expect_refused(doc_with_clip(clip_with(R"("length": )" + zero)), "/tracks/0/clips/0/length",
                   "must be longer than 0");
}

BOOST_AUTO_TEST_CASE(a_clip_gain_out_of_range_is_refused) {
  expect_refused(doc_with_clip(clip_with(R"("gain_db": 24.01)")), "/tracks/0/clips/0/gain_db",
                 "is above the maximum 24");
}

BOOST_AUTO_TEST_CASE(a_fade_with_an_unknown_shape_is_refused_listing_the_shapes) {
  expect_refused(doc_with_clip(clip_with(R"("fade_in": {"length": {"samples": 10},
                                                        "shape": "cubic"})")),
                 "/tracks/0/clips/0/fade_in/shape",
                 "\"cubic\" is not one of linear, equal_power, exponential, s_curve");
  expect_refused(doc_with_clip(clip_with(R"("fade_out": {"length": {"samples": 10},
                                                         "shape": "Linear"})")),
                 "/tracks/0/clips/0/fade_out/shape",
                 "\"Linear\" is not one of linear, equal_power, exponential, s_curve");
  expect_refused(doc_with_clip(clip_with(R"("fade_out": {"length": {"samples": 10},
                                                         "shape": 1})")),
                 "/tracks/0/clips/0/fade_out/shape", "is not a string");
}

BOOST_AUTO_TEST_CASE(a_fade_without_a_length_or_of_the_wrong_shape_is_refused) {
  expect_refused(doc_with_clip(clip_with(R"("fade_in": {"shape": "linear"})")),
                 "/tracks/0/clips/0/fade_in", "missing required key 'length'");
  expect_refused(doc_with_clip(clip_with(R"("fade_out": {})")), "/tracks/0/clips/0/fade_out",
                 "missing required key 'length'");
  expect_refused(doc_with_clip(clip_with(R"("fade_in": {"samples": 10})")),
                 "/tracks/0/clips/0/fade_in/samples", "unknown key (allowed: length, shape)");
  expect_refused(doc_with_clip(clip_with(R"("fade_in": 10)")), "/tracks/0/clips/0/fade_in",
                 "10 is not an object");
  expect_refused(doc_with_clip(clip_with(R"("fade_in": {"length": {"seconds": -1}})")),
                 "/tracks/0/clips/0/fade_in/length/seconds", "is not a time in [0, 1e12]");
}

// -- reading files ---------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(a_session_file_is_read_and_its_media_resolved_against_its_folder) {
  temp_dir dir;
  fs::create_directories(dir.path() / "project");
  const auto path = dir.file("project/song.json");
  write_file(path, doc_with_clip(R"({"media": "media/kick.wav", "position": {"beats": 1}})"));
  const auto doc = read_session_file(path);
  BOOST_TEST(doc.path == path);
  BOOST_TEST_REQUIRE(doc.tracks.size() == 1u);
  BOOST_TEST_REQUIRE(doc.tracks[0].clips.size() == 1u);
  BOOST_TEST(doc.tracks[0].clips[0].media_path == (dir.path() / "project/media/kick.wav").string());
}

BOOST_AUTO_TEST_CASE(errors_in_a_file_name_the_file) {
  temp_dir dir;
  const auto path = dir.file("broken.json");
  write_file(path, doc_with_track(R"({"id": "a", "gain_db": 40})"));
  try {
    read_session_file(path);
    BOOST_ERROR("accepted");
  } catch (const session_error& e) {
    BOOST_TEST((e.which() == session_error::kind::invalid));
    BOOST_TEST(std::string{e.what()} == path + ": /tracks/0/gain_db: 40 is above the maximum 24");
  }
}

BOOST_AUTO_TEST_CASE(a_missing_file_is_not_found) {
  temp_dir dir;
  const auto path = dir.file("nope.json");
  try {
    read_session_file(path);
    BOOST_ERROR("accepted");
  } catch (const session_error& e) {
    BOOST_TEST((e.which() == session_error::kind::not_found));
    BOOST_TEST(std::string{e.what()}.find(path) != std::string::npos, e.what());
  }
}

BOOST_AUTO_TEST_CASE(a_directory_is_not_found) {
  temp_dir dir;
  try {
    read_session_file(dir.path().string());
    BOOST_ERROR("accepted");
  } catch (const session_error& e) {
    BOOST_TEST((e.which() == session_error::kind::not_found));
    BOOST_TEST(std::string{e.what()}.find(dir.path().string()) != std::string::npos, e.what());
  }
}

BOOST_AUTO_TEST_CASE(a_file_over_64_mib_is_refused_without_being_read) {
  temp_dir dir;
  const auto path = dir.file("huge.json");
  const int fd = ::open(path.c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0644);
  BOOST_TEST_REQUIRE(fd >= 0);
  // Sparse: no blocks are written, so this costs nothing on disk.
  const auto size = static_cast<off_t>(loophole::drivers::max_session_bytes + 1);
  BOOST_TEST_REQUIRE(::ftruncate(fd, size) == 0);
  ::close(fd);
  try {
    read_session_file(path);
    BOOST_ERROR("accepted");
  } catch (const session_error& e) {
    BOOST_TEST((e.which() == session_error::kind::invalid));
    // Exactly the size check's message: parse_session (which would mean the whole file was
    // read) says the same after a JSON pointer ("/: the file is ...").
    BOOST_TEST(std::string{e.what()} == path + ": the file is larger than 64 MiB");
  }
}

BOOST_AUTO_TEST_CASE(parse_session_refuses_text_over_64_mib_too) {
  const std::string text(loophole::drivers::max_session_bytes + 1, ' ');
  expect_refused(text, "/", "the file is larger than 64 MiB");
}

// -- inserts and test nodes --------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(inserts)

BOOST_AUTO_TEST_CASE(delay_and_fault_inserts_parse_in_order_with_their_defaults) {
  auto doc = parse_session(
    doc_with(R"("test_nodes": true)",
             R"([{"id": "a", "inserts": [
                   {"kind": "delay", "time": {"beats": 0.5}, "feedback": 0.25, "wet": 0.5},
                   {"kind": "test.fault", "fault": "leak", "at": {"seconds": 2}, "leak_mb": 64},
                   {"kind": "delay", "time": {"samples": 10}}]}])"),
    session_path);
  BOOST_TEST(doc.test_nodes);
  const auto& ins = doc.tracks.at(0).inserts;
  BOOST_TEST_REQUIRE(ins.size() == 3u);
  BOOST_TEST(ins[0].kind == "delay");
  BOOST_TEST_REQUIRE(ins[0].params.size() == 3u); // dry left to the node's default
  BOOST_TEST(ins[0].params[0].name == "frames");
  BOOST_TEST(same(*ins[0].params[0].time, time_unit::beats, 0.5));
  BOOST_TEST(ins[0].params[1].name == "feedback");
  BOOST_TEST(ins[0].params[1].value == 0.25);
  BOOST_TEST(ins[0].params[2].name == "wet");
  BOOST_TEST(ins[0].params[2].value == 0.5);
  BOOST_TEST(ins[1].kind == "test.fault");
  BOOST_TEST(ins[1].fault == "leak");
  BOOST_TEST(same(ins[1].at, time_unit::seconds, 2.0));
  BOOST_TEST(ins[1].leak_mb == 64.0);
  BOOST_TEST(ins[1].sleep_ms == 1.0);
  BOOST_TEST(ins[2].params.size() == 1u);
  BOOST_TEST(!parse_session(doc_with(""), session_path).test_nodes);
}

BOOST_AUTO_TEST_CASE(bad_inserts_are_refused_at_their_pointer) {
  auto with = [](const std::string& inserts) {
    return doc_with_track(R"({"id": "a", "inserts": )" + inserts + "}");
  };
  expect_refused(with(R"({"kind": "delay"})"), "/tracks/0/inserts", "is not an array");
  expect_refused(with(R"([7])"), "/tracks/0/inserts/0", "an insert is an object");
  expect_refused(with(R"([{"time": {"seconds": 1}}])"), "/tracks/0/inserts/0",
                 "missing required key 'kind'");
  expect_refused(with(R"([{"kind": "reverb"}])"), "/tracks/0/inserts/0/kind",
                 "is not an insert kind (eq, compressor, limiter, gate, saturation, "
                 "convolution, polarity, delay, meter, gain, trim, pan, test.fault)");
  expect_refused(with(R"([{"kind": "delay"}])"), "/tracks/0/inserts/0",
                 "missing required key 'time'");
  expect_refused(with(R"([{"kind": "delay", "time": {"seconds": 1}, "feedback": 1}])"),
                 "/tracks/0/inserts/0/feedback", "above the maximum");
  expect_refused(with(R"([{"kind": "delay", "time": {"seconds": 1}, "fault": "segv"}])"),
                 "/tracks/0/inserts/0/fault", "unknown key");
  expect_refused(with(R"([{"kind": "test.fault"}])"), "/tracks/0/inserts/0",
                 "missing required key 'fault'");
  expect_refused(with(R"([{"kind": "test.fault", "fault": "segv", "leak_mb": -1}])"),
                 "/tracks/0/inserts/0/leak_mb", "below the minimum");
  expect_refused(doc_with(R"("test_nodes": 1)"), "/test_nodes", "is not true or false");
  expect_refused(doc_with_track(R"({"id": "a", "crossfade": "cubic"})"), "/tracks/0/crossfade",
                 "is not one of linear, equal_power");
  BOOST_TEST(parse_session(doc_with_track(R"({"id": "a", "crossfade": "s_curve"})"), session_path)
               .tracks.at(0)
               .crossfade == "s_curve");
}

BOOST_AUTO_TEST_SUITE_END()

// -- tempo changes, meter changes, markers and bar positions ----------------------------------

BOOST_AUTO_TEST_SUITE(timebase)

BOOST_AUTO_TEST_CASE(tempo_and_meter_changes_markers_and_bars_parse) {
  auto doc = parse_session(
    doc_with(R"("tempo": {"bpm": 120, "time_signature": [4, 4],
                          "changes": [{"beat": 16, "bpm": 120}, {"beat": 48, "bpm": 140, "ramp": true}],
                          "meter": [{"bar": 9, "time_signature": [7, 8]}]},
                "markers": [{"name": "Chorus", "at": {"bar": [9, 2.5]}}, {"name": "End", "at": {"bar": 20}}])",
             R"([{"id": "a", "clips": [{"media": "a.wav", "position": {"bar": [3, 2]}}]}])"),
    session_path);
  BOOST_TEST_REQUIRE(doc.tempo_changes.size() == 2u);
  BOOST_TEST(doc.tempo_changes[1].beat == 48.0);
  BOOST_TEST(doc.tempo_changes[1].bpm == 140.0);
  BOOST_TEST(doc.tempo_changes[1].ramp);
  BOOST_TEST(!doc.tempo_changes[0].ramp);
  BOOST_TEST_REQUIRE(doc.meter_changes.size() == 1u);
  BOOST_TEST(doc.meter_changes[0].bar == 9);
  BOOST_TEST(doc.meter_changes[0].beats_per_bar == 7u);
  BOOST_TEST(doc.meter_changes[0].beat_unit == 8u);
  BOOST_TEST_REQUIRE(doc.markers.size() == 2u);
  BOOST_TEST(doc.markers[0].name == "Chorus");
  BOOST_TEST((doc.markers[0].at.unit == time_unit::bars));
  BOOST_TEST(doc.markers[0].at.value == 9.0);
  BOOST_TEST(doc.markers[0].at.beat == 2.5);
  BOOST_TEST(doc.markers[1].at.beat == 1.0);
  const auto& pos = doc.tracks.at(0).clips.at(0).position;
  BOOST_TEST((pos.unit == time_unit::bars));
  BOOST_TEST(pos.value == 3.0);
  BOOST_TEST(pos.beat == 2.0);
}

BOOST_AUTO_TEST_CASE(bad_tempo_meter_markers_and_bars_are_refused_at_their_pointer) {
  expect_refused(doc_with(R"("tempo": {"changes": [{"beat": 8, "bpm": 100}, {"beat": 8, "bpm": 90}]})"),
                 "/tempo/changes/1/beat", "increasing beats");
  expect_refused(doc_with(R"("tempo": {"changes": [{"beat": 8}]})"), "/tempo/changes/0",
                 "missing required key 'bpm'");
  expect_refused(doc_with(R"("tempo": {"changes": [{"beat": 8, "bpm": 1000}]})"),
                 "/tempo/changes/0/bpm", "above the maximum");
  expect_refused(doc_with(R"("tempo": {"changes": [{"beat": 8, "bpm": 100, "curve": 1}]})"),
                 "/tempo/changes/0/curve", "unknown key");
  expect_refused(doc_with(R"("tempo": {"meter": [{"bar": 1, "time_signature": [3, 4]}]})"),
                 "/tempo/meter/0/bar", "outside [2,");
  expect_refused(doc_with(R"("tempo": {"meter": [{"bar": 5, "time_signature": [3, 4]}, {"bar": 5, "time_signature": [4, 4]}]})"),
                 "/tempo/meter/1/bar", "increasing bars");
  expect_refused(doc_with(R"("tempo": {"meter": [{"bar": 5, "time_signature": [3, 5]}]})"),
                 "/tempo/meter/0/time_signature/1", "beat unit");
  expect_refused(doc_with(R"("markers": [{"at": {"beats": 1}}])"), "/markers/0",
                 "missing required key 'name'");
  expect_refused(doc_with(R"("markers": [{"name": "x"}])"), "/markers/0",
                 "missing required key 'at'");
  expect_refused(doc_with_clip(R"({"media": "a.wav", "position": {"bar": 0}})"),
                 "/tracks/0/clips/0/position/bar", "is not a bar");
  expect_refused(doc_with_clip(R"({"media": "a.wav", "position": {"bar": [2, 0.5]}})"),
                 "/tracks/0/clips/0/position/bar/1", "is not a beat of the bar");
  expect_refused(doc_with_clip(clip_with(R"("length": {"bar": 2})")), "/tracks/0/clips/0/length/bar",
                 "cannot be given in bars");
  expect_refused(doc_with_track(R"({"id": "a", "automation": {"gain_db": [{"at": {"seconds": 1}, "value": 0, "curve": "exp"}]}})"),
                 "/tracks/0/automation/gain_db/0/curve", "is not hold or linear");
  expect_refused(doc_with_track(R"({"id": "a", "automation": {"width": []}})"),
                 "/tracks/0/automation/width", "unknown key");
  expect_refused(doc_with_track(R"({"id": "a", "automation": {"gain_db": [{"at": {"seconds": 1}, "value": 30}]}})"),
                 "/tracks/0/automation/gain_db/0/value", "above the maximum");
  const auto doc = parse_session(
    doc_with_track(R"({"id": "a", "automation": {"gain_db": [{"at": {"bar": 2}, "value": -3, "curve": "hold"}]}})"),
    session_path);
  BOOST_TEST_REQUIRE(doc.tracks.at(0).gain_automation.size() == 1u);
  BOOST_TEST(doc.tracks.at(0).gain_automation[0].value == -3.0);
  BOOST_TEST(doc.tracks.at(0).gain_automation[0].curve == "hold");
}

BOOST_AUTO_TEST_CASE(takes_and_a_comp_parse_with_the_default_crossfade) {
  const auto doc = parse_session(doc_with_track(R"({"id": "vox",
    "takes": [{"id": "t1", "clips": [{"media": "t1.wav", "position": {"bar": 1}}]},
              {"id": "t2", "clips": [{"media": "t2.wav", "position": {"seconds": 0}}]}],
    "comp": {"regions": [{"take": "t2", "start": {"bar": 1}, "end": {"bar": [2, 3]}},
                         {"take": "t1", "start": {"bar": [2, 3]}, "end": {"bar": 4}}]}})"),
                                 session_path);
  const auto& t = doc.tracks.at(0);
  BOOST_TEST_REQUIRE(t.takes.size() == 2u);
  BOOST_TEST(t.takes[1].clips.at(0).media_path == "/studio/sessions/t2.wav");
  BOOST_TEST_REQUIRE(t.comp.has_value());
  BOOST_TEST(same(t.comp->crossfade.length, time_unit::seconds, 0.01));
  BOOST_TEST(t.comp->crossfade.shape == "equal_power");
  BOOST_TEST_REQUIRE(t.comp->regions.size() == 2u);
  BOOST_TEST(t.comp->regions[0].take == "t2");
  BOOST_TEST(t.comp->regions[0].end.beat == 3.0);
}

BOOST_AUTO_TEST_CASE(bad_takes_and_comps_are_refused_at_their_pointer) {
  const std::string take = R"({"id": "t1", "clips": [{"media": "t1.wav", "position": {"seconds": 0}}]})";
  expect_refused(doc_with_track(R"({"id": "a", "takes": [{"id": "t1"}]})"), "/tracks/0/takes/0",
                 "missing required key 'clips'");
  expect_refused(doc_with_track(R"({"id": "a", "takes": [)" + take + "," + take + "]}"),
                 "/tracks/0/takes/1/id", "earlier take");
  expect_refused(doc_with_track(R"({"id": "a", "takes": [{"id": "t 1", "clips": []}]})"),
                 "/tracks/0/takes/0/id", "is not an id");
  expect_refused(doc_with_track(R"({"id": "a", "takes": [{"id": "t1", "clips": [{"media": "x.wav"}]}]})"),
                 "/tracks/0/takes/0/clips/0", "missing required key 'position'");
  expect_refused(doc_with_track(R"({"id": "a", "takes": [)" + take +
                                R"(], "comp": {"regions": [{"take": "t2", "start": {"seconds": 0}, "end": {"seconds": 1}}]}})"),
                 "/tracks/0/comp/regions/0/take", "not a take of this track");
  expect_refused(doc_with_track(R"({"id": "a", "takes": [)" + take +
                                R"(], "comp": {"regions": [{"take": "t1", "start": {"seconds": 0}}]}})"),
                 "/tracks/0/comp/regions/0", "missing required key 'end'");
  expect_refused(doc_with_track(R"({"id": "a", "takes": [)" + take +
                                R"(], "comp": {"crossfade": {"length": {"seconds": 0.01}, "shape": "cubic"}, "regions": []}})"),
                 "/tracks/0/comp/crossfade/shape", "is not one of");
  expect_refused(doc_with_track(R"({"id": "a", "comp": {"regions": [], "mode": 1}})"),
                 "/tracks/0/comp/mode", "unknown key");
}

BOOST_AUTO_TEST_CASE(analysis_regions_parse_and_bad_ones_are_refused_at_their_pointer) {
  const auto doc = parse_session(doc_with(R"("analysis": [{"id": "hits", "track": "a",
    "start": {"bar": 1}, "end": {"seconds": 4}, "content_hash": "0123456789abcdef0123456789abcdef",
    "onsets": [10, 480]}])"), session_path);
  BOOST_TEST_REQUIRE(doc.analysis.size() == 1u);
  BOOST_TEST(doc.analysis[0].kind == "transients");
  BOOST_TEST(doc.analysis[0].onsets == (std::vector<int64_t>{10, 480}));
  const std::string ok = R"("id": "x", "track": "a", "start": {"seconds": 0}, "end": {"seconds": 1})";
  expect_refused(doc_with(R"("analysis": [{"id": "x", "track": "b", "start": {"seconds": 0}, "end": {"seconds": 1}}])"),
                 "/analysis/0/track", "not the id of a track");
  expect_refused(doc_with(R"("analysis": [{)" + ok + R"(, "kind": "pitch"}])"), "/analysis/0/kind",
                 "not an analysis kind");
  expect_refused(doc_with(R"("analysis": [{)" + ok + "}, {" + ok + "}]"), "/analysis/1/id",
                 "earlier analysis region");
  expect_refused(doc_with(R"("analysis": [{)" + ok + R"(, "content_hash": "xyz"}])"),
                 "/analysis/0/content_hash", "32 lowercase hex");
  expect_refused(doc_with(R"("analysis": [{)" + ok + R"(, "onsets": [5, 5]}])"), "/analysis/0/onsets/1",
                 "after the one before it");
  expect_refused(doc_with(R"("analysis": [{"id": "x", "track": "a", "start": {"seconds": 0}}])"),
                 "/analysis/0", "missing required key 'end'");
}

BOOST_AUTO_TEST_CASE(pan_automation_and_modulators_parse_and_bad_ones_are_refused) {
  const auto doc = parse_session(doc_with_track(R"({"id": "a",
    "automation": {"pan": [{"at": {"seconds": 0}, "value": -1}, {"at": {"bar": 2}, "value": 1, "curve": "hold"}]},
    "modulators": [{"target": "pan", "kind": "lfo", "shape": "triangle", "period": {"beats": 0.5}, "depth": 0.5},
                   {"target": "gain_db", "kind": "steps", "steps": [0, -1, 1], "period": {"seconds": 0.1}, "depth": 6},
                   {"target": "gain_db", "kind": "follower", "attack_ms": 1, "depth": -12}]})"),
                                 session_path);
  const auto& t = doc.tracks.at(0);
  BOOST_TEST_REQUIRE(t.pan_automation.size() == 2u);
  BOOST_TEST(t.pan_automation[1].curve == "hold");
  BOOST_TEST_REQUIRE(t.modulators.size() == 3u);
  BOOST_TEST(t.modulators[0].shape == "triangle");
  BOOST_TEST(same(t.modulators[0].period, time_unit::beats, 0.5));
  BOOST_TEST(t.modulators[1].steps.size() == 3u);
  BOOST_TEST(t.modulators[2].release_ms == 100.0);
  auto track_with = [](const std::string& modulator) {
    return doc_with_track(R"({"id": "a", "modulators": [)" + modulator + "]}");
  };
  expect_refused(doc_with_track(R"({"id": "a", "automation": {"pan": [{"at": {"seconds": 0}, "value": 2}]}})"),
                 "/tracks/0/automation/pan/0/value", "above the maximum");
  expect_refused(track_with(R"({"target": "pan", "kind": "wobble", "depth": 1})"),
                 "/tracks/0/modulators/0/kind", "is not lfo, steps or follower");
  expect_refused(track_with(R"({"target": "mute", "kind": "lfo", "period": {"beats": 1}, "depth": 1})"),
                 "/tracks/0/modulators/0/target", "is not gain_db, pan or");
  expect_refused(track_with(R"({"target": "pan", "kind": "lfo", "depth": 1})"),
                 "/tracks/0/modulators/0", "missing required key 'period'");
  expect_refused(track_with(R"({"target": "pan", "kind": "lfo", "period": {"samples": 480}, "depth": 1})"),
                 "/tracks/0/modulators/0/period", "beats (tempo-synced) or seconds");
  expect_refused(track_with(R"({"target": "pan", "kind": "lfo", "shape": "noise", "period": {"beats": 1}, "depth": 1})"),
                 "/tracks/0/modulators/0/shape", "is not sine");
  expect_refused(track_with(R"({"target": "pan", "kind": "steps", "steps": [2], "period": {"beats": 1}, "depth": 1})"),
                 "/tracks/0/modulators/0/steps/0", "is not a value in [-1, 1]");
  expect_refused(track_with(R"({"target": "gain_db", "kind": "follower", "depth": 60})"),
                 "/tracks/0/modulators/0/depth", "above the maximum");
  expect_refused(track_with(R"({"target": "pan", "kind": "follower", "period": {"beats": 1}, "depth": 1})"),
                 "/tracks/0/modulators/0/period", "unknown key");
}

BOOST_AUTO_TEST_SUITE_END()

// -- MIDI clips, instruments and grooves --------------------------------------------------------

BOOST_AUTO_TEST_SUITE(midi)

namespace {

/// A session with grooves `grooves` (a JSON object's members) and one instrument track with
/// the clips `clips`.
std::string midi_doc(const std::string& clips, const std::string& grooves = "",
                     const std::string& instrument = R"({"kind": "sine"})") {
  return doc_with(grooves.empty() ? "" : R"("grooves": {)" + grooves + "}",
                  R"([{"id": "keys", "instrument": )" + instrument + R"(, "clips": [)" + clips +
                    "]}]");
}

const std::string swing = R"("swing": {"grid": 0.25, "swing": 0.6, "timing": [0, -0.1],
                                       "velocity": [10, -10, 0]})";

} // namespace

BOOST_AUTO_TEST_CASE(a_midi_clip_an_instrument_and_a_groove_parse_into_every_field) {
  auto doc = parse_session(
    midi_doc(R"({"position": {"bar": 2}, "length": {"beats": 8}, "groove": "swing",
                 "notes": [{"at": {"beats": 0.25}, "length": {"beats": 0.5}, "pitch": 69,
                            "velocity": 127},
                           {"at": {"seconds": 1}, "length": {"samples": 10}, "pitch": 0}],
                 "cc": [{"at": {"beats": 1}, "controller": 7, "value": 90}],
                 "pitch_bend": [{"at": {"beats": 2}, "value": -8192},
                                {"at": {"beats": 3}, "value": 8191}]})",
             swing,
             R"({"kind": "sine", "attack": {"samples": 48}, "release": {"beats": 0.5},
                 "voices": 7})"),
    session_path);
  BOOST_TEST_REQUIRE(doc.grooves.size() == 1u);
  const auto& g = doc.grooves[0];
  BOOST_TEST(g.name == "swing");
  BOOST_TEST(g.grid == 0.25);
  BOOST_TEST(g.swing == 0.6);
  BOOST_TEST((g.timing == std::vector<double>{0, -0.1}));
  BOOST_TEST((g.velocity == std::vector<double>{10, -10, 0}));
  const auto& t = doc.tracks.at(0);
  BOOST_TEST_REQUIRE(t.instrument.has_value());
  BOOST_TEST(t.instrument->kind == "sine");
  BOOST_TEST((t.instrument->attack.unit == time_unit::samples));
  BOOST_TEST(t.instrument->attack.value == 48);
  BOOST_TEST((t.instrument->release.unit == time_unit::beats));
  BOOST_TEST(t.instrument->voices == 7u);
  const auto& c = t.clips.at(0);
  BOOST_TEST(c.midi);
  BOOST_TEST(c.media.empty());
  BOOST_TEST((c.position.unit == time_unit::bars));
  BOOST_TEST(c.length->value == 8);
  BOOST_TEST(c.groove == "swing");
  BOOST_TEST_REQUIRE(c.notes.size() == 2u);
  BOOST_TEST(c.notes[0].at.value == 0.25);
  BOOST_TEST(c.notes[0].length.value == 0.5);
  BOOST_TEST(c.notes[0].pitch == 69);
  BOOST_TEST(c.notes[0].velocity == 127);
  BOOST_TEST((c.notes[1].at.unit == time_unit::seconds));
  BOOST_TEST(c.notes[1].pitch == 0);
  BOOST_TEST(c.notes[1].velocity == 100); // the default
  BOOST_TEST_REQUIRE(c.cc.size() == 1u);
  BOOST_TEST(c.cc[0].controller == 7);
  BOOST_TEST(c.cc[0].value == 90);
  BOOST_TEST_REQUIRE(c.pitch_bend.size() == 2u);
  BOOST_TEST(c.pitch_bend[0].value == -8192);
  BOOST_TEST(c.pitch_bend[1].value == 8191);
}

BOOST_AUTO_TEST_CASE(an_instrument_gets_the_documented_defaults) {
  auto doc = parse_session(midi_doc(R"({"position": {"beats": 0}, "notes": []})"), session_path);
  const auto& i = *doc.tracks.at(0).instrument;
  BOOST_TEST((i.attack.unit == time_unit::seconds));
  BOOST_TEST(i.attack.value == 0.005);
  BOOST_TEST(i.release.value == 0.05);
  BOOST_TEST(i.voices == 32u);
}

BOOST_AUTO_TEST_CASE(media_and_midi_clips_do_not_mix) {
  const std::string note = R"("notes": [{"at": {"beats": 0}, "length": {"beats": 1}, "pitch": 60}])";
  expect_refused(midi_doc(R"({"media": "a.wav", "position": {"beats": 0}, )" + note + "}"),
                 "/tracks/0/clips/0/media", "either a media clip");
  expect_refused(midi_doc(clip_with("")), "/tracks/0/clips/0", "plays MIDI clips only");
  expect_refused(doc_with_clip(R"({"position": {"beats": 0}, )" + note + "}"),
                 "/tracks/0/clips/0", "needs an \"instrument\"");
  expect_refused(midi_doc(R"({"position": {"beats": 0}, "fade_in": {}, )" + note + "}"),
                 "/tracks/0/clips/0/fade_in", "unknown key");
  expect_refused(
    doc_with_track(R"({"id": "k", "instrument": {"kind": "sine"}, "crossfade": "linear"})"),
    "/tracks/0/crossfade", "no audio clips");
}

BOOST_AUTO_TEST_CASE(bad_notes_controllers_and_bends_are_refused_at_their_pointer) {
  auto clip = [](const std::string& members) {
    return midi_doc(R"({"position": {"beats": 0}, )" + members + "}");
  };
  const std::string at = R"("at": {"beats": 0}, )";
  expect_refused(clip(R"("notes": {})"), "/tracks/0/clips/0/notes", "is not an array");
  expect_refused(clip(R"("notes": [3])"), "/tracks/0/clips/0/notes/0", "is not an object");
  expect_refused(clip(R"("notes": [{"length": {"beats": 1}, "pitch": 60}])"),
                 "/tracks/0/clips/0/notes/0", "missing required key 'at'");
  expect_refused(clip(R"("notes": [{)" + at + R"("pitch": 60}])"),
                 "/tracks/0/clips/0/notes/0", "missing required key 'length'");
  expect_refused(clip(R"("notes": [{)" + at + R"("length": {"beats": 0}, "pitch": 60}])"),
                 "/tracks/0/clips/0/notes/0/length", "longer than 0");
  expect_refused(clip(R"("notes": [{)" + at + R"("length": {"beats": 1}, "pitch": 128}])"),
                 "/tracks/0/clips/0/notes/0/pitch", "outside [0, 127]");
  expect_refused(clip(R"("notes": [{)" + at + R"("length": {"beats": 1}, "pitch": 60,
                                                 "velocity": 0}])"),
                 "/tracks/0/clips/0/notes/0/velocity", "outside [1, 127]");
  expect_refused(clip(R"("notes": [{"at": {"bar": 2}, "length": {"beats": 1}, "pitch": 1}])"),
                 "/tracks/0/clips/0/notes/0/at/bar", "cannot be given in bars");
  expect_refused(clip(R"("notes": [{)" + at + R"("length": {"beats": 1}, "pitch": 1, "x": 1}])"),
                 "/tracks/0/clips/0/notes/0/x", "unknown key");
  expect_refused(clip(R"("cc": [{)" + at + R"("controller": 128, "value": 0}])"),
                 "/tracks/0/clips/0/cc/0/controller", "outside [0, 127]");
  expect_refused(clip(R"("cc": [{)" + at + R"("controller": 7}])"), "/tracks/0/clips/0/cc/0",
                 "missing required key 'value'");
  expect_refused(clip(R"("pitch_bend": [{)" + at + R"("value": 8192}])"),
                 "/tracks/0/clips/0/pitch_bend/0/value", "outside [-8192, 8191]");
  expect_refused(clip(R"("notes": [], "length": {"beats": 0})"), "/tracks/0/clips/0/length",
                 "longer than 0");
  expect_refused(clip(R"("notes": [], "groove": "shuffle")"), "/tracks/0/clips/0/groove",
                 "\"shuffle\" is not a groove of /grooves");
  expect_refused(midi_doc(R"({"notes": []})"), "/tracks/0/clips/0",
                 "missing required key 'position'");
}

BOOST_AUTO_TEST_CASE(bad_instruments_and_grooves_are_refused_at_their_pointer) {
  const std::string clip = R"({"position": {"beats": 0}, "notes": []})";
  expect_refused(midi_doc(clip, "", R"({"kind": "fm"})"), "/tracks/0/instrument/kind",
                 "\"fm\" is not an instrument kind (sine, sampler, synth)");
  expect_refused(midi_doc(clip, "", R"({})"), "/tracks/0/instrument", "missing required key");
  expect_refused(midi_doc(clip, "", R"({"kind": "sine", "voices": 0})"),
                 "/tracks/0/instrument/voices", "outside [1, 256]");
  expect_refused(midi_doc(clip, "", R"({"kind": "sine", "attack": 5})"),
                 "/tracks/0/instrument/attack", "is not a time value");
  expect_refused(midi_doc(clip, "", R"({"kind": "sine", "gain": 1})"),
                 "/tracks/0/instrument/gain", "unknown key");
  expect_refused(midi_doc(clip, "", "3"), "/tracks/0/instrument", "is not an object");
  expect_refused(midi_doc(clip, R"("s w": {})"), "/grooves/s w", "is not a name");
  expect_refused(midi_doc(clip, R"("s": 1)"), "/grooves/s", "a groove is an object");
  expect_refused(midi_doc(clip, R"("s": {"swing": 0.8})"), "/grooves/s/swing",
                 "above the maximum 0.75");
  expect_refused(midi_doc(clip, R"("s": {"grid": 0})"), "/grooves/s/grid", "below the minimum");
  expect_refused(midi_doc(clip, R"("s": {"timing": [0, 0.6]})"), "/grooves/s/timing/1",
                 "is not a number in [-0.5, 0.5]");
  expect_refused(midi_doc(clip, R"("s": {"timing": []})"), "/grooves/s/timing",
                 "1 to 64 numbers");
  expect_refused(midi_doc(clip, R"("s": {"velocity": ["loud"]})"), "/grooves/s/velocity/0",
                 "is not a number in [-127, 127]");
  expect_refused(midi_doc(clip, R"("s": {"feel": 1})"), "/grooves/s/feel", "unknown key");
  expect_refused(doc_with(R"("grooves": [])"), "/grooves", "is not an object");
}

BOOST_AUTO_TEST_SUITE_END()

// -- the node graph: generic inserts, buses, sends, sidechains -----------------------------------

BOOST_AUTO_TEST_SUITE(node_graph)

namespace {

const loophole::messages::insert_param* param_named(const loophole::messages::insert_spec& ins,
                                                   const std::string& name) {
  for (const auto& p : ins.params)
    if (p.name == name)
      return &p;
  return nullptr;
}

} // namespace

BOOST_AUTO_TEST_CASE(catalog_parameters_map_by_name_unit_choice_and_toggle) {
  auto doc = parse_session(doc_with_track(R"({"id": "a", "inserts": [
      {"kind": "compressor", "id": "comp", "threshold_db": -18, "ratio": 3,
       "detector": "rms", "lookahead": {"seconds": 0.002}, "link": false},
      {"kind": "eq", "bands": [{"type": "peak", "freq": 1000, "gain_db": 4, "q": 1.5},
                               {"type": "high_shelf", "freq": 8000, "bandwidth": 1.0}]},
      {"kind": "trim", "gain_db": -6},
      {"kind": "limiter", "ceiling_db": -0.3, "true_peak": true}]})"),
                           session_path);
  const auto& ins = doc.tracks.at(0).inserts;
  BOOST_TEST_REQUIRE(ins.size() == 4u);
  BOOST_TEST(ins[0].id == "comp");
  BOOST_TEST(param_named(ins[0], "threshold_db")->value == -18.0);
  BOOST_TEST(param_named(ins[0], "detector")->value == 1.0); // peak|rms
  BOOST_TEST(param_named(ins[0], "link")->value == 0.0);
  BOOST_TEST(same(*param_named(ins[0], "lookahead_frames")->time, time_unit::seconds, 0.002));
  // The defaults a user expects: attack 10 ms, release 100 ms, rms window 10 ms.
  BOOST_TEST(same(*param_named(ins[0], "attack_frames")->time, time_unit::seconds, 0.010));
  BOOST_TEST(same(*param_named(ins[0], "release_frames")->time, time_unit::seconds, 0.100));
  BOOST_TEST(same(*param_named(ins[0], "rms_frames")->time, time_unit::seconds, 0.010));
  BOOST_TEST(param_named(ins[1], "b1_type")->value == 0.0);
  BOOST_TEST(param_named(ins[1], "b1_freq")->value == 1000.0);
  BOOST_TEST(param_named(ins[1], "b1_gain_db")->value == 4.0);
  BOOST_TEST(param_named(ins[1], "b1_q")->value == 1.5);
  BOOST_TEST(param_named(ins[1], "b2_type")->value == 6.0); // high_shelf
  BOOST_TEST(param_named(ins[1], "b2_bw")->value == 1.0);
  BOOST_TEST(!param_named(ins[1], "b3_type"));
  BOOST_TEST(ins[2].kind == "gain");
  BOOST_TEST(param_named(ins[2], "gain")->value == std::pow(10.0, -6.0 / 20.0));
  BOOST_TEST(param_named(ins[3], "true_peak")->value == 1.0);
  BOOST_TEST(same(*param_named(ins[3], "lookahead_frames")->time, time_unit::seconds, 0.005));
  BOOST_TEST(same(*param_named(ins[3], "release_frames")->time, time_unit::seconds, 0.050));
}

BOOST_AUTO_TEST_CASE(bad_parameter_values_are_refused_naming_the_path) {
  auto with = [](const std::string& inserts) {
    return doc_with_track(R"({"id": "a", "inserts": )" + inserts + "}");
  };
  expect_refused(with(R"([{"kind": "compressor", "ratio": 0.5}])"), "/tracks/0/inserts/0/ratio",
                 "is below the minimum 1");
  expect_refused(with(R"([{"kind": "compressor", "detector": "loud"}])"),
                 "/tracks/0/inserts/0/detector", "is not one of peak|rms");
  expect_refused(with(R"([{"kind": "limiter", "true_peak": 1}])"),
                 "/tracks/0/inserts/0/true_peak", "is not true or false");
  expect_refused(with(R"([{"kind": "saturation", "oversample": 3}])"),
                 "/tracks/0/inserts/0/oversample", "is not 1, 2, 4 or 8");
  expect_refused(with(R"([{"kind": "eq", "bands": [{"type": "peak", "freq": 30000}]}])"),
                 "/tracks/0/inserts/0/bands/0/freq", "is not below the Nyquist frequency");
  expect_refused(with(R"([{"kind": "eq", "b1_freq": 100}])"), "/tracks/0/inserts/0/b1_freq",
                 "unknown key for a eq insert");
  expect_refused(with(R"([{"kind": "gain", "gain_db": 30}])"), "/tracks/0/inserts/0/gain_db",
                 "is above the maximum 24");
  expect_refused(with(R"([{"kind": "convolution"}])"), "/tracks/0/inserts/0",
                 "missing required key 'impulse'");
  expect_refused(with(R"([{"kind": "gate", "automation": {"attack": []}}])"),
                 "/tracks/0/inserts/0/automation/attack", "is not an automatable parameter");
  expect_refused(
    with(R"([{"kind": "gate", "automation": {"threshold_db": [{"at": {"seconds": 0}, "value": 3}]}}])"),
    "/tracks/0/inserts/0/automation/threshold_db/0/value", "is above the maximum 0");
}

BOOST_AUTO_TEST_CASE(the_insert_dag_refuses_unknown_ids_cycles_duplicates_and_dead_ends) {
  auto with = [](const std::string& inserts) {
    return doc_with_track(R"({"id": "a", "inserts": )" + inserts + "}");
  };
  expect_refused(with(R"([{"kind": "meter", "inputs": ["nope"]}])"),
                 "/tracks/0/inserts/0/inputs/0", "\"nope\" is neither \"clips\" nor the id");
  expect_refused(with(R"([{"kind": "meter", "id": "m"}, {"kind": "meter", "id": "m"}])"),
                 "/tracks/0/inserts/1/id", "is the id of an earlier insert");
  expect_refused(with(R"([{"kind": "meter", "id": "x", "inputs": ["y"]},
                          {"kind": "meter", "id": "y", "inputs": ["x"]}])"),
                 "/tracks/0/inserts/1/inputs", "closes a cycle (x <- y <- x)");
  expect_refused(with(R"([{"kind": "meter", "id": "x", "inputs": ["clips"]},
                          {"kind": "meter", "id": "y", "inputs": ["clips"]}])"),
                 "/tracks/0/inserts/0", "nothing takes this insert's output to the fader");
  // Parallel chains summed: fine.
  auto doc = parse_session(with(R"([{"kind": "meter", "id": "x", "inputs": ["clips"]},
                                    {"kind": "delay", "id": "y", "inputs": ["clips"], "time": {"samples": 4}},
                                    {"kind": "gain", "inputs": ["x", "y"]}])"),
                           session_path);
  BOOST_TEST((doc.tracks.at(0).inserts[2].inputs == std::vector<std::string>{"x", "y"}));
}

BOOST_AUTO_TEST_CASE(buses_sends_outputs_and_sidechains_parse) {
  auto doc = parse_session(
    doc_with(R"("buses": [{"id": "verb", "kind": "return", "gain_db": -3},
                          {"id": "drums", "kind": "group", "channels": 6, "output": "master"}],
               "master": {"channels": 6, "inserts": [{"kind": "limiter"}]})",
             R"([{"id": "kick", "output": "drums", "surround": {"azimuth": -30, "lfe": 0.5}},
                 {"id": "bass", "sends": [{"to": "verb", "gain_db": -6, "pre_fader": true}],
                  "inserts": [{"kind": "compressor", "sidechain": "kick"}]}])"),
    session_path);
  BOOST_TEST_REQUIRE(doc.buses.size() == 2u);
  BOOST_TEST(doc.buses[0].gain_db == -3.0);
  BOOST_TEST(doc.buses[1].channels == 6u);
  BOOST_TEST(doc.master_channels == 6u);
  BOOST_TEST(doc.master_inserts.at(0).kind == "limiter");
  BOOST_TEST(doc.tracks[0].output == "drums");
  BOOST_TEST(doc.tracks[0].surround.azimuth_deg == -30.0);
  BOOST_TEST(doc.tracks[0].surround.lfe == 0.5);
  BOOST_TEST(doc.tracks[1].output == "master");
  BOOST_TEST(doc.tracks[1].sends.at(0).to == "verb");
  BOOST_TEST(doc.tracks[1].sends.at(0).pre_fader);
  BOOST_TEST(doc.tracks[1].inserts.at(0).sidechain == "kick");
}

BOOST_AUTO_TEST_CASE(routing_errors_name_the_path_and_the_reason) {
  expect_refused(doc_with("", R"([{"id": "a", "output": "nowhere"}])"), "/tracks/0/output",
                 "\"nowhere\" is not the id of a bus");
  expect_refused(doc_with("", R"([{"id": "a"}, {"id": "b", "sends": [{"to": "a"}]}])"),
                 "/tracks/1/sends/0/to", "(it is a track)");
  expect_refused(doc_with(R"("buses": [{"id": "a"}])"), "/buses/0/id",
                 "is the id of a track or an earlier bus");
  expect_refused(doc_with(R"("buses": [{"id": "x", "output": "y"}, {"id": "y", "sends": [{"to": "x"}]}])"),
                 "/buses/1/sends/0/to", "closes a routing cycle (x -> y -> x)");
  expect_refused(doc_with(R"("buses": [{"id": "x", "output": "x"}])"), "/buses/0/output",
                 "closes a routing cycle (x -> x)");
  expect_refused(doc_with(R"("buses": [{"id": "x"}])",
                          R"([{"id": "a", "output": "x"},
                              {"id": "b", "inserts": [{"kind": "gate", "sidechain": "x"}], "output": "x"}])"),
                 "/tracks/1/output", "closes a routing cycle");
  expect_refused(doc_with("", R"([{"id": "a", "inserts": [{"kind": "gate", "sidechain": "zz"}]}])"),
                 "/tracks/0/inserts/0/sidechain", "is not the id of a track or bus");
  expect_refused(doc_with("", R"([{"id": "a", "inserts": [{"kind": "eq", "sidechain": "a"}]}])"),
                 "/tracks/0/inserts/0/sidechain", "unknown key for a eq insert");
  expect_refused(doc_with(R"("buses": [{"id": "s", "channels": 6, "pan": 0.5}])"), "/buses/0/pan",
                 "a surround bus has no stereo pan");
  expect_refused(doc_with(R"("buses": [{"id": "s", "kind": "aux"}])"), "/buses/0/kind",
                 "is not return, group or submix");
  expect_refused(doc_with("", R"([{"id": "a", "modulators": [{"target": "eq.gain", "kind": "lfo",
                                   "period": {"beats": 1}, "depth": 1}]}])"),
                 "/tracks/0/modulators/0/target", "naming an automatable parameter of an insert");
}

BOOST_AUTO_TEST_SUITE_END()
