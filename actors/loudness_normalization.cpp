#include "actors/loudness_normalization.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>

#include "actors/render_job.hpp"
#include "caf/event_based_actor.hpp"
#include "caf/stateful_actor.hpp"
#include "kernel/error.hpp"
#include "media/output_file.hpp"

namespace loophole::actors {

std::optional<messages::loudness_target> parse_loudness_target(std::string_view text,
                                                               std::string& why) {
  struct preset {
    std::string_view name;
    double lufs, ceiling;
  };
  // EBU R 128 (2020): -23 LUFS, -1 dBTP. Streaming services normalise
  // playback to about -14 LUFS and ask for -1 dBTP. ATSC A/85: -24 LKFS, -2 dBTP.
  static constexpr preset presets[] = {
    {"ebu-r128", -23.0, -1.0}, {"streaming", -14.0, -1.0}, {"atsc-a85", -24.0, -2.0}};
  for (const auto& p : presets)
    if (text == p.name)
      return messages::loudness_target{std::string{p.name}, p.lufs, p.ceiling};
  const std::string s{text};
  char* end = nullptr;
  const double v = s.empty() ? std::nan("") : std::strtod(s.c_str(), &end);
  if (s.empty() || end != s.c_str() + s.size() || !std::isfinite(v)) {
    why = "'" + s + "' is neither a preset (ebu-r128, streaming, atsc-a85) nor a loudness in LUFS";
    return std::nullopt;
  }
  if (v < -70.0 || v > 0.0) {
    why = s + " LUFS is outside [-70, 0]";
    return std::nullopt;
  }
  return messages::loudness_target{"", v, -1.0};
}

normalization_gain_db normalization_gain(const messages::loudness_target& target,
                                         double measured_lufs,
                                         double measured_true_peak_dbtp) noexcept {
  normalization_gain_db g;
  if (!std::isfinite(measured_lufs))
    return g;
  g.gain_db = target.integrated_lufs - measured_lufs;
  const double room = target.true_peak_dbtp - ceiling_margin_db;
  if (std::isfinite(measured_true_peak_dbtp) && measured_true_peak_dbtp + g.gain_db > room) {
    g.gain_db = room - measured_true_peak_dbtp;
    g.limited_by_ceiling = true;
  }
  if (g.gain_db > max_normalization_gain_db) {
    g.gain_db = max_normalization_gain_db;
    g.limited_by_ceiling = false;
    g.limited_by_range = true;
  }
  return g;
}

namespace {

struct loudness_job_state {
  context_ptr ctx;
  uint64_t measure_job = 0, render_job_id = 0;
  bool limited_by_range = false;
  messages::render_plan plan;
  messages::render_settings settings;
  caf::actor listener;
  caf::response_promise rp;
  caf::actor pass; ///< the render job running now
  bool done = false;
  messages::normalization_report report;
};
using loudness_ptr = caf::stateful_actor<loudness_job_state>*;

void finish(loudness_ptr self, caf::error err) {
  auto& s = self->state;
  if (s.done)
    return;
  s.done = true;
  s.rp.deliver(std::move(err));
  // Not a normal exit: the linked pass, if it still runs, stops with us.
  self->quit(caf::exit_reason::user_shutdown);
}

/// The meter the resolver added, taken out of the summary's list (it is the
/// normalisation's, not one of the session's meters).
std::optional<messages::meter_reading> take_meter(messages::render_summary& sum) {
  for (auto it = sum.meters.begin(); it != sum.meters.end(); ++it)
    if (it->node == loudness_meter_label) {
      auto m = *it;
      sum.meters.erase(it);
      return m;
    }
  return std::nullopt;
}

std::string db_text(double db, const char* unit) {
  if (!std::isfinite(db))
    return std::string{"-inf "} + unit;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f %s", db, unit);
  return buf;
}

void run_pass(loudness_ptr self, uint64_t job, messages::render_plan plan,
              messages::render_settings settings,
              std::function<void(messages::render_summary&)> on_summary) {
  auto& s = self->state;
  s.pass = spawn_render_job(self->system(), s.ctx, job, std::move(plan), std::move(settings),
                            s.listener);
  // Linked: a pass must not outlive a loudness job that dies (it would go on
  // writing the file its requester was told failed); monitored: a pass that
  // dies without answering ends the job.
  self->link_to(s.pass);
  self->monitor(s.pass);
  self->request(s.pass, caf::infinite, atoms::render_atom::value)
    .then([on_summary = std::move(on_summary)](messages::render_summary& sum) { on_summary(sum); },
          [self](caf::error& err) { finish(self, std::move(err)); });
}

void render_normalised(loudness_ptr self) {
  auto& s = self->state;
  auto plan = s.plan;
  const double gain = std::pow(10.0, s.report.gain_db / 20.0);
  bool placed = false;
  for (auto& node : plan.graph.nodes)
    if (node.label == loudness_gain_label)
      for (auto& p : node.params)
        if (p.name == "gain") {
          p.value = gain;
          placed = true;
        }
  if (!placed)
    return finish(self, kernel::make_error(kernel::errc::internal,
                                           "the plan has no loudness gain on the master"));
  run_pass(self, s.render_job_id, std::move(plan), s.settings,
           [self](messages::render_summary& sum) {
             auto& st = self->state;
             auto& r = st.report;
             if (auto m = take_meter(sum)) {
               r.output_lufs = m->integrated_lufs;
               r.output_true_peak_dbtp = m->true_peak_dbtp;
             }
             if (sum.resumed_frames > 0) {
               // The meter saw only this run's frames: the whole file's reading
               // is the first pass's moved by the gain.
               r.output_lufs = r.measured_lufs + r.gain_db;
               r.output_true_peak_dbtp = r.measured_true_peak_dbtp + r.gain_db;
               sum.notes.push_back("the render was resumed: the output's loudness and true peak "
                                   "are the first pass's readings plus the gain");
             }
             const auto format = *media::parse_output_format(sum.format);
             if (media::is_lossy(format) || (sum.bits != 0 && sum.bits < 16))
               sum.notes.push_back(
                 "the true-peak ceiling holds before the " +
                 std::string{media::is_lossy(format) ? "encoder" : "8-bit quantisation"} +
                 ", which can add more than its 0.01 dB margin: check the file's true peak");
             if (st.limited_by_range)
               sum.notes.push_back("the mix measured " + db_text(r.measured_lufs, "LUFS") +
                                   ": the gain stops at +60 dB, short of the target");
             if (!std::isfinite(r.measured_lufs))
               sum.notes.push_back("the mix is silent (under the absolute gate of -70 LUFS): "
                                   "there is no loudness to normalise, so no gain was applied");
             else if (r.limited_by_ceiling)
               sum.notes.push_back(
                 "the true-peak ceiling of " + db_text(r.target.true_peak_dbtp, "dBTP") +
                 " held the gain to " + db_text(r.gain_db, "dB") + ": the mix measures " +
                 db_text(r.output_lufs, "LUFS") + ", under the target of " +
                 db_text(r.target.integrated_lufs, "LUFS") +
                 " (a limiter on the master would let it get there)");
             sum.normalization = r;
             st.done = true;
             st.rp.deliver(std::move(sum));
             self->quit();
           });
}

caf::behavior loudness_job(loudness_ptr self, context_ptr ctx, uint64_t measure_job,
                           uint64_t render_job_id, messages::render_plan plan,
                           messages::render_settings settings, caf::actor listener) {
  auto& st = self->state;
  st.ctx = std::move(ctx);
  st.measure_job = measure_job;
  st.render_job_id = render_job_id;
  st.plan = std::move(plan);
  st.settings = std::move(settings);
  st.listener = std::move(listener);
  st.report.target = *st.settings.normalize;
  // A pass that dies without answering (killed) ends the job with an error.
  self->set_down_handler([self](const caf::down_msg& msg) {
    if (msg.source == self->state.pass.address() && msg.reason != caf::exit_reason::normal)
      finish(self, kernel::make_error(kernel::errc::cancelled,
                                      "a pass of the loudness normalisation stopped: " +
                                        caf::to_string(msg.reason)));
  });
  // Cancelled (the orchestrator stopping, an interrupt): so is the pass.
  self->set_exit_handler([self](const caf::exit_msg& msg) {
    if (msg.reason == caf::exit_reason::normal)
      return;
    if (self->state.pass)
      self->send_exit(self->state.pass, caf::exit_reason::user_shutdown);
    finish(self, kernel::make_error(kernel::errc::cancelled, "the render was stopped"));
  });
  return {
    [self](atoms::render_atom) {
      auto& s = self->state;
      s.rp = self->make_response_promise();
      auto measuring = s.settings;
      measuring.measure_only = true;
      measuring.resume = false; // it writes nothing to resume
      // diagnostics_path stays: a measuring pass that fails reports too (the
      // second pass's report replaces it).
      run_pass(self, s.measure_job, s.plan, std::move(measuring),
               [self](messages::render_summary& sum) {
                 auto& r = self->state.report;
                 const auto m = take_meter(sum);
                 if (!m)
                   return finish(self, kernel::make_error(kernel::errc::internal,
                                                          "the measuring pass has no loudness"));
                 r.measured_lufs = m->integrated_lufs;
                 r.measured_true_peak_dbtp = m->true_peak_dbtp;
                 const auto g = normalization_gain(r.target, r.measured_lufs,
                                                   r.measured_true_peak_dbtp);
                 r.gain_db = g.gain_db;
                 r.limited_by_ceiling = g.limited_by_ceiling;
                 self->state.limited_by_range = g.limited_by_range;
                 render_normalised(self);
               });
      return s.rp;
    },
  };
}

} // namespace

caf::actor spawn_loudness_job(caf::actor_system& sys, context_ptr ctx, uint64_t measure_job,
                              uint64_t render_job_id, messages::render_plan plan,
                              messages::render_settings settings, caf::actor listener) {
  return sys.spawn(loudness_job, std::move(ctx), measure_job, render_job_id, std::move(plan),
                   std::move(settings), std::move(listener));
}

} // namespace loophole::actors
