#pragma once

// Field-by-field equality of RenderGraphs for Boost.Test suites (the wire
// and the CAF round trips check the same thing).

#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstring>

#include "signal/render_graph.hpp"

namespace loophole::test {

/// Equal, or both NaN. (MessagePack stores whole doubles as integers, so
/// -0.0 arrives as +0.0: equal under ==, which is all a reader relies on.)
inline bool same_double(double a, double b) {
  return a == b || (std::isnan(a) && std::isnan(b));
}

inline void check_equal(const signal::render_graph& a, const signal::render_graph& b) {
  BOOST_TEST(a.sample_rate == b.sample_rate);
  BOOST_TEST((a.mode == b.mode));
  BOOST_TEST(a.first_frame == b.first_frame);
  BOOST_TEST(a.frame_count == b.frame_count);
  BOOST_TEST(a.output_latency == b.output_latency);
  BOOST_TEST(a.output_node == b.output_node);
  BOOST_TEST(a.oversample == b.oversample);
  BOOST_TEST_REQUIRE(a.media.size() == b.media.size());
  for (size_t i = 0; i < a.media.size(); ++i) {
    BOOST_TEST_CONTEXT("media " << i) {
      BOOST_TEST(a.media[i].media_id == b.media[i].media_id);
      BOOST_TEST(a.media[i].channels == b.media[i].channels);
      BOOST_TEST(a.media[i].frames == b.media[i].frames);
    }
  }
  BOOST_TEST_REQUIRE(a.partitions.size() == b.partitions.size());
  for (size_t i = 0; i < a.partitions.size(); ++i)
    BOOST_TEST(a.partitions[i].label == b.partitions[i].label);
  BOOST_TEST_REQUIRE(a.nodes.size() == b.nodes.size());
  for (size_t i = 0; i < a.nodes.size(); ++i) {
    const auto &x = a.nodes[i], &y = b.nodes[i];
    BOOST_TEST_CONTEXT("node " << i) {
      BOOST_TEST(x.id == y.id);
      BOOST_TEST(x.label == y.label);
      BOOST_TEST((x.kind == y.kind));
      BOOST_TEST(x.partition == y.partition);
      BOOST_TEST(x.channels == y.channels);
      BOOST_TEST(x.inputs == y.inputs, boost::test_tools::per_element());
      BOOST_TEST_REQUIRE(x.params.size() == y.params.size());
      for (size_t p = 0; p < x.params.size(); ++p) {
        BOOST_TEST(x.params[p].name == y.params[p].name);
        BOOST_TEST(same_double(x.params[p].value, y.params[p].value));
      }
      BOOST_TEST_REQUIRE(x.media.has_value() == y.media.has_value());
      if (x.media) {
        BOOST_TEST(x.media->media_index == y.media->media_index);
        BOOST_TEST(x.media->timeline_start == y.media->timeline_start);
        BOOST_TEST(x.media->source_offset == y.media->source_offset);
        BOOST_TEST(x.media->loop_start == y.media->loop_start);
        BOOST_TEST(x.media->loop_length == y.media->loop_length);
        BOOST_TEST(x.media->length == y.media->length);
      }
      BOOST_TEST_REQUIRE(x.automation.size() == y.automation.size());
      for (size_t l = 0; l < x.automation.size(); ++l) {
        BOOST_TEST(x.automation[l].param == y.automation[l].param);
        BOOST_TEST_REQUIRE(x.automation[l].points.size() == y.automation[l].points.size());
        for (size_t k = 0; k < x.automation[l].points.size(); ++k) {
          const auto& p = x.automation[l].points[k];
          const auto& q = y.automation[l].points[k];
          BOOST_TEST(p.frame == q.frame);
          BOOST_TEST(p.value == q.value);
          BOOST_TEST((p.curve == q.curve));
        }
        const auto& mx = x.automation[l].modulators;
        const auto& my = y.automation[l].modulators;
        BOOST_TEST_REQUIRE(mx.size() == my.size());
        for (size_t k = 0; k < mx.size(); ++k) {
          BOOST_TEST((mx[k].kind == my[k].kind));
          BOOST_TEST((mx[k].shape == my[k].shape));
          BOOST_TEST(mx[k].depth == my[k].depth);
          BOOST_TEST(mx[k].in_db == my[k].in_db);
          BOOST_TEST_REQUIRE(mx[k].clock.size() == my[k].clock.size());
          for (size_t c = 0; c < mx[k].clock.size(); ++c) {
            BOOST_TEST(mx[k].clock[c].frame == my[k].clock[c].frame);
            BOOST_TEST(mx[k].clock[c].value == my[k].clock[c].value);
          }
          BOOST_TEST(mx[k].steps == my[k].steps, boost::test_tools::per_element());
          BOOST_TEST(mx[k].attack_frames == my[k].attack_frames);
          BOOST_TEST(mx[k].release_frames == my[k].release_frames);
        }
      }
      BOOST_TEST((x.events == y.events));
      BOOST_TEST_REQUIRE(x.embedded_audio.size() == y.embedded_audio.size());
      BOOST_TEST(std::memcmp(x.embedded_audio.data(), y.embedded_audio.data(),
                             x.embedded_audio.size() * sizeof(float)) == 0);
    }
  }
}

} // namespace loophole::test
