#define BOOST_TEST_MODULE media_resample_cache
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>
#include <vector>

#include "media/resample_cache.hpp"
#include "tests/support/temp_dir.hpp"

using namespace loophole::media;
namespace fs = std::filesystem;

namespace {

const std::string id = "0123456789abcdef0123456789abcdef";

decoded_media sample_media() {
  decoded_media m;
  m.channels = 2;
  m.frames = 1000;
  for (int64_t i = 0; i < m.frames * m.channels; ++i)
    m.samples.push_back(static_cast<float>(i % 97) / 97.0f - 0.5f);
  return m;
}

std::string only_file(const loophole::test::temp_dir& dir) {
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir.path()))
    files.push_back(e.path());
  BOOST_TEST_REQUIRE(files.size() == 1u);
  return files.front().string();
}

} // namespace

BOOST_AUTO_TEST_CASE(a_stored_resampling_loads_back_exactly) {
  loophole::test::temp_dir dir{"resample-cache"};
  const auto m = sample_media();
  store_resampled(dir.str(), id, 48000, resample_quality::best, m);
  auto got = load_resampled(dir.str(), id, 48000, resample_quality::best);
  BOOST_TEST_REQUIRE(got.has_value());
  BOOST_TEST(got->channels == m.channels);
  BOOST_TEST(got->frames == m.frames);
  BOOST_TEST(got->samples == m.samples, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(another_rate_quality_or_content_is_not_served) {
  loophole::test::temp_dir dir{"resample-cache"};
  store_resampled(dir.str(), id, 48000, resample_quality::best, sample_media());
  BOOST_TEST(!load_resampled(dir.str(), id, 44100, resample_quality::best));
  BOOST_TEST(!load_resampled(dir.str(), id, 48000, resample_quality::medium));
  BOOST_TEST(!load_resampled(dir.str(), "ffffffffffffffffffffffffffffffff", 48000,
                             resample_quality::best));
  BOOST_TEST(!load_resampled("", id, 48000, resample_quality::best));
}

BOOST_AUTO_TEST_CASE(derived_media_record_their_parent_and_need_it_to_load) {
  loophole::test::temp_dir dir{"resample-cache"};
  const std::string parent = "fedcba9876543210fedcba9876543210";
  const auto m = sample_media();
  store_resampled(dir.str(), id, 48000, resample_quality::best, m, parent);
  const auto path = only_file(dir);
  std::ifstream in{path, std::ios::binary};
  const std::string bytes{std::istreambuf_iterator<char>(in), {}};
  BOOST_TEST(bytes.find(parent) != std::string::npos); // the lineage is in the file
  BOOST_TEST(!load_resampled(dir.str(), id, 48000, resample_quality::best));
  BOOST_TEST(!load_resampled(dir.str(), id, 48000, resample_quality::best,
                             "00000000000000000000000000000000"));
  auto got = load_resampled(dir.str(), id, 48000, resample_quality::best, parent);
  BOOST_TEST_REQUIRE(got.has_value());
  BOOST_TEST(got->samples == m.samples, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_damaged_truncated_or_overlong_file_is_ignored) {
  loophole::test::temp_dir dir{"resample-cache"};
  store_resampled(dir.str(), id, 48000, resample_quality::best, sample_media());
  const auto path = only_file(dir);
  std::vector<char> good;
  {
    std::ifstream in{path, std::ios::binary};
    good.assign(std::istreambuf_iterator<char>(in), {});
  }
  auto write = [&](const std::vector<char>& bytes) {
    std::ofstream out{path, std::ios::binary | std::ios::trunc};
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  };
  auto flipped = good;
  flipped[flipped.size() - 5] ^= 0x10; // one sample bit
  write(flipped);
  BOOST_TEST(!load_resampled(dir.str(), id, 48000, resample_quality::best));
  write(std::vector<char>(good.begin(), good.end() - 4));
  BOOST_TEST(!load_resampled(dir.str(), id, 48000, resample_quality::best));
  auto longer = good;
  longer.push_back('x');
  write(longer);
  BOOST_TEST(!load_resampled(dir.str(), id, 48000, resample_quality::best));
  write({'n', 'o', 'p', 'e'});
  BOOST_TEST(!load_resampled(dir.str(), id, 48000, resample_quality::best));
  write(good);
  BOOST_TEST(load_resampled(dir.str(), id, 48000, resample_quality::best).has_value());
}

BOOST_AUTO_TEST_CASE(an_unwritable_cache_is_not_an_error) {
  BOOST_CHECK_NO_THROW(store_resampled("/proc/no-such-place", id, 48000, resample_quality::best,
                                       sample_media()));
  BOOST_TEST(!load_resampled("/proc/no-such-place", id, 48000, resample_quality::best));
}
