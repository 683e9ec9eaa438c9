// media/segment_feeder.hpp: the media windows of a segment slot hold, for every timeline frame
// a clip covers, the media frame it plays there — computed here from the documented rule,
// for plain clips and looped ones (an intro, then the loop over and over), from media held in
// memory and from media streamed from a file, over segment sizes that do and do not divide
// the loop.

#define BOOST_TEST_MODULE media_segment_feeder
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <sndfile.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "media/segment_feeder.hpp"
#include "signal/bus_layout.hpp"
#include "tests/support/temp_dir.hpp"

using namespace loophole;
using loophole::test::temp_dir;

namespace {

constexpr int64_t media_frames = 50000;

/// Media sample values that name their frame and channel exactly in float: f + c / 4.
float value_of(int64_t frame, int channel) {
  return static_cast<float>(frame) + 0.25f * static_cast<float>(channel);
}

/// The media frame played `k` frames into a region, by the documented rule.
int64_t expected_source(int64_t offset, int64_t loop_start, int64_t loop_end, int64_t k) {
  int64_t p = offset + k;
  while (loop_end > loop_start && p >= loop_end)
    p -= loop_end - loop_start;
  return p;
}

signal::render_graph graph_with(signal::media_region region, int64_t timeline) {
  signal::render_graph g;
  g.sample_rate = 48000;
  g.frame_count = timeline;
  g.media.push_back({"m", 2, media_frames});
  g.partitions.push_back({"t"});
  signal::render_node clip;
  clip.id = 0;
  clip.kind = signal::node_kind::clip_source;
  clip.channels = 2;
  clip.media = region;
  clip.params = {{"gain", 1.0}};
  signal::render_node out;
  out.id = 1;
  out.kind = signal::node_kind::output;
  out.channels = 2;
  out.inputs = {0};
  out.params = {{"bits", 0}};
  g.nodes = {clip, out};
  g.output_node = 1;
  return g;
}

struct free_deleter {
  void operator()(std::byte* p) const noexcept { std::free(p); }
};

void check_windows(const signal::media_region& region, int64_t timeline, uint32_t segment,
                   std::vector<media::media_source> sources) {
  const auto g = graph_with(region, timeline);
  auto layout = signal::bus_layout::make(g, segment);
  BOOST_TEST_REQUIRE(layout.windows.size() == 1u);
  std::unique_ptr<std::byte, free_deleter> slot{
    static_cast<std::byte*>(std::aligned_alloc(64, layout.slot_bytes))};
  media::segment_feeder feeder(g, layout, std::move(sources), 2);
  const auto& w = layout.windows[0];
  for (int64_t first = 0; first < timeline; first += segment) {
    const auto count = static_cast<uint32_t>(std::min<int64_t>(segment, timeline - first));
    feeder.fill(slot.get(), first, count);
    const auto* window = reinterpret_cast<const float*>(slot.get() + w.offset);
    for (int64_t t = first; t < first + count; ++t) {
      const int64_t k = t - region.timeline_start;
      if (k < 0 || k >= region.length)
        continue;
      const auto src = expected_source(region.source_offset, region.loop_start,
                                       region.loop_start + region.loop_length, k);
      for (int c = 0; c < 2; ++c) {
        const auto got = window[static_cast<int64_t>(c) * segment + (t - first)];
        BOOST_TEST_REQUIRE(got == value_of(src, c), "frame " << t << " channel " << c << ": "
                                                             << got << ", expected media frame "
                                                             << src);
      }
    }
  }
}

struct media_fixture {
  temp_dir dir{"feeder"};
  std::vector<float> planar = std::vector<float>(2 * media_frames);
  std::string path = dir.file("m.wav");

  media_fixture() {
    std::vector<float> interleaved(2 * media_frames);
    for (int64_t f = 0; f < media_frames; ++f)
      for (int c = 0; c < 2; ++c) {
        planar[static_cast<size_t>(c * media_frames + f)] = value_of(f, c);
        interleaved[static_cast<size_t>(2 * f + c)] = value_of(f, c);
      }
    SF_INFO info{};
    info.samplerate = 48000;
    info.channels = 2;
    info.format = SF_FORMAT_WAV | SF_FORMAT_FLOAT;
    SNDFILE* f = sf_open(path.c_str(), SFM_WRITE, &info);
    BOOST_TEST_REQUIRE(f != nullptr);
    BOOST_TEST_REQUIRE(sf_writef_float(f, interleaved.data(), media_frames) == media_frames);
    sf_close(f);
  }

  media::media_source in_memory() const {
    media::media_source s;
    s.path = path;
    s.samples = planar.data();
    s.channels = 2;
    s.frames = media_frames;
    return s;
  }

  media::media_source streamed() const {
    media::media_source s;
    s.path = path;
    return s;
  }
};

} // namespace

BOOST_FIXTURE_TEST_CASE(a_looped_clip_plays_its_intro_then_the_loop_exactly, media_fixture) {
  // Timeline frame 700 on: media 3000.., reaching the loop end 11000, then 5000..11000 again.
  const signal::media_region looped{0, 700, 3000, 60000, 5000, 6000};
  for (uint32_t segment : {4096u, 6000u, 7919u})
    for (bool memory : {true, false}) {
      BOOST_TEST_CONTEXT("segment " << segment << (memory ? ", in memory" : ", streamed")) {
        check_windows(looped, 70000, segment, {memory ? in_memory() : streamed()});
      }
    }
}

BOOST_FIXTURE_TEST_CASE(a_loop_of_one_frame_and_a_plain_clip_land_on_exact_frames, media_fixture) {
  const signal::media_region one{0, 0, 10, 9000, 20, 1}; // 10..19, then frame 20 for ever
  const signal::media_region plain{0, 1234, 777, 30000, 0, 0};
  for (bool memory : {true, false}) {
    BOOST_TEST_CONTEXT((memory ? "in memory" : "streamed")) {
      check_windows(one, 9000, 4096, {memory ? in_memory() : streamed()});
      check_windows(plain, 40000, 4096, {memory ? in_memory() : streamed()});
    }
  }
}
