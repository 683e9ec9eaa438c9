#pragma once

// `loophole analyse SESSION [--update]`: the state of the session's analysis
// regions (specification section 13) — fresh, stale (what the track plays
// there changed: a comp or an edit) or never analysed — and, with --update,
// the pre-analysis pass run again on the stale and new ones, their results
// and content hashes written back into the session file (atomically).

#include <optional>
#include <string>

namespace loophole::apps {

struct analyse_options {
  std::string session;
  std::optional<std::string> config_file;
  bool update = false;
  bool json = false;
};

/// Runs the command; returns the process exit code (sysexits): 0 when every
/// region is fresh (after --update), 1 when some are stale or unanalysed.
int run_analyse(const analyse_options& options);

} // namespace loophole::apps
