#include "apps/loophole/analyse_command.hpp"

#include <sysexits.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "actors/media_pool.hpp"
#include "actors/pulse.hpp"
#include "actors/session.hpp"
#include "actors/timeline_resolver.hpp"
#include "caf/actor_system.hpp"
#include "caf/actor_system_config.hpp"
#include "caf/scoped_actor.hpp"
#include "caf/send.hpp"
#include "config/engine_config.hpp"
#include "kernel/actor_system.hpp"
#include "kernel/error.hpp"

namespace loophole::apps {

namespace {

using json = nlohmann::json;

int fail(int code, const std::string& message) {
  std::fprintf(stderr, "loophole: error: %s\n", message.c_str());
  return code;
}

// Writes the regions' new hashes and results into the session file, keeping
// everything else of it as it was read; through a temporary file renamed
// into place, so a failure leaves the old file whole.
void write_back(const std::string& path, const std::vector<messages::resolved_analysis>& done) {
  std::ifstream in{path, std::ios::binary};
  std::ostringstream text;
  text << in.rdbuf();
  auto root = json::parse(text.str());
  for (auto& region : root.at("analysis"))
    for (const auto& d : done)
      if (region.at("id") == d.id) {
        region["content_hash"] = d.content_hash;
        region["onsets"] = d.onsets;
      }
  const auto temporary = path + ".analyse-tmp";
  {
    std::ofstream out{temporary, std::ios::binary | std::ios::trunc};
    out << root.dump(2) << "\n";
    out.flush();
    if (!out)
      throw std::runtime_error(temporary + ": cannot be written");
  }
  std::filesystem::rename(temporary, path);
}

} // namespace

int run_analyse(const analyse_options& o) {
  config::config_report report;
  config::engine_config cfg;
  try {
    cfg = config::load_config(o.config_file, config::process_env, report);
  } catch (const config::config_error& e) {
    return fail(EX_CONFIG, e.what());
  }
  for (const auto& w : report.warnings)
    std::fprintf(stderr, "loophole: warning: %s\n", w.c_str());
  auto ctx = std::make_shared<actors::pulse_context>();
  ctx->config = cfg;
  caf::actor_system_config sys_cfg;
  kernel::configure(sys_cfg);
  caf::actor_system sys{sys_cfg};
  auto root = actors::start_pulse(sys, ctx);
  int code = EX_OK;
  {
    caf::scoped_actor self{sys};
    auto session = caf::actor_cast<actors::session_actor>(kernel::lookup(sys, actors::names::session));
    auto resolver = caf::actor_cast<actors::timeline_resolver_actor>(
      kernel::lookup(sys, actors::names::resolver));
    auto pool = caf::actor_cast<actors::media_pool_actor>(kernel::lookup(sys, actors::names::media_pool));
    std::optional<messages::session_document> doc;
    std::optional<messages::render_plan> plan;
    caf::error failure;
    self->request(session, caf::infinite, atoms::load_atom::value, o.session)
      .receive([&](messages::session_document& d) { doc = std::move(d); },
               [&](caf::error& e) { failure = std::move(e); });
    if (doc)
      self->request(resolver, caf::infinite, atoms::resolve_atom::value, *doc,
                    messages::render_settings{})
        .receive([&](messages::render_plan& p) { plan = std::move(p); },
                 [&](caf::error& e) { failure = std::move(e); });
    std::vector<messages::resolved_analysis> updated;
    if (plan && o.update)
      for (auto& region : plan->analysis) {
        if (region.state == messages::analysis_state::fresh || failure)
          continue;
        self->request(pool, caf::infinite, atoms::analyse_atom::value, plan->graph.sample_rate, region)
          .receive(
            [&](std::vector<int64_t>& onsets) {
              region.onsets = std::move(onsets);
              region.state = messages::analysis_state::fresh;
              updated.push_back(region);
            },
            [&](caf::error& e) { failure = std::move(e); });
      }
    if (failure) {
      code = fail(kernel::exit_code_of(failure), kernel::describe(failure));
    } else {
      if (!updated.empty()) {
        try {
          write_back(o.session, updated);
        } catch (const std::exception& e) {
          code = fail(EX_CANTCREAT, o.session + ": the analysis could not be saved: " + e.what());
        }
      }
      const double rate = plan->graph.sample_rate;
      json regions = json::array();
      for (const auto& r : plan->analysis) {
        const bool fresh_now = r.state == messages::analysis_state::fresh;
        if (!fresh_now && code == EX_OK)
          code = 1;
        const bool was_updated =
          std::any_of(updated.begin(), updated.end(), [&](const auto& u) { return u.id == r.id; });
        if (o.json) {
          regions.push_back({{"id", r.id},
                             {"kind", r.kind},
                             {"track", r.track},
                             {"start", r.start},
                             {"end", r.end},
                             {"state", messages::to_string(r.state)},
                             {"updated", was_updated},
                             {"content_hash", r.content_hash},
                             {"onsets", r.onsets}});
          continue;
        }
        std::printf("%-20s %-10s track %-16s %9.3f s - %9.3f s  %s", r.id.c_str(), r.kind.c_str(),
                    r.track.c_str(), static_cast<double>(r.start) / rate,
                    static_cast<double>(r.end) / rate, messages::to_string(r.state).c_str());
        if (was_updated)
          std::printf(" (analysed now: %zu transients)", r.onsets.size());
        else if (fresh_now)
          std::printf(" (%zu transients)", r.onsets.size());
        else if (r.state == messages::analysis_state::stale)
          std::printf(" (what the track plays there changed since it was analysed: invalidated; "
                      "run with --update to analyse it again)");
        else
          std::printf(" (run with --update to analyse it)");
        std::printf("\n");
      }
      if (o.json)
        std::printf("%s\n", json{{"analysis", regions}}.dump().c_str());
      else if (plan->analysis.empty())
        std::printf("%s has no analysis regions (\"analysis\" in docs/session-format.md)\n",
                    o.session.c_str());
    }
  }
  caf::anon_send_exit(root, caf::exit_reason::user_shutdown);
  return code;
}

} // namespace loophole::apps
