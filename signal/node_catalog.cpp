#include "signal/node_catalog.hpp"

#include <array>
#include <limits>

namespace loophole::signal {

namespace {

constexpr double max_frames = 9.0e15; // well inside int64_t and exactly representable

constexpr std::array clip_source_params{
  parameter_spec{"gain", 0.0, 1.0e3, false, "linear clip gain"},
  parameter_spec{"fade_in_frames", 0.0, max_frames, false, "length of the fade in"},
  parameter_spec{"fade_in_shape", 0.0, 3.0, false, "fade_shape of the fade in"},
  parameter_spec{"fade_out_frames", 0.0, max_frames, false, "length of the fade out"},
  parameter_spec{"fade_out_shape", 0.0, 3.0, false, "fade_shape of the fade out"},
};
constexpr std::array gain_params{
  parameter_spec{"gain", 0.0, 1.0e3, true, "linear gain"},
};
constexpr std::array pan_params{
  parameter_spec{"position", -1.0, 1.0, true, "-1 left, 0 centre, +1 right"},
};
constexpr std::array delay_params{
  parameter_spec{"frames", 0.0, 2097152.0, true, "delay time in frames (at most 2^21)"},
  parameter_spec{"feedback", 0.0, 0.99, false, "share of the delayed signal fed back"},
  parameter_spec{"wet", 0.0, 1.0, false, "level of the delayed signal (default 1)"},
  parameter_spec{"dry", 0.0, 1.0, false, "level of the input (default 0)"},
};
constexpr std::array test_fault_params{
  parameter_spec{"mode", 0.0, 8.0, true, "fault_mode: what happens at at_frame"},
  parameter_spec{"at_frame", 0.0, max_frames, false, "timeline frame at which the fault fires"},
  parameter_spec{"leak_bytes", 0.0, 1099511627776.0, false, "leak: bytes leaked in all (cap)"},
  parameter_spec{"block_bytes", 1.0, 1073741824.0, false, "leak: bytes leaked per block"},
  parameter_spec{"sleep_us", 0.0, 1.0e6, false, "slow: microseconds slept per block"},
};
constexpr std::array instrument_params{
  parameter_spec{"model", 0.0, 0.0, false, "0: a polyphonic sine synth"},
  parameter_spec{"attack_frames", 0.0, 4194304.0, false, "linear attack, in frames"},
  parameter_spec{"release_frames", 0.0, 4194304.0, false, "linear release, in frames"},
  parameter_spec{"voices", 1.0, 256.0, false, "notes sounding at once (default 32)"},
};
constexpr std::array output_params{
  parameter_spec{"bits", 0.0, 32.0, true, "0: 32-bit float; 8, 16, 24 or 32: integer"},
  parameter_spec{"dither", 0.0, 1.0, false, "1: TPDF dither (integer of 24 bits or less)"},
  parameter_spec{"dither_seed", 0.0, 9007199254740992.0, false, "seed of the dither noise"},
};

} // namespace

std::string_view to_string(fade_shape x) noexcept {
  switch (x) {
    case fade_shape::linear:
      return "linear";
    case fade_shape::equal_power:
      return "equal_power";
    case fade_shape::exponential:
      return "exponential";
    case fade_shape::s_curve:
      return "s_curve";
  }
  return "unknown";
}

std::optional<fade_shape> parse_fade_shape(std::string_view name) noexcept {
  for (auto x : {fade_shape::linear, fade_shape::equal_power, fade_shape::exponential,
                 fade_shape::s_curve})
    if (to_string(x) == name)
      return x;
  return std::nullopt;
}

std::string_view to_string(fault_mode x) noexcept {
  switch (x) {
    case fault_mode::none:
      return "none";
    case fault_mode::segv:
      return "segv";
    case fault_mode::abort:
      return "abort";
    case fault_mode::hang:
      return "hang";
    case fault_mode::nan:
      return "nan";
    case fault_mode::leak:
      return "leak";
    case fault_mode::snapshot_crash:
      return "snapshot_crash";
    case fault_mode::exit:
      return "exit";
    case fault_mode::slow:
      return "slow";
  }
  return "unknown";
}

std::optional<fault_mode> parse_fault_mode(std::string_view name) noexcept {
  for (uint8_t i = 0; i <= static_cast<uint8_t>(fault_mode::slow); ++i)
    if (to_string(static_cast<fault_mode>(i)) == name)
      return static_cast<fault_mode>(i);
  return std::nullopt;
}

bool is_automatable(node_kind kind, std::string_view param) noexcept {
  return ((kind == node_kind::gain || kind == node_kind::clip_source) && param == "gain") ||
         (kind == node_kind::pan && param == "position");
}

std::span<const parameter_spec> parameters_of(node_kind kind) noexcept {
  switch (kind) {
    case node_kind::clip_source:
      return clip_source_params;
    case node_kind::gain:
      return gain_params;
    case node_kind::pan:
      return pan_params;
    case node_kind::output:
      return output_params;
    case node_kind::delay:
      return delay_params;
    case node_kind::test_fault:
      return test_fault_params;
    case node_kind::instrument:
      return instrument_params;
    case node_kind::mix:
      return {};
  }
  return {};
}

} // namespace loophole::signal
