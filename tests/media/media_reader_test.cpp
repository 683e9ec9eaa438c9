// media/media_reader.hpp and media/shared_memory.hpp: probing and hashing files, resampled
// lengths, decoding with resampling, streaming arbitrary ranges, refusing broken files with a
// media_error; shared memory segments and the removal of orphans.

#define BOOST_TEST_MODULE media_media_reader
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <sndfile.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <numbers>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "media/media_error.hpp"
#include "media/media_reader.hpp"
#include "media/shared_memory.hpp"
#include "tests/support/temp_dir.hpp"

namespace fs = std::filesystem;
using namespace loophole::media;

namespace {

/// A folder of this suite's own.
class temp_dir : public loophole::test::temp_dir {
public:
  temp_dir() : loophole::test::temp_dir("media-reader-test") {}
};

std::vector<char> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_bytes(const std::string& path, const std::vector<char>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

/// Writes interleaved float `samples` with libsndfile directly (not through the code under
/// test), as `format` (e.g. WAV float or PCM 24).
void write_sound(const std::string& path, int format, uint32_t rate, uint16_t channels,
                 const std::vector<float>& samples) {
  SF_INFO info{};
  info.samplerate = static_cast<int>(rate);
  info.channels = channels;
  info.format = format;
  SNDFILE* f = sf_open(path.c_str(), SFM_WRITE, &info);
  BOOST_TEST_REQUIRE(f != nullptr, sf_strerror(nullptr));
  const auto frames = static_cast<sf_count_t>(samples.size() / channels);
  BOOST_TEST_REQUIRE(sf_writef_float(f, samples.data(), frames) == frames);
  sf_close(f);
}

/// Interleaved sines, a different frequency per channel.
std::vector<float> sines(uint32_t rate, uint16_t channels, int64_t frames, double freq,
                         double amp = 0.5) {
  std::vector<float> v;
  v.reserve(static_cast<size_t>(frames) * channels);
  for (int64_t i = 0; i < frames; ++i)
    for (uint16_t c = 0; c < channels; ++c)
      v.push_back(static_cast<float>(
          amp * std::sin(2.0 * std::numbers::pi * freq * (c + 1) * static_cast<double>(i) / rate)));
  return v;
}

bool is_hex32(const std::string& s) {
  return s.size() == 32 && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

template <class F> void expect_media_error(F&& f, std::optional<failure> kind = std::nullopt) {
  try {
    f();
    BOOST_FAIL("no media_error");
  } catch (const media_error& e) {
    if (kind)
      BOOST_TEST((e.kind() == *kind), "kind " << static_cast<int>(e.kind()) << ": " << e.what());
    BOOST_TEST(std::string(e.what()).size() > 0u);
  }
}

} // namespace

BOOST_AUTO_TEST_SUITE(probing)

BOOST_AUTO_TEST_CASE(probe_reads_the_shape_and_a_stable_content_hash) {
  temp_dir dir;
  const auto path = dir.file("a.wav");
  write_sound(path, SF_FORMAT_WAV | SF_FORMAT_PCM_24, 44100, 2, sines(44100, 2, 12345, 440));
  const auto p = probe(path);
  BOOST_TEST(p.path == path);
  BOOST_TEST(p.channels == 2u);
  BOOST_TEST(p.frames == 12345);
  BOOST_TEST(p.sample_rate == 44100u);
  BOOST_TEST(p.format.find("WAV") != std::string::npos, p.format);
  BOOST_TEST(p.format.find("24") != std::string::npos, p.format);
  BOOST_TEST(is_hex32(p.media_id), p.media_id);
  BOOST_TEST(probe(path).media_id == p.media_id);
  BOOST_TEST(content_hash(path) == p.media_id);

  // The same bytes under another name: the same id.
  const auto copy = dir.file("copy-of-a.wav");
  fs::copy_file(path, copy);
  BOOST_TEST(probe(copy).media_id == p.media_id);

  // One byte changed (in the samples, so the file still decodes): another id.
  auto bytes = read_bytes(path);
  bytes[bytes.size() - 100] = static_cast<char>(bytes[bytes.size() - 100] ^ 0x01);
  const auto changed = dir.file("changed.wav");
  write_bytes(changed, bytes);
  const auto q = probe(changed);
  BOOST_TEST(is_hex32(q.media_id));
  BOOST_TEST(q.media_id != p.media_id);
  BOOST_TEST(q.frames == p.frames);
}

BOOST_AUTO_TEST_CASE(content_hash_of_an_empty_file_is_the_hash_of_nothing) {
  temp_dir dir;
  const auto a = dir.file("empty1"), b = dir.file("empty2");
  write_bytes(a, {});
  write_bytes(b, {});
  BOOST_TEST(is_hex32(content_hash(a)));
  BOOST_TEST(content_hash(a) == content_hash(b));
  write_bytes(b, {'x'});
  BOOST_TEST(content_hash(a) != content_hash(b));
}

BOOST_AUTO_TEST_CASE(probe_reads_other_containers) {
  temp_dir dir;
  struct c {
    const char* name;
    int format;
    uint32_t rate;
    uint16_t channels;
  };
  for (const auto& x : {c{"m.flac", SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 96000, 1},
                        c{"m.aiff", SF_FORMAT_AIFF | SF_FORMAT_PCM_24, 48000, 3},
                        c{"m.wav", SF_FORMAT_WAV | SF_FORMAT_FLOAT, 22050, 2}}) {
    BOOST_TEST_CONTEXT(x.name) {
      const auto path = dir.file(x.name);
      write_sound(path, x.format, x.rate, x.channels, sines(x.rate, x.channels, 5000, 300));
      const auto p = probe(path);
      BOOST_TEST(p.channels == x.channels);
      BOOST_TEST(p.frames == 5000);
      BOOST_TEST(p.sample_rate == x.rate);
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(resampling)

BOOST_AUTO_TEST_CASE(resampled_length_rounds_half_up) {
  BOOST_TEST(resampled_length(0, 44100, 48000) == 0);
  BOOST_TEST(resampled_length(12345, 48000, 48000) == 12345);
  BOOST_TEST(resampled_length(441, 44100, 48000) == 480);     // exact
  BOOST_TEST(resampled_length(44100, 44100, 48000) == 48000); // exact
  BOOST_TEST(resampled_length(1000, 44100, 48000) == 1088);   // 1088.435
  BOOST_TEST(resampled_length(1003, 44100, 48000) == 1092);   // 1091.701
  BOOST_TEST(resampled_length(1, 48000, 24000) == 1);         // 0.5 -> 1
  BOOST_TEST(resampled_length(3, 48000, 24000) == 2);         // 1.5 -> 2
  BOOST_TEST(resampled_length(5, 96000, 48000) == 3);         // 2.5 -> 3
  BOOST_TEST(resampled_length(1, 96000, 44100) == 0);         // 0.459 -> 0
  BOOST_TEST(resampled_length(1, 88200, 44100) == 1);         // 0.5 -> 1
  BOOST_TEST(resampled_length(48000, 48000, 44100) == 44100);
  // The largest lengths a probe accepts (2^40 frames) at extreme rates do not overflow.
  const int64_t big = int64_t{1} << 40;
  BOOST_TEST(resampled_length(big, 8000, 768000) == big * 96);
  BOOST_TEST(resampled_length(big, 768000, 8000) == (big + 48) / 96);
  // Against a reference in long double for many lengths.
  for (int64_t n = 0; n < 20000; n += 7) {
    for (auto [from, to] : {std::pair{44100u, 48000u}, std::pair{48000u, 44100u},
                            std::pair{96000u, 44100u}, std::pair{22050u, 192000u}}) {
      const long double exact = static_cast<long double>(n) * to / from;
      const auto want = static_cast<int64_t>(std::floor(exact + 0.5L));
      BOOST_TEST_REQUIRE(resampled_length(n, from, to) == want, n << " " << from << "->" << to);
    }
  }
}

namespace {

/// Frequency of a sine from its rising zero crossings (interpolated), in cycles per sample.
double measured_frequency(const float* x, size_t from, size_t to) {
  double first = -1, last = -1;
  size_t crossings = 0;
  for (size_t i = from; i + 1 < to; ++i) {
    const auto a = static_cast<double>(x[i]), b = static_cast<double>(x[i + 1]);
    if (a < 0.0 && b >= 0.0) {
      const double t = static_cast<double>(i) + a / (a - b);
      if (first < 0)
        first = t;
      last = t;
      ++crossings;
    }
  }
  return crossings < 2 ? 0.0 : static_cast<double>(crossings - 1) / (last - first);
}

} // namespace

BOOST_AUTO_TEST_CASE(a_1khz_sine_at_44k1_resampled_to_48k_is_a_1khz_sine_of_the_right_length) {
  temp_dir dir;
  const auto path = dir.file("sine44k1.wav");
  const int64_t frames = 44100 + 123;
  write_sound(path, SF_FORMAT_WAV | SF_FORMAT_FLOAT, 44100, 1, sines(44100, 1, frames, 1000.0));
  for (auto quality :
       {resample_quality::best, resample_quality::medium, resample_quality::fastest}) {
    BOOST_TEST_CONTEXT("quality " << static_cast<int>(quality)) {
      const auto d = decode_resampled(path, 48000, quality);
      BOOST_TEST(d.channels == 1u);
      BOOST_TEST(d.frames == resampled_length(frames, 44100, 48000));
      BOOST_TEST(d.samples.size() == static_cast<size_t>(d.frames));
      const auto n = static_cast<size_t>(d.frames);
      const double f = measured_frequency(d.samples.data(), n / 10, n - n / 10) * 48000.0;
      BOOST_TEST(std::abs(f - 1000.0) < 0.05, "measured " << f << " Hz");
      const auto peak =
          std::abs(*std::max_element(d.samples.begin() + static_cast<std::ptrdiff_t>(n / 10),
                                     d.samples.begin() + static_cast<std::ptrdiff_t>(n - n / 10),
                                     [](float a, float b) { return std::abs(a) < std::abs(b); }));
      BOOST_TEST(std::abs(static_cast<double>(peak) - 0.5) < 0.01, "peak " << peak);
    }
  }
}

BOOST_AUTO_TEST_CASE(decoding_at_the_files_own_rate_is_exact_and_planar) {
  temp_dir dir;
  const auto path = dir.file("stereo48k.wav");
  const auto material = sines(48000, 2, 7777, 440);
  write_sound(path, SF_FORMAT_WAV | SF_FORMAT_FLOAT, 48000, 2, material);
  const auto d = decode_resampled(path, 48000, resample_quality::best);
  BOOST_TEST(d.channels == 2u);
  BOOST_TEST(d.frames == 7777);
  BOOST_TEST_REQUIRE(d.samples.size() == material.size());
  for (size_t i = 0; i < 7777; ++i) {
    BOOST_TEST_REQUIRE(d.samples[i] == material[2 * i]);
    BOOST_TEST_REQUIRE(d.samples[7777 + i] == material[2 * i + 1]);
  }
}

BOOST_AUTO_TEST_CASE(a_stereo_file_resampled_down_keeps_both_channels_and_their_length) {
  temp_dir dir;
  const auto path = dir.file("stereo96k.wav");
  const int64_t frames = 96000 / 2 + 1;
  write_sound(path, SF_FORMAT_WAV | SF_FORMAT_PCM_24, 96000, 2, sines(96000, 2, frames, 500));
  const auto d = decode_resampled(path, 44100, resample_quality::medium);
  BOOST_TEST(d.frames == resampled_length(frames, 96000, 44100));
  const auto n = static_cast<size_t>(d.frames);
  BOOST_TEST_REQUIRE(d.samples.size() == 2 * n);
  const double fl = measured_frequency(d.samples.data(), n / 10, n - n / 10) * 44100.0;
  const double fr = measured_frequency(d.samples.data() + n, n / 10, n - n / 10) * 44100.0;
  BOOST_TEST(std::abs(fl - 500.0) < 0.05, fl);
  BOOST_TEST(std::abs(fr - 1000.0) < 0.05, fr);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(streaming)

BOOST_AUTO_TEST_CASE(reading_arbitrary_ranges_equals_a_full_read) {
  temp_dir dir;
  const auto path = dir.file("stream.wav");
  const int64_t frames = 100000;
  const uint16_t nc = 3;
  std::vector<float> material;
  for (int64_t i = 0; i < frames; ++i)
    for (uint16_t c = 0; c < nc; ++c)
      material.push_back(static_cast<float>(i) * 1e-6f + static_cast<float>(c)); // distinct
  write_sound(path, SF_FORMAT_WAV | SF_FORMAT_FLOAT, 48000, nc, material);

  media_stream s{path};
  BOOST_TEST(s.channels() == nc);
  BOOST_TEST(s.frames() == frames);
  std::mt19937 rng(42);
  std::uniform_int_distribution<int64_t> pick(0, frames);
  for (int i = 0; i < 300; ++i) {
    int64_t first = pick(rng), count = pick(rng) / (i % 3 == 0 ? 1 : 50);
    if (i == 0) {
      first = 0;
      count = frames; // the whole file
    }
    if (i == 1) {
      first = 16384 - 5;
      count = 16384 + 10; // across the reader's chunk size twice
    }
    count = std::min(count, frames - first);
    const int64_t stride = count + 17;
    std::vector<float> planar(static_cast<size_t>(stride) * nc, -7.0f);
    s.read(first, count, planar.data(), stride);
    for (uint16_t c = 0; c < nc; ++c)
      for (int64_t k = 0; k < count; ++k)
        if (planar[static_cast<size_t>(c * stride + k)] !=
            material[static_cast<size_t>((first + k) * nc + c)])
          BOOST_TEST_REQUIRE(planar[static_cast<size_t>(c * stride + k)] ==
                                 material[static_cast<size_t>((first + k) * nc + c)],
                             "read " << i << ": frame " << first + k << " channel " << c);
    // Nothing is written past `count` frames of each channel.
    for (uint16_t c = 0; c < nc; ++c)
      for (int64_t k = count; k < stride; ++k)
        BOOST_TEST_REQUIRE(planar[static_cast<size_t>(c * stride + k)] == -7.0f);
  }
}

BOOST_AUTO_TEST_CASE(reading_outside_the_file_is_a_media_error) {
  temp_dir dir;
  const auto path = dir.file("short.wav");
  write_sound(path, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 48000, 1, sines(48000, 1, 1000, 100));
  media_stream s{path};
  std::vector<float> buf(2000);
  expect_media_error([&] { s.read(999, 2, buf.data(), 2000); }, failure::unreadable);
  expect_media_error([&] { s.read(-1, 1, buf.data(), 2000); }, failure::unreadable);
  expect_media_error([&] { s.read(0, -1, buf.data(), 2000); }, failure::unreadable);
  s.read(999, 1, buf.data(), 2000); // the last frame is fine, after the failures too
  s.read(0, 1000, buf.data(), 2000);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(broken_files)

BOOST_AUTO_TEST_CASE(a_missing_file_is_not_found) {
  expect_media_error([] { probe("/nonexistent/loophole/a.wav"); }, failure::not_found);
  expect_media_error([] { content_hash("/nonexistent/loophole/a.wav"); }, failure::not_found);
  expect_media_error([] { media_stream s{"/nonexistent/loophole/a.wav"}; }, failure::not_found);
  expect_media_error([] { decode_resampled("/nonexistent/a.wav", 48000, resample_quality::best); },
                     failure::not_found);
}

BOOST_AUTO_TEST_CASE(garbage_and_empty_files_are_unreadable) {
  temp_dir dir;
  std::mt19937 rng(1);
  std::vector<char> garbage(10000);
  for (auto& b : garbage)
    b = static_cast<char>(rng());
  write_bytes(dir.file("garbage.wav"), garbage);
  write_bytes(dir.file("empty.wav"), {});
  for (const auto& name : {"garbage.wav", "empty.wav"}) {
    BOOST_TEST_CONTEXT(name) {
      const auto path = dir.file(name);
      expect_media_error([&] { probe(path); }, failure::unreadable);
      expect_media_error([&] { media_stream s{path}; }, failure::unreadable);
      expect_media_error([&] { decode_resampled(path, 44100, resample_quality::fastest); },
                         failure::unreadable);
    }
  }
}

BOOST_AUTO_TEST_CASE(truncated_files_give_a_media_error_or_their_real_length_never_a_crash) {
  temp_dir dir;
  const auto path = dir.file("whole.flac");
  write_sound(path, SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 48000, 2, sines(48000, 2, 48000, 440));
  const auto whole = read_bytes(path);
  const auto wav = dir.file("whole.wav");
  write_sound(wav, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 48000, 2, sines(48000, 2, 48000, 440));
  const auto whole_wav = read_bytes(wav);
  for (const auto* source : {&whole, &whole_wav}) {
    for (size_t cut : {size_t{4}, size_t{30}, size_t{44}, source->size() / 3, source->size() / 2,
                       source->size() - 1}) {
      BOOST_TEST_CONTEXT((source == &whole ? "flac" : "wav") << " cut to " << cut << " bytes") {
        const auto name = dir.file("cut");
        write_bytes(name, std::vector<char>(source->begin(),
                                            source->begin() + static_cast<std::ptrdiff_t>(cut)));
        try {
          const auto p = probe(name);
          BOOST_TEST(p.frames <= 48000);
          // If the header claims more than is there, reading all of it must fail cleanly.
          media_stream s{name};
          std::vector<float> buf(static_cast<size_t>(s.frames()) * 2u + 2u);
          try {
            s.read(0, s.frames(), buf.data(), s.frames() + 1);
          } catch (const media_error& e) {
            BOOST_TEST((e.kind() == failure::unreadable));
          }
          try {
            auto d = decode_resampled(name, 44100, resample_quality::fastest);
            BOOST_TEST(d.frames == resampled_length(p.frames, 48000, 44100));
          } catch (const media_error& e) {
            BOOST_TEST((e.kind() == failure::unreadable));
          }
        } catch (const media_error& e) {
          BOOST_TEST((e.kind() == failure::unreadable), e.what());
        }
      }
    }
  }
}

namespace {

/// Caps this process's address space for a scope, so an allocation sized by a lying header
/// fails at once instead of exhausting the machine, whatever the overcommit policy.
class address_space_cap {
public:
  explicit address_space_cap(rlim_t bytes) {
    getrlimit(RLIMIT_AS, &old_);
    rlimit cap = old_;
    cap.rlim_cur = std::min<rlim_t>(bytes, old_.rlim_max);
    setrlimit(RLIMIT_AS, &cap);
  }
  ~address_space_cap() { setrlimit(RLIMIT_AS, &old_); }
  address_space_cap(const address_space_cap&) = delete;
  address_space_cap& operator=(const address_space_cap&) = delete;

private:
  rlimit old_{};
};

} // namespace

BOOST_AUTO_TEST_CASE(a_header_claiming_far_more_frames_than_the_file_holds_is_a_media_error) {
  temp_dir dir;
  const auto good = dir.file("good.flac");
  write_sound(good, SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 48000, 2, sines(48000, 2, 4800, 440));
  // STREAMINFO's 36-bit total sample count is the low nibble of byte 21 and bytes 22-25:
  // claim 2^36 - 1 frames (about 550 GB of float samples) in a file of a few kilobytes.
  auto bytes = read_bytes(good);
  BOOST_TEST_REQUIRE(std::string(bytes.data(), 4) == "fLaC");
  bytes[21] = static_cast<char>((static_cast<unsigned char>(bytes[21]) & 0xF0u) | 0x0Fu);
  for (size_t i = 22; i < 26; ++i)
    bytes[i] = static_cast<char>(0xFF);
  const auto liar = dir.file("liar.flac");
  write_bytes(liar, bytes);

  address_space_cap cap{rlim_t{4} << 30};
  // Probing only reads the header; streaming fails cleanly where the data ends.
  try {
    const auto p = probe(liar);
    BOOST_TEST(p.frames == (int64_t{1} << 36) - 1);
    media_stream s{liar};
    std::vector<float> buf(20000);
    expect_media_error([&] { s.read(0, 10000, buf.data(), 10000); }, failure::unreadable);
  } catch (const media_error& e) {
    BOOST_TEST((e.kind() == failure::unreadable), e.what());
  }
  // Regression: a header that claims far more frames than the file holds
  // must give a media_error, not an allocation of what it claims.
  std::string outcome;
  try {
    auto d = decode_resampled(liar, 44100, resample_quality::fastest);
    outcome = "decoded " + std::to_string(d.frames) + " frames";
  } catch (const media_error& e) {
    outcome = "media_error";
    BOOST_TEST((e.kind() == failure::unreadable), e.what());
  } catch (const std::exception& e) {
    outcome = std::string{"another exception: "} + e.what();
  }
  BOOST_TEST(outcome == "media_error");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(shared_memory_segments)

namespace {

bool shm_exists(const std::string& name) {
  return fs::exists("/dev/shm" + name);
}

} // namespace

BOOST_AUTO_TEST_CASE(create_open_and_unlink) {
  const std::string tag = "test-create-" + std::to_string(::getpid());
  std::string name;
  {
    auto seg = shared_memory::create(tag, 10000);
    name = seg.name();
    BOOST_TEST(name == "/loophole." + std::to_string(::getpid()) + "." + tag);
    BOOST_TEST(seg.size() == 10000u);
    BOOST_TEST_REQUIRE(seg.data() != nullptr);
    BOOST_TEST(
        std::all_of(seg.data(), seg.data() + 10000, [](std::byte b) { return b == std::byte{0}; }));
    BOOST_TEST(shm_exists(name));

    // Another mapping of the same segment sees the same bytes.
    auto other = shared_memory::open(name, 10000);
    BOOST_TEST(other.data() != seg.data());
    seg.data()[1234] = std::byte{0x5A};
    BOOST_TEST((other.data()[1234] == std::byte{0x5A}));
    other.data()[9999] = std::byte{0xA5};
    BOOST_TEST((seg.data()[9999] == std::byte{0xA5}));

    // Asking for more than the segment holds, or for a name that is not ours, fails.
    expect_media_error([&] { shared_memory::open(name, 10001); }, failure::resources);
    expect_media_error([] { shared_memory::open("/other.1.x", 1); }, failure::resources);
    expect_media_error([] { shared_memory::open("/loophole.1/x", 1); }, failure::resources);
    // Creating the same tag twice fails.
    expect_media_error([&] { shared_memory::create(tag, 10); }, failure::resources);

    // A mapper that is not the creator does not unlink.
    { auto third = shared_memory::open(name, 100); }
    BOOST_TEST(shm_exists(name));

    // Moving keeps one owner.
    shared_memory moved = std::move(seg);
    BOOST_TEST(moved.name() == name);
    BOOST_TEST(seg.data() == nullptr);
    BOOST_TEST(shm_exists(name));
  }
  BOOST_TEST(!shm_exists(name)); // the creator's destructor unlinked it
  expect_media_error([&] { shared_memory::open(name, 1); }, failure::resources);
}

BOOST_AUTO_TEST_CASE(move_assignment_releases_the_old_segment) {
  auto a = shared_memory::create("test-move-a", 64);
  auto b = shared_memory::create("test-move-b", 64);
  const auto a_name = a.name(), b_name = b.name();
  a = std::move(b);
  BOOST_TEST(!shm_exists(a_name));
  BOOST_TEST(shm_exists(b_name));
  BOOST_TEST(a.name() == b_name);
}

BOOST_AUTO_TEST_CASE(remove_orphans_unlinks_segments_of_dead_creators_only) {
  const std::string orphan = "/loophole.999999999.x";
  int fd = shm_open(orphan.c_str(), O_CREAT | O_RDWR, 0600);
  BOOST_TEST_REQUIRE(fd >= 0, std::strerror(errno));
  close(fd);
  BOOST_TEST_REQUIRE(shm_exists(orphan));
  auto mine = shared_memory::create("test-orphans", 128);

  const auto removed = shared_memory::remove_orphans();
  BOOST_TEST(removed >= 1u);
  BOOST_TEST(!shm_exists(orphan));
  BOOST_TEST(shm_exists(mine.name())); // we still run
  // Names that only look similar are left alone.
  const std::string unrelated = "/loophole-notours.999999999.x";
  fd = shm_open(unrelated.c_str(), O_CREAT | O_RDWR, 0600);
  BOOST_TEST_REQUIRE(fd >= 0);
  close(fd);
  shared_memory::remove_orphans();
  BOOST_TEST(shm_exists(unrelated));
  shm_unlink(unrelated.c_str());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(raw_decoding)

// The raw fast paths (and the SSSE3 one for stereo 24-bit) must give exactly
// the floats libsndfile's own decoding gives, for every width, channel count
// and a length that is not a multiple of the vector width, including full
// scale, the most negative value and noise that reaches every bit.
BOOST_AUTO_TEST_CASE(every_raw_path_equals_libsndfiles_own_decoding_bit_for_bit) {
  temp_dir dir;
  const struct {
    int subtype;
    media_stream::decoding expected;
  } widths[] = {{SF_FORMAT_PCM_16, media_stream::decoding::raw_pcm16},
                {SF_FORMAT_PCM_24, media_stream::decoding::raw_pcm24},
                {SF_FORMAT_PCM_32, media_stream::decoding::raw_pcm32},
                {SF_FORMAT_FLOAT, media_stream::decoding::raw_float}};
  std::mt19937 rng{1234};
  std::uniform_real_distribution<float> noise{-1.0f, 1.0f};
  for (const auto& w : widths)
    for (uint16_t channels : {uint16_t{1}, uint16_t{2}, uint16_t{3}, uint16_t{6}})
      for (int64_t frames : {int64_t{1}, int64_t{7}, int64_t{16385}, int64_t{40003}}) {
        std::vector<float> samples(static_cast<size_t>(frames) * channels);
        for (auto& x : samples)
          x = noise(rng);
        samples[0] = 1.0f;
        if (samples.size() > 1)
          samples[1] = -1.0f;
        const auto path = dir.file("raw.wav");
        write_sound(path, SF_FORMAT_WAV | w.subtype, 48000, channels, samples);
        media_stream fast{path};
        media_stream library{path, false};
        BOOST_TEST((fast.method() == w.expected));
        BOOST_TEST((library.method() == media_stream::decoding::library));
        const auto n = static_cast<size_t>(frames) * channels;
        std::vector<float> a(n, 0.5f), b(n, -0.5f);
        // Two reads, the second starting mid-way, to cross chunk boundaries too.
        const int64_t half = frames / 2;
        fast.read(0, half, a.data(), frames);
        fast.read(half, frames - half, a.data() + half, frames);
        library.read(0, frames, b.data(), frames);
        BOOST_TEST_REQUIRE(std::memcmp(a.data(), b.data(), n * sizeof(float)) == 0,
                           "width " << w.subtype << ", " << channels << " channels, " << frames
                                    << " frames");
      }
}

BOOST_AUTO_TEST_CASE(big_endian_and_unsigned_files_are_left_to_libsndfile) {
  temp_dir dir;
  const auto samples = sines(48000, 2, 1000, 440.0);
  write_sound(dir.file("a.aiff"), SF_FORMAT_AIFF | SF_FORMAT_PCM_24, 48000, 2, samples);
  write_sound(dir.file("u8.wav"), SF_FORMAT_WAV | SF_FORMAT_PCM_U8, 48000, 2, samples);
  BOOST_TEST((media_stream{dir.file("a.aiff")}.method() == media_stream::decoding::library));
  BOOST_TEST((media_stream{dir.file("u8.wav")}.method() == media_stream::decoding::library));
}

BOOST_AUTO_TEST_SUITE_END()
