// config/engine_config.hpp: the defaults, one TOML document applied over a configuration (every
// key, wrong types, ranges, unknown keys, syntax errors), the layering of load_config (files,
// then the environment, read through an injected lookup), and to_toml reading back as itself.

#define BOOST_TEST_MODULE config_engine_config
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <map>
#include <optional>
#include <regex>
#include <stdexcept>
#include <string>
#include <vector>

#include "config/engine_config.hpp"
#include "tests/support/temp_dir.hpp"

namespace fs = std::filesystem;
using loophole::config::apply_toml;
using loophole::config::config_error;
using loophole::config::config_report;
using loophole::config::engine_config;
using loophole::config::env_lookup;
using loophole::config::load_config;
using loophole::config::to_toml;

namespace {

const std::string system_file = "/etc/xdg/loophole/config.toml";

/// A folder of this suite's own.
class temp_dir : public loophole::test::temp_dir {
public:
  temp_dir() : loophole::test::temp_dir("engine-config-test") {}
};

/// An environment made of `vars` only.
env_lookup env_of(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end())
      return std::nullopt;
    return it->second;
  };
}

/// The sources load_config reports before the ones a test adds: the system-wide file, if this
/// machine happens to have one.
std::vector<std::string> system_sources() {
  if (fs::exists(system_file))
    return {system_file};
  return {};
}

/// `text` applied over the defaults, as "cfg.toml".
engine_config applied(const std::string& text, config_report& report) {
  engine_config cfg;
  apply_toml(cfg, text, "cfg.toml", report);
  return cfg;
}

/// apply_toml of `text` must throw a config_error whose message starts with `prefix` and
/// contains `reason`.
void expect_toml_error(const std::string& text, const std::string& prefix,
                       const std::string& reason) {
  BOOST_TEST_CONTEXT("toml:\n" << text) {
    engine_config cfg;
    config_report report;
    try {
      apply_toml(cfg, text, "cfg.toml", report);
      BOOST_ERROR("accepted; expected '" << prefix << "...'");
    } catch (const config_error& e) {
      const std::string what = e.what();
      BOOST_TEST(what.rfind(prefix, 0) == 0u,
                 "'" << what << "' does not start with '" << prefix << "'");
      BOOST_TEST(what.find(reason) != std::string::npos,
                 "'" << what << "' does not say '" << reason << "'");
    }
  }
}

/// load_config with the environment `vars` must throw a config_error naming `variable` and
/// saying `reason`.
void expect_env_error(const std::string& variable, const std::string& value,
                      const std::string& reason) {
  BOOST_TEST_CONTEXT(variable << "=" << value) {
    config_report report;
    try {
      load_config(std::nullopt, env_of({{variable, value}}), report);
      BOOST_ERROR("accepted");
    } catch (const config_error& e) {
      const std::string what = e.what();
      BOOST_TEST(what.rfind(variable + ": ", 0) == 0u, what);
      BOOST_TEST(what.find(reason) != std::string::npos,
                 "'" << what << "' does not say '" << reason << "'");
    }
  }
}

void expect_same(const engine_config& a, const engine_config& b) {
  BOOST_TEST(a.workers == b.workers);
  BOOST_TEST(a.segment_frames == b.segment_frames);
  BOOST_TEST(a.block_frames == b.block_frames);
  BOOST_TEST(a.segments_in_flight == b.segments_in_flight);
  BOOST_TEST(a.bits == b.bits);
  BOOST_TEST(a.dither == b.dither);
  BOOST_TEST(a.dither_seed == b.dither_seed);
  BOOST_TEST(a.vbr_quality == b.vbr_quality);
  BOOST_TEST(a.resample_quality == b.resample_quality);
  BOOST_TEST(a.decode_threads == b.decode_threads);
  BOOST_TEST(a.id_cache == b.id_cache);
  BOOST_TEST(a.executable == b.executable);
  BOOST_TEST(a.heartbeat_ms == b.heartbeat_ms);
  BOOST_TEST(a.heartbeat_timeout_ms == b.heartbeat_timeout_ms);
  BOOST_TEST(a.start_timeout_ms == b.start_timeout_ms);
  BOOST_TEST(a.max_restarts == b.max_restarts);
  BOOST_TEST(a.restart_period_ms == b.restart_period_ms);
}

/// A configuration where every field differs from its default.
engine_config everything_changed() {
  engine_config c;
  c.workers = 3;
  c.segment_frames = 8192;
  c.block_frames = 256;
  c.segments_in_flight = 8;
  c.bits = 16;
  c.dither = false;
  c.dither_seed = 123456789012345;
  c.vbr_quality = 0.25;
  c.resample_quality = "fastest";
  c.decode_threads = 5;
  c.id_cache = false;
  c.executable = "/opt/loophole/bin/loophole-signal";
  c.heartbeat_ms = 50;
  c.heartbeat_timeout_ms = 750;
  c.start_timeout_ms = 3000;
  c.max_restarts = 2;
  c.restart_period_ms = 60000;
  return c;
}

/// `cfg` printed by to_toml and read back over the defaults.
engine_config round_trip(const engine_config& cfg) {
  const auto text = to_toml(cfg);
  BOOST_TEST_MESSAGE("to_toml:\n" << text);
  config_report report;
  engine_config back;
  apply_toml(back, text, "effective.toml", report);
  BOOST_TEST(report.warnings.empty(), "warnings reading back: " << report.warnings.size());
  return back;
}

} // namespace

// -- defaults --------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(the_defaults_are_the_documented_ones) {
  const engine_config c;
  BOOST_TEST(c.workers == 0u);
  BOOST_TEST(c.segment_frames == 32768u);
  BOOST_TEST(c.block_frames == 1024u);
  BOOST_TEST(c.segments_in_flight == 4u);
  BOOST_TEST(c.bits == 24u);
  BOOST_TEST(c.dither);
  BOOST_TEST(c.dither_seed == 0u);
  BOOST_TEST(c.vbr_quality == 0.7);
  BOOST_TEST(c.resample_quality == "best");
  BOOST_TEST(c.decode_threads == 0u);
  BOOST_TEST(c.id_cache);
  BOOST_TEST(c.executable.empty());
  BOOST_TEST(c.heartbeat_ms == 200u);
  BOOST_TEST(c.heartbeat_timeout_ms == 10000u);
  BOOST_TEST(c.start_timeout_ms == 10000u);
  BOOST_TEST(c.max_restarts == 5u);
  BOOST_TEST(c.restart_period_ms == 10000u);
}

BOOST_AUTO_TEST_CASE(an_empty_environment_and_no_files_give_the_defaults) {
  config_report report;
  const auto cfg = load_config(std::nullopt, env_of({}), report);
  if (!fs::exists(system_file))
    expect_same(cfg, engine_config{});
  BOOST_TEST(report.sources == system_sources());
  BOOST_TEST(report.warnings.empty());
}

// -- apply_toml ------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(apply_toml_sets_every_key) {
  config_report report;
  const auto cfg = applied(R"(# every key, none at its default
[render]
workers = 3
segment_frames = 8192
block_frames = 256
segments_in_flight = 8

[output]
bits = 16
dither = false
dither_seed = 123456789012345
vbr_quality = 0.25

[media]
resample_quality = "fastest"
decode_threads = 5
id_cache = false

[signal]
executable = "/opt/loophole/bin/loophole-signal"
heartbeat_ms = 50
heartbeat_timeout_ms = 750
start_timeout_ms = 3000
max_restarts = 2
restart_period_ms = 60000
)",
                           report);
  expect_same(cfg, everything_changed());
  BOOST_TEST(report.sources == std::vector<std::string>{"cfg.toml"});
  BOOST_TEST(report.warnings.empty());
}

BOOST_AUTO_TEST_CASE(keys_left_out_keep_their_earlier_values) {
  engine_config cfg = everything_changed();
  config_report report;
  apply_toml(cfg, "[render]\nworkers = 9\n", "cfg.toml", report);
  auto expected = everything_changed();
  expected.workers = 9;
  expect_same(cfg, expected);
}

BOOST_AUTO_TEST_CASE(dotted_keys_and_inline_tables_are_the_same_keys) {
  config_report report;
  const auto cfg = applied("render.workers = 7\noutput = {bits = 0, dither = false}\n", report);
  BOOST_TEST(cfg.workers == 7u);
  BOOST_TEST(cfg.bits == 0u);
  BOOST_TEST(!cfg.dither);
  BOOST_TEST(report.warnings.empty());
}

BOOST_AUTO_TEST_CASE(an_integer_is_accepted_where_a_real_is_expected) {
  config_report report;
  BOOST_TEST(applied("[output]\nvbr_quality = 1\n", report).vbr_quality == 1.0);
  BOOST_TEST(applied("[output]\nvbr_quality = 0\n", report).vbr_quality == 0.0);
}

BOOST_AUTO_TEST_CASE(a_value_of_the_wrong_type_names_file_line_and_key) {
  // The key sits on line 3 behind a comment, so the line number is not a coincidence.
  auto at_line_3 = [](const std::string& section, const std::string& assignment) {
    return "# comment\n[" + section + "]\n" + assignment + "\n";
  };
  expect_toml_error(at_line_3("render", "workers = \"4\""),
                    "cfg.toml:3: render.workers: ", "must be an integer");
  expect_toml_error(at_line_3("render", "workers = 4.0"),
                    "cfg.toml:3: render.workers: ", "must be an integer");
  expect_toml_error(at_line_3("render", "segment_frames = true"),
                    "cfg.toml:3: render.segment_frames: ", "must be an integer");
  expect_toml_error(at_line_3("signal", "heartbeat_ms = [100]"),
                    "cfg.toml:3: signal.heartbeat_ms: ", "must be an integer");
  expect_toml_error(at_line_3("output", "dither = 1"),
                    "cfg.toml:3: output.dither: ", "must be true or false");
  expect_toml_error(at_line_3("output", "dither = \"true\""),
                    "cfg.toml:3: output.dither: ", "must be true or false");
  expect_toml_error(at_line_3("media", "id_cache = 0"),
                    "cfg.toml:3: media.id_cache: ", "must be true or false");
  expect_toml_error(at_line_3("output", "vbr_quality = \"high\""),
                    "cfg.toml:3: output.vbr_quality: ", "must be a number");
  expect_toml_error(at_line_3("output", "vbr_quality = true"),
                    "cfg.toml:3: output.vbr_quality: ", "must be a number");
  expect_toml_error(at_line_3("media", "resample_quality = 3"),
                    "cfg.toml:3: media.resample_quality: ", "must be a string");
  expect_toml_error(at_line_3("signal", "executable = false"),
                    "cfg.toml:3: signal.executable: ", "must be a string");
  expect_toml_error(at_line_3("signal", "max_restarts = 1979-05-27"),
                    "cfg.toml:3: signal.max_restarts: ", "must be an integer");
}

BOOST_AUTO_TEST_CASE(a_value_out_of_range_is_an_error) {
  struct bad {
    std::string section, assignment, key, reason;
  };
  const std::vector<bad> cases{
      {"render", "workers = 257", "render.workers", "257 is outside [0, 256]"},
      {"render", "workers = -1", "render.workers", "-1 is outside [0, 256]"},
      {"render", "segment_frames = 255", "render.segment_frames", "255 is outside [256, 4194304]"},
      {"render", "segment_frames = 4194305", "render.segment_frames", "is outside [256, 4194304]"},
      {"render", "block_frames = 0", "render.block_frames", "0 is outside [1, 65536]"},
      {"render", "segments_in_flight = 1", "render.segments_in_flight", "1 is outside [2, 64]"},
      {"render", "segments_in_flight = 65", "render.segments_in_flight", "65 is outside [2, 64]"},
      {"output", "bits = 33", "output.bits", "33 is outside [0, 32]"},
      {"output", "dither_seed = -1", "output.dither_seed", "is outside [0, 9007199254740992]"},
      {"output", "dither_seed = 9007199254740993", "output.dither_seed", "is outside"},
      {"output", "vbr_quality = 1.5", "output.vbr_quality", "is outside"},
      {"output", "vbr_quality = -0.1", "output.vbr_quality", "is outside"},
      {"output", "vbr_quality = nan", "output.vbr_quality", "is outside"},
      {"output", "vbr_quality = inf", "output.vbr_quality", "is outside"},
      {"media", "resample_quality = \"worst\"", "media.resample_quality",
       "\"worst\" is not one of best, medium, fastest"},
      {"media", "decode_threads = 65", "media.decode_threads", "65 is outside [0, 64]"},
      {"signal", "heartbeat_ms = 9", "signal.heartbeat_ms", "9 is outside [10, 60000]"},
      {"signal", "heartbeat_timeout_ms = 99", "signal.heartbeat_timeout_ms", "is outside"},
      {"signal", "start_timeout_ms = 600001", "signal.start_timeout_ms", "is outside"},
      {"signal", "max_restarts = 1001", "signal.max_restarts", "1001 is outside [0, 1000]"},
      {"signal", "restart_period_ms = 99", "signal.restart_period_ms", "is outside"},
      // Far outside the field's own type: refused, never wrapped.
      {"render", "workers = 4294967297", "render.workers", "is outside [0, 256]"},
  };
  for (const auto& c : cases)
    expect_toml_error("[" + c.section + "]\n" + c.assignment + "\n", "cfg.toml:2: " + c.key + ": ",
                      c.reason);
}

BOOST_AUTO_TEST_CASE(the_limits_of_each_range_are_accepted) {
  config_report report;
  const auto low = applied(R"([render]
workers = 0
segment_frames = 256
block_frames = 1
segments_in_flight = 2
[output]
bits = 0
dither_seed = 0
vbr_quality = 0.0
[media]
decode_threads = 0
[signal]
executable = ""
heartbeat_ms = 10
heartbeat_timeout_ms = 100
start_timeout_ms = 100
max_restarts = 0
restart_period_ms = 100
)",
                           report);
  BOOST_TEST(low.segment_frames == 256u);
  BOOST_TEST(low.block_frames == 1u);
  BOOST_TEST(low.max_restarts == 0u);
  const auto high = applied(R"([render]
workers = 256
segment_frames = 4194304
block_frames = 65536
segments_in_flight = 64
[output]
bits = 32
dither_seed = 9007199254740992
vbr_quality = 1.0
[media]
decode_threads = 64
[signal]
heartbeat_ms = 60000
heartbeat_timeout_ms = 600000
start_timeout_ms = 600000
max_restarts = 1000
restart_period_ms = 86400000
)",
                            report);
  BOOST_TEST(high.workers == 256u);
  BOOST_TEST(high.segment_frames == 4194304u);
  BOOST_TEST(high.dither_seed == 9007199254740992u);
  BOOST_TEST(high.restart_period_ms == 86400000u);
}

BOOST_AUTO_TEST_CASE(unknown_keys_are_warnings_not_errors) {
  config_report report;
  const auto cfg = applied(R"(verbose = true
[render]
workers = 2
threads = 8
[colour]
scheme = "dark"
[signal.extra]
x = 1
)",
                           report);
  BOOST_TEST(cfg.workers == 2u); // the known key beside them still applies
  BOOST_TEST(report.sources == std::vector<std::string>{"cfg.toml"});
  BOOST_TEST_REQUIRE(report.warnings.size() == 4u);
  auto warned = [&](const std::string& text) {
    for (const auto& w : report.warnings)
      if (w == text)
        return true;
    return false;
  };
  BOOST_TEST(warned("cfg.toml: unknown key 'verbose' (ignored)"));
  BOOST_TEST(warned("cfg.toml:4: render.threads: unknown key (ignored)"));
  BOOST_TEST(warned("cfg.toml:6: colour.scheme: unknown key (ignored)"));
  bool extra = false;
  for (const auto& w : report.warnings)
    extra = extra || w.find("signal.extra") != std::string::npos;
  BOOST_TEST(extra, "no warning names signal.extra");
}

BOOST_AUTO_TEST_CASE(a_toml_syntax_error_names_line_and_column) {
  const std::regex where{R"(^cfg\.toml:3:[0-9]+: .+)"};
  for (const std::string text : {"[render]\nworkers = 2\nsegment_frames = = 4\n",
                                 "[render]\n\n[render\n", "[render]\nworkers = 2\nworkers = 3\n",
                                 "[render]\n# fine\nblock_frames = \"unterminated\n"}) {
    BOOST_TEST_CONTEXT("toml:\n" << text) {
      engine_config cfg;
      config_report report;
      try {
        apply_toml(cfg, text, "cfg.toml", report);
        BOOST_ERROR("accepted");
      } catch (const config_error& e) {
        BOOST_TEST(std::regex_match(std::string{e.what()}, where), e.what());
      }
      BOOST_TEST(report.sources.empty());
    }
  }
}

// -- load_config -----------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(files_then_the_explicit_file_then_the_environment_each_override) {
  temp_dir dir;
  const auto user = dir.write("xdg/loophole/config.toml", R"([render]
workers = 2
segment_frames = 4096
block_frames = 512
[output]
bits = 16
)");
  const auto explicit_file = dir.write("explicit.toml", R"([render]
segment_frames = 8192
block_frames = 128
[output]
dither = false
)");
  config_report report;
  const auto cfg = load_config(explicit_file,
                               env_of({{"XDG_CONFIG_HOME", dir.str() + "/xdg"},
                                       {"HOME", dir.str() + "/home-not-used"},
                                       {"LOOPHOLE_RENDER_WORKERS", "6"},
                                       {"LOOPHOLE_RENDER_BLOCK_FRAMES", "64"},
                                       {"LOOPHOLE_OUTPUT_VBR_QUALITY", "0.25"}}),
                               report);
  BOOST_TEST(cfg.workers == 6u);              // user file, then the environment
  BOOST_TEST(cfg.segment_frames == 8192u);    // user file, then the explicit file
  BOOST_TEST(cfg.block_frames == 64u);        // all three, the environment last
  BOOST_TEST(cfg.bits == 16u);                // user file only
  BOOST_TEST(!cfg.dither);                    // explicit file only
  BOOST_TEST(cfg.vbr_quality == 0.25);        // environment only
  BOOST_TEST(cfg.resample_quality == "best"); // nobody
  auto expected = system_sources();
  for (const auto& s :
       {user, explicit_file, std::string{"LOOPHOLE_RENDER_WORKERS"},
        std::string{"LOOPHOLE_RENDER_BLOCK_FRAMES"}, std::string{"LOOPHOLE_OUTPUT_VBR_QUALITY"}})
    expected.push_back(s);
  BOOST_TEST(report.sources == expected, "sources in the order applied");
  BOOST_TEST(report.warnings.empty());
}

BOOST_AUTO_TEST_CASE(without_xdg_config_home_the_file_under_home_is_read) {
  temp_dir dir;
  const auto file = dir.write("home/.config/loophole/config.toml", "[render]\nworkers = 11\n");
  for (const auto& env : {env_of({{"HOME", dir.str() + "/home"}}),
                          env_of({{"HOME", dir.str() + "/home"}, {"XDG_CONFIG_HOME", ""}})}) {
    config_report report;
    const auto cfg = load_config(std::nullopt, env, report);
    BOOST_TEST(cfg.workers == 11u);
    auto expected = system_sources();
    expected.push_back(file);
    BOOST_TEST(report.sources == expected);
  }
}

BOOST_AUTO_TEST_CASE(a_missing_user_file_is_fine) {
  temp_dir dir;
  config_report report;
  const auto cfg =
      load_config(std::nullopt, env_of({{"XDG_CONFIG_HOME", dir.str() + "/nothing-here"}}), report);
  BOOST_TEST(report.sources == system_sources());
  if (!fs::exists(system_file))
    expect_same(cfg, engine_config{});
}

BOOST_AUTO_TEST_CASE(every_key_has_its_environment_variable) {
  temp_dir dir;
  config_report report;
  const auto cfg =
      load_config(std::nullopt,
                  env_of({{"XDG_CONFIG_HOME", dir.str()},
                          {"LOOPHOLE_RENDER_WORKERS", "3"},
                          {"LOOPHOLE_RENDER_SEGMENT_FRAMES", "8192"},
                          {"LOOPHOLE_RENDER_BLOCK_FRAMES", "256"},
                          {"LOOPHOLE_RENDER_SEGMENTS_IN_FLIGHT", "8"},
                          {"LOOPHOLE_OUTPUT_BITS", "16"},
                          {"LOOPHOLE_OUTPUT_DITHER", "no"},
                          {"LOOPHOLE_OUTPUT_DITHER_SEED", "123456789012345"},
                          {"LOOPHOLE_OUTPUT_VBR_QUALITY", "0.25"},
                          {"LOOPHOLE_MEDIA_RESAMPLE_QUALITY", "fastest"},
                          {"LOOPHOLE_MEDIA_DECODE_THREADS", "5"},
                          {"LOOPHOLE_MEDIA_ID_CACHE", "false"},
                          {"LOOPHOLE_SIGNAL_EXECUTABLE", "/opt/loophole/bin/loophole-signal"},
                          {"LOOPHOLE_SIGNAL_HEARTBEAT_MS", "50"},
                          {"LOOPHOLE_SIGNAL_HEARTBEAT_TIMEOUT_MS", "750"},
                          {"LOOPHOLE_SIGNAL_START_TIMEOUT_MS", "3000"},
                          {"LOOPHOLE_SIGNAL_MAX_RESTARTS", "2"},
                          {"LOOPHOLE_SIGNAL_RESTART_PERIOD_MS", "60000"}}),
                  report);
  expect_same(cfg, everything_changed());
  BOOST_TEST(report.sources.size() == system_sources().size() + 17u);
}

BOOST_AUTO_TEST_CASE(boolean_variables_take_true_false_1_0_yes_no) {
  for (const auto& [text, value] : std::vector<std::pair<std::string, bool>>{{"true", true},
                                                                             {"1", true},
                                                                             {"yes", true},
                                                                             {"false", false},
                                                                             {"0", false},
                                                                             {"no", false}}) {
    config_report report;
    const auto cfg = load_config(std::nullopt, env_of({{"LOOPHOLE_MEDIA_ID_CACHE", text}}), report);
    BOOST_TEST(cfg.id_cache == value, text);
  }
}

BOOST_AUTO_TEST_CASE(a_bad_environment_value_is_an_error_naming_the_variable) {
  expect_env_error("LOOPHOLE_RENDER_WORKERS", "four", "\"four\" is not an integer");
  expect_env_error("LOOPHOLE_RENDER_WORKERS", "4x", "\"4x\" is not an integer");
  expect_env_error("LOOPHOLE_RENDER_WORKERS", "", "\"\" is not an integer");
  expect_env_error("LOOPHOLE_RENDER_WORKERS", "4.5", "is not an integer");
  expect_env_error("LOOPHOLE_RENDER_WORKERS", "300", "300 is outside [0, 256]");
  expect_env_error("LOOPHOLE_RENDER_WORKERS", "-1", "-1 is outside [0, 256]");
  expect_env_error("LOOPHOLE_RENDER_WORKERS", "99999999999999999999", "is not an integer");
  expect_env_error("LOOPHOLE_OUTPUT_DITHER", "maybe", "\"maybe\" is not true or false");
  expect_env_error("LOOPHOLE_OUTPUT_VBR_QUALITY", "good", "\"good\" is not a number");
  expect_env_error("LOOPHOLE_OUTPUT_VBR_QUALITY", "0.5dB", "is not a number");
  expect_env_error("LOOPHOLE_OUTPUT_VBR_QUALITY", "2", "is outside");
  expect_env_error("LOOPHOLE_OUTPUT_VBR_QUALITY", "nan", "is outside");
  expect_env_error("LOOPHOLE_MEDIA_RESAMPLE_QUALITY", "worst",
                   "\"worst\" is not one of best, medium, fastest");
  expect_env_error("LOOPHOLE_SIGNAL_HEARTBEAT_MS", "5", "5 is outside [10, 60000]");
}

BOOST_AUTO_TEST_CASE(an_integer_variable_is_read_as_decimal) {
  // A user who writes LOOPHOLE_RENDER_WORKERS=010 means ten (TOML itself has no leading-zero
  // octal). Reading it as ten or refusing it are both fine; eight is not.
  config_report report;
  std::optional<uint32_t> workers;
  try {
    workers =
        load_config(std::nullopt, env_of({{"LOOPHOLE_RENDER_WORKERS", "010"}}), report).workers;
  } catch (const config_error&) {
  }
  // Regression (fixed): config/engine_config.cpp integer_key's parse calls std::stoll(text, &used, 0): base 0
  // reads a leading 0 as octal (and 0x as hex), so "010" becomes 8 workers.
  BOOST_TEST((!workers || *workers == 10u),
             "LOOPHOLE_RENDER_WORKERS=010 read as " << workers.value_or(0));
}

BOOST_AUTO_TEST_CASE(an_unreadable_explicit_file_is_an_error) {
  temp_dir dir;
  const auto missing = dir.str() + "/missing.toml";
  config_report report;
  try {
    load_config(missing, env_of({}), report);
    BOOST_ERROR("a missing --config file was accepted");
  } catch (const config_error& e) {
    BOOST_TEST(std::string{e.what()} == missing + ": no such file");
  }
}

BOOST_AUTO_TEST_CASE(an_explicit_file_that_is_a_directory_is_an_error) {
  temp_dir dir;
  config_report report;
  bool refused = false;
  try {
    load_config(dir.str(), env_of({}), report);
  } catch (const config_error& e) {
    refused = true;
    BOOST_TEST(std::string{e.what()}.find(dir.str()) != std::string::npos, e.what());
  }
  // Regression (fixed): config/engine_config.cpp load_config opens the path with std::ifstream, which opens a
  // directory without complaint; reading it yields "", an empty TOML document, so
  // `--config <dir>` is silently ignored (and reported as a source).
  BOOST_TEST(refused, "--config <directory> was accepted");
}

BOOST_AUTO_TEST_CASE(errors_in_a_file_name_that_file) {
  temp_dir dir;
  const auto user = dir.write("xdg/loophole/config.toml", "[render]\nworkers = \"all\"\n");
  config_report report;
  try {
    load_config(std::nullopt, env_of({{"XDG_CONFIG_HOME", dir.str() + "/xdg"}}), report);
    BOOST_ERROR("accepted");
  } catch (const config_error& e) {
    BOOST_TEST(std::string{e.what()} == user + ":2: render.workers: must be an integer");
  }
  const auto broken = dir.write("broken.toml", "[render\n");
  try {
    load_config(broken, env_of({}), report);
    BOOST_ERROR("accepted");
  } catch (const config_error& e) {
    BOOST_TEST(std::string{e.what()}.rfind(broken + ":1:", 0) == 0u, e.what());
  }
}

BOOST_AUTO_TEST_CASE(a_file_over_1_mib_is_refused) {
  temp_dir dir;
  const auto big = dir.write("big.toml", "# " + std::string((1u << 20) + 10u, 'x') + "\n");
  config_report report;
  try {
    load_config(big, env_of({}), report);
    BOOST_ERROR("accepted");
  } catch (const config_error& e) {
    BOOST_TEST(std::string{e.what()} == big + ": larger than 1 MiB");
  }
}

BOOST_AUTO_TEST_CASE(unknown_keys_in_files_reach_the_report) {
  temp_dir dir;
  const auto file = dir.write("c.toml", "[render]\nwokers = 4\n");
  config_report report;
  const auto cfg = load_config(file, env_of({}), report);
  BOOST_TEST(cfg.workers == 0u);
  BOOST_TEST_REQUIRE(report.warnings.size() == 1u);
  BOOST_TEST(report.warnings[0] == file + ":2: render.wokers: unknown key (ignored)");
}

// -- to_toml ---------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(to_toml_prints_every_section) {
  const auto text = to_toml(engine_config{});
  for (const std::string header : {"[render]\n", "[output]\n", "[media]\n", "[signal]\n"})
    BOOST_TEST(text.find(header) != std::string::npos, header);
  BOOST_TEST(text.find("workers = 0") != std::string::npos);
  BOOST_TEST(text.find("vbr_quality = 0.7") != std::string::npos);
  // A TOML string, in whichever quotes toml++ picks.
  BOOST_TEST((text.find("resample_quality = 'best'") != std::string::npos ||
              text.find("resample_quality = \"best\"") != std::string::npos));
}

BOOST_AUTO_TEST_CASE(to_toml_of_the_defaults_reads_back_as_the_defaults) {
  expect_same(round_trip(engine_config{}), engine_config{});
}

BOOST_AUTO_TEST_CASE(to_toml_of_a_changed_configuration_reads_back_as_itself) {
  const auto cfg = everything_changed();
  expect_same(round_trip(cfg), cfg);
}

BOOST_AUTO_TEST_CASE(to_toml_keeps_strings_that_need_escaping) {
  auto cfg = everything_changed();
  cfg.executable = "/opt/l\"o\\o p#h\u00f6le/\tsignal";
  expect_same(round_trip(cfg), cfg);
}

BOOST_AUTO_TEST_CASE(to_toml_keeps_every_digit_of_a_real) {
  for (double q : {0.1, 1.0 / 3.0, 0.123456789, 0.7000000000000001, 1e-9}) {
    auto cfg = everything_changed();
    cfg.vbr_quality = q;
    // Regression (fixed): config/engine_config.cpp real_key's `show` prints with the stream's default
    // precision (6 significant digits), so 1/3 comes back as 0.333333 and 0.123456789 as
    // 0.123457; it should print std::numeric_limits<double>::max_digits10 digits.
    const auto back = round_trip(cfg).vbr_quality;
    BOOST_TEST(back == q, std::setprecision(17) << "vbr_quality " << q << " came back as " << back);
  }
}
