#include "apps/loophole/render_command.hpp"

#include <signal.h>
#include <sysexits.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <condition_variable>
#include <mutex>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <regex>
#include <thread>

#include "actors/pulse.hpp"
#include "actors/loudness_normalization.hpp"
#include "actors/render_orchestrator.hpp"
#include "actors/session.hpp"
#include "actors/timeline_resolver.hpp"
#include "caf/actor_system.hpp"
#include "caf/actor_system_config.hpp"
#include "caf/event_based_actor.hpp"
#include "caf/scoped_actor.hpp"
#include "caf/send.hpp"
#include "config/engine_config.hpp"
#include "drivers/signal_router.hpp"
#include "kernel/actor_system.hpp"
#include "kernel/child_process.hpp"
#include "kernel/error.hpp"
#include "media/output_file.hpp"
#include "media/shared_memory.hpp"

namespace loophole::apps {

namespace {

using json = nlohmann::json;

struct usage_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// "12.5" or "12.5s" seconds, "16b" beats, "48000smp" samples.
messages::time_value parse_time(const std::string& text) {
  static const std::regex re{R"(^([0-9]+(\.[0-9]+)?)(s|b|smp)?$)"};
  std::smatch m;
  if (!std::regex_match(text, m, re))
    throw usage_error("--range: \"" + text +
                      "\" is not a time (12.5 or 12.5s seconds, 16b beats, 48000smp samples)");
  messages::time_value t;
  t.value = std::stod(m[1]);
  const auto unit = m[3].str();
  t.unit = unit == "b"     ? messages::time_unit::beats
           : unit == "smp" ? messages::time_unit::samples
                           : messages::time_unit::seconds;
  if (t.unit == messages::time_unit::samples && m[2].matched)
    throw usage_error("--range: samples are whole numbers");
  return t;
}

messages::time_range parse_range(const std::string& text) {
  auto colon = text.find(':');
  if (colon == std::string::npos)
    throw usage_error("--range: give START:END, e.g. 10:20 (seconds) or 16b:32b (beats)");
  return {parse_time(text.substr(0, colon)), parse_time(text.substr(colon + 1))};
}

std::string signal_executable(const config::engine_config& cfg) {
  if (!cfg.executable.empty())
    return cfg.executable;
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  return (self.parent_path() / "loophole-signal").string();
}

/// "-23.0 LUFS", or "-inf LUFS" for silence.
std::string level_text(double db, const char* unit) {
  char buf[48];
  if (!std::isfinite(db))
    std::snprintf(buf, sizeof buf, "-inf %s", unit);
  else
    std::snprintf(buf, sizeof buf, "%.1f %s", db, unit);
  return buf;
}

/// Meter readings for --json: silence (-inf) as null, JSON having no infinities.
json meters_json(const std::vector<messages::meter_reading>& meters) {
  auto level = [](double db) { return std::isfinite(db) ? json(db) : json(nullptr); };
  json out = json::array();
  for (const auto& m : meters)
    out.push_back({{"node", m.node},
                   {"integrated_lufs", level(m.integrated_lufs)},
                   {"range_lu", m.range_lu},
                   {"sample_peak_dbfs", level(m.sample_peak_dbfs)},
                   {"true_peak_dbtp", level(m.true_peak_dbtp)},
                   {"rms_dbfs", level(m.rms_dbfs)},
                   {"frames", m.frames}});
  return out;
}

/// The loudness normalisation for --json (null without one).
json normalization_json(const std::optional<messages::normalization_report>& n) {
  if (!n)
    return nullptr;
  auto level = [](double db) { return std::isfinite(db) ? json(db) : json(nullptr); };
  return {{"preset", n->target.preset.empty() ? json(nullptr) : json(n->target.preset)},
          {"target_lufs", n->target.integrated_lufs},
          {"true_peak_ceiling_dbtp", n->target.true_peak_dbtp},
          {"measured_lufs", level(n->measured_lufs)},
          {"measured_true_peak_dbtp", level(n->measured_true_peak_dbtp)},
          {"gain_db", n->gain_db},
          {"limited_by_ceiling", n->limited_by_ceiling},
          {"output_lufs", level(n->output_lufs)},
          {"output_true_peak_dbtp", level(n->output_true_peak_dbtp)}};
}

/// `pattern` with {index} replaced by `index` and {range} by `range`.
std::string expand_output_template(std::string pattern, size_t index, const std::string& range) {
  for (const auto& [key, value] :
       {std::pair<std::string, std::string>{"{index}", std::to_string(index)},
        std::pair<std::string, std::string>{"{range}", range}})
    for (size_t at; (at = pattern.find(key)) != std::string::npos;)
      pattern.replace(at, key.size(), value);
  return pattern;
}

std::string dbfs(double peak) {
  if (peak <= 0)
    return "-inf dBFS";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f dBFS", 20.0 * std::log10(peak));
  return buf;
}

std::string duration_text(double seconds) {
  char buf[32];
  const auto minutes = static_cast<long>(seconds / 60);
  std::snprintf(buf, sizeof buf, "%ld:%06.3f", minutes, seconds - 60.0 * static_cast<double>(minutes));
  return buf;
}

int report_error(const render_options& o, int code, const std::string& message) {
  std::fprintf(stderr, "loophole: error: %s\n", message.c_str());
  if (o.json)
    std::printf("%s\n", json{{"error", {{"exit_code", code}, {"message", message}}}}.dump().c_str());
  return code;
}

int report_error(const render_options& o, const caf::error& err) {
  return report_error(o, kernel::exit_code_of(err), kernel::describe(err));
}

json plan_to_json(const messages::render_plan& plan) {
  const auto& g = plan.graph;
  json media = json::array();
  for (const auto& m : plan.media) {
    media.push_back({{"path", m.path},
                     {"media_id", m.media_id},
                     {"channels", m.channels},
                     {"source_rate", m.source_rate},
                     {"frames", m.frames},
                     {"resampled", m.source_rate != m.sample_rate}});
    if (!m.warp_mode.empty())
      media.back()["warp"] = {{"parent_id", m.parent_id}, {"mode", m.warp_mode},
                              {"map", m.warp_map}};
  }
  json nodes = json::array();
  for (const auto& n : g.nodes) {
    json params = json::object();
    for (const auto& p : n.params)
      params[p.name] = p.value;
    json node{{"id", n.id},
              {"label", n.label},
              {"kind", std::string{signal::to_string(n.kind)}},
              {"partition", g.partitions[n.partition].label},
              {"channels", n.channels},
              {"inputs", n.inputs},
              {"params", params}};
    if (n.media)
      node["media"] = {{"media", n.media->media_index},
                       {"timeline_start", n.media->timeline_start},
                       {"source_offset", n.media->source_offset},
                       {"length", n.media->length}};
    nodes.push_back(node);
  }
  json partitions = json::array();
  for (const auto& p : g.partitions)
    partitions.push_back(p.label);
  json markers = json::array();
  for (const auto& m : plan.markers)
    markers.push_back({{"name", m.name},
                       {"frame", m.frame},
                       {"seconds", static_cast<double>(m.frame) / g.sample_rate}});
  return {{"sample_rate", g.sample_rate},
          {"precision", std::string{signal::to_string(g.precision)}},
          {"markers", markers},
          {"first_frame", g.first_frame},
          {"frame_count", g.frame_count},
          {"duration_seconds", static_cast<double>(g.frame_count) / g.sample_rate},
          {"partitions", partitions},
          {"media", media},
          {"nodes", nodes},
          {"notes", plan.notes}};
}

void print_plan(const messages::render_plan& plan, bool as_json) {
  if (as_json) {
    std::printf("%s\n", plan_to_json(plan).dump(2).c_str());
    return;
  }
  const auto& g = plan.graph;
  std::printf("Render plan: %lld frames (%s) from frame %lld at %u Hz, in %s\n",
              static_cast<long long>(g.frame_count),
              duration_text(static_cast<double>(g.frame_count) / g.sample_rate).c_str(),
              static_cast<long long>(g.first_frame), g.sample_rate,
              std::string{signal::to_string(g.precision)}.c_str());
  std::printf("Media:\n");
  for (const auto& m : plan.media)
    std::printf("  %s  %s  %u ch  %u Hz%s%s\n", m.media_id.substr(0, 12).c_str(),
                m.path.c_str(), m.channels, m.source_rate,
                m.source_rate != m.sample_rate ? "  (resampled)" : "",
                m.warp_mode.empty() ? "" : ("  (" + m.warp_mode + ", from " +
                                            m.parent_id.substr(0, 12) + ")").c_str());
  for (size_t p = 0; p < g.partitions.size(); ++p) {
    std::printf("Partition %zu '%s':\n", p, g.partitions[p].label.c_str());
    for (const auto& n : g.nodes) {
      if (n.partition != p)
        continue;
      std::printf("  #%-3u %-12s %-28s", n.id, std::string{signal::to_string(n.kind)}.c_str(),
                  n.label.c_str());
      if (!n.inputs.empty()) {
        std::printf(" <-");
        for (auto in : n.inputs)
          std::printf(" #%u", in);
      }
      if (n.media)
        std::printf("  plays frames %lld..%lld of media %u at %lld",
                    static_cast<long long>(n.media->source_offset),
                    static_cast<long long>(n.media->source_offset + n.media->length),
                    n.media->media_index, static_cast<long long>(n.media->timeline_start));
      std::printf("\n");
    }
  }
  for (const auto& m : plan.markers)
    std::printf("Marker '%s' at frame %lld (%s)\n", m.name.c_str(), static_cast<long long>(m.frame),
                duration_text(static_cast<double>(m.frame) / g.sample_rate).c_str());
  for (const auto& note : plan.notes)
    std::printf("Note: %s\n", note.c_str());
}

// Turns SIGINT and SIGTERM into an orderly stop: the actors are told to quit,
// which removes the temporary output and stops the Signal instances.
class interrupt_watcher {
public:
  interrupt_watcher() {
    sigemptyset(&set_);
    sigaddset(&set_, SIGINT);
    sigaddset(&set_, SIGTERM);
    sigaddset(&set_, SIGHUP);
    sigaddset(&set_, SIGUSR2); // our own wake-up at exit
    pthread_sigmask(SIG_BLOCK, &set_, nullptr); // before any other thread exists
  }

  void start(caf::actor target) {
    thread_ = std::thread([this, target] {
      int sig = 0;
      sigwait(&set_, &sig);
      if (sig == SIGUSR2)
        return; // our own wake-up at exit
      interrupted_ = sig;
      caf::anon_send_exit(target, caf::exit_reason::user_shutdown);
      // Never hang: if the orderly stop has not finished in time, end the
      // process (Signal instances die with it).
      std::unique_lock lock{mtx_};
      if (!done_cv_.wait_for(lock, std::chrono::seconds{10}, [this] { return done_; })) {
        std::fprintf(stderr, "loophole: did not stop within 10 s of signal %d; exiting\n", sig);
        std::_Exit(128 + sig);
      }
    });
  }

  /// The orderly part is over: the backstop must not fire.
  void done() {
    std::lock_guard lock{mtx_};
    done_ = true;
    done_cv_.notify_all();
  }

  ~interrupt_watcher() {
    done();
    if (thread_.joinable()) {
      pthread_kill(thread_.native_handle(), SIGUSR2);
      thread_.join();
    }
  }

  int interrupted() const { return interrupted_; }

private:
  sigset_t set_;
  std::thread thread_;
  std::atomic<int> interrupted_{0};
  std::mutex mtx_;
  std::condition_variable done_cv_;
  bool done_ = false;
};

} // namespace

int run_render(const render_options& o) {
  // -- everything that can be checked before starting anything --------------
  config::config_report report;
  config::engine_config cfg;
  try {
    cfg = config::load_config(o.config_file, config::process_env, report);
  } catch (const config::config_error& e) {
    return report_error(o, EX_CONFIG, e.what());
  }
  for (const auto& w : report.warnings)
    std::fprintf(stderr, "loophole: warning: %s\n", w.c_str());

  messages::render_settings settings;
  std::vector<messages::render_settings> renders; // one per range
  try {
    settings.output_path = o.output;
    std::optional<media::output_format> format;
    if (o.format) {
      format = media::parse_output_format(*o.format);
      if (!format)
        throw usage_error("--format: unknown format \"" + *o.format +
                          "\" (wav, rf64, flac, aiff, ogg, opus, mp3)");
    } else {
      format = media::format_of_path(o.output);
      if (!format)
        throw usage_error("cannot tell the format from \"" + o.output +
                          "\": give it an extension (.wav, .flac, ...) or use --format");
    }
    settings.format = std::string{media::to_string(*format)};
    settings.bits = static_cast<uint16_t>(o.bits.value_or(cfg.bits));
    if (media::is_lossy(*format))
      settings.bits = 0;
    else if (*format == media::output_format::flac && !o.bits && settings.bits != 16 &&
             settings.bits != 24 && settings.bits != 8)
      settings.bits = 24; // the configured default is for WAV-like formats
    if (auto why = media::check_bits(*format, settings.bits); !why.empty())
      throw usage_error("--bits " + std::to_string(settings.bits) + ": " + settings.format + " " +
                        why);
    settings.dither = cfg.dither;
    if (o.dither) {
      if (*o.dither != "tpdf" && *o.dither != "none")
        throw usage_error("--dither: \"" + *o.dither + "\" is not tpdf or none");
      settings.dither = *o.dither == "tpdf";
    }
    settings.dither_seed = o.dither_seed.value_or(cfg.dither_seed);
    if (o.oversample) {
      const unsigned f = *o.oversample;
      if (f != 1 && f != 2 && f != 4 && f != 8)
        throw usage_error("--oversample " + std::to_string(f) + ": the factor must be 1, 2, 4 or 8");
      settings.oversample = static_cast<uint8_t>(f);
    }
    const std::string precision = o.precision.value_or(cfg.precision);
    if (precision != "float" && precision != "double")
      throw usage_error("--precision: \"" + precision + "\" is not float or double");
    settings.precision = precision == "double" ? signal::sample_precision::float64
                                               : signal::sample_precision::float32;
    if (o.normalize) {
      std::string why;
      settings.normalize = actors::parse_loudness_target(*o.normalize, why);
      if (!settings.normalize)
        throw usage_error("--normalize: " + why);
    }
    if (o.true_peak_ceiling) {
      if (!settings.normalize)
        throw usage_error("--true-peak-ceiling needs --normalize");
      if (!std::isfinite(*o.true_peak_ceiling) || *o.true_peak_ceiling < -30.0 ||
          *o.true_peak_ceiling > 0.0)
        throw usage_error("--true-peak-ceiling: " + std::to_string(*o.true_peak_ceiling) +
                          " dBTP is outside [-30, 0]");
      settings.normalize->true_peak_dbtp = *o.true_peak_ceiling;
    }
    settings.workers = o.workers.value_or(cfg.workers);

    settings.force = o.force;
    settings.vbr_quality = o.quality.value_or(cfg.vbr_quality);
    settings.segment_frames = cfg.segment_frames;
    settings.block_frames = cfg.block_frames;
    settings.segments_in_flight = cfg.segments_in_flight;
    settings.resume = o.resume;
    settings.allow_test_nodes = o.allow_test_nodes;
    if (o.diagnostics) {
      if (o.diagnostics->empty())
        throw usage_error("--diagnostics: give a file name");
      if (*o.diagnostics == o.output)
        throw usage_error("--diagnostics: the report cannot go where the render goes");
      settings.diagnostics_path = *o.diagnostics;
    }
    // One render per range, each to its own file when there are several.
    const bool templated = o.output.find("{index}") != std::string::npos ||
                           o.output.find("{range}") != std::string::npos;
    if (o.ranges.size() > 1 && !templated)
      throw usage_error("-o " + o.output + ": " + std::to_string(o.ranges.size()) +
                        " ranges need {index} or {range} in the output's name, one file each");
    if (o.ranges.size() > 1 && o.diagnostics)
      throw usage_error("--diagnostics reports one render: give one --range");
    if (o.ranges.size() > 1 && o.resume)
      throw usage_error("--resume continues one render: give one --range");
    const std::vector<std::string> ranges =
      o.ranges.empty() ? std::vector<std::string>{""} : o.ranges;
    for (size_t k = 0; k < ranges.size(); ++k) {
      auto job = settings;
      if (!ranges[k].empty())
        job.range = parse_range(ranges[k]);
      std::string range_name = ranges[k].empty() ? "all" : ranges[k];
      std::replace(range_name.begin(), range_name.end(), ':', '-');
      job.output_path = expand_output_template(o.output, k + 1, range_name);
      for (const auto& earlier : renders)
        if (earlier.output_path == job.output_path)
          throw usage_error("-o " + o.output + ": ranges " + std::to_string(k + 1) +
                            " and an earlier one both write " + job.output_path);
      if (!o.dry_run && !o.force && std::filesystem::exists(job.output_path))
        return report_error(o, EX_CANTCREAT,
                            job.output_path + ": exists (use --force to replace it)");
      renders.push_back(std::move(job));
    }
  } catch (const usage_error& e) {
    return report_error(o, EX_USAGE, e.what());
  }
  struct scheduled_kill {
    std::string actor;
    std::chrono::milliseconds after;
  };
  std::vector<scheduled_kill> kills;
  try {
    static const std::regex kill_re{R"(^(session|media_pool|resolver|signals|renderer)@([0-9]{1,7})$)"};
    for (const auto& k : o.debug_kills) {
      std::smatch m;
      if (!std::regex_match(k, m, kill_re))
        throw usage_error("--debug-kill: \"" + k +
                          "\" is not NAME@MS (NAME: session, media_pool, resolver, signals, "
                          "renderer; MS: milliseconds)");
      kills.push_back({m[1].str(), std::chrono::milliseconds{std::stol(m[2].str())}});
    }
  } catch (const usage_error& e) {
    return report_error(o, EX_USAGE, e.what());
  }
  progress_mode mode = progress_mode::none;
  if (o.progress == "bar" || (o.progress == "auto" && isatty(STDERR_FILENO) && !o.json))
    mode = progress_mode::bar;
  else if (o.progress == "json")
    mode = progress_mode::json;

  auto ctx = std::make_shared<actors::pulse_context>();
  ctx->config = cfg;
  ctx->signal_executable = signal_executable(cfg);
  if (!o.dry_run && access(ctx->signal_executable.c_str(), X_OK) != 0)
    return report_error(o, EX_UNAVAILABLE,
                        "the Signal worker " + ctx->signal_executable +
                          " is missing or not executable (set signal.executable)");

  // -- Pulse ------------------------------------------------------------------
  // A file-size limit must give a write error (EFBIG) to report, not a
  // signal that kills the process mid-write.
  ::signal(SIGXFSZ, SIG_IGN);
  interrupt_watcher interrupts;
  media::shared_memory::remove_orphans();
  kernel::process_reaper reaper;
  std::string runtime_dir;
  std::unique_ptr<drivers::signal_router> router;
  try {
    runtime_dir = drivers::make_runtime_dir();
    router = std::make_unique<drivers::signal_router>("ipc://" + runtime_dir + "/signal");
  } catch (const std::exception& e) {
    drivers::remove_runtime_dir(runtime_dir);
    return report_error(o, EX_OSERR, e.what());
  }
  ctx->reaper = &reaper;
  ctx->router = router.get();
  int code = EX_OK;
  {
    caf::actor_system_config sys_cfg;
    kernel::configure(sys_cfg);
    caf::actor_system sys{sys_cfg};
    auto root = actors::start_pulse(sys, ctx);
    if (!o.dry_run) {
      // Start the Signal instances now, while the session loads and the media
      // are probed: the render finds them ready.
      const uint32_t workers = settings.workers != 0
                                 ? settings.workers
                                 : std::max(1u, std::thread::hardware_concurrency());
      caf::anon_send(kernel::lookup(sys, actors::names::signal_pool), atoms::lease_atom::value,
                     workers);
    }
    interrupts.start(root);
    {
      caf::scoped_actor self{sys};
      auto session = caf::actor_cast<actors::session_actor>(kernel::lookup(sys, actors::names::session));
      auto resolver = caf::actor_cast<actors::timeline_resolver_actor>(
        kernel::lookup(sys, actors::names::resolver));
      auto renderer = caf::actor_cast<actors::render_orchestrator_actor>(
        kernel::lookup(sys, actors::names::orchestrator));
      std::optional<messages::session_document> doc;
      caf::error failure;
      self->request(session, caf::infinite, atoms::load_atom::value, o.session)
        .receive([&](messages::session_document& d) { doc = std::move(d); },
                 [&](caf::error& e) { failure = std::move(e); });
      // One render job per range (several --range: an output each, from the template).
      for (size_t r = 0; doc && r < renders.size() && !failure && code == EX_OK; ++r) {
        const auto& job = renders[r];
        std::optional<messages::render_plan> plan;
        if (doc)
          self->request(resolver, caf::infinite, atoms::resolve_atom::value, *doc, job)
            .receive([&](messages::render_plan& p) { plan = std::move(p); },
                     [&](caf::error& e) { failure = std::move(e); });
        if (plan)
          for (const auto& a : plan->analysis)
            if (a.state == messages::analysis_state::stale)
              std::fprintf(stderr,
                           "loophole: warning: analysis region '%s' is stale: what track '%s' plays "
                           "there changed since it was analysed (a comp or an edit), so it is "
                           "invalidated and not used; `loophole analyse --update %s` analyses it "
                           "again\n",
                           a.id.c_str(), a.track.c_str(), o.session.c_str());
        if (plan && !o.dry_run) {
          const auto format = *media::parse_output_format(job.format);
          if (auto why = media::check_encoding(format, job.bits, plan->graph.sample_rate);
              !why.empty())
            failure = kernel::make_error(kernel::errc::usage, job.output_path + ": " + job.format +
                                                                " " + why);
        }
        if (failure) {
          code = interrupts.interrupted() ? 128 + interrupts.interrupted()
                                          : report_error(o, failure);
        } else if (o.dry_run) {
          print_plan(*plan, o.json);
        } else {
          caf::actor printer;
          if (mode != progress_mode::none)
            printer = spawn_progress_printer(sys, mode);
          const auto started = std::chrono::steady_clock::now();
          // Fault rehearsal: kill named actors on cue, whichever incarnation
          // holds the name then.
          std::vector<caf::actor> killers;
          for (const auto& k : kills)
            killers.push_back(sys.spawn([k, &sys](caf::event_based_actor* a) -> caf::behavior {
              a->delayed_send(a, k.after, atoms::kill_atom::value);
              return {[a, k, &sys](atoms::kill_atom) {
                if (auto victim = kernel::lookup(sys, k.actor))
                  caf::anon_send_exit(victim, caf::exit_reason::kill);
                a->quit();
              }};
            }));
          self->request(renderer, caf::infinite, atoms::render_atom::value, *plan, job, printer)
            .receive(
              [&](messages::render_summary& s) {
                const double wall =
                  std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
                const double duration = static_cast<double>(s.frames) / s.sample_rate;
                if (o.json) {
                  std::printf("%s\n",
                              json{{"file", s.output_path},
                                   {"format", s.format},
                                   {"bits", s.bits},
                                   {"precision",
                                    std::string{signal::to_string(plan->graph.precision)}},
                                   {"channels", s.channels},
                                   {"sample_rate", s.sample_rate},
                                   {"frames", s.frames},
                                   {"duration_seconds", duration},
                                   {"peak", s.peak},
                                   {"peak_dbfs", s.peak > 0 ? 20.0 * std::log10(s.peak) : -999.0},
                                   {"time_taken_seconds", wall},
                                   {"realtime_factor", wall > 0 ? duration / wall : 0.0},
                                   {"workers", s.workers},
                                   {"worker_restarts", s.worker_restarts},
                                   {"checkpoints", s.checkpoints},
                                   {"resumed_frames", s.resumed_frames},
                                   {"quarantined", s.quarantined},
                                   {"meters", meters_json(s.meters)},
                                   {"normalization", normalization_json(s.normalization)}}
                                .dump()
                                .c_str());
                } else {
                  const auto format = *media::parse_output_format(s.format);
                  const std::string encoding =
                    format == media::output_format::ogg    ? "Ogg Vorbis"
                    : format == media::output_format::opus ? "Opus"
                    : format == media::output_format::mp3  ? "MP3"
                    : s.bits == 0                          ? "32-bit float"
                                                           : std::to_string(s.bits) + "-bit";
                  const bool in_double = plan->graph.precision == signal::sample_precision::float64;
                  std::printf("Wrote %s: %s, %u Hz, %s, %u channels, peak %s; "
                              "rendered in %.2f s (%.0fx realtime) by %u Signal instances%s\n",
                              s.output_path.c_str(), duration_text(duration).c_str(), s.sample_rate,
                              encoding.c_str(), s.channels, dbfs(s.peak).c_str(), wall,
                              wall > 0 ? duration / wall : 0.0, s.workers,
                              in_double ? " in double precision" : "");
                  if (const auto& n = s.normalization)
                    std::printf("Normalised to %s%s%s, true peak at most %s: the mix measured %s "
                                "(true peak %s); gain %+.2f dB; now %s, true peak %s\n",
                                level_text(n->target.integrated_lufs, "LUFS").c_str(),
                                n->target.preset.empty() ? "" : " (",
                                n->target.preset.empty() ? "" : (n->target.preset + ")").c_str(),
                                level_text(n->target.true_peak_dbtp, "dBTP").c_str(),
                                level_text(n->measured_lufs, "LUFS").c_str(),
                                level_text(n->measured_true_peak_dbtp, "dBTP").c_str(), n->gain_db,
                                level_text(n->output_lufs, "LUFS").c_str(),
                                level_text(n->output_true_peak_dbtp, "dBTP").c_str());
                  for (const auto& m : s.meters)
                    std::printf("Meter %s: %s integrated, range %.1f LU, peak %s, true peak %s, "
                                "RMS %s\n",
                                m.node.c_str(), level_text(m.integrated_lufs, "LUFS").c_str(),
                                m.range_lu, level_text(m.sample_peak_dbfs, "dBFS").c_str(),
                                level_text(m.true_peak_dbtp, "dBTP").c_str(),
                                level_text(m.rms_dbfs, "dBFS").c_str());
                }
                std::fflush(stdout); // the summary first, then notes and warnings
                for (const auto& note : plan->notes)
                  std::fprintf(stderr, "loophole: note: %s\n", note.c_str());
                for (const auto& note : s.notes)
                  std::fprintf(stderr, "loophole: note: %s\n", note.c_str());
                if (s.resumed_frames > 0)
                  std::fprintf(stderr, "loophole: note: resumed after %s already rendered\n",
                               duration_text(static_cast<double>(s.resumed_frames) / s.sample_rate)
                                 .c_str());
                if (s.worker_restarts > 0)
                  std::fprintf(stderr,
                               "loophole: note: %u Signal instance failure%s survived (restarted "
                               "and resumed from checkpoints)%s\n",
                               s.worker_restarts, s.worker_restarts == 1 ? "" : "s",
                               s.quarantined.empty() ? "" : "; quarantined, ran in safe mode:");
                for (const auto& q : s.quarantined)
                  std::fprintf(stderr, "loophole: note:   %s\n", q.c_str());
                // Integer samples clip at full scale; float ones go past it.
                const double full_scale =
                  s.bits == 0 ? 1.0 : 1.0 - std::ldexp(1.0, -(static_cast<int>(s.bits) - 1));
                if (s.peak > 1.0 || (s.bits != 0 && s.peak >= full_scale))
                  std::fprintf(stderr,
                               "loophole: warning: the mix %s full scale (peak %s): lower the "
                               "master gain_db\n",
                               s.bits == 0 ? "goes past" : "reached (and was clipped at)",
                               dbfs(s.peak).c_str());
              },
              [&](caf::error& e) {
                code = interrupts.interrupted()
                         ? report_error(o, 128 + interrupts.interrupted(), "interrupted; " +
                                                                             job.output_path + " untouched")
                         : report_error(o, e);
              });
          if (printer)
            self->send_exit(printer, caf::exit_reason::user_shutdown);
          for (auto& killer : killers) // cues the render did not reach must not hold the exit
            self->send_exit(killer, caf::exit_reason::user_shutdown);
          if (!kills.empty())
            self->request(root, std::chrono::seconds{5}, atoms::status_atom::value)
              .receive(
                [&](uint32_t restarts) {
                  std::fprintf(stderr, "loophole: note: Pulse's supervisor restarted %u actor%s\n",
                               restarts, restarts == 1 ? "" : "s");
                },
                [](caf::error&) {});
        }
      }
      if (!doc && failure)
        code = interrupts.interrupted() ? 128 + interrupts.interrupted()
                                        : report_error(o, failure);
    }
    caf::anon_send_exit(root, caf::exit_reason::user_shutdown);
  }
  router.reset();
  reaper.terminate_all(std::chrono::milliseconds{1000});
  drivers::remove_runtime_dir(runtime_dir);
  return code;
}

} // namespace loophole::apps
