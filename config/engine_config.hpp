#pragma once

// Configuration of the engine, layered: built-in defaults, then
// /etc/xdg/loophole/config.toml, then $XDG_CONFIG_HOME/loophole/config.toml
// (or ~/.config/...), then an explicit --config file, then LOOPHOLE_<SECTION>_<KEY>
// environment variables, then command-line flags (applied by the caller).
// Unknown keys give a warning; a wrong type or an out-of-range value is an
// error naming the file (or variable), the key and the reason.

#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace loophole::config {

struct engine_config {
  // [render]
  uint32_t workers = 0;            ///< Signal instances; 0: one per core.
  uint32_t segment_frames = 32768; ///< Frames per segment (the unit of work).
  uint32_t block_frames = 1024;    ///< Frames per node call inside a segment.
  uint32_t segments_in_flight = 4; ///< Bus slots: segments decoded/rendered/written at once.
  uint32_t checkpoint_ms = 250;    ///< Render time between checkpoints (0: every segment).
  std::string precision = "float"; ///< Sample type of the graph: float or double.
  // [output]
  uint32_t bits = 24;              ///< Default word length (0: float).
  bool dither = true;              ///< TPDF dither when reducing to <= 24-bit integer.
  uint64_t dither_seed = 0;        ///< 0: the fixed built-in seed.
  double vbr_quality = 0.7;        ///< Lossy codecs, 0 (smallest) .. 1 (best).
  // [media]
  std::string resample_quality = "best"; ///< best, medium or fastest.
  uint32_t decode_threads = 0;     ///< Threads streaming media; 0: one per core.
  bool id_cache = true;            ///< Remember content hashes and resamplings across runs.
  // [signal]
  std::string executable;          ///< loophole-signal; empty: beside loophole.
  uint32_t heartbeat_ms = 200;     ///< How often Signal's DSP loop reports.
  uint32_t heartbeat_timeout_ms = 10000; ///< Silence after which an instance is dead.
  uint32_t start_timeout_ms = 10000;     ///< Time an instance has to say hello.
  uint32_t max_restarts = 5;       ///< Restart intensity: at most this many ...
  uint32_t restart_period_ms = 10000; ///< ... within this period.
  uint32_t memory_limit_mb = 0;    ///< Address-space limit of an instance (0: none).
};

class config_error : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// Where configuration came from, and what was odd about it.
struct config_report {
  std::vector<std::string> sources;  ///< Files and variables applied, in order.
  std::vector<std::string> warnings; ///< Unknown keys and the like.
};

/// Reads a variable of the environment (injectable for tests).
using env_lookup = std::function<std::optional<std::string>(const std::string&)>;

/// The real process environment.
std::optional<std::string> process_env(const std::string& name);

/// Loads the layers above (but flags). Throws config_error.
engine_config load_config(const std::optional<std::string>& explicit_file, const env_lookup& env,
                          config_report& report);

/// Applies one TOML document (text, named `origin` in messages) over `cfg`.
/// Throws config_error.
void apply_toml(engine_config& cfg, const std::string& text, const std::string& origin,
                config_report& report);

/// The configuration as a TOML document (`loophole config --print-effective`).
std::string to_toml(const engine_config& cfg);

} // namespace loophole::config
