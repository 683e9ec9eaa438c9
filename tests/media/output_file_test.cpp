// media/output_file.hpp: every output format is written through a temporary file and read
// back with libsndfile itself (bit-exact for lossless integer formats) and, when installed,
// with soxi, flac and ffprobe; writes are deterministic; an existing target is never lost;
// failures leave no temporary file behind.

#define BOOST_TEST_MODULE media_output_file
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <sndfile.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <numbers>
#include <string>
#include <vector>

#include "media/media_error.hpp"
#include "media/output_file.hpp"
#include "tests/support/processes.hpp"
#include "tests/support/sound_file.hpp"
#include "tests/support/temp_dir.hpp"

namespace fs = std::filesystem;
using namespace loophole::media;

namespace {

// -- a fresh folder per test ----------------------------------------------------------------

/// A folder of this suite's own.
class temp_dir : public loophole::test::temp_dir {
public:
  temp_dir() : loophole::test::temp_dir("output-file-test") {}
};

std::vector<char> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out << bytes;
}

// -- test material ----------------------------------------------------------------------------

constexpr uint32_t rate = 48000;
constexpr uint16_t channels = 2;
constexpr int64_t frames = 24000;

/// Interleaved stereo integer samples of `bits` bits, left-aligned in 32: full-scale
/// extremes in the first frames, then a sine on the left and a different one on the right.
std::vector<int32_t> int_material(uint16_t bits, int seed = 0) {
  const int64_t max = (int64_t{1} << (bits - 1)) - 1, min = -max - 1;
  const auto align = int64_t{1} << (32 - bits);
  std::vector<int32_t> v;
  v.reserve(static_cast<size_t>(frames) * channels);
  for (int64_t i = 0; i < frames; ++i)
    for (int c = 0; c < channels; ++c) {
      int64_t q;
      if (i == 0)
        q = c == 0 ? max : min;
      else if (i == 1)
        q = c == 0 ? min : max;
      else if (i == 2)
        q = c == 0 ? 0 : -1;
      else {
        const double f = c == 0 ? 440.0 : 1234.5 + seed;
        q = static_cast<int64_t>(
            std::llround(0.9 * static_cast<double>(max) *
                         std::sin(2.0 * std::numbers::pi * f * static_cast<double>(i) / rate)));
      }
      v.push_back(static_cast<int32_t>(q * align));
    }
  return v;
}

std::vector<float> float_material(int seed = 0) {
  std::vector<float> v;
  v.reserve(static_cast<size_t>(frames) * channels);
  for (int64_t i = 0; i < frames; ++i)
    for (int c = 0; c < channels; ++c) {
      const double f = c == 0 ? 440.0 : 1234.5 + seed;
      v.push_back(static_cast<float>(
          0.5 * std::sin(2.0 * std::numbers::pi * f * static_cast<double>(i) / rate)));
    }
  v[0] = 1.0f;
  v[1] = -1.0f;
  v[2] = 1e-30f; // floats are stored as they are
  return v;
}

output_spec spec_for(const std::string& path, output_format format, uint16_t bits) {
  output_spec s;
  s.path = path;
  s.format = format;
  s.bits = bits;
  s.channels = channels;
  s.sample_rate = rate;
  s.frames = frames;
  s.title = "Loophole test title";
  s.artist = "Test Artist";
  s.comment = "written by output_file_test";
  s.date = "2024-06-11";
  s.time_reference = 480000;
  return s;
}

/// Writes the material in uneven chunks and commits.
void write_ints(const output_spec& spec, const std::vector<int32_t>& samples) {
  output_file out{spec};
  int64_t done = 0;
  for (int64_t chunk = 1; done < spec.frames; chunk = chunk * 3 + 7) {
    const auto n = std::min(chunk, spec.frames - done);
    out.write_int(samples.data() + done * spec.channels, n);
    done += n;
  }
  out.commit();
}

void write_floats(const output_spec& spec, const std::vector<float>& samples) {
  output_file out{spec};
  int64_t done = 0;
  for (int64_t chunk = 1; done < spec.frames; chunk = chunk * 3 + 7) {
    const auto n = std::min(chunk, spec.frames - done);
    out.write_float(samples.data() + done * spec.channels, n);
    done += n;
  }
  out.commit();
}

// -- reading back -------------------------------------------------------------------------------

using loophole::test::sound_file;

// -- external tools ----------------------------------------------------------------------------

using loophole::test::have;
using loophole::test::shell;

std::string trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back())))
    s.pop_back();
  return s;
}

void check_with_tools(const std::string& path, output_format format) {
  // SoX has no Opus reader.
  if (format != output_format::opus && have("soxi")) {
    auto [status, out] = shell("soxi '" + path + "'");
    BOOST_TEST(status == 0, "soxi " << path);
    BOOST_TEST(trim(shell("soxi -c '" + path + "'").second) == std::to_string(channels));
    BOOST_TEST(trim(shell("soxi -r '" + path + "'").second) == std::to_string(rate));
  }
  if (format == output_format::flac && have("flac")) {
    BOOST_TEST(shell("flac -s -t '" + path + "'").first == 0, "flac -t " << path);
  }
  if (have("ffprobe")) {
    auto [status, out] = shell("ffprobe -v error -select_streams a:0 -show_entries "
                             "stream=channels,sample_rate -of csv=p=0 '" +
                             path + "'");
    BOOST_TEST(status == 0, "ffprobe " << path);
    // ffprobe prints sample_rate before channels whatever the order asked.
    BOOST_TEST(trim(out) == std::to_string(rate) + "," + std::to_string(channels),
               "ffprobe says '" << trim(out) << "'");
  }
}

struct lossless_case {
  const char* name;
  output_format format;
  uint16_t bits;
  int sf_major;
  int sf_minor;
};

constexpr lossless_case lossless_cases[] = {
    {"pcm16.wav", output_format::wav, 16, SF_FORMAT_WAV, SF_FORMAT_PCM_16},
    {"pcm24.wav", output_format::wav, 24, SF_FORMAT_WAV, SF_FORMAT_PCM_24},
    {"pcm32.wav", output_format::wav, 32, SF_FORMAT_WAV, SF_FORMAT_PCM_32},
    {"pcm16.flac", output_format::flac, 16, SF_FORMAT_FLAC, SF_FORMAT_PCM_16},
    {"pcm24.flac", output_format::flac, 24, SF_FORMAT_FLAC, SF_FORMAT_PCM_24},
    {"pcm16.aiff", output_format::aiff, 16, SF_FORMAT_AIFF, SF_FORMAT_PCM_16},
    {"pcm24.aiff", output_format::aiff, 24, SF_FORMAT_AIFF, SF_FORMAT_PCM_24},
    {"pcm24.rf64", output_format::rf64, 24, SF_FORMAT_RF64, SF_FORMAT_PCM_24},
};

struct lossy_case {
  const char* name;
  output_format format;
  int sf_major;
  int sf_minor;
};

constexpr lossy_case lossy_cases[] = {
    {"vorbis.ogg", output_format::ogg, SF_FORMAT_OGG, SF_FORMAT_VORBIS},
    {"voice.opus", output_format::opus, SF_FORMAT_OGG, SF_FORMAT_OPUS},
    {"layer3.mp3", output_format::mp3, SF_FORMAT_MPEG, SF_FORMAT_MPEG_LAYER_III},
};

double rms(const std::vector<float>& v, size_t from, size_t to) {
  double s = 0;
  for (size_t i = from; i < to; ++i)
    s += static_cast<double>(v[i]) * static_cast<double>(v[i]);
  return std::sqrt(s / static_cast<double>(to - from));
}

} // namespace

BOOST_AUTO_TEST_SUITE(formats)

BOOST_AUTO_TEST_CASE(lossless_integer_formats_read_back_bit_exact) {
  temp_dir dir;
  for (const auto& c : lossless_cases) {
    BOOST_TEST_CONTEXT(c.name) {
      const auto path = dir.file(c.name);
      const auto material = int_material(c.bits);
      write_ints(spec_for(path, c.format, c.bits), material);
      sound_file f{path};
      BOOST_TEST_REQUIRE(f.file != nullptr, sf_strerror(nullptr));
      BOOST_TEST(f.info.frames == frames);
      BOOST_TEST(f.info.channels == channels);
      BOOST_TEST(f.info.samplerate == static_cast<int>(rate));
      BOOST_TEST((f.info.format & SF_FORMAT_TYPEMASK) == c.sf_major);
      BOOST_TEST((f.info.format & SF_FORMAT_SUBMASK) == c.sf_minor);
      const auto back = f.ints();
      BOOST_TEST_REQUIRE(back.size() == material.size());
      size_t wrong = 0;
      for (size_t i = 0; i < back.size(); ++i)
        if (back[i] != material[i] && wrong++ < 3)
          BOOST_TEST(back[i] == material[i], "sample " << i);
      BOOST_TEST(wrong == 0u);
      if (c.format != output_format::rf64)
        check_with_tools(path, c.format);
    }
  }
  BOOST_TEST(dir.partials().empty());
}

BOOST_AUTO_TEST_CASE(float_wav_reads_back_bit_exact) {
  temp_dir dir;
  const auto path = dir.file("float.wav");
  const auto material = float_material();
  write_floats(spec_for(path, output_format::wav, 0), material);
  sound_file f{path};
  BOOST_TEST_REQUIRE(f.file != nullptr);
  BOOST_TEST(f.info.frames == frames);
  BOOST_TEST((f.info.format & SF_FORMAT_SUBMASK) == SF_FORMAT_FLOAT);
  const auto back = f.floats();
  BOOST_TEST_REQUIRE(back.size() == material.size());
  BOOST_TEST(std::equal(back.begin(), back.end(), material.begin()));
  check_with_tools(path, output_format::wav);
}

BOOST_AUTO_TEST_CASE(lossy_formats_read_back_with_the_right_shape_and_level) {
  temp_dir dir;
  for (const auto& c : lossy_cases) {
    BOOST_TEST_CONTEXT(c.name) {
      const auto path = dir.file(c.name);
      const auto material = float_material();
      write_floats(spec_for(path, c.format, 0), material);
      sound_file f{path};
      BOOST_TEST_REQUIRE(f.file != nullptr, sf_strerror(nullptr));
      BOOST_TEST(f.info.channels == channels);
      BOOST_TEST(f.info.samplerate == static_cast<int>(rate));
      BOOST_TEST(f.info.frames >= frames - 4096);
      BOOST_TEST(f.info.frames <= frames + 4096);
      BOOST_TEST((f.info.format & SF_FORMAT_TYPEMASK) == c.sf_major);
      BOOST_TEST((f.info.format & SF_FORMAT_SUBMASK) == c.sf_minor);
      const auto back = f.floats();
      // The level of the middle of the file survives the codec (within 1 dB).
      const size_t mid0 = static_cast<size_t>(frames / 4) * 2u;
      const size_t mid1 = static_cast<size_t>(frames / 2) * 2u;
      BOOST_TEST_REQUIRE(back.size() >= mid1);
      const double ratio = rms(back, mid0, mid1) / rms(material, mid0, mid1);
      BOOST_TEST(std::abs(20.0 * std::log10(ratio)) < 1.0, "level ratio " << ratio);
      check_with_tools(path, c.format);
    }
  }
  BOOST_TEST(dir.partials().empty());
}

BOOST_AUTO_TEST_CASE(two_writes_of_the_same_material_are_byte_identical) {
  temp_dir dir;
  for (const auto& c : lossless_cases) {
    BOOST_TEST_CONTEXT(c.name) {
      const auto material = int_material(c.bits);
      write_ints(spec_for(dir.file(std::string{"a-"} + c.name), c.format, c.bits), material);
      write_ints(spec_for(dir.file(std::string{"b-"} + c.name), c.format, c.bits), material);
      BOOST_TEST((read_bytes(dir.file(std::string{"a-"} + c.name)) ==
                  read_bytes(dir.file(std::string{"b-"} + c.name))));
    }
  }
  for (const auto& c : lossy_cases) {
    BOOST_TEST_CONTEXT(c.name) {
      const auto material = float_material();
      write_floats(spec_for(dir.file(std::string{"a-"} + c.name), c.format, 0), material);
      write_floats(spec_for(dir.file(std::string{"b-"} + c.name), c.format, 0), material);
      const auto a = read_bytes(dir.file(std::string{"a-"} + c.name));
      const auto b = read_bytes(dir.file(std::string{"b-"} + c.name));
      BOOST_TEST(a.size() == b.size());
      BOOST_TEST((a == b));
    }
  }
  // Different material gives different bytes (the comparison above is not vacuous).
  write_ints(spec_for(dir.file("c-pcm16.wav"), output_format::wav, 16), int_material(16, 1));
  BOOST_TEST((read_bytes(dir.file("a-pcm16.wav")) != read_bytes(dir.file("c-pcm16.wav"))));
}

BOOST_AUTO_TEST_CASE(ogg_streams_carry_the_fixed_serial_and_valid_checksums) {
  temp_dir dir;
  for (const auto& c : {lossy_cases[0], lossy_cases[1]}) {
    BOOST_TEST_CONTEXT(c.name) {
      const auto path = dir.file(c.name);
      write_floats(spec_for(path, c.format, 0), float_material());
      const auto bytes = read_bytes(path);
      size_t pages = 0;
      for (size_t pos = 0; pos + 27 <= bytes.size();) {
        BOOST_TEST_REQUIRE(std::string(bytes.data() + pos, 4) == "OggS");
        uint32_t serial = 0;
        for (int i = 3; i >= 0; --i)
          serial =
              (serial << 8) | static_cast<unsigned char>(bytes[pos + 14 + static_cast<size_t>(i)]);
        BOOST_TEST(serial == 0x4C4F4F50u);
        const size_t segments = static_cast<unsigned char>(bytes[pos + 26]);
        size_t len = 27 + segments;
        for (size_t i = 0; i < segments; ++i)
          len += static_cast<unsigned char>(bytes[pos + 27 + i]);
        pos += len;
        ++pages;
      }
      BOOST_TEST(pages >= 3u);
      // libsndfile and ffprobe both check page CRCs: a bad one would not decode.
      sound_file f{path};
      BOOST_TEST(f.file != nullptr);
      BOOST_TEST(static_cast<int64_t>(f.floats().size()) >= (frames - 4096) * channels);
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(metadata)

BOOST_AUTO_TEST_CASE(title_artist_and_comment_read_back) {
  temp_dir dir;
  struct tag_case {
    const char* name;
    output_format format;
    uint16_t bits;
  };
  for (const auto& c :
       {tag_case{"t.wav", output_format::wav, 24}, tag_case{"t.flac", output_format::flac, 16},
        tag_case{"t.aiff", output_format::aiff, 16}, tag_case{"t.ogg", output_format::ogg, 0},
        tag_case{"t.opus", output_format::opus, 0}, tag_case{"t.mp3", output_format::mp3, 0}}) {
    BOOST_TEST_CONTEXT(c.name) {
      const auto path = dir.file(c.name);
      const auto spec = spec_for(path, c.format, c.bits);
      if (c.bits == 0)
        write_floats(spec, float_material());
      else
        write_ints(spec, int_material(c.bits));
      sound_file f{path};
      BOOST_TEST_REQUIRE(f.file != nullptr);
      BOOST_TEST(f.tag(SF_STR_TITLE) == spec.title);
      BOOST_TEST(f.tag(SF_STR_ARTIST) == spec.artist);
      BOOST_TEST(f.tag(SF_STR_COMMENT) == spec.comment);
    }
  }
}

BOOST_AUTO_TEST_CASE(a_wav_has_a_bext_chunk_with_the_time_reference) {
  temp_dir dir;
  const auto path = dir.file("bwf.wav");
  write_ints(spec_for(path, output_format::wav, 24), int_material(24));
  const auto bytes = read_bytes(path);
  const std::string text(bytes.begin(), bytes.end());
  const auto at = text.find("bext");
  BOOST_TEST_REQUIRE(at != std::string::npos);
  sound_file f{path};
  SF_BROADCAST_INFO bext{};
  BOOST_TEST_REQUIRE(sf_command(f.file, SFC_GET_BROADCAST_INFO, &bext, sizeof bext) == SF_TRUE);
  BOOST_TEST(std::string(bext.description) == "Loophole test title");
  BOOST_TEST(std::string(bext.originator) == "Test Artist");
  BOOST_TEST(bext.time_reference_low == 480000u);
  BOOST_TEST(bext.time_reference_high == 0u);
  BOOST_TEST(std::string(bext.coding_history).find("T=Loophole") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(format_names_and_extensions_parse) {
  BOOST_TEST((parse_output_format("WAV") == output_format::wav));
  BOOST_TEST((parse_output_format("wave") == output_format::wav));
  BOOST_TEST((parse_output_format("aif") == output_format::aiff));
  BOOST_TEST((parse_output_format("Opus") == output_format::opus));
  BOOST_TEST(!parse_output_format("wma").has_value());
  BOOST_TEST((format_of_path("/a/b/mix.FLAC") == output_format::flac));
  BOOST_TEST((format_of_path("mix.mp3") == output_format::mp3));
  BOOST_TEST(!format_of_path("/a.b/mix").has_value());
  BOOST_TEST(!format_of_path("mix").has_value());
  BOOST_TEST(is_lossy(output_format::ogg));
  BOOST_TEST(!is_lossy(output_format::flac));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(safety)

BOOST_AUTO_TEST_CASE(an_existing_target_without_force_is_refused_and_left_untouched) {
  temp_dir dir;
  const auto path = dir.file("mix.wav");
  write_bytes(path, "previous render");
  try {
    write_ints(spec_for(path, output_format::wav, 16), int_material(16));
    BOOST_FAIL("no media_error");
  } catch (const media_error& e) {
    BOOST_TEST((e.kind() == failure::exists));
  }
  const auto bytes = read_bytes(path);
  BOOST_TEST(std::string(bytes.begin(), bytes.end()) == "previous render");
  BOOST_TEST(dir.partials().empty());
}

BOOST_AUTO_TEST_CASE(an_existing_target_with_force_is_replaced) {
  temp_dir dir;
  const auto path = dir.file("mix.flac");
  write_bytes(path, "previous render");
  auto spec = spec_for(path, output_format::flac, 16);
  spec.force = true;
  write_ints(spec, int_material(16));
  sound_file f{path};
  BOOST_TEST_REQUIRE(f.file != nullptr);
  BOOST_TEST(f.info.frames == frames);
  BOOST_TEST(dir.partials().empty());
}

BOOST_AUTO_TEST_CASE(a_target_appearing_during_the_render_is_not_replaced) {
  temp_dir dir;
  const auto path = dir.file("race.wav");
  output_file out{spec_for(path, output_format::wav, 16)};
  const auto material = int_material(16);
  out.write_int(material.data(), frames);
  write_bytes(path, "written meanwhile");
  try {
    out.commit();
    BOOST_FAIL("no media_error");
  } catch (const media_error& e) {
    BOOST_TEST((e.kind() == failure::exists));
  }
  const auto bytes = read_bytes(path);
  BOOST_TEST(std::string(bytes.begin(), bytes.end()) == "written meanwhile");
}

BOOST_AUTO_TEST_CASE(a_nonexistent_folder_is_unwritable) {
  temp_dir dir;
  try {
    output_file out{spec_for(dir.file("no/such/folder/mix.wav"), output_format::wav, 16)};
    BOOST_FAIL("no media_error");
  } catch (const media_error& e) {
    BOOST_TEST((e.kind() == failure::unwritable));
  }
  BOOST_TEST(dir.partials().empty());
}

BOOST_AUTO_TEST_CASE(a_read_only_folder_is_unwritable) {
  if (geteuid() == 0) {
    // root ignores permission bits; the nonexistent-folder case covers the path.
    BOOST_TEST_MESSAGE("running as root: read-only folder case skipped");
    return;
  }
  temp_dir dir;
  const auto folder = dir.path() / "ro";
  fs::create_directory(folder);
  fs::permissions(folder, fs::perms::owner_read | fs::perms::owner_exec);
  try {
    output_file out{spec_for((folder / "mix.wav").string(), output_format::wav, 16)};
    BOOST_FAIL("no media_error");
  } catch (const media_error& e) {
    BOOST_TEST((e.kind() == failure::unwritable));
  }
  fs::permissions(folder, fs::perms::owner_all);
  BOOST_TEST(fs::is_empty(folder));
}

BOOST_AUTO_TEST_CASE(a_folder_as_target_is_unwritable) {
  temp_dir dir;
  fs::create_directory(dir.path() / "mix.wav");
  try {
    output_file out{spec_for(dir.file("mix.wav"), output_format::wav, 16)};
    BOOST_FAIL("no media_error");
  } catch (const media_error& e) {
    BOOST_TEST((e.kind() == failure::unwritable));
  }
  BOOST_TEST(dir.partials().empty());
}

BOOST_AUTO_TEST_CASE(unsupported_encodings_are_refused_before_any_file_is_made) {
  temp_dir dir;
  struct bad {
    output_format format;
    uint16_t bits;
    uint32_t rate;
  };
  for (const auto& b : {bad{output_format::flac, 32, 48000}, bad{output_format::flac, 0, 48000},
                        bad{output_format::wav, 20, 48000}, bad{output_format::opus, 0, 44100},
                        bad{output_format::mp3, 0, 96000}}) {
    BOOST_TEST_CONTEXT(to_string(b.format) << " " << b.bits << " bits at " << b.rate) {
      BOOST_TEST(!check_encoding(b.format, b.bits, b.rate).empty());
      auto spec = spec_for(dir.file("x." + std::string{to_string(b.format)}), b.format, b.bits);
      spec.sample_rate = b.rate;
      try {
        output_file out{spec};
        BOOST_FAIL("no media_error");
      } catch (const media_error& e) {
        BOOST_TEST((e.kind() == failure::unsupported));
      }
    }
  }
  BOOST_TEST(fs::is_empty(dir.path()));
  BOOST_TEST(check_encoding(output_format::flac, 24, 192000).empty());
  BOOST_TEST(check_encoding(output_format::opus, 0, 48000).empty());
}

BOOST_AUTO_TEST_CASE(a_short_write_fails_at_commit_and_leaves_nothing) {
  temp_dir dir;
  const auto path = dir.file("short.wav");
  {
    output_file out{spec_for(path, output_format::wav, 16)};
    const auto material = int_material(16);
    out.write_int(material.data(), frames - 1);
    try {
      out.commit();
      BOOST_FAIL("no media_error");
    } catch (const media_error& e) {
      BOOST_TEST((e.kind() == failure::io));
    }
  }
  BOOST_TEST(!fs::exists(path));
  BOOST_TEST(dir.partials().empty());
}

BOOST_AUTO_TEST_CASE(an_abandoned_write_removes_its_temporary_file) {
  temp_dir dir;
  const auto path = dir.file("abandoned.flac");
  std::string temp;
  {
    output_file out{spec_for(path, output_format::flac, 24)};
    temp = out.temporary_path();
    BOOST_TEST(fs::path(temp).parent_path() == dir.path());
    BOOST_TEST(fs::path(temp).filename().string().rfind(".abandoned.flac.partial-", 0) == 0u);
    BOOST_TEST(fs::exists(temp));
    BOOST_TEST(!fs::exists(path)); // nothing at the target until commit
    const auto material = int_material(24);
    out.write_int(material.data(), 100);
  }
  BOOST_TEST(!fs::exists(temp));
  BOOST_TEST(!fs::exists(path));
  BOOST_TEST(dir.partials().empty());
}

BOOST_AUTO_TEST_CASE(a_committed_file_has_the_usual_permissions) {
  temp_dir dir;
  const auto path = dir.file("perm.wav");
  write_ints(spec_for(path, output_format::wav, 16), int_material(16));
  struct stat st {};
  BOOST_TEST_REQUIRE(stat(path.c_str(), &st) == 0);
  BOOST_TEST((st.st_mode & 0777u) == 0644u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(refused_by_the_encoder)

// libsndfile refuses some combinations only once the temporary file exists
// (its own checks of rate and channels): nothing may be left behind then.
BOOST_AUTO_TEST_CASE(an_encoder_that_refuses_to_start_leaves_no_temporary_file) {
  temp_dir dir;
  struct attempt {
    output_format format;
    uint16_t bits;
    uint16_t channels;
    uint32_t rate;
  };
  for (const auto& a : {attempt{output_format::ogg, 0, 2, 1000},
                        attempt{output_format::flac, 24, 9, 48000},
                        attempt{output_format::wav, 24, 2, 1},
                        attempt{output_format::aiff, 16, 2000, 48000}}) {
    output_spec spec;
    spec.path = dir.file("refused." + std::string{to_string(a.format)});
    spec.format = a.format;
    spec.bits = a.bits;
    spec.channels = a.channels;
    spec.sample_rate = a.rate;
    spec.frames = 100;
    try {
      output_file out{spec};
    } catch (const media_error&) {
      // refused: fine, as long as it cleaned up
    }
    BOOST_TEST(dir.partials().empty(), to_string(a.format) << " left " << dir.partials().size()
                                                           << " temporary file(s)");
    BOOST_TEST(!fs::exists(spec.path));
  }
}

BOOST_AUTO_TEST_CASE(mp3_rates_that_the_codec_lacks_are_refused_before_any_file_exists) {
  BOOST_TEST(!check_encoding(output_format::mp3, 0, 7000).empty());
  BOOST_TEST(!check_encoding(output_format::mp3, 0, 96000).empty());
  BOOST_TEST(check_encoding(output_format::mp3, 0, 44100).empty());
  BOOST_TEST(check_encoding(output_format::mp3, 0, 22050).empty());
}

BOOST_AUTO_TEST_SUITE_END()

// Surround outputs name their speakers: the WAV channel mask of 5.1 (FL FR FC LFE SL SR), 7.1
// (adding BL BR before the sides) and 7.1.4 (adding TFL TFR TBL TBR), read back by libsndfile
// and checked by ffprobe when installed; stereo keeps no mask.
BOOST_AUTO_TEST_CASE(surround_wavs_carry_their_channel_mask) {
  temp_dir dir;
  struct layout {
    uint16_t channels;
    std::vector<int> map;
    std::string ffprobe_layout;
  };
  const std::vector<layout> layouts{
    {6,
     {SF_CHANNEL_MAP_LEFT, SF_CHANNEL_MAP_RIGHT, SF_CHANNEL_MAP_CENTER,
      SF_CHANNEL_MAP_LFE, SF_CHANNEL_MAP_SIDE_LEFT, SF_CHANNEL_MAP_SIDE_RIGHT},
     "5.1(side)"},
    {8,
     {SF_CHANNEL_MAP_LEFT, SF_CHANNEL_MAP_RIGHT, SF_CHANNEL_MAP_CENTER,
      SF_CHANNEL_MAP_LFE, SF_CHANNEL_MAP_REAR_LEFT, SF_CHANNEL_MAP_REAR_RIGHT,
      SF_CHANNEL_MAP_SIDE_LEFT, SF_CHANNEL_MAP_SIDE_RIGHT},
     "7.1"},
    {12,
     {SF_CHANNEL_MAP_LEFT, SF_CHANNEL_MAP_RIGHT, SF_CHANNEL_MAP_CENTER,
      SF_CHANNEL_MAP_LFE, SF_CHANNEL_MAP_REAR_LEFT, SF_CHANNEL_MAP_REAR_RIGHT,
      SF_CHANNEL_MAP_SIDE_LEFT, SF_CHANNEL_MAP_SIDE_RIGHT, SF_CHANNEL_MAP_TOP_FRONT_LEFT,
      SF_CHANNEL_MAP_TOP_FRONT_RIGHT, SF_CHANNEL_MAP_TOP_REAR_LEFT, SF_CHANNEL_MAP_TOP_REAR_RIGHT},
     "12 channels (FL+FR+FC+LFE+BL+BR+SL+SR+TFL+TFR+TBL+TBR)"},
  };
  for (const auto& l : layouts) {
    const auto path = dir.file("surround" + std::to_string(l.channels) + ".wav");
    auto spec = spec_for(path, output_format::wav, 24);
    spec.channels = l.channels;
    spec.frames = 480;
    write_ints(spec, std::vector<int32_t>(480u * l.channels, 1000));
    sound_file f{path};
    BOOST_TEST_REQUIRE(f.file != nullptr);
    BOOST_TEST(f.info.channels == l.channels);
    std::vector<int> map(l.channels, 0);
    BOOST_TEST(sf_command(f.file, SFC_GET_CHANNEL_MAP_INFO, map.data(),
                          static_cast<int>(map.size() * sizeof(int))) == SF_TRUE);
    BOOST_TEST(map == l.map, boost::test_tools::per_element());
    if (have("soxi"))
      BOOST_TEST(trim(shell("soxi -c '" + path + "'").second) == std::to_string(l.channels));
    if (have("ffprobe"))
      BOOST_TEST(trim(shell("ffprobe -v error -show_entries stream=channel_layout -of csv=p=0 '" +
                            path + "'").second) == l.ffprobe_layout);
  }
}
