#pragma once

// The parameters each built-in node kind accepts, with their ranges. The
// graph validator and the documentation both read this table, so a node kind
// and its contract are declared in exactly one place.

#include <span>
#include <string_view>

#include "signal/render_graph.hpp"

namespace loophole::signal {

/// How a session writes a parameter, so that the timeline resolver can map a
/// session's processor onto a node generically (docs/node-graph.md).
enum class param_unit : uint8_t {
  plain,   ///< A number, stored as written.
  frames,  ///< A time value (samples, seconds or beats), resolved to frames.
  db,      ///< Decibels, stored as written.
  hz,      ///< Hertz, stored as written.
  choice,  ///< A name among `choices` ("a|b|c"), stored as its index.
  toggle,  ///< true or false, stored as 1 or 0.
};

/// A parameter a node kind accepts.
struct parameter_spec {
  std::string_view name;
  double min_value;
  double max_value;
  bool required;
  param_unit unit;
  bool automatable; ///< May follow an automation lane and modulators, per frame.
  std::string_view meaning;
  std::string_view choices; ///< For param_unit::choice: names separated by '|'.
};

/// The index of `name` among `spec.choices`, if it is one.
std::optional<double> parse_choice(const parameter_spec& spec, std::string_view name) noexcept;

/// Curve shapes of fades. Numbering is part of the wire format.
enum class fade_shape : uint8_t { linear = 0, equal_power = 1, exponential = 2, s_curve = 3 };

std::string_view to_string(fade_shape x) noexcept;

/// Parses a shape name ("linear", "equal_power", "exponential", "s_curve").
std::optional<fade_shape> parse_fade_shape(std::string_view name) noexcept;

/// What a test.fault node does once the timeline reaches its `at_frame`.
/// Numbering is part of the wire format.
enum class fault_mode : uint8_t {
  none = 0,           ///< Passes audio through (a placeholder).
  segv = 1,           ///< Raises SIGSEGV, as a wild pointer would.
  abort = 2,          ///< Calls abort(), as a failed assertion would.
  hang = 3,           ///< Never returns from processing.
  nan = 4,            ///< Writes NaN into its output at at_frame.
  leak = 5,           ///< Leaks block_bytes a block (touched) until leak_bytes in all.
  snapshot_crash = 6, ///< Raises SIGSEGV while its state is being snapshotted.
  exit = 7,           ///< Ends the process with exit status 3.
  slow = 8,           ///< Sleeps sleep_us a block: a slow node, to rehearse on long renders.
};

std::string_view to_string(fault_mode x) noexcept;

/// Parses a fault mode name ("segv", "abort", "hang", "nan", ...).
std::optional<fault_mode> parse_fault_mode(std::string_view name) noexcept;

/// Whether `param` of `kind` may change over time (an automation lane).
bool is_automatable(node_kind kind, std::string_view param) noexcept;

/// The parameters of `kind`.
std::span<const parameter_spec> parameters_of(node_kind kind) noexcept;

/// Sample encodings the output node produces.
enum class sample_encoding : uint8_t { float32 = 0, int32 = 1 };

} // namespace loophole::signal
