// media/render_state.hpp and the resume path of media/output_file.hpp: the checkpoint codec
// (round trips, and every torn or corrupted file refused), the state folder's claim, lock,
// leftover detection and clean-up, and that an output resumed from the frames an
// interrupted render left (read back from a PCM partial file, or from the spool of a FLAC
// one) is byte-identical to one written in a single pass.

#define BOOST_TEST_MODULE media_render_state
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "media/media_error.hpp"
#include "media/output_file.hpp"
#include "media/render_state.hpp"
#include "tests/support/temp_dir.hpp"

using namespace loophole::media;
using loophole::test::temp_dir;
namespace fs = std::filesystem;

namespace {

checkpoint_record sample_record() {
  checkpoint_record r;
  r.identity = render_identity("a session");
  r.segment = 41;
  r.frames = 42 * 32768;
  r.partial = "partial-3";
  r.data_offset = 880;
  r.peak = 0.7071067811865476;
  std::string every_byte;
  for (int i = 0; i < 256; ++i)
    every_byte.push_back(static_cast<char>(i));
  r.states = {{3, every_byte}, {9, ""}, {4000000000u, std::string(100000, 'x')}};
  return r;
}

bool same(const checkpoint_record& a, const checkpoint_record& b) {
  return a.identity == b.identity && a.segment == b.segment && a.frames == b.frames &&
         a.partial == b.partial && a.data_offset == b.data_offset && a.peak == b.peak &&
         a.states == b.states;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

} // namespace

BOOST_AUTO_TEST_SUITE(checkpoint_codec)

BOOST_AUTO_TEST_CASE(a_record_round_trips_exactly) {
  const auto r = sample_record();
  auto back = decode_checkpoint(encode_checkpoint(r));
  BOOST_TEST_REQUIRE(back.has_value());
  BOOST_TEST(same(*back, r));
  checkpoint_record empty;
  empty.segment = 0;
  back = decode_checkpoint(encode_checkpoint(empty));
  BOOST_TEST_REQUIRE(back.has_value());
  BOOST_TEST(same(*back, empty));
}

BOOST_AUTO_TEST_CASE(every_truncation_and_every_flipped_byte_is_refused) {
  checkpoint_record r = sample_record();
  r.states.resize(2); // keep it small enough to flip every byte
  const auto bytes = encode_checkpoint(r);
  for (size_t n = 0; n < bytes.size(); ++n)
    BOOST_TEST_REQUIRE(!decode_checkpoint(std::string_view(bytes).substr(0, n)).has_value(),
                       "a prefix of " << n << " bytes was accepted");
  for (size_t i = 0; i < bytes.size(); ++i) {
    auto flipped = bytes;
    flipped[i] = static_cast<char>(flipped[i] ^ 0x10);
    BOOST_TEST_REQUIRE(!decode_checkpoint(flipped).has_value(), "byte " << i << " flipped");
  }
  BOOST_TEST(!decode_checkpoint(bytes + "x").has_value());
}

BOOST_AUTO_TEST_CASE(identities_differ_for_different_descriptions) {
  BOOST_TEST(render_identity("a") == render_identity("a"));
  BOOST_TEST(render_identity("a") != render_identity("b"));
  BOOST_TEST(render_identity("").size() == 32u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(state_folder)

BOOST_AUTO_TEST_CASE(a_claim_makes_a_hidden_folder_beside_the_output_and_removes_it_after) {
  temp_dir dir;
  const auto out = dir.file("mix.wav");
  {
    render_state st(out);
    BOOST_TEST(st.folder() == dir.file(".mix.wav.loophole"));
    BOOST_TEST(fs::is_directory(st.folder()));
    BOOST_TEST(!st.leftover());
    BOOST_TEST(st.fresh_partial_name() == "partial-1");
    std::ofstream(st.path_of("partial-1")) << "x";
    BOOST_TEST(st.fresh_partial_name() == "partial-2");
  }
  BOOST_TEST(!fs::exists(dir.file(".mix.wav.loophole")));
  BOOST_TEST(dir.partials().empty());
}

BOOST_AUTO_TEST_CASE(a_second_claim_while_the_first_holds_the_lock_is_refused) {
  temp_dir dir;
  const auto out = dir.file("mix.wav");
  render_state first(out);
  try {
    render_state second(out);
    BOOST_FAIL("a second claim was allowed");
  } catch (const media_error& e) {
    BOOST_TEST((e.kind() == failure::exists));
    BOOST_TEST(std::string{e.what()}.find("another render") != std::string::npos, e.what());
  }
  BOOST_TEST(fs::is_directory(first.folder())); // the refused claim removed nothing
}

BOOST_AUTO_TEST_CASE(a_dead_renders_folder_is_found_with_its_checkpoint_then_cleared) {
  temp_dir dir;
  const auto out = dir.file("mix.flac");
  const auto r = sample_record();
  {
    render_state st(out);
    st.save_checkpoint(r);
    std::ofstream(st.path_of("spool")) << "samples";
    st.keep_on_exit(); // as a process that dies would
  }
  render_state again(out);
  BOOST_TEST(again.leftover());
  auto cp = again.load_checkpoint();
  BOOST_TEST_REQUIRE(cp.has_value());
  BOOST_TEST(same(*cp, r));
  again.clear();
  BOOST_TEST(!again.leftover());
  BOOST_TEST(!again.load_checkpoint().has_value());
  BOOST_TEST(!fs::exists(again.path_of("spool")));
  BOOST_TEST(fs::exists(again.path_of("lock")));
}

BOOST_AUTO_TEST_CASE(a_folder_holding_only_a_lock_is_no_leftover) {
  temp_dir dir;
  const auto out = dir.file("mix.wav");
  fs::create_directory(dir.file(".mix.wav.loophole"));
  std::ofstream(dir.file(".mix.wav.loophole/lock"));
  render_state st(out);
  BOOST_TEST(!st.leftover());
}

BOOST_AUTO_TEST_CASE(a_torn_checkpoint_reads_as_none) {
  temp_dir dir;
  const auto out = dir.file("mix.wav");
  {
    render_state st(out);
    st.save_checkpoint(sample_record());
    const auto bytes = slurp(st.path_of("checkpoint"));
    std::ofstream(st.path_of("checkpoint"), std::ios::binary | std::ios::trunc)
      << bytes.substr(0, bytes.size() / 2);
    st.keep_on_exit();
  }
  render_state again(out);
  BOOST_TEST(again.leftover());
  BOOST_TEST(!again.load_checkpoint().has_value());
}

BOOST_AUTO_TEST_CASE(an_unwritable_place_is_refused_with_the_reason) {
  temp_dir dir;
  std::ofstream(dir.file("file")) << "not a folder";
  try {
    render_state st(dir.file("file") + "/mix.wav");
    BOOST_FAIL("claimed a folder inside a file");
  } catch (const media_error& e) {
    BOOST_TEST((e.kind() == failure::unwritable));
    BOOST_TEST(std::string{e.what()}.find("cannot create") != std::string::npos, e.what());
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(resumed_output)

namespace {

output_spec spec_for(output_format format, uint16_t bits, const std::string& path) {
  output_spec s;
  s.path = path;
  s.format = format;
  s.bits = bits;
  s.channels = 2;
  s.sample_rate = 48000;
  s.frames = 100000;
  s.title = "Resumed";
  return s;
}

std::vector<int32_t> int_frames(int64_t frames, uint16_t bits) {
  std::vector<int32_t> v(static_cast<size_t>(frames) * 2);
  for (size_t i = 0; i < v.size(); ++i) {
    const double x = std::sin(static_cast<double>(i) * 0.001) * 0.8;
    const int shift = 32 - bits;
    v[i] = static_cast<int32_t>(std::lround(x * std::ldexp(1.0, bits - 1))) * (1 << shift);
  }
  return v;
}

std::vector<float> float_frames(int64_t frames) {
  std::vector<float> v(static_cast<size_t>(frames) * 2);
  for (size_t i = 0; i < v.size(); ++i)
    v[i] = static_cast<float>(std::sin(static_cast<double>(i) * 0.001) * 0.8);
  return v;
}

/// Writes `spec` in one pass to `whole`, then as an interrupted render (`cut` frames, then
/// abandoned) resumed into `resumed`; returns both files' bytes.
std::pair<std::string, std::string> write_both(output_spec spec, int64_t cut) {
  const bool ints = spec.bits != 0 && !is_lossy(spec.format);
  const auto samples_i = int_frames(spec.frames, spec.bits ? spec.bits : 16);
  const auto samples_f = float_frames(spec.frames);
  // In calls of `chunk` frames, as a render writes segments (lossy encoders page by calls).
  const int64_t chunk = 4096;
  auto write = [&](output_file& f, int64_t from, int64_t to) {
    for (int64_t at = from; at < to; at += chunk) {
      const auto n = std::min(chunk, to - at);
      if (ints)
        f.write_int(samples_i.data() + at * 2, n);
      else
        f.write_float(samples_f.data() + at * 2, n);
    }
  };
  const auto target = spec.path;
  spec.path = target + ".whole";
  {
    output_file f(spec);
    write(f, 0, spec.frames);
    f.commit();
  }
  spec.path = target;
  render_state st(target);
  const bool pcm = can_read_back(spec.format);
  spec.temporary_path = st.path_of("partial-1");
  if (!pcm)
    spec.spool_path = st.path_of("spool");
  int64_t offset = -1;
  {
    output_file first(spec);
    write(first, 0, cut / 2);
    write(first, cut / 2, cut + 5000); // more than the checkpoint: must be cut off
    offset = first.data_offset();
    BOOST_TEST((pcm ? offset > 0 : offset == -1));
    // Abandoned: keep the partial file as a dead process would.
    fs::copy_file(spec.temporary_path, st.path_of("partial-keep"));
  }
  fs::rename(st.path_of("partial-keep"), st.path_of("partial-1"));
  spec.temporary_path = st.path_of("partial-2");
  {
    output_file again(spec);
    again.write_earlier_frames(pcm ? st.path_of("partial-1") : std::string{}, offset, cut, chunk);
    write(again, cut, spec.frames);
    again.commit();
  }
  return {slurp(target + ".whole"), slurp(target)};
}

} // namespace

BOOST_AUTO_TEST_CASE(pcm_outputs_resumed_from_their_partial_file_are_byte_identical) {
  for (auto [format, bits] : {std::pair{output_format::wav, uint16_t{24}},
                              std::pair{output_format::wav, uint16_t{16}},
                              std::pair{output_format::wav, uint16_t{8}},
                              std::pair{output_format::wav, uint16_t{0}},
                              std::pair{output_format::rf64, uint16_t{24}},
                              std::pair{output_format::aiff, uint16_t{24}},
                              std::pair{output_format::aiff, uint16_t{8}}}) {
    BOOST_TEST_CONTEXT(to_string(format) << " " << bits << " bits") {
      temp_dir dir;
      auto [whole, resumed] = write_both(
        spec_for(format, bits, dir.file(std::string{"out."} + std::string{to_string(format)})),
        40960);
      BOOST_TEST(!whole.empty());
      BOOST_TEST((whole == resumed));
    }
  }
}

BOOST_AUTO_TEST_CASE(flac_and_lossy_outputs_resumed_from_their_spool_are_byte_identical) {
  for (auto [format, bits] : {std::pair{output_format::flac, uint16_t{24}},
                              std::pair{output_format::flac, uint16_t{16}},
                              std::pair{output_format::ogg, uint16_t{0}}}) {
    BOOST_TEST_CONTEXT(to_string(format)) {
      temp_dir dir;
      auto [whole, resumed] = write_both(
        spec_for(format, bits, dir.file(std::string{"out."} + std::string{to_string(format)})),
        65536);
      BOOST_TEST(!whole.empty());
      BOOST_TEST((whole == resumed));
    }
  }
}

BOOST_AUTO_TEST_CASE(a_partial_file_shorter_than_the_checkpoint_is_an_error) {
  temp_dir dir;
  auto spec = spec_for(output_format::wav, 24, dir.file("short.wav"));
  render_state st(spec.path);
  spec.temporary_path = st.path_of("partial-1");
  int64_t offset = -1;
  {
    output_file f(spec);
    const auto s = int_frames(1000, 24);
    f.write_int(s.data(), 1000);
    offset = f.data_offset();
    fs::copy_file(spec.temporary_path, st.path_of("keep"));
  }
  spec.temporary_path = st.path_of("partial-2");
  output_file again(spec);
  try {
    again.write_earlier_frames(st.path_of("keep"), offset, 5000, 4096);
    BOOST_FAIL("read frames that are not there");
  } catch (const media_error& e) {
    BOOST_TEST(std::string{e.what()}.find("ends before frame 5000") != std::string::npos,
               e.what());
  }
}

BOOST_AUTO_TEST_SUITE_END()
