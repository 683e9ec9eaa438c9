#include "signal/node_catalog.hpp"

#include <array>
#include <limits>

namespace loophole::signal {

namespace {

constexpr double max_frames = 9.0e15; // well inside int64_t and exactly representable

constexpr std::array clip_source_params{
  parameter_spec{"gain", 0.0, 1000.0, false, param_unit::plain, true,
                 "linear clip gain", ""},
  parameter_spec{"fade_in_frames", 0.0, max_frames, false, param_unit::frames, false,
                 "length of the fade in", ""},
  parameter_spec{"fade_in_shape", 0.0, 3.0, false, param_unit::choice, false,
                 "shape of the fade in", "linear|equal_power|exponential|s_curve"},
  parameter_spec{"fade_out_frames", 0.0, max_frames, false, param_unit::frames, false,
                 "length of the fade out", ""},
  parameter_spec{"fade_out_shape", 0.0, 3.0, false, param_unit::choice, false,
                 "shape of the fade out", "linear|equal_power|exponential|s_curve"},
};
constexpr std::array gain_params{
  parameter_spec{"gain", 0.0, 1000.0, true, param_unit::plain, true,
                 "linear gain", ""},
};
constexpr std::array pan_params{
  parameter_spec{"position", -1.0, 1.0, true, param_unit::plain, true,
                 "-1 left, 0 centre, +1 right", ""},
  parameter_spec{"law", 0.0, 2.0, false, param_unit::choice, false,
                 "constant_power (-3 dB centre), linear (-6 dB centre) or balance (unity centre, one side attenuated)", "constant_power|linear|balance"},
  parameter_spec{"width", 0.0, 2.0, false, param_unit::plain, true,
                 "stereo width before panning: 0 mono, 1 unchanged, 2 doubled side", ""},
};
constexpr std::array delay_params{
  parameter_spec{"frames", 0.0, 2097152.0, true, param_unit::frames, false,
                 "delay time in frames (at most 2^21)", ""},
  parameter_spec{"feedback", 0.0, 0.99, false, param_unit::plain, true,
                 "share of the delayed signal fed back", ""},
  parameter_spec{"wet", 0.0, 1.0, false, param_unit::plain, true,
                 "level of the delayed signal (default 1)", ""},
  parameter_spec{"dry", 0.0, 1.0, false, param_unit::plain, true,
                 "level of the input (default 0)", ""},
};
constexpr std::array test_fault_params{
  parameter_spec{"mode", 0.0, 8.0, true, param_unit::plain, false,
                 "fault_mode: what happens at at_frame", ""},
  parameter_spec{"at_frame", 0.0, max_frames, false, param_unit::frames, false,
                 "timeline frame at which the fault fires", ""},
  parameter_spec{"leak_bytes", 0.0, 1099511627776.0, false, param_unit::plain, false,
                 "leak: bytes leaked in all (cap)", ""},
  parameter_spec{"block_bytes", 1.0, 1073741824.0, false, param_unit::plain, false,
                 "leak: bytes leaked per block", ""},
  parameter_spec{"sleep_us", 0.0, 1000000.0, false, param_unit::plain, false,
                 "slow: microseconds slept per block", ""},
};
constexpr std::array instrument_params{
  parameter_spec{"model", 0.0, 0.0, false, param_unit::plain, false,
                 "0: a polyphonic sine synth", ""},
  parameter_spec{"attack_frames", 0.0, 4194304.0, false, param_unit::frames, false,
                 "linear attack, in frames", ""},
  parameter_spec{"release_frames", 0.0, 4194304.0, false, param_unit::frames, false,
                 "linear release, in frames", ""},
  parameter_spec{"voices", 1.0, 256.0, false, param_unit::plain, false,
                 "notes sounding at once (default 32)", ""},
};
constexpr std::array output_params{
  parameter_spec{"bits", 0.0, 32.0, true, param_unit::plain, false,
                 "0: 32-bit float; 8, 16, 24 or 32: integer", ""},
  parameter_spec{"dither", 0.0, 1.0, false, param_unit::plain, false,
                 "1: TPDF dither (integer of 24 bits or less)", ""},
  parameter_spec{"dither_seed", 0.0, 9007199254740992.0, false, param_unit::plain, false,
                 "seed of the dither noise", ""},
};
constexpr std::array polarity_params{
  parameter_spec{"mask", 0.0, 4294967295.0, false, param_unit::plain, false,
                 "bit c set: channel c is inverted (default: every channel)", ""},
};
constexpr std::array eq_params{
  parameter_spec{"b1_type", 0.0, 7.0, false, param_unit::choice, false,
                 "band 1: filter type (absent: the band is off)", "peak|low_pass|high_pass|band_pass|notch|low_shelf|high_shelf|all_pass"},
  parameter_spec{"b1_freq", 1.0, 384000.0, false, param_unit::hz, true,
                 "band 1: centre or corner frequency (clamped to 0.49 x the rate)", ""},
  parameter_spec{"b1_gain_db", -48.0, 48.0, false, param_unit::db, true,
                 "band 1: gain of peak and shelf bands", ""},
  parameter_spec{"b1_q", 0.025, 100.0, false, param_unit::plain, true,
                 "band 1: Q (default 0.7071; shelves: slope S = 1 unless Q is given)", ""},
  parameter_spec{"b1_bw", 0.0, 10.0, false, param_unit::plain, true,
                 "band 1: bandwidth in octaves, replacing Q (peak, band_pass, notch, all_pass)", ""},
  parameter_spec{"b2_type", 0.0, 7.0, false, param_unit::choice, false,
                 "band 2: filter type (absent: the band is off)", "peak|low_pass|high_pass|band_pass|notch|low_shelf|high_shelf|all_pass"},
  parameter_spec{"b2_freq", 1.0, 384000.0, false, param_unit::hz, true,
                 "band 2: centre or corner frequency (clamped to 0.49 x the rate)", ""},
  parameter_spec{"b2_gain_db", -48.0, 48.0, false, param_unit::db, true,
                 "band 2: gain of peak and shelf bands", ""},
  parameter_spec{"b2_q", 0.025, 100.0, false, param_unit::plain, true,
                 "band 2: Q (default 0.7071; shelves: slope S = 1 unless Q is given)", ""},
  parameter_spec{"b2_bw", 0.0, 10.0, false, param_unit::plain, true,
                 "band 2: bandwidth in octaves, replacing Q (peak, band_pass, notch, all_pass)", ""},
  parameter_spec{"b3_type", 0.0, 7.0, false, param_unit::choice, false,
                 "band 3: filter type (absent: the band is off)", "peak|low_pass|high_pass|band_pass|notch|low_shelf|high_shelf|all_pass"},
  parameter_spec{"b3_freq", 1.0, 384000.0, false, param_unit::hz, true,
                 "band 3: centre or corner frequency (clamped to 0.49 x the rate)", ""},
  parameter_spec{"b3_gain_db", -48.0, 48.0, false, param_unit::db, true,
                 "band 3: gain of peak and shelf bands", ""},
  parameter_spec{"b3_q", 0.025, 100.0, false, param_unit::plain, true,
                 "band 3: Q (default 0.7071; shelves: slope S = 1 unless Q is given)", ""},
  parameter_spec{"b3_bw", 0.0, 10.0, false, param_unit::plain, true,
                 "band 3: bandwidth in octaves, replacing Q (peak, band_pass, notch, all_pass)", ""},
  parameter_spec{"b4_type", 0.0, 7.0, false, param_unit::choice, false,
                 "band 4: filter type (absent: the band is off)", "peak|low_pass|high_pass|band_pass|notch|low_shelf|high_shelf|all_pass"},
  parameter_spec{"b4_freq", 1.0, 384000.0, false, param_unit::hz, true,
                 "band 4: centre or corner frequency (clamped to 0.49 x the rate)", ""},
  parameter_spec{"b4_gain_db", -48.0, 48.0, false, param_unit::db, true,
                 "band 4: gain of peak and shelf bands", ""},
  parameter_spec{"b4_q", 0.025, 100.0, false, param_unit::plain, true,
                 "band 4: Q (default 0.7071; shelves: slope S = 1 unless Q is given)", ""},
  parameter_spec{"b4_bw", 0.0, 10.0, false, param_unit::plain, true,
                 "band 4: bandwidth in octaves, replacing Q (peak, band_pass, notch, all_pass)", ""},
  parameter_spec{"b5_type", 0.0, 7.0, false, param_unit::choice, false,
                 "band 5: filter type (absent: the band is off)", "peak|low_pass|high_pass|band_pass|notch|low_shelf|high_shelf|all_pass"},
  parameter_spec{"b5_freq", 1.0, 384000.0, false, param_unit::hz, true,
                 "band 5: centre or corner frequency (clamped to 0.49 x the rate)", ""},
  parameter_spec{"b5_gain_db", -48.0, 48.0, false, param_unit::db, true,
                 "band 5: gain of peak and shelf bands", ""},
  parameter_spec{"b5_q", 0.025, 100.0, false, param_unit::plain, true,
                 "band 5: Q (default 0.7071; shelves: slope S = 1 unless Q is given)", ""},
  parameter_spec{"b5_bw", 0.0, 10.0, false, param_unit::plain, true,
                 "band 5: bandwidth in octaves, replacing Q (peak, band_pass, notch, all_pass)", ""},
  parameter_spec{"b6_type", 0.0, 7.0, false, param_unit::choice, false,
                 "band 6: filter type (absent: the band is off)", "peak|low_pass|high_pass|band_pass|notch|low_shelf|high_shelf|all_pass"},
  parameter_spec{"b6_freq", 1.0, 384000.0, false, param_unit::hz, true,
                 "band 6: centre or corner frequency (clamped to 0.49 x the rate)", ""},
  parameter_spec{"b6_gain_db", -48.0, 48.0, false, param_unit::db, true,
                 "band 6: gain of peak and shelf bands", ""},
  parameter_spec{"b6_q", 0.025, 100.0, false, param_unit::plain, true,
                 "band 6: Q (default 0.7071; shelves: slope S = 1 unless Q is given)", ""},
  parameter_spec{"b6_bw", 0.0, 10.0, false, param_unit::plain, true,
                 "band 6: bandwidth in octaves, replacing Q (peak, band_pass, notch, all_pass)", ""},
  parameter_spec{"b7_type", 0.0, 7.0, false, param_unit::choice, false,
                 "band 7: filter type (absent: the band is off)", "peak|low_pass|high_pass|band_pass|notch|low_shelf|high_shelf|all_pass"},
  parameter_spec{"b7_freq", 1.0, 384000.0, false, param_unit::hz, true,
                 "band 7: centre or corner frequency (clamped to 0.49 x the rate)", ""},
  parameter_spec{"b7_gain_db", -48.0, 48.0, false, param_unit::db, true,
                 "band 7: gain of peak and shelf bands", ""},
  parameter_spec{"b7_q", 0.025, 100.0, false, param_unit::plain, true,
                 "band 7: Q (default 0.7071; shelves: slope S = 1 unless Q is given)", ""},
  parameter_spec{"b7_bw", 0.0, 10.0, false, param_unit::plain, true,
                 "band 7: bandwidth in octaves, replacing Q (peak, band_pass, notch, all_pass)", ""},
  parameter_spec{"b8_type", 0.0, 7.0, false, param_unit::choice, false,
                 "band 8: filter type (absent: the band is off)", "peak|low_pass|high_pass|band_pass|notch|low_shelf|high_shelf|all_pass"},
  parameter_spec{"b8_freq", 1.0, 384000.0, false, param_unit::hz, true,
                 "band 8: centre or corner frequency (clamped to 0.49 x the rate)", ""},
  parameter_spec{"b8_gain_db", -48.0, 48.0, false, param_unit::db, true,
                 "band 8: gain of peak and shelf bands", ""},
  parameter_spec{"b8_q", 0.025, 100.0, false, param_unit::plain, true,
                 "band 8: Q (default 0.7071; shelves: slope S = 1 unless Q is given)", ""},
  parameter_spec{"b8_bw", 0.0, 10.0, false, param_unit::plain, true,
                 "band 8: bandwidth in octaves, replacing Q (peak, band_pass, notch, all_pass)", ""},
  parameter_spec{"oversample", 1.0, 8.0, false, param_unit::plain, false,
                 "1, 2, 4 or 8: run the node at that multiple of the rate", ""},
};
constexpr std::array compressor_params{
  parameter_spec{"threshold_db", -96.0, 0.0, false, param_unit::db, true,
                 "level above which gain is reduced (default -24)", ""},
  parameter_spec{"ratio", 1.0, 100.0, false, param_unit::plain, true,
                 "input dB over output dB above the threshold (default 4)", ""},
  parameter_spec{"knee_db", 0.0, 48.0, false, param_unit::db, true,
                 "width of the soft knee, centred on the threshold (default 0)", ""},
  parameter_spec{"attack_frames", 0.0, 4194304.0, false, param_unit::frames, false,
                 "time constant of the gain reduction rising (one pole in dB; 0: instant)", ""},
  parameter_spec{"release_frames", 0.0, 4194304.0, false, param_unit::frames, false,
                 "time constant of the gain reduction falling (one pole in dB; 0: instant)", ""},
  parameter_spec{"detector", 0.0, 1.0, false, param_unit::choice, false,
                 "peak or rms level detection", "peak|rms"},
  parameter_spec{"rms_frames", 1.0, 1048576.0, false, param_unit::frames, false,
                 "rms: length of the averaging window (default 1)", ""},
  parameter_spec{"lookahead_frames", 0.0, 1048576.0, false, param_unit::frames, false,
                 "the signal is delayed this much behind the detector (reported latency)", ""},
  parameter_spec{"makeup_db", -48.0, 48.0, false, param_unit::db, true,
                 "gain after compression", ""},
  parameter_spec{"link", 0.0, 1.0, false, param_unit::toggle, false,
                 "1: one gain for all channels, from the loudest (default 1)", ""},
  parameter_spec{"mix", 0.0, 1.0, false, param_unit::plain, true,
                 "share of the compressed signal (parallel compression; default 1)", ""},
  parameter_spec{"oversample", 1.0, 8.0, false, param_unit::plain, false,
                 "1, 2, 4 or 8: run the node at that multiple of the rate", ""},
};
constexpr std::array limiter_params{
  parameter_spec{"ceiling_db", -48.0, 0.0, false, param_unit::db, true,
                 "the output never exceeds this level (default -1)", ""},
  parameter_spec{"release_frames", 0.0, 4194304.0, false, param_unit::frames, false,
                 "time constant of the gain recovering (exponential; 0: instant)", ""},
  parameter_spec{"lookahead_frames", 0.0, 1048576.0, false, param_unit::frames, false,
                 "lookahead (reported latency, plus 12 frames with true_peak); default 5 ms of frames set by the resolver", ""},
  parameter_spec{"true_peak", 0.0, 1.0, false, param_unit::toggle, false,
                 "1: the ceiling holds for inter-sample peaks (BS.1770 4x oversampled)", ""},
  parameter_spec{"link", 0.0, 1.0, false, param_unit::toggle, false,
                 "1: one gain for all channels (default 1)", ""},
};
constexpr std::array gate_params{
  parameter_spec{"threshold_db", -144.0, 0.0, false, param_unit::db, true,
                 "below this level the signal is attenuated (default -60)", ""},
  parameter_spec{"ratio", 1.0, 1000.0, false, param_unit::plain, true,
                 "expansion ratio below the threshold (1000: a gate; default 1000)", ""},
  parameter_spec{"range_db", -144.0, 0.0, false, param_unit::db, true,
                 "the most attenuation (default -144)", ""},
  parameter_spec{"attack_frames", 0.0, 4194304.0, false, param_unit::frames, false,
                 "time constant of opening", ""},
  parameter_spec{"hold_frames", 0.0, 4194304.0, false, param_unit::frames, false,
                 "how long it stays open after the level falls (then it releases)", ""},
  parameter_spec{"release_frames", 0.0, 4194304.0, false, param_unit::frames, false,
                 "time constant of closing", ""},
  parameter_spec{"oversample", 1.0, 8.0, false, param_unit::plain, false,
                 "1, 2, 4 or 8: run the node at that multiple of the rate", ""},
};
constexpr std::array saturation_params{
  parameter_spec{"drive_db", 0.0, 48.0, false, param_unit::db, true,
                 "gain before the curve", ""},
  parameter_spec{"curve", 0.0, 2.0, false, param_unit::choice, false,
                 "tanh, cubic (soft clip) or hard (clip at 1)", "tanh|cubic|hard"},
  parameter_spec{"mix", 0.0, 1.0, false, param_unit::plain, true,
                 "share of the saturated signal (default 1)", ""},
  parameter_spec{"output_db", -48.0, 24.0, false, param_unit::db, true,
                 "gain after the curve", ""},
  parameter_spec{"oversample", 1.0, 8.0, false, param_unit::plain, false,
                 "1, 2, 4 or 8: run the node at that multiple of the rate", ""},
};
constexpr std::array convolution_params{
  parameter_spec{"wet", 0.0, 4.0, false, param_unit::plain, true,
                 "level of the convolved signal (default 1)", ""},
  parameter_spec{"dry", 0.0, 4.0, false, param_unit::plain, true,
                 "level of the input (default 0)", ""},
  parameter_spec{"partition_frames", 32.0, 65536.0, false, param_unit::plain, false,
                 "FFT partition size, a power of two (default 1024)", ""},
};
constexpr std::array<parameter_spec, 0> meter_params{};
constexpr std::array sampler_params{
  parameter_spec{"root_key", 0.0, 127.0, false, param_unit::plain, false,
                 "the MIDI key that plays the media at its own pitch (default 60)", ""},
  parameter_spec{"attack_frames", 0.0, 4194304.0, false, param_unit::frames, false,
                 "linear attack", ""},
  parameter_spec{"release_frames", 0.0, 4194304.0, false, param_unit::frames, false,
                 "linear release", ""},
  parameter_spec{"voices", 1.0, 256.0, false, param_unit::plain, false,
                 "notes sounding at once (default 32)", ""},
};
constexpr std::array synth_params{
  parameter_spec{"waveform", 0.0, 3.0, false, param_unit::choice, false,
                 "oscillator wave (band-limited; default saw)", "saw|square|triangle|sine"},
  parameter_spec{"osc2_semitones", -48.0, 48.0, false, param_unit::plain, true,
                 "pitch of the second oscillator", ""},
  parameter_spec{"osc_mix", 0.0, 1.0, false, param_unit::plain, true,
                 "level of the second oscillator against the first (default 0)", ""},
  parameter_spec{"detune_cents", 0.0, 100.0, false, param_unit::plain, true,
                 "detune of the second oscillator", ""},
  parameter_spec{"cutoff_hz", 20.0, 20000.0, false, param_unit::hz, true,
                 "low-pass cutoff (default 20000)", ""},
  parameter_spec{"resonance", 0.0, 1.0, false, param_unit::plain, true,
                 "low-pass resonance (1: self-oscillation)", ""},
  parameter_spec{"filter_env_octaves", -10.0, 10.0, false, param_unit::plain, true,
                 "cutoff moved by the filter envelope at its peak", ""},
  parameter_spec{"attack_frames", 0.0, 4194304.0, false, param_unit::frames, false,
                 "amplitude envelope", ""},
  parameter_spec{"decay_frames", 0.0, 4194304.0, false, param_unit::frames, false,
                 "amplitude envelope", ""},
  parameter_spec{"sustain", 0.0, 1.0, false, param_unit::plain, false,
                 "amplitude envelope", ""},
  parameter_spec{"release_frames", 0.0, 4194304.0, false, param_unit::frames, false,
                 "amplitude envelope", ""},
  parameter_spec{"filter_attack_frames", 0.0, 4194304.0, false, param_unit::frames, false,
                 "filter envelope", ""},
  parameter_spec{"filter_decay_frames", 0.0, 4194304.0, false, param_unit::frames, false,
                 "filter envelope", ""},
  parameter_spec{"filter_sustain", 0.0, 1.0, false, param_unit::plain, false,
                 "filter envelope", ""},
  parameter_spec{"filter_release_frames", 0.0, 4194304.0, false, param_unit::frames, false,
                 "filter envelope", ""},
  parameter_spec{"voices", 1.0, 256.0, false, param_unit::plain, false,
                 "notes sounding at once (default 16)", ""},
};
constexpr std::array surround_pan_params{
  parameter_spec{"azimuth_deg", -180.0, 180.0, false, param_unit::plain, true,
                 "direction: 0 front centre, -30 front left, +30 front right, +-180 behind", ""},
  parameter_spec{"elevation_deg", 0.0, 90.0, false, param_unit::plain, true,
                 "7.1.4: 0 the ear layer, 90 the height layer", ""},
  parameter_spec{"spread", 0.0, 1.0, false, param_unit::plain, true,
                 "a stereo input: 0 both sides at the azimuth, 1 sides 60 degrees apart", ""},
  parameter_spec{"lfe", 0.0, 1.0, false, param_unit::plain, true,
                 "share sent to the LFE channel (default 0)", ""},
};
constexpr std::array fold_down_params{
  parameter_spec{"center_db", -144.0, 0.0, false, param_unit::db, false,
                 "centre into left and right (default -3)", ""},
  parameter_spec{"surround_db", -144.0, 0.0, false, param_unit::db, false,
                 "surrounds (and heights) into their side (default -3)", ""},
  parameter_spec{"lfe_db", -144.0, 12.0, false, param_unit::db, false,
                 "LFE into left and right (default: left out, -144)", ""},
  parameter_spec{"normalise", 0.0, 1.0, false, param_unit::toggle, false,
                 "1: scale so that the fold-down cannot clip", ""},
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

std::optional<double> parse_choice(const parameter_spec& spec, std::string_view name) noexcept {
  std::string_view rest = spec.choices;
  double index = 0;
  while (!rest.empty()) {
    const auto bar = rest.find('|');
    if (rest.substr(0, bar) == name)
      return index;
    if (bar == std::string_view::npos)
      break;
    rest.remove_prefix(bar + 1);
    index += 1;
  }
  return std::nullopt;
}

bool is_automatable(node_kind kind, std::string_view param) noexcept {
  for (const auto& spec : parameters_of(kind))
    if (spec.name == param)
      return spec.automatable;
  return false;
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
    case node_kind::polarity:
      return polarity_params;
    case node_kind::eq:
      return eq_params;
    case node_kind::compressor:
      return compressor_params;
    case node_kind::limiter:
      return limiter_params;
    case node_kind::gate:
      return gate_params;
    case node_kind::saturation:
      return saturation_params;
    case node_kind::convolution:
      return convolution_params;
    case node_kind::meter:
      return meter_params;
    case node_kind::sampler:
      return sampler_params;
    case node_kind::synth:
      return synth_params;
    case node_kind::surround_pan:
      return surround_pan_params;
    case node_kind::fold_down:
      return fold_down_params;
    case node_kind::mix:
      return {};
  }
  return {};
}

} // namespace loophole::signal
