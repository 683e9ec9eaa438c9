#define BOOST_TEST_MODULE actors_render_orchestrator
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <sndfile.h>

#include <cmath>
#include <fstream>
#include <vector>

#include "actors/loudness_normalization.hpp"
#include "actors/media_pool.hpp"
#include "actors/pulse.hpp"
#include "actors/render_orchestrator.hpp"
#include "actors/session.hpp"
#include "actors/timeline_resolver.hpp"
#include "caf/actor_system.hpp"
#include "caf/actor_system_config.hpp"
#include "caf/scoped_actor.hpp"
#include "drivers/signal_router.hpp"
#include "kernel/actor_system.hpp"
#include "kernel/child_process.hpp"
#include "kernel/error.hpp"
#include "tests/support/temp_dir.hpp"

// One Pulse, several renders in a row: the orchestrator serves every one
// (a job's end must not end the orchestrator), and every one is the same.

using namespace loophole;

namespace {

std::string make_session(const test::temp_dir& dir) {
  std::vector<float> samples;
  for (int i = 0; i < 48000; ++i) {
    const auto x = static_cast<float>(0.25 * std::sin(2.0 * 3.141592653589793 * 440.0 * i / 48000));
    samples.push_back(x);
    samples.push_back(-x);
  }
  SF_INFO info{};
  info.samplerate = 48000;
  info.channels = 2;
  info.format = SF_FORMAT_WAV | SF_FORMAT_FLOAT;
  SNDFILE* f = sf_open(dir.file("tone.wav").c_str(), SFM_WRITE, &info);
  BOOST_TEST_REQUIRE(f != nullptr);
  sf_writef_float(f, samples.data(), 48000);
  sf_close(f);
  return dir.write("session.json", R"({"format": "loophole-session", "version": 1,
    "sample_rate": 48000,
    "tracks": [{"id": "a", "clips": [{"media": "tone.wav", "position": {"seconds": 0}}]},
               {"id": "b", "pan": 0.5, "clips": [{"media": "tone.wav",
                                                  "position": {"seconds": 0.25}}]}]})");
}

std::vector<char> bytes_of(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  return {std::istreambuf_iterator<char>(in), {}};
}

} // namespace

BOOST_AUTO_TEST_CASE(one_orchestrator_serves_render_after_render) {
  test::temp_dir dir{"render-orchestrator-test"};
  const auto session_path = make_session(dir);
  auto ctx = std::make_shared<actors::pulse_context>();
  ctx->signal_executable = LOOPHOLE_BIN_DIR "/loophole-signal";
  ctx->config.id_cache = false;
  kernel::process_reaper reaper;
  drivers::signal_router router{"ipc://" + dir.file("signal")};
  ctx->reaper = &reaper;
  ctx->router = &router;
  int rendered = 0;
  {
    caf::actor_system_config cfg;
    kernel::configure(cfg);
    caf::actor_system sys{cfg};
    auto root = actors::start_pulse(sys, ctx);
    {
      caf::scoped_actor self{sys};
      auto session =
        caf::actor_cast<actors::session_actor>(kernel::lookup(sys, actors::names::session));
      auto resolver = caf::actor_cast<actors::timeline_resolver_actor>(
        kernel::lookup(sys, actors::names::resolver));
      const auto renderer = kernel::lookup(sys, actors::names::orchestrator);
      messages::session_document doc;
      self->request(session, std::chrono::seconds{10}, atoms::load_atom::value, session_path)
        .receive([&](messages::session_document& d) { doc = std::move(d); },
                 [&](caf::error& e) { BOOST_FAIL("load: " << kernel::describe(e)); });
      messages::render_settings settings;
      settings.format = "wav";
      settings.bits = 24;
      settings.workers = 2;
      messages::render_plan plan;
      self->request(resolver, std::chrono::seconds{10}, atoms::resolve_atom::value, doc, settings)
        .receive([&](messages::render_plan& p) { plan = std::move(p); },
                 [&](caf::error& e) { BOOST_FAIL("resolve: " << kernel::describe(e)); });
      for (int i = 0; i < 3; ++i) {
        settings.output_path = dir.file("out" + std::to_string(i) + ".wav");
        auto orchestrator = caf::actor_cast<actors::render_orchestrator_actor>(
          kernel::lookup(sys, actors::names::orchestrator));
        self
          ->request(orchestrator, std::chrono::seconds{20}, atoms::render_atom::value, plan,
                    settings, caf::actor{})
          .receive([&](messages::render_summary& s) {
            BOOST_TEST(s.frames == 48000 + 12000);
            ++rendered;
          },
                   [&](caf::error& e) { BOOST_ERROR("render " << i << ": " << kernel::describe(e)); });
        // The same orchestrator, not one restarted after stopping.
        BOOST_TEST((kernel::lookup(sys, actors::names::orchestrator) == renderer));
      }
    }
    caf::anon_send_exit(root, caf::exit_reason::user_shutdown);
  }
  reaper.terminate_all(std::chrono::milliseconds{1000});
  BOOST_TEST(rendered == 3);
  BOOST_TEST(reaper.running() == 0u);
  const auto first = bytes_of(dir.file("out0.wav"));
  BOOST_TEST(!first.empty());
  BOOST_TEST((bytes_of(dir.file("out1.wav")) == first));
  BOOST_TEST((bytes_of(dir.file("out2.wav")) == first));
}

// The media pool's pre-analysis pass: the transients of a stretch of media it has probed are
// found once, kept by content, and given again without analysing.
BOOST_AUTO_TEST_CASE(the_media_pool_analyses_a_stretch_of_media_once) {
  test::temp_dir dir{"media-pool-analyse-test"};
  std::vector<float> samples(48000, 0.0f);
  for (int hit : {4800, 24000})
    for (int k = 0; k < 2400; ++k)
      samples[static_cast<size_t>(hit + k)] =
        static_cast<float>(0.8 * std::exp(-k / 480.0) * std::sin(0.3 * k + 1.0));
  SF_INFO info{};
  info.samplerate = 48000;
  info.channels = 1;
  info.format = SF_FORMAT_WAV | SF_FORMAT_FLOAT;
  SNDFILE* f = sf_open(dir.file("hits.wav").c_str(), SFM_WRITE, &info);
  BOOST_TEST_REQUIRE(f != nullptr);
  sf_writef_float(f, samples.data(), 48000);
  sf_close(f);
  auto ctx = std::make_shared<actors::pulse_context>();
  ctx->config.id_cache = false;
  auto state = std::make_shared<actors::media_pool_state>();
  {
    caf::actor_system_config cfg;
    kernel::configure(cfg);
    caf::actor_system sys{cfg};
    auto pool = sys.spawn(actors::media_pool, ctx, state);
    caf::scoped_actor self{sys};
    self->request(pool, std::chrono::seconds{10}, atoms::probe_atom::value,
                  std::vector<std::string>{dir.file("hits.wav")}, uint32_t{48000})
      .receive([](const std::vector<messages::media_info>&) {},
               [&](caf::error& e) { BOOST_FAIL("probe: " << kernel::describe(e)); });
    messages::resolved_analysis region;
    region.start = 0;
    region.end = 48000;
    region.pieces = {{dir.file("hits.wav"), 0, 0, 48000, 0, 0}};
    std::vector<std::vector<int64_t>> answers;
    for (int i = 0; i < 2; ++i)
      self->request(pool, std::chrono::seconds{10}, atoms::analyse_atom::value, uint32_t{48000},
                    region)
        .receive([&](std::vector<int64_t>& onsets) { answers.push_back(std::move(onsets)); },
                 [&](caf::error& e) { BOOST_FAIL("analyse: " << kernel::describe(e)); });
    BOOST_TEST_REQUIRE(answers.size() == 2u);
    BOOST_TEST(answers[0].size() == 2u);
    BOOST_TEST(answers[1] == answers[0]);
    BOOST_TEST(state->transients.size() == 1u); // kept once, by content
    anon_send_exit(pool, caf::exit_reason::user_shutdown);
  }
}

// -- loudness normalisation's arithmetic ------------------------------------------------------

BOOST_AUTO_TEST_CASE(the_loudness_gain_is_the_distance_to_the_target_held_by_ceiling_and_range) {
  using actors::normalization_gain;
  const messages::loudness_target r128{"ebu-r128", -23.0, -1.0};
  // The target alone: -17 LUFS down to -23, the peak far under the ceiling.
  auto g = normalization_gain(r128, -17.0, -8.0);
  BOOST_TEST(g.gain_db == -6.0);
  BOOST_TEST(!g.limited_by_ceiling);
  BOOST_TEST(!g.limited_by_range);
  // The ceiling: +10 dB would put a -5 dBTP peak at +5; it stops 0.01 dB under -1.
  g = normalization_gain(r128, -33.0, -5.0);
  BOOST_TEST(std::abs(g.gain_db - (4.0 - actors::ceiling_margin_db)) < 1e-12);
  BOOST_TEST(g.limited_by_ceiling);
  // Just under the ceiling's margin is not held: +7 dB puts -8.5 dBTP at -1.5.
  g = normalization_gain(r128, -30.0, -8.5);
  BOOST_TEST(g.gain_db == 7.0);
  BOOST_TEST(!g.limited_by_ceiling);
  // The range: a -100 LUFS mix would need +77 dB; the gain node gives +60 at most.
  g = normalization_gain(r128, -100.0, -90.0);
  BOOST_TEST(g.gain_db == actors::max_normalization_gain_db);
  BOOST_TEST(g.limited_by_range);
  // Silence: no gain.
  g = normalization_gain(r128, -HUGE_VAL, -HUGE_VAL);
  BOOST_TEST(g.gain_db == 0.0);
}

BOOST_AUTO_TEST_CASE(loudness_targets_are_presets_or_lufs_in_range) {
  std::string why;
  auto t = actors::parse_loudness_target("streaming", why);
  BOOST_TEST_REQUIRE(t.has_value());
  BOOST_TEST(t->integrated_lufs == -14.0);
  BOOST_TEST(t->true_peak_dbtp == -1.0);
  t = actors::parse_loudness_target("atsc-a85", why);
  BOOST_TEST_REQUIRE(t.has_value());
  BOOST_TEST(t->true_peak_dbtp == -2.0);
  t = actors::parse_loudness_target("-16.5", why);
  BOOST_TEST_REQUIRE(t.has_value());
  BOOST_TEST(t->integrated_lufs == -16.5);
  BOOST_TEST(t->preset.empty());
  for (const char* bad : {"", "loud", "-23x", "nan", "inf", "1", "-71"}) {
    why.clear();
    BOOST_TEST(!actors::parse_loudness_target(bad, why).has_value(), bad);
    BOOST_TEST(!why.empty(), bad);
  }
}
