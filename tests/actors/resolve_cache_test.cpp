// actors/resolve_cache.hpp through resolve_timeline: a track whose inputs did not change is taken
// from the cache, one that did is resolved again, and the plan is the same as an uncached
// resolve of the same session, field by field.

#define BOOST_TEST_MODULE actors_resolve_cache
#define BOOST_TEST_DYN_LINK
#include "actors/resolve_cache.hpp"
#include "actors/timeline_resolver.hpp"
#include "kernel/error.hpp"
#include "tests/support/large_session.hpp"
#include "tests/support/render_graph_equality.hpp"

#include <algorithm>
#include <boost/test/unit_test.hpp>

using loophole::actors::resolve_cache;
using loophole::actors::resolve_timeline;
using loophole::messages::media_info;
using loophole::messages::render_plan;
using loophole::messages::render_settings;
using loophole::messages::session_document;
using loophole::test::make_large_session;
using loophole::test::probes_of;

namespace {

render_plan resolved(const session_document& doc, const std::vector<media_info>& media,
                     resolve_cache& cache) {
  auto plan = resolve_timeline(doc, render_settings{}, media, cache);
  if (!plan)
    BOOST_FAIL("not resolved: " << loophole::kernel::describe(plan.error()));
  return std::move(*plan);
}

/// `plan` is what an uncached resolve of `doc` makes.
void check_same_as_uncached(const render_plan& plan, const session_document& doc,
                            const std::vector<media_info>& media) {
  auto fresh = resolve_timeline(doc, render_settings{}, media);
  BOOST_TEST_REQUIRE(!!fresh);
  loophole::test::check_equal(plan.graph, fresh->graph);
  BOOST_TEST(plan.notes == fresh->notes, boost::test_tools::per_element());
  BOOST_TEST_REQUIRE(plan.media.size() == fresh->media.size());
  for (size_t i = 0; i < plan.media.size(); ++i)
    BOOST_TEST(plan.media[i].media_id == fresh->media[i].media_id);
  BOOST_TEST(plan.analysis.size() == fresh->analysis.size());
}

/// The tracks resolved and reused by one resolve of `doc` through `cache`.
std::pair<size_t, size_t> counts_of(const session_document& doc,
                                    const std::vector<media_info>& media, resolve_cache& cache,
                                    render_plan* plan = nullptr) {
  const auto resolved_before = cache.resolved, reused_before = cache.reused;
  auto p = resolved(doc, media, cache);
  if (plan)
    *plan = std::move(p);
  return {cache.resolved - resolved_before, cache.reused - reused_before};
}

using counts = std::pair<size_t, size_t>;

} // namespace

BOOST_AUTO_TEST_CASE(a_second_resolve_of_the_same_session_reuses_every_track) {
  auto s = make_large_session();
  resolve_cache cache;
  BOOST_TEST((counts_of(s.doc, s.media, cache) == counts{64, 0}));
  render_plan plan;
  BOOST_TEST((counts_of(s.doc, s.media, cache, &plan) == counts{0, 64}));
  BOOST_TEST(cache.size() == 64u);
  // Eight files and the warped clip's derived media, shared by four tracks.
  BOOST_TEST(plan.media.size() == 9u);
  check_same_as_uncached(plan, s.doc, s.media);
}

namespace {

/// The large session, resolved once through a cache.
struct resolved_once {
  loophole::test::large_session s = make_large_session();
  resolve_cache cache;
  render_plan first = resolved(s.doc, s.media, cache);

  /// Resolves the session, edited since, again: it must resolve and reuse
  /// `expected` tracks and make the plan an uncached resolve makes.
  render_plan again(counts expected) {
    render_plan plan;
    BOOST_TEST((counts_of(s.doc, s.media, cache, &plan) == expected));
    check_same_as_uncached(plan, s.doc, s.media);
    return plan;
  }
};

} // namespace

BOOST_FIXTURE_TEST_CASE(an_edit_of_one_clip_resolves_that_track_alone_and_the_graph_is_the_same,
                        resolved_once) {
  // The last clip of a track moves later: the session ends later, so the
  // LFO clocks of tracks taken from the cache must be made again too.
  s.doc.tracks[10].clips.back().position.value += 8.0;
  BOOST_TEST(again({1, 63}).graph.frame_count > first.graph.frame_count);
  // A gain: the same track again, the rest reused.
  s.doc.tracks[10].clips[3].gain_db = -12.0;
  again({1, 63});
}

BOOST_FIXTURE_TEST_CASE(an_edit_of_the_tempo_map_resolves_every_track, resolved_once) {
  s.doc.tempo_changes[1].bpm = 150.0;
  again({64, 0});
}

BOOST_FIXTURE_TEST_CASE(a_changed_probe_resolves_the_tracks_that_play_that_media, resolved_once) {
  // m0.wav is played by every track but the MIDI one (clip k of track t
  // plays m((t + k) % 8), and every track has 50 clips).
  BOOST_TEST(s.media.front().path == "/sessions/media/m0.wav");
  s.media.front().frames -= 48000;
  again({63, 1});
}

BOOST_FIXTURE_TEST_CASE(a_groove_edit_resolves_only_the_tracks_that_use_it, resolved_once) {
  s.doc.grooves.front().swing = 0.66;
  again({1, 63});
}

BOOST_FIXTURE_TEST_CASE(a_solo_leaves_the_soloed_tracks_fragments_as_they_were, resolved_once) {
  // The soloed track's spec changed (its solo flag); the others are left out.
  s.doc.tracks[2].solo = true;
  again({1, 0});
  s.doc.tracks[2].solo = false;
  again({0, 64});
}

BOOST_AUTO_TEST_CASE(the_cache_keeps_at_most_its_capacity_dropping_the_least_recently_used) {
  auto s = make_large_session(8, 4);
  resolve_cache cache{6};
  // Resolves with only the tracks of `audible` unmuted (the others are not
  // looked up, and their keys are those of the unmuted tracks again later).
  auto only = [&](std::vector<size_t> audible) {
    auto doc = s.doc;
    for (size_t t = 0; t < doc.tracks.size(); ++t)
      doc.tracks[t].mute = std::find(audible.begin(), audible.end(), t) == audible.end();
    return doc;
  };
  auto counts_of_only = [&](std::vector<size_t> audible) {
    const auto doc = only(std::move(audible));
    return counts_of(doc, probes_of(doc), cache);
  };
  BOOST_TEST((counts_of(s.doc, s.media, cache) == counts{8, 0}));
  BOOST_TEST(cache.size() == 6u);                       // 2 .. 7: 0 and 1 were dropped
  BOOST_TEST((counts_of_only({2}) == counts{0, 1}));    // 2 is now the most recently used
  BOOST_TEST((counts_of_only({0, 1}) == counts{2, 0})); // drops 3 and 4, not 2
  BOOST_TEST(cache.size() == 6u);
  BOOST_TEST((counts_of_only({2, 5, 0}) == counts{0, 3}));
  BOOST_TEST((counts_of_only({3}) == counts{1, 0}));
}
