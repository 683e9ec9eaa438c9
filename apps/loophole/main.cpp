// loophole: the Pulse process of the Loophole render engine.

#include <sysexits.h>

#include <cstdio>

#include <CLI/CLI.hpp>

#include "apps/loophole/analyse_command.hpp"
#include "apps/loophole/render_command.hpp"
#include "config/engine_config.hpp"

namespace {

int run_config(bool print_effective, const std::optional<std::string>& file) {
  using namespace loophole;
  config::config_report report;
  try {
    auto cfg = config::load_config(file, config::process_env, report);
    for (const auto& w : report.warnings)
      std::fprintf(stderr, "loophole: warning: %s\n", w.c_str());
    if (print_effective) {
      std::printf("# Effective configuration. Layers applied, in order:\n");
      std::printf("#   built-in defaults\n");
      for (const auto& s : report.sources)
        std::printf("#   %s\n", s.c_str());
      std::printf("%s", config::to_toml(cfg).c_str());
    }
    return EX_OK;
  } catch (const config::config_error& e) {
    std::fprintf(stderr, "loophole: error: %s\n", e.what());
    return EX_CONFIG;
  }
}

} // namespace

int main(int argc, char** argv) {
  CLI::App app{"loophole: renders Loophole sessions (mixdowns) with supervised Signal workers."};
  app.set_version_flag("--version", "loophole " LOOPHOLE_VERSION);
  app.require_subcommand(1);

  loophole::apps::render_options r;
  auto* render = app.add_subcommand("render", "render a session to an audio file");
  render->add_option("SESSION", r.session, "session file (JSON, format v1)")->required();
  render->add_option("-o,--output", r.output, "output file; its extension names the format")
    ->required();
  render->add_option("--format", r.format, "wav, rf64, flac, aiff, ogg, opus or mp3");
  render->add_option("--bits", r.bits, "8, 16, 24, 32 (integer) or 0 (32-bit float)")
    ->check(CLI::IsMember({0u, 8u, 16u, 24u, 32u}));
  render->add_option("--workers", r.workers, "Signal instances (default: one per core)")
    ->check(CLI::Range(1u, 256u));
  render->add_option("--range", r.ranges,
                     "START:END to render: seconds (12.5 or 12.5s), beats (16b) or samples "
                     "(48000smp); repeat it for several files, named by {index} or {range} in -o")
    ->allow_extra_args(false);
  render->add_option("--dither", r.dither, "tpdf (default) or none");
  render->add_option("--dither-seed", r.dither_seed, "seed of the dither noise");
  render->add_option("--quality", r.quality, "lossy codecs: 0 (smallest) to 1 (best)")
    ->check(CLI::Range(0.0, 1.0));
  render->add_option("--oversample", r.oversample,
                     "1, 2, 4 or 8: the oversampling of every node that has an oversample "
                     "parameter and does not set it");
  render->add_option("--precision", r.precision,
                     "float (default) or double: the sample type of the whole graph");
  render->add_option("--normalize", r.normalize,
                     "two passes to a loudness target: ebu-r128 (-23 LUFS), streaming (-14 "
                     "LUFS), atsc-a85 (-24 LKFS) or a number of LUFS")
    ->type_name("TARGET");
  render->add_option("--true-peak-ceiling", r.true_peak_ceiling,
                     "with --normalize: the highest true peak the gain may reach, in dBTP "
                     "(default: the preset's, -1 for a number)")
    ->type_name("DBTP");
  render->add_option("--config", r.config_file, "an extra configuration file (TOML)");
  render->add_option("--progress", r.progress, "auto, bar, json or none")
    ->check(CLI::IsMember({"auto", "bar", "json", "none"}));
  render->add_flag("--dry-run", r.dry_run, "print the resolved plan and render nothing");
  render->add_flag("--json", r.json, "print a machine-readable summary");
  render->add_flag("-f,--force", r.force, "replace an existing output file");
  render->add_flag("--resume", r.resume,
                   "continue an interrupted render of the same output from its last checkpoint");
  render->add_option("--diagnostics", r.diagnostics,
                     "write a report (JSON) of every failure, restart and quarantine to FILE")
    ->type_name("FILE");
  render
    ->add_option("--debug-kill", r.debug_kills,
                 "fault rehearsal: NAME@MS kills Pulse's actor NAME (session, media_pool, "
                 "resolver, signals, renderer) MS ms into the render; repeatable")
    ->type_name("NAME@MS")
    ->group("Debugging");
  render->add_flag("--allow-test-nodes", r.allow_test_nodes,
                   "accept test.fault nodes (fault injection) in the session");

  loophole::apps::analyse_options an;
  auto* analyse = app.add_subcommand(
    "analyse", "report the session's analysis regions: fresh, stale (invalidated) or unanalysed");
  analyse->add_option("SESSION", an.session, "session file (JSON, format v1)")->required();
  analyse->add_flag("--update", an.update,
                    "analyse the stale and unanalysed regions again and save the results "
                    "in the session file");
  analyse->add_flag("--json", an.json, "print the report as JSON");
  analyse->add_option("--config", an.config_file, "an extra configuration file (TOML)");

  bool print_effective = false;
  std::optional<std::string> config_file;
  auto* config = app.add_subcommand("config", "show the configuration");
  config->add_flag("--print-effective", print_effective,
                   "print the configuration after files and LOOPHOLE_* variables");
  config->add_option("--config", config_file, "an extra configuration file (TOML)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? EX_OK : EX_USAGE;
  }
  if (render->parsed())
    return loophole::apps::run_render(r);
  if (analyse->parsed())
    return loophole::apps::run_analyse(an);
  if (config->parsed()) {
    if (!print_effective) {
      std::fprintf(stderr, "loophole config: nothing to do (try --print-effective)\n");
      return EX_USAGE;
    }
    return run_config(print_effective, config_file);
  }
  return EX_USAGE;
}
