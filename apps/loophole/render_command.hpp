#pragma once

// `loophole render SESSION -o OUT`: the whole path from a session file to a
// mixdown on disk, through Pulse's actors and supervised Signal processes.

#include <optional>
#include <string>
#include <vector>

#include "apps/loophole/progress_printer.hpp"

namespace loophole::apps {

struct render_options {
  std::string session;
  std::string output;
  std::optional<std::string> format;
  std::optional<unsigned> bits;
  std::optional<unsigned> workers;
  std::vector<std::string> ranges; // several: one output each (-o has {index} or {range})
  std::optional<std::string> dither; // tpdf | none
  std::optional<uint64_t> dither_seed;
  std::optional<double> quality;
  std::optional<unsigned> oversample;
  std::optional<std::string> precision;
  std::optional<std::string> normalize;      // a preset or LUFS
  std::optional<double> true_peak_ceiling;   // dBTP, with normalize
  std::optional<std::string> config_file;
  std::string progress = "auto";
  bool dry_run = false;
  bool json = false;
  bool force = false;
  bool resume = false;
  bool allow_test_nodes = false;
  std::optional<std::string> diagnostics;
  /// Fault rehearsal: "NAME@MS" kills Pulse's actor NAME MS milliseconds
  /// into the render (its supervisor restarts it).
  std::vector<std::string> debug_kills;
};

/// Runs the command; returns the process exit code (sysexits).
int run_render(const render_options& options);

} // namespace loophole::apps
