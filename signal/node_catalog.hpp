#pragma once

// The parameters each built-in node kind accepts, with their ranges. The
// graph validator and the documentation both read this table, so a node kind
// and its contract are declared in exactly one place.

#include <span>
#include <string_view>

#include "signal/render_graph.hpp"

namespace loophole::signal {

/// A parameter a node kind accepts.
struct parameter_spec {
  std::string_view name;
  double min_value;
  double max_value;
  bool required;
  std::string_view meaning;
};

/// Curve shapes of fades. Numbering is part of the wire format.
enum class fade_shape : uint8_t { linear = 0, equal_power = 1, exponential = 2, s_curve = 3 };

std::string_view to_string(fade_shape x) noexcept;

/// Parses a shape name ("linear", "equal_power", "exponential", "s_curve").
std::optional<fade_shape> parse_fade_shape(std::string_view name) noexcept;

/// The parameters of `kind`.
std::span<const parameter_spec> parameters_of(node_kind kind) noexcept;

/// Sample encodings the output node produces.
enum class sample_encoding : uint8_t { float32 = 0, int32 = 1 };

} // namespace loophole::signal
