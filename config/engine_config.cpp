#include "config/engine_config.hpp"

#include <cstdlib>
#include <filesystem>
#include <charconv>
#include <fstream>
#include <limits>
#include <sstream>
#include <toml++/toml.h>

namespace loophole::config {

namespace {

// One configurable key: where it lives, and how to read, check and print it.
struct key_spec {
  const char* section;
  const char* key;
  const char* help;
  std::function<void(engine_config&, const toml::node&, const std::string& where)> set;
  std::function<void(engine_config&, const std::string& text, const std::string& where)> parse;
  std::function<std::string(const engine_config&)> show;
};

template <class Int>
key_spec integer_key(const char* section, const char* key, const char* help, Int engine_config::*m,
                     int64_t lo, int64_t hi) {
  auto check = [=](int64_t v, const std::string& where) {
    if (v < lo || v > hi)
      throw config_error(where + ": " + std::to_string(v) + " is outside [" + std::to_string(lo) +
                         ", " + std::to_string(hi) + "]");
    return static_cast<Int>(v);
  };
  return {section, key, help,
          [=](engine_config& c, const toml::node& n, const std::string& where) {
            auto v = n.value_exact<int64_t>();
            if (!v)
              throw config_error(where + ": must be an integer");
            c.*m = check(*v, where);
          },
          [=](engine_config& c, const std::string& text, const std::string& where) {
            size_t used = 0;
            int64_t v = 0;
            try {
              v = std::stoll(text, &used, 10); // "010" is ten, not eight
            } catch (...) {
              used = 0;
            }
            if (used == 0 || used != text.size())
              throw config_error(where + ": \"" + text + "\" is not an integer");
            c.*m = check(v, where);
          },
          [=](const engine_config& c) { return std::to_string(c.*m); }};
}

key_spec real_key(const char* section, const char* key, const char* help,
                  double engine_config::*m, double lo, double hi) {
  auto check = [=](double v, const std::string& where) {
    if (!(v >= lo && v <= hi))
      throw config_error(where + ": " + std::to_string(v) + " is outside [" + std::to_string(lo) +
                         ", " + std::to_string(hi) + "]");
    return v;
  };
  return {section, key, help,
          [=](engine_config& c, const toml::node& n, const std::string& where) {
            auto v = n.value<double>();
            if (!v || !(n.is_floating_point() || n.is_integer()))
              throw config_error(where + ": must be a number");
            c.*m = check(*v, where);
          },
          [=](engine_config& c, const std::string& text, const std::string& where) {
            size_t used = 0;
            double v = 0;
            try {
              v = std::stod(text, &used);
            } catch (...) {
              used = 0;
            }
            if (used == 0 || used != text.size())
              throw config_error(where + ": \"" + text + "\" is not a number");
            c.*m = check(v, where);
          },
          [=](const engine_config& c) {
            // The shortest text that reads back as the same double.
            char buf[64];
            auto [end, ec] = std::to_chars(buf, buf + sizeof buf, c.*m);
            std::string s(buf, ec == std::errc{} ? end : buf);
            return s.find_first_of(".e") == std::string::npos ? s + ".0" : s;
          }};
}

key_spec bool_key(const char* section, const char* key, const char* help, bool engine_config::*m) {
  return {section, key, help,
          [=](engine_config& c, const toml::node& n, const std::string& where) {
            auto v = n.value_exact<bool>();
            if (!v)
              throw config_error(where + ": must be true or false");
            c.*m = *v;
          },
          [=](engine_config& c, const std::string& text, const std::string& where) {
            if (text == "true" || text == "1" || text == "yes")
              c.*m = true;
            else if (text == "false" || text == "0" || text == "no")
              c.*m = false;
            else
              throw config_error(where + ": \"" + text + "\" is not true or false");
          },
          [=](const engine_config& c) { return std::string{c.*m ? "true" : "false"}; }};
}

key_spec string_key(const char* section, const char* key, const char* help,
                    std::string engine_config::*m, std::vector<std::string> allowed) {
  auto check = [=](const std::string& v, const std::string& where) {
    if (allowed.empty())
      return v;
    for (const auto& a : allowed)
      if (a == v)
        return v;
    std::string list;
    for (const auto& a : allowed)
      list += (list.empty() ? "" : ", ") + a;
    throw config_error(where + ": \"" + v + "\" is not one of " + list);
  };
  return {section, key, help,
          [=](engine_config& c, const toml::node& n, const std::string& where) {
            auto v = n.value_exact<std::string>();
            if (!v)
              throw config_error(where + ": must be a string");
            c.*m = check(*v, where);
          },
          [=](engine_config& c, const std::string& text, const std::string& where) {
            c.*m = check(text, where);
          },
          [=](const engine_config& c) {
            std::ostringstream os;
            os << toml::value<std::string>(c.*m);
            return os.str();
          }};
}

const std::vector<key_spec>& keys() {
  static const std::vector<key_spec> table{
    integer_key("render", "workers", "Signal instances (0: one per core)", &engine_config::workers,
                0, 256),
    integer_key("render", "segment_frames", "frames per segment, the unit of work",
                &engine_config::segment_frames, 256, 1 << 22),
    integer_key("render", "block_frames", "frames per node call",
                &engine_config::block_frames, 1, 1 << 16),
    integer_key("render", "segments_in_flight", "segments decoded, rendered and written at once",
                &engine_config::segments_in_flight, 2, 64),
    integer_key("render", "checkpoint_ms",
                "render time between checkpoints (0: after every segment)",
                &engine_config::checkpoint_ms, 0, 3600000),
    string_key("render", "precision", "sample type of the whole graph: float or double",
               &engine_config::precision, {"float", "double"}),
    integer_key("output", "bits", "default word length (0: 32-bit float)", &engine_config::bits,
                0, 32),
    bool_key("output", "dither", "TPDF dither when reducing to 24-bit integer or less",
             &engine_config::dither),
    integer_key("output", "dither_seed", "seed of the dither noise (0: built-in)",
                &engine_config::dither_seed, 0, int64_t{1} << 53),
    real_key("output", "vbr_quality", "lossy codecs: 0 smallest .. 1 best",
             &engine_config::vbr_quality, 0.0, 1.0),
    string_key("media", "resample_quality", "libsamplerate converter",
               &engine_config::resample_quality, {"best", "medium", "fastest"}),
    integer_key("media", "decode_threads", "threads streaming media (0: one per core)",
                &engine_config::decode_threads, 0, 64),
    bool_key("media", "id_cache",
             "remember content hashes and resamplings of unchanged files across runs",
             &engine_config::id_cache),
    string_key("signal", "executable", "path of loophole-signal (empty: beside loophole)",
               &engine_config::executable, {}),
    integer_key("signal", "heartbeat_ms", "how often Signal's DSP loop reports",
                &engine_config::heartbeat_ms, 10, 60000),
    integer_key("signal", "heartbeat_timeout_ms", "silence after which an instance is dead",
                &engine_config::heartbeat_timeout_ms, 100, 600000),
    integer_key("signal", "start_timeout_ms", "time an instance has to start",
                &engine_config::start_timeout_ms, 100, 600000),
    integer_key("signal", "max_restarts", "restart intensity: restarts ...",
                &engine_config::max_restarts, 0, 1000),
    integer_key("signal", "restart_period_ms", "... within this period",
                &engine_config::restart_period_ms, 100, 86400000),
    integer_key("signal", "memory_limit_mb",
                "address-space limit of each Signal instance in MiB (0: none)",
                &engine_config::memory_limit_mb, 0, 1 << 24),
  };
  return table;
}

std::string upper(std::string s) {
  for (auto& ch : s)
    ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  return s;
}

} // namespace

std::optional<std::string> process_env(const std::string& name) {
  if (const char* v = std::getenv(name.c_str()))
    return std::string{v};
  return std::nullopt;
}

void apply_toml(engine_config& cfg, const std::string& text, const std::string& origin,
                config_report& report) {
  toml::table doc;
  try {
    doc = toml::parse(text, origin);
  } catch (const toml::parse_error& e) {
    const auto& where = e.source().begin;
    throw config_error(origin + ":" + std::to_string(where.line) + ":" +
                       std::to_string(where.column) + ": " + std::string{e.description()});
  }
  for (const auto& [section, node] : doc) {
    const std::string sname{section.str()};
    const auto* table = node.as_table();
    if (!table) {
      report.warnings.push_back(origin + ": unknown key '" + sname + "' (ignored)");
      continue;
    }
    for (const auto& [key, value] : *table) {
      const std::string kname{key.str()};
      const key_spec* spec = nullptr;
      for (const auto& k : keys())
        if (sname == k.section && kname == k.key)
          spec = &k;
      const auto where = origin + ":" + std::to_string(value.source().begin.line) + ": " + sname +
                         "." + kname;
      if (!spec) {
        report.warnings.push_back(where + ": unknown key (ignored)");
        continue;
      }
      spec->set(cfg, value, where);
    }
  }
  report.sources.push_back(origin);
}

engine_config load_config(const std::optional<std::string>& explicit_file, const env_lookup& env,
                          config_report& report) {
  engine_config cfg;
  std::vector<std::string> files{"/etc/xdg/loophole/config.toml"};
  if (auto xdg = env("XDG_CONFIG_HOME"); xdg && !xdg->empty())
    files.push_back(*xdg + "/loophole/config.toml");
  else if (auto home = env("HOME"); home && !home->empty())
    files.push_back(*home + "/.config/loophole/config.toml");
  if (explicit_file)
    files.push_back(*explicit_file);
  for (size_t i = 0; i < files.size(); ++i) {
    const auto& path = files[i];
    const bool must_exist = explicit_file && i + 1 == files.size();
    std::error_code ec;
    const auto kind = std::filesystem::status(path, ec).type();
    if (kind == std::filesystem::file_type::not_found) {
      if (must_exist)
        throw config_error(path + ": no such file");
      continue;
    }
    if (kind != std::filesystem::file_type::regular)
      throw config_error(path + ": is not a regular file");
    std::ifstream in{path, std::ios::binary};
    if (!in)
      throw config_error(path + ": cannot be read");
    std::ostringstream buf;
    buf << in.rdbuf();
    if (in.bad())
      throw config_error(path + ": read error");
    if (buf.str().size() > (1u << 20))
      throw config_error(path + ": larger than 1 MiB");
    apply_toml(cfg, buf.str(), path, report);
  }
  for (const auto& k : keys()) {
    const auto name = "LOOPHOLE_" + upper(k.section) + "_" + upper(k.key);
    if (auto v = env(name)) {
      k.parse(cfg, *v, name);
      report.sources.push_back(name);
    }
  }
  return cfg;
}

std::string to_toml(const engine_config& cfg) {
  std::ostringstream os;
  std::string section;
  for (const auto& k : keys()) {
    if (section != k.section) {
      section = k.section;
      os << (os.tellp() > 0 ? "\n" : "") << "[" << section << "]\n";
    }
    os << k.key << " = " << k.show(cfg) << "  # " << k.help << "\n";
  }
  return os.str();
}

} // namespace loophole::config
