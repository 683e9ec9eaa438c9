#include "drivers/session_file.hpp"

#include "signal/node_catalog.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>

#include "signal/node_catalog.hpp"

namespace loophole::drivers {

namespace {

using json = nlohmann::json;
using messages::time_unit;
using messages::time_value;

// Walks the document, keeping the JSON pointer of where it is for errors.
class checker {
public:
  explicit checker(std::string file) : file_(std::move(file)) {}

  [[noreturn]] void fail(const std::string& pointer, const std::string& reason) const {
    throw session_error(session_error::kind::invalid,
                        file_ + ": " + (pointer.empty() ? "/" : pointer) + ": " + reason);
  }

  static std::string show(const json& v) {
    auto s = v.dump();
    return s.size() > 40 ? s.substr(0, 37) + "..." : s;
  }

  void only_keys(const json& obj, const std::string& at, std::initializer_list<const char*> keys) {
    for (const auto& [k, v] : obj.items()) {
      bool known = false;
      for (const char* allowed : keys)
        known = known || k == allowed;
      if (!known)
        fail(at + "/" + k, "unknown key (allowed: " + join(keys) + ")");
    }
  }

  /// The value of `key`, or nullptr when absent (an error if `required`).
  const json* find(const json& parent, const std::string& at, const char* key, bool required) {
    auto it = parent.find(key);
    if (it != parent.end())
      return &*it;
    if (required)
      fail(at, std::string{"missing required key '"} + key + "'");
    return nullptr;
  }

  const json& object(const json& parent, const std::string& at, const char* key, bool required) {
    static const json empty = json::object();
    const json* it = find(parent, at, key, required);
    if (!it)
      return empty;
    if (!it->is_object())
      fail(at + "/" + key, show(*it) + " is not an object");
    return *it;
  }

  double number(const json& parent, const std::string& at, const char* key, double fallback,
                double lo, double hi, bool required = false) {
    const json* it = find(parent, at, key, required);
    if (!it)
      return fallback;
    const auto where = at + "/" + key;
    if (!it->is_number())
      fail(where, show(*it) + " is not a number");
    double v = it->get<double>();
    if (!std::isfinite(v))
      fail(where, "is not finite");
    if (v < lo)
      fail(where, show(*it) + " is below the minimum " + trim(lo));
    if (v > hi)
      fail(where, show(*it) + " is above the maximum " + trim(hi));
    return v;
  }

  int64_t integer(const json& parent, const std::string& at, const char* key, int64_t fallback,
                  int64_t lo, int64_t hi, bool required = false) {
    const json* it = find(parent, at, key, required);
    if (!it)
      return fallback;
    const auto where = at + "/" + key;
    if (!it->is_number_integer())
      fail(where, show(*it) + " is not an integer");
    auto v = it->get<int64_t>();
    if (v < lo || v > hi)
      fail(where, show(*it) + " is outside [" + std::to_string(lo) + ", " + std::to_string(hi) +
                    "]");
    return v;
  }

  bool boolean(const json& parent, const std::string& at, const char* key, bool fallback) {
    const json* it = find(parent, at, key, false);
    if (!it)
      return fallback;
    if (!it->is_boolean())
      fail(at + "/" + key, show(*it) + " is not true or false");
    return it->get<bool>();
  }

  std::string string(const json& parent, const std::string& at, const char* key,
                     const std::string& fallback, bool required = false, size_t max_len = 4096) {
    const json* it = find(parent, at, key, required);
    if (!it)
      return fallback;
    if (!it->is_string())
      fail(at + "/" + key, show(*it) + " is not a string");
    auto s = it->get<std::string>();
    if (s.size() > max_len)
      fail(at + "/" + key, "is longer than " + std::to_string(max_len) + " bytes");
    return s;
  }

  /// A time value; `position`: also {"bar": n} or {"bar": [n, beat]}.
  time_value time(const json& parent, const std::string& at, const char* key,
                  bool position = false) {
    const auto where = at + "/" + key;
    const auto& v = parent.at(key);
    if (!v.is_object() || v.size() != 1)
      fail(where, show(v) + " is not a time value: give exactly one of {\"beats\": x}, "
                            "{\"seconds\": x} or {\"samples\": n}" +
                    (position ? std::string{" (or {\"bar\": [bar, beat]})"} : std::string{}));
    const auto first = v.begin();
    const std::string unit = first.key();
    const json& amount = first.value();
    time_value t;
    if (unit == "bar") {
      if (!position)
        fail(where + "/bar", "a length or an offset cannot be given in bars: use beats");
      t.unit = time_unit::bars;
      const bool pair = amount.is_array() && amount.size() == 2;
      const json& bar = pair ? amount[0] : amount;
      if (!bar.is_number_integer() || bar.get<int64_t>() < 1 || bar.get<int64_t>() > 1000000000)
        fail(where + "/bar", show(amount) + " is not a bar (1..1e9) or [bar, beat]");
      t.value = static_cast<double>(bar.get<int64_t>());
      if (pair) {
        if (!amount[1].is_number() || !(amount[1].get<double>() >= 1.0) ||
            !(amount[1].get<double>() < 65.0))
          fail(where + "/bar/1", show(amount[1]) + " is not a beat of the bar (1 is the downbeat)");
        t.beat = amount[1].get<double>();
      }
      return t;
    }
    if (unit == "beats")
      t.unit = time_unit::beats;
    else if (unit == "seconds")
      t.unit = time_unit::seconds;
    else if (unit == "samples")
      t.unit = time_unit::samples;
    else
      fail(where + "/" + unit, std::string{"unknown time unit (beats, seconds or samples"} +
                                 (position ? ", or bar)" : ")"));
    if (t.unit == time_unit::samples ? !amount.is_number_integer() : !amount.is_number())
      fail(where + "/" + unit, show(amount) + (t.unit == time_unit::samples
                                                 ? " is not an integer"
                                                 : " is not a number"));
    t.value = amount.get<double>();
    if (!std::isfinite(t.value) || t.value < 0 || t.value > 1.0e12)
      fail(where + "/" + unit, show(amount) + " is not a time in [0, 1e12]");
    return t;
  }

  /// A list of breakpoints {"at", "value", "curve"}, values in [lo, hi]
  /// (dB by default); `at` is a position of the timeline (`positions`) or a
  /// time from a clip's start.
  std::vector<messages::automation_point_spec> db_points(const json& lane, const std::string& at,
                                                        bool positions, double lo = -144.0,
                                                        double hi = 24.0) {
    if (!lane.is_array() || lane.empty() || lane.size() > 100000)
      fail(at, "is not an array of 1 to 100000 points");
    std::vector<messages::automation_point_spec> points;
    for (size_t i = 0; i < lane.size(); ++i) {
      const auto& pj = lane[i];
      const auto pat = at + "/" + std::to_string(i);
      if (!pj.is_object())
        fail(pat, "a point is an object {\"at\": time, \"value\": v, \"curve\": \"linear\"}");
      only_keys(pj, pat, {"at", "value", "curve"});
      if (!pj.contains("at"))
        fail(pat, "missing required key 'at'");
      messages::automation_point_spec point;
      point.at = time(pj, pat, "at", positions);
      point.value = number(pj, pat, "value", 0.0, lo, hi, true);
      point.curve = string(pj, pat, "curve", "linear", false, 16);
      if (point.curve != "linear" && point.curve != "hold")
        fail(pat + "/curve", "\"" + point.curve + "\" is not hold or linear");
      points.push_back(std::move(point));
    }
    return points;
  }

  messages::fade_spec fade(const json& parent, const std::string& at, const char* key) {
    const auto& f = object(parent, at, key, true);
    const auto where = at + "/" + key;
    only_keys(f, where, {"length", "shape"});
    if (!f.contains("length"))
      fail(where, "missing required key 'length'");
    messages::fade_spec spec;
    spec.length = time(f, where, "length");
    spec.shape = string(f, where, "shape", "linear");
    static const std::set<std::string> shapes{"linear", "equal_power", "exponential", "s_curve"};
    if (!shapes.count(spec.shape))
      fail(where + "/shape",
           "\"" + spec.shape + "\" is not one of linear, equal_power, exponential, s_curve");
    return spec;
  }

  /// A clip's warp: a mode, and markers or a ratio (not both).
  messages::warp_spec warp(const json& clip_json, const std::string& at,
                           const messages::clip_spec& clip) {
    const auto& w = object(clip_json, at, "warp", true);
    const auto where = at + "/warp";
    only_keys(w, where, {"mode", "markers", "ratio"});
    messages::warp_spec spec;
    spec.mode = string(w, where, "mode", "stretch", false, 16);
    if (spec.mode != "stretch" && spec.mode != "varispeed")
      fail(where + "/mode", "\"" + spec.mode + "\" is not stretch or varispeed");
    if (w.contains("markers") == w.contains("ratio"))
      fail(where, "give either 'markers' or 'ratio'");
    if (clip.loop_start)
      fail(where, "a clip cannot be both looped and warped");
    if (w.contains("ratio")) {
      spec.ratio = number(w, where, "ratio", 1.0, 0.0625, 16.0);
      return spec;
    }
    const auto& markers = w["markers"];
    const auto mat = where + "/markers";
    if (!markers.is_array() || markers.empty() || markers.size() > 100000)
      fail(mat, "is not an array of 1 to 100000 markers");
    for (size_t i = 0; i < markers.size(); ++i) {
      const auto& mj = markers[i];
      const auto pat = mat + "/" + std::to_string(i);
      if (!mj.is_object())
        fail(pat, "a marker is an object {\"source\": time, \"timeline\": time}");
      only_keys(mj, pat, {"source", "timeline"});
      for (const char* key : {"source", "timeline"})
        if (!mj.contains(key))
          fail(pat, std::string{"missing required key '"} + key + "'");
      spec.markers.push_back({time(mj, pat, "source"), time(mj, pat, "timeline")});
    }
    return spec;
  }

  /// An array of at most `max` objects at `key` (absent: empty), each
  /// checked for `keys` and handed to `each` with its pointer.
  template <class F>
  void objects(const json& parent, const std::string& at, const char* key, size_t max,
               std::initializer_list<const char*> keys, const char* what, F each) {
    auto it = parent.find(key);
    if (it == parent.end())
      return;
    const auto where = at + "/" + key;
    if (!it->is_array() || it->size() > max)
      fail(where, "is not an array of at most " + std::to_string(max) + " " + what);
    for (size_t i = 0; i < it->size(); ++i) {
      const auto& item = (*it)[i];
      const auto iat = where + "/" + std::to_string(i);
      if (!item.is_object())
        fail(iat, std::string{"is not an object: "} + what + " are objects with keys " +
                    join(keys));
      only_keys(item, iat, keys);
      each(item, iat);
    }
  }

  /// A time from a clip's or a note's start; `positive`: above 0.
  time_value offset(const json& parent, const std::string& at, const char* key, bool positive) {
    if (!parent.contains(key))
      fail(at, std::string{"missing required key '"} + key + "'");
    auto t = time(parent, at, key);
    if (positive && t.value <= 0)
      fail(at + "/" + key, "must be longer than 0");
    return t;
  }

  /// A MIDI clip: notes, controllers, bends, at times from its start.
  messages::clip_spec midi_clip(const json& cj, const std::string& cat,
                                const std::vector<messages::groove_spec>& grooves) {
    if (cj.contains("media"))
      fail(cat + "/media", "a clip is either a media clip (\"media\") or a MIDI clip (\"notes\", "
                           "\"cc\", \"pitch_bend\"), not both");
    only_keys(cj, cat, {"notes", "cc", "pitch_bend", "position", "length", "groove"});
    messages::clip_spec clip;
    clip.midi = true;
    if (!cj.contains("position"))
      fail(cat, "missing required key 'position'");
    clip.position = time(cj, cat, "position", true);
    if (cj.contains("length"))
      clip.length = offset(cj, cat, "length", true);
    objects(cj, cat, "notes", 100000, {"at", "length", "pitch", "velocity"}, "notes",
            [&](const json& nj, const std::string& nat) {
              messages::midi_note_spec note;
              note.at = offset(nj, nat, "at", false);
              note.length = offset(nj, nat, "length", true);
              note.pitch = static_cast<uint8_t>(integer(nj, nat, "pitch", 0, 0, 127, true));
              note.velocity = static_cast<uint8_t>(integer(nj, nat, "velocity", 100, 1, 127));
              clip.notes.push_back(note);
            });
    objects(cj, cat, "cc", 100000, {"at", "controller", "value"}, "control changes",
            [&](const json& xj, const std::string& xat) {
              messages::midi_control_spec cc;
              cc.at = offset(xj, xat, "at", false);
              cc.controller = static_cast<uint8_t>(integer(xj, xat, "controller", 0, 0, 127, true));
              cc.value = static_cast<int32_t>(integer(xj, xat, "value", 0, 0, 127, true));
              clip.cc.push_back(cc);
            });
    objects(cj, cat, "pitch_bend", 100000, {"at", "value"}, "pitch bends",
            [&](const json& xj, const std::string& xat) {
              messages::midi_control_spec bend;
              bend.at = offset(xj, xat, "at", false);
              bend.value = static_cast<int32_t>(integer(xj, xat, "value", 0, -8192, 8191, true));
              clip.pitch_bend.push_back(bend);
            });
    clip.groove = string(cj, cat, "groove", "", false, 64);
    if (cj.contains("groove") &&
        std::none_of(grooves.begin(), grooves.end(),
                     [&](const auto& g) { return g.name == clip.groove; }))
      fail(cat + "/groove", "\"" + clip.groove + "\" is not a groove of /grooves");
    return clip;
  }

  /// A list of at most 64 numbers in [lo, hi].
  std::vector<double> numbers(const json& parent, const std::string& at, const char* key,
                              double lo, double hi) {
    std::vector<double> out;
    auto it = parent.find(key);
    if (it == parent.end())
      return out;
    const auto where = at + "/" + key;
    if (!it->is_array() || it->empty() || it->size() > 64)
      fail(where, "is not an array of 1 to 64 numbers");
    for (size_t i = 0; i < it->size(); ++i) {
      const auto& v = (*it)[i];
      if (!v.is_number() || !(v.get<double>() >= lo && v.get<double>() <= hi))
        fail(where + "/" + std::to_string(i), show(v) + " is not a number in [" + trim(lo) +
                                                ", " + trim(hi) + "]");
      out.push_back(v.get<double>());
    }
    return out;
  }

private:
  static std::string join(std::initializer_list<const char*> keys) {
    std::string out;
    for (const char* k : keys)
      out += (out.empty() ? "" : ", ") + std::string{k};
    return out;
  }

  static std::string trim(double v) {
    std::ostringstream os;
    os << v;
    return os.str();
  }

  std::string file_;
};

// Ids of tracks and takes: short, and safe in file names and JSON pointers.
bool is_id(const std::string& s) {
  static const std::regex id_re{R"([A-Za-z0-9_.-]{1,64})"};
  return std::regex_match(s, id_re);
}

// The node kinds a session may name as an insert ("trim" is a gain).
std::optional<signal::node_kind> insert_kind(const std::string& name) {
  using signal::node_kind;
  if (name == "trim")
    return node_kind::gain;
  for (auto kind : {node_kind::eq, node_kind::compressor, node_kind::limiter, node_kind::gate,
                    node_kind::saturation, node_kind::convolution, node_kind::polarity,
                    node_kind::delay, node_kind::meter, node_kind::gain, node_kind::pan,
                    node_kind::test_fault})
    if (signal::to_string(kind) == name)
      return kind;
  return std::nullopt;
}

// How a session names a catalog parameter: a time parameter without its
// `_frames` suffix (the delay's `frames` is its `time`), a gain in dB.
std::string session_name(signal::node_kind kind, const signal::parameter_spec& spec) {
  std::string name{spec.name};
  if (kind == signal::node_kind::gain && name == "gain")
    return "gain_db";
  if (spec.unit == signal::param_unit::frames) {
    if (name == "frames")
      return "time";
    if (name.size() > 7 && name.ends_with("_frames"))
      return name.substr(0, name.size() - 7);
  }
  return name;
}

bool is_band_param(std::string_view name) {
  return name.size() > 2 && name[0] == 'b' && name[1] >= '1' && name[1] <= '8' && name[2] == '_';
}

// One catalog parameter at `obj[key]`, in the catalog's unit: a time value
// for a frames parameter, a name among the choices, a boolean for a toggle,
// else a number in the parameter's range.
messages::insert_param parse_catalog_param(checker& c, const json& obj, const std::string& at,
                                           const std::string& key,
                                           const signal::parameter_spec& spec) {
  const std::string name{spec.name};
  const auto where = at + "/" + key;
  switch (spec.unit) {
    case signal::param_unit::frames:
      return {name, 0.0, c.time(obj, at, key.c_str())};
    case signal::param_unit::choice: {
      const auto choice = c.string(obj, at, key.c_str(), "", true, 64);
      const auto index = signal::parse_choice(spec, choice);
      if (!index)
        c.fail(where, "\"" + choice + "\" is not one of " + std::string{spec.choices});
      return {name, *index, std::nullopt};
    }
    case signal::param_unit::toggle:
      return {name, c.boolean(obj, at, key.c_str(), false) ? 1.0 : 0.0, std::nullopt};
    default: {
      const double value = c.number(obj, at, key.c_str(), 0.0, spec.min_value, spec.max_value);
      const json& v = obj.at(key);
      if (spec.name == "oversample" && value != 1 && value != 2 && value != 4 && value != 8)
        c.fail(where, checker::show(v) + " is not 1, 2, 4 or 8");
      if (spec.name == "partition_frames" &&
          (value != std::floor(value) ||
           (static_cast<int64_t>(value) & (static_cast<int64_t>(value) - 1)) != 0))
        c.fail(where, checker::show(v) + " is not a power of two");
      if (spec.name == "mask" && value != std::floor(value))
        c.fail(where, checker::show(v) + " is not an integer");
      return {name, value, std::nullopt};
    }
  }
}

// A sampler's or synth's keys: its node kind's catalog parameters by their
// session names, and the sampler's "media".
void parse_instrument_params(checker& c, const json& ij, const std::string& iat,
                             const std::filesystem::path& base,
                             messages::instrument_spec& instrument) {
  const auto kind = instrument.kind == "sampler" ? signal::node_kind::sampler
                                                 : signal::node_kind::synth;
  const auto specs = signal::parameters_of(kind);
  for (const auto& [k, v] : ij.items()) {
    if (k == "kind" || (k == "media" && kind == signal::node_kind::sampler))
      continue;
    const auto spec = std::find_if(specs.begin(), specs.end(),
                                   [&](const auto& s) { return session_name(kind, s) == k; });
    if (spec == specs.end()) {
      std::string allowed = kind == signal::node_kind::sampler ? "kind, media" : "kind";
      for (const auto& s : specs)
        allowed += ", " + session_name(kind, s);
      c.fail(iat + "/" + k, "unknown key (allowed: " + allowed + ")");
    }
    instrument.params.push_back(parse_catalog_param(c, ij, iat, k, *spec));
  }
  if (kind == signal::node_kind::sampler) {
    instrument.media = c.string(ij, iat, "media", "", true);
    if (instrument.media.empty())
      c.fail(iat + "/media", "is empty");
    const std::filesystem::path media{instrument.media};
    instrument.media_path =
      (media.is_absolute() ? media : base / media).lexically_normal().string();
  }
}

// Defaults for the time constants a user expects set (docs/session-format.md).
std::optional<double> default_seconds(signal::node_kind kind, std::string_view name) {
  using signal::node_kind;
  if (kind == node_kind::compressor) {
    if (name == "attack_frames")
      return 0.010;
    if (name == "release_frames")
      return 0.100;
    if (name == "rms_frames")
      return 0.010;
  } else if (kind == node_kind::limiter) {
    if (name == "lookahead_frames")
      return 0.005;
    if (name == "release_frames")
      return 0.050;
  } else if (kind == node_kind::gate) {
    if (name == "attack_frames")
      return 0.001;
    if (name == "hold_frames")
      return 0.010;
    if (name == "release_frames")
      return 0.100;
  }
  return std::nullopt;
}

// The eq's bands: [{"type", "freq", "gain_db", "q" | "bandwidth"}], at most 8.
void parse_bands(checker& c, const json& ij, const std::string& iat, uint32_t rate,
                 messages::insert_spec& ins) {
  const auto& specs = signal::parameters_of(signal::node_kind::eq);
  auto spec_of = [&](const std::string& name) -> const signal::parameter_spec& {
    for (const auto& s : specs)
      if (s.name == name)
        return s;
    c.fail(iat, "the catalog has no eq parameter " + name);
  };
  auto it = ij.find("bands");
  if (it == ij.end())
    return;
  const auto bat = iat + "/bands";
  if (!it->is_array() || it->size() > 8)
    c.fail(bat, "is not an array of at most 8 bands");
  for (size_t b = 0; b < it->size(); ++b) {
    const auto& bj = (*it)[b];
    const auto at = bat + "/" + std::to_string(b);
    if (!bj.is_object())
      c.fail(at, "a band is an object {\"type\": \"peak\", \"freq\": 1000, \"gain_db\": 4, "
                 "\"q\": 1.0}");
    c.only_keys(bj, at, {"type", "freq", "gain_db", "q", "bandwidth"});
    const auto prefix = "b" + std::to_string(b + 1) + "_";
    const auto type = c.string(bj, at, "type", "", true, 32);
    const auto& type_spec = spec_of(prefix + "type");
    const auto index = signal::parse_choice(type_spec, type);
    if (!index)
      c.fail(at + "/type", "\"" + type + "\" is not one of " + std::string{type_spec.choices});
    ins.params.push_back({prefix + "type", *index, std::nullopt});
    const auto& freq = spec_of(prefix + "freq");
    const double hz = c.number(bj, at, "freq", 0.0, freq.min_value, freq.max_value, true);
    if (hz >= rate / 2.0)
      c.fail(at + "/freq", checker::show(bj["freq"]) + " Hz is not below the Nyquist frequency (" +
                             checker::show(rate / 2.0) + " Hz)");
    ins.params.push_back({prefix + "freq", hz, std::nullopt});
    if (bj.contains("gain_db")) {
      const auto& g = spec_of(prefix + "gain_db");
      ins.params.push_back(
        {prefix + "gain_db", c.number(bj, at, "gain_db", 0.0, g.min_value, g.max_value), std::nullopt});
    }
    if (bj.contains("q") && bj.contains("bandwidth"))
      c.fail(at, "give either 'q' or 'bandwidth'");
    if (bj.contains("q")) {
      const auto& q = spec_of(prefix + "q");
      ins.params.push_back({prefix + "q", c.number(bj, at, "q", 0.7071, q.min_value, q.max_value),
                            std::nullopt});
    }
    if (bj.contains("bandwidth")) {
      const auto& bw = spec_of(prefix + "bw");
      ins.params.push_back(
        {prefix + "bw", c.number(bj, at, "bandwidth", 1.0, bw.min_value, bw.max_value), std::nullopt});
    }
  }
}

// An insert's inputs: at most 16 ids, in the order they are summed.
std::vector<std::string> parse_inputs(checker& c, const json& ij, const std::string& iat) {
  std::vector<std::string> inputs;
  auto it = ij.find("inputs");
  if (it == ij.end())
    return inputs;
  if (!it->is_array() || it->empty() || it->size() > 16)
    c.fail(iat + "/inputs", "is not an array of 1 to 16 ids");
  for (size_t k = 0; k < it->size(); ++k) {
    if (!(*it)[k].is_string())
      c.fail(iat + "/inputs/" + std::to_string(k), checker::show((*it)[k]) + " is not an id");
    inputs.push_back((*it)[k].get<std::string>());
  }
  return inputs;
}

// A strip's inserts: a DAG over its own ids and `source` ("clips" on a
// track, "input" on a bus or the master), refused with the pointer of the
// insert at fault when an id is unknown or repeated, a cycle closes, or an
// insert's output reaches nothing.
std::vector<messages::insert_spec> parse_inserts(checker& c, const json& parent,
                                                 const std::string& at,
                                                 const std::filesystem::path& base, uint32_t rate,
                                                 const std::string& source, bool sidechains) {
  std::vector<messages::insert_spec> inserts;
  auto in = parent.find("inserts");
  if (in == parent.end())
    return inserts;
  if (!in->is_array())
    c.fail(at + "/inserts", "is not an array");
  if (in->size() > 64)
    c.fail(at + "/inserts", "more than 64 inserts");
  std::map<std::string, size_t> index_of;
  for (size_t k = 0; k < in->size(); ++k) {
    const auto& ij = (*in)[k];
    const auto iat = at + "/inserts/" + std::to_string(k);
    if (!ij.is_object())
      c.fail(iat, "an insert is an object");
    messages::insert_spec ins;
    ins.kind = c.string(ij, iat, "kind", "", true, 64);
    const auto kind = insert_kind(ins.kind);
    if (!kind)
      c.fail(iat + "/kind", "\"" + ins.kind + "\" is not an insert kind (eq, compressor, limiter, "
                            "gate, saturation, convolution, polarity, delay, meter, gain, trim, "
                            "pan, test.fault)");
    if (ins.kind == "trim")
      ins.kind = "gain";
    ins.id = c.string(ij, iat, "id", "", false, 64);
    if (ij.contains("id")) {
      static const std::regex id_re{R"([A-Za-z0-9_-]{1,64})"};
      if (!std::regex_match(ins.id, id_re) || ins.id == source)
        c.fail(iat + "/id", "\"" + ins.id + "\" is not an id of 1 to 64 letters, digits, _ - "
                            "(and not \"" + source + "\")");
      if (!index_of.emplace(ins.id, k).second)
        c.fail(iat + "/id", "\"" + ins.id + "\" is the id of an earlier insert of this strip");
    }
    ins.inputs = parse_inputs(c, ij, iat);
    ins.bypass = c.boolean(ij, iat, "bypass", false);
    std::vector<const char*> allowed{"kind", "id", "inputs", "bypass"};
    if (*kind == signal::node_kind::test_fault) {
      for (const char* key : {"fault", "at", "leak_mb", "sleep_ms"})
        allowed.push_back(key);
      ins.fault = c.string(ij, iat, "fault", "", true, 64);
      if (ij.contains("at"))
        ins.at = c.time(ij, iat, "at", true);
      ins.leak_mb = c.number(ij, iat, "leak_mb", 0.0, 0.0, 1048576.0);
      ins.sleep_ms = c.number(ij, iat, "sleep_ms", 1.0, 0.0, 1000.0);
    } else {
      allowed.push_back("automation");
      if (*kind == signal::node_kind::eq) {
        allowed.push_back("bands");
        parse_bands(c, ij, iat, rate, ins);
      }
      if (sidechains && (*kind == signal::node_kind::compressor || *kind == signal::node_kind::gate)) {
        allowed.push_back("sidechain");
        ins.sidechain = c.string(ij, iat, "sidechain", "", false, 64);
        if (ij.contains("sidechain") && !is_id(ins.sidechain))
          c.fail(iat + "/sidechain", "\"" + ins.sidechain + "\" is not a track or bus id");
      }
      if (*kind == signal::node_kind::convolution) {
        allowed.push_back("impulse");
        ins.impulse = c.string(ij, iat, "impulse", "", true);
        if (ins.impulse.empty())
          c.fail(iat + "/impulse", "is empty");
        const std::filesystem::path ir{ins.impulse};
        ins.impulse_path = (ir.is_absolute() ? ir : base / ir).lexically_normal().string();
      }
      for (const auto& spec : signal::parameters_of(*kind)) {
        if (*kind == signal::node_kind::eq && is_band_param(spec.name))
          continue;
        const auto key = session_name(*kind, spec);
        const json* v = c.find(ij, iat, key.c_str(), false);
        const auto where = iat + "/" + key;
        const std::string name{spec.name};
        if (!v) {
          if (auto seconds = default_seconds(*kind, spec.name))
            ins.params.push_back({name, 0.0, time_value{time_unit::seconds, *seconds, 1.0}});
          else if (spec.required && *kind == signal::node_kind::gain)
            ins.params.push_back({name, 1.0, std::nullopt});
          else if (spec.required)
            c.fail(iat, "missing required key '" + key + "'");
          continue;
        }
        if (*kind == signal::node_kind::gain && spec.unit == signal::param_unit::plain) {
          const double db = c.number(ij, iat, key.c_str(), 0.0, -144.0, 24.0);
          ins.params.push_back({name, std::pow(10.0, db / 20.0), std::nullopt});
          continue;
        }
        ins.params.push_back(parse_catalog_param(c, ij, iat, key, spec));
      }
      if (ij.contains("automation")) {
        const auto& aj = c.object(ij, iat, "automation", true);
        const auto aat = iat + "/automation";
        for (const auto& [key, lane] : aj.items()) {
          const signal::parameter_spec* found = nullptr;
          for (const auto& spec : signal::parameters_of(*kind))
            if (session_name(*kind, spec) == key)
              found = &spec;
          if (!found || !found->automatable)
            c.fail(aat + "/" + key, "is not an automatable parameter of a " + ins.kind + " insert");
          const bool db = *kind == signal::node_kind::gain;
          ins.automation.push_back({std::string{found->name},
                                    c.db_points(lane, aat + "/" + key, true,
                                                db ? -144.0 : found->min_value,
                                                db ? 24.0 : found->max_value)});
        }
      }
    }
    // Every key of the insert must be one its kind reads.
    for (const auto& [key, value] : ij.items()) {
      bool known = std::any_of(allowed.begin(), allowed.end(),
                               [&](const char* a) { return a && key == a; });
      if (!known && *kind != signal::node_kind::test_fault)
        for (const auto& spec : signal::parameters_of(*kind))
          known = known || (!(*kind == signal::node_kind::eq && is_band_param(spec.name)) &&
                            session_name(*kind, spec) == key);
      if (!known) {
        std::string keys;
        for (const char* a : allowed)
          if (a)
            keys += (keys.empty() ? "" : ", ") + std::string{a};
        if (*kind != signal::node_kind::test_fault)
          for (const auto& spec : signal::parameters_of(*kind))
            if (!(*kind == signal::node_kind::eq && is_band_param(spec.name)))
              keys += ", " + session_name(*kind, spec);
        c.fail(iat + "/" + key, "unknown key for a " + ins.kind + " insert (allowed: " + keys + ")");
      }
    }
    inserts.push_back(std::move(ins));
  }
  // The DAG: inputs known, no cycle, every insert's output heard.
  const size_t n = inserts.size();
  std::vector<std::vector<size_t>> preds(n);
  for (size_t k = 0; k < n; ++k) {
    const auto iat = at + "/inserts/" + std::to_string(k);
    if (inserts[k].inputs.empty()) {
      if (k > 0)
        preds[k].push_back(k - 1);
      continue;
    }
    std::set<std::string> seen;
    for (size_t i = 0; i < inserts[k].inputs.size(); ++i) {
      const auto& id = inserts[k].inputs[i];
      const auto pat = iat + "/inputs/" + std::to_string(i);
      if (!seen.insert(id).second)
        c.fail(pat, "\"" + id + "\" is listed twice");
      if (id == source)
        continue;
      auto found = index_of.find(id);
      if (found == index_of.end())
        c.fail(pat, "\"" + id + "\" is neither \"" + source + "\" nor the id of an insert of this strip");
      if (found->second == k)
        c.fail(pat, "an insert cannot take its own output");
      preds[k].push_back(found->second);
    }
  }
  // Depth-first: a node met again while on the path closes a cycle.
  std::vector<int> state(n, 0); // 0 new, 1 on the path, 2 done
  std::vector<size_t> path;
  std::function<void(size_t)> visit = [&](size_t k) {
    state[k] = 1;
    path.push_back(k);
    for (auto p : preds[k]) {
      if (state[p] == 1) {
        std::string ring;
        auto from = std::find(path.begin(), path.end(), p);
        for (auto it = from; it != path.end(); ++it)
          ring += (inserts[*it].id.empty() ? "#" + std::to_string(*it) : inserts[*it].id) + " <- ";
        ring += inserts[p].id;
        c.fail(at + "/inserts/" + std::to_string(k) + "/inputs",
               "closes a cycle (" + ring + "): an insert cannot depend on its own output");
      }
      if (state[p] == 0)
        visit(p);
    }
    path.pop_back();
    state[k] = 2;
  };
  for (size_t k = 0; k < n; ++k)
    if (state[k] == 0)
      visit(k);
  if (n > 0) {
    std::vector<bool> heard(n, false);
    std::vector<size_t> stack{n - 1};
    while (!stack.empty()) {
      auto k = stack.back();
      stack.pop_back();
      if (heard[k])
        continue;
      heard[k] = true;
      for (auto p : preds[k])
        stack.push_back(p);
    }
    for (size_t k = 0; k < n; ++k)
      if (!heard[k])
        c.fail(at + "/inserts/" + std::to_string(k),
               "nothing takes this insert's output to the fader (the fader takes the last insert, "
               "#" + std::to_string(n - 1) + "): name it in the inputs of an insert that leads there");
  }
  return inserts;
}

// Sends into buses: [{"to", "gain_db", "pre_fader"}].
std::vector<messages::send_spec> parse_sends(checker& c, const json& parent, const std::string& at) {
  std::vector<messages::send_spec> sends;
  c.objects(parent, at, "sends", 64, {"to", "gain_db", "pre_fader"}, "sends",
            [&](const json& sj, const std::string& sat) {
              messages::send_spec send;
              send.to = c.string(sj, sat, "to", "", true, 64);
              send.gain_db = c.number(sj, sat, "gain_db", 0.0, -144.0, 24.0);
              send.pre_fader = c.boolean(sj, sat, "pre_fader", false);
              sends.push_back(std::move(send));
            });
  return sends;
}

// Where a strip sits in a wider bus: {"azimuth", "elevation", "spread", "lfe"}.
messages::surround_spec parse_surround(checker& c, const json& parent, const std::string& at) {
  messages::surround_spec s;
  if (!parent.contains("surround"))
    return s;
  const auto& sj = c.object(parent, at, "surround", true);
  const auto sat = at + "/surround";
  c.only_keys(sj, sat, {"azimuth", "elevation", "spread", "lfe"});
  s.azimuth_deg = c.number(sj, sat, "azimuth", 0.0, -180.0, 180.0);
  s.elevation_deg = c.number(sj, sat, "elevation", 0.0, 0.0, 90.0);
  s.spread = c.number(sj, sat, "spread", 0.0, 0.0, 1.0);
  s.lfe = c.number(sj, sat, "lfe", 0.0, 0.0, 1.0);
  return s;
}

// A media clip, on a track or on a take's lane.
messages::clip_spec parse_clip(checker& c, const json& cj, const std::string& cat,
                               const std::filesystem::path& base) {
  if (!cj.is_object())
    c.fail(cat, "a clip is an object");
  c.only_keys(cj, cat, {"media", "position", "source_offset", "length", "gain_db",
                        "fade_in", "fade_out", "loop", "gain_envelope", "warp", "groove"});
  messages::clip_spec clip;
  clip.media = c.string(cj, cat, "media", "", true);
  if (clip.media.empty())
    c.fail(cat + "/media", "is empty");
  const std::filesystem::path media{clip.media};
  clip.media_path = (media.is_absolute() ? media : base / media).lexically_normal().string();
  if (!cj.contains("position"))
    c.fail(cat, "missing required key 'position'");
  clip.position = c.time(cj, cat, "position", true);
  if (cj.contains("source_offset"))
    clip.source_offset = c.time(cj, cat, "source_offset");
  if (cj.contains("length")) {
    clip.length = c.time(cj, cat, "length");
    if (clip.length->value <= 0)
      c.fail(cat + "/length", "must be longer than 0");
  }
  clip.gain_db = c.number(cj, cat, "gain_db", 0.0, -144.0, 24.0);
  if (cj.contains("fade_in"))
    clip.fade_in = c.fade(cj, cat, "fade_in");
  if (cj.contains("fade_out"))
    clip.fade_out = c.fade(cj, cat, "fade_out");
  if (auto env = cj.find("gain_envelope"); env != cj.end())
    clip.gain_envelope = c.db_points(*env, cat + "/gain_envelope", false);
  if (cj.contains("loop")) {
    const auto& lj = c.object(cj, cat, "loop", true);
    const auto lat = cat + "/loop";
    c.only_keys(lj, lat, {"start", "end"});
    for (const char* key : {"start", "end"})
      if (!lj.contains(key))
        c.fail(lat, std::string{"missing required key '"} + key + "'");
    clip.loop_start = c.time(lj, lat, "start");
    clip.loop_end = c.time(lj, lat, "end");
    if (!clip.length)
      c.fail(lat, "a looped clip needs a length (it would play for ever)");
  }
  if (cj.contains("warp"))
    clip.warp = c.warp(cj, cat, clip);
  // Checked against /grooves by the resolver (grooves may follow the tracks).
  clip.groove = c.string(cj, cat, "groove", "", false, 64);
  return clip;
}

// A track's modulators: LFOs, step sequencers and envelope followers on its
// fader (dB) or pan.
// Where a modulator target "<insert id>.<parameter>" points: the insert's
// kind and the catalog spec of the parameter, or nothing.
struct modulated_param {
  signal::node_kind kind;
  const signal::parameter_spec* spec;
};

std::optional<signal::node_kind> insert_kind(const std::string& name);
std::string session_name(signal::node_kind kind, const signal::parameter_spec& spec);

std::optional<modulated_param> find_target(const std::vector<messages::insert_spec>& inserts,
                                           const std::string& target) {
  const auto dot = target.find('.');
  if (dot == std::string::npos)
    return std::nullopt;
  const auto id = target.substr(0, dot), name = target.substr(dot + 1);
  for (const auto& ins : inserts) {
    if (ins.id != id || ins.kind == "test.fault")
      continue;
    const auto kind = *insert_kind(ins.kind);
    for (const auto& spec : signal::parameters_of(kind))
      if (spec.automatable && session_name(kind, spec) == name)
        return modulated_param{kind, &spec};
  }
  return std::nullopt;
}

// A track's or bus's modulators: LFOs, step sequencers and envelope
// followers on its fader (dB), its pan or an automatable insert parameter.
template <class Strip>
void parse_modulators(checker& c, const json& tj, const std::string& at, Strip& track) {
  auto it = tj.find("modulators");
  if (it == tj.end())
    return;
  if (!it->is_array() || it->size() > 16)
    c.fail(at + "/modulators", "is not an array of at most 16 modulators");
  for (size_t i = 0; i < it->size(); ++i) {
    const auto& mj = (*it)[i];
    const auto mat = at + "/modulators/" + std::to_string(i);
    if (!mj.is_object())
      c.fail(mat, "a modulator is an object {\"target\", \"kind\", \"depth\", ...}");
    messages::modulator_spec m;
    m.kind = c.string(mj, mat, "kind", "", true, 16);
    if (m.kind == "lfo")
      c.only_keys(mj, mat, {"target", "kind", "shape", "period", "phase", "depth"});
    else if (m.kind == "steps")
      c.only_keys(mj, mat, {"target", "kind", "steps", "period", "phase", "depth"});
    else if (m.kind == "follower")
      c.only_keys(mj, mat, {"target", "kind", "attack_ms", "release_ms", "depth"});
    else
      c.fail(mat + "/kind", "\"" + m.kind + "\" is not lfo, steps or follower");
    m.target = c.string(mj, mat, "target", "", true, 160);
    double depth_limit = m.target == "gain_db" ? 48.0 : 2.0;
    if (m.target != "gain_db" && m.target != "pan") {
      const auto param = find_target(track.inserts, m.target);
      if (!param)
        c.fail(mat + "/target", "\"" + m.target + "\" is not gain_db, pan or \"<insert id>."
                                "<parameter>\" naming an automatable parameter of an insert");
      depth_limit = param->spec->unit == signal::param_unit::db || param->kind == signal::node_kind::gain
                      ? 48.0
                      : param->spec->max_value - param->spec->min_value;
    }
    m.depth = c.number(mj, mat, "depth", 0.0, -depth_limit, depth_limit, true);
    if (m.kind == "follower") {
      m.attack_ms = c.number(mj, mat, "attack_ms", 10.0, 0.0, 10000.0);
      m.release_ms = c.number(mj, mat, "release_ms", 100.0, 0.0, 10000.0);
      track.modulators.push_back(std::move(m));
      continue;
    }
    if (!mj.contains("period"))
      c.fail(mat, "missing required key 'period' (one cycle, or one step: {\"beats\": 1} follows "
                  "the tempo)");
    m.period = c.time(mj, mat, "period");
    if (m.period.unit == time_unit::samples || !(m.period.value >= 1.0e-3))
      c.fail(mat + "/period", "give it in beats (tempo-synced) or seconds, at least 0.001");
    m.phase = c.number(mj, mat, "phase", 0.0, -1.0e6, 1.0e6);
    if (m.kind == "lfo") {
      m.shape = c.string(mj, mat, "shape", "sine", false, 16);
      if (m.shape != "sine" && m.shape != "triangle" && m.shape != "square" && m.shape != "saw")
        c.fail(mat + "/shape", "\"" + m.shape + "\" is not sine, triangle, square or saw");
    } else {
      const json* steps = c.find(mj, mat, "steps", true);
      if (!steps->is_array() || steps->empty() || steps->size() > 4096)
        c.fail(mat + "/steps", "is not an array of 1 to 4096 values");
      for (size_t k = 0; k < steps->size(); ++k) {
        const auto& v = (*steps)[k];
        if (!v.is_number() || !(std::abs(v.get<double>()) <= 1.0))
          c.fail(mat + "/steps/" + std::to_string(k), checker::show(v) + " is not a value in [-1, 1]");
        m.steps.push_back(v.get<double>());
      }
    }
    track.modulators.push_back(std::move(m));
  }
}

// A track's takes (lanes of clips) and the comp that picks regions of them.
void parse_takes_and_comp(checker& c, const json& tj, const std::string& at,
                          const std::filesystem::path& base, messages::track_spec& track) {
  std::set<std::string> ids;
  if (auto tk = tj.find("takes"); tk != tj.end()) {
    if (!tk->is_array() || tk->size() > 1024)
      c.fail(at + "/takes", "is not an array of at most 1024 takes");
    for (size_t i = 0; i < tk->size(); ++i) {
      const auto& kj = (*tk)[i];
      const auto kat = at + "/takes/" + std::to_string(i);
      if (!kj.is_object())
        c.fail(kat, "a take is an object {\"id\": ..., \"clips\": [...]}");
      c.only_keys(kj, kat, {"id", "clips"});
      messages::take_spec take;
      take.id = c.string(kj, kat, "id", "", true, 64);
      if (!is_id(take.id))
        c.fail(kat + "/id", "\"" + take.id + "\" is not an id of 1 to 64 letters, digits, _ . -");
      if (!ids.insert(take.id).second)
        c.fail(kat + "/id", "\"" + take.id + "\" is the id of an earlier take of this track");
      const json* clips = c.find(kj, kat, "clips", true);
      if (!clips->is_array() || clips->empty() || clips->size() > 65536)
        c.fail(kat + "/clips", "is not an array of 1 to 65536 clips");
      for (size_t k = 0; k < clips->size(); ++k)
        take.clips.push_back(parse_clip(c, (*clips)[k], kat + "/clips/" + std::to_string(k), base));
      track.takes.push_back(std::move(take));
    }
  }
  if (!tj.contains("comp"))
    return;
  const auto& cj = c.object(tj, at, "comp", true);
  const auto cat = at + "/comp";
  c.only_keys(cj, cat, {"crossfade", "regions"});
  messages::comp_spec comp;
  // 10 ms equal-power: takes are different performances (uncorrelated), and
  // 10 ms is short enough to hide the edit and long enough not to click.
  comp.crossfade.length = {time_unit::seconds, 0.01, 1.0};
  comp.crossfade.shape = "equal_power";
  if (cj.contains("crossfade"))
    comp.crossfade = c.fade(cj, cat, "crossfade");
  const json* regions = c.find(cj, cat, "regions", true);
  if (!regions->is_array() || regions->size() > 65536)
    c.fail(cat + "/regions", "is not an array of at most 65536 regions");
  for (size_t i = 0; i < regions->size(); ++i) {
    const auto& rj = (*regions)[i];
    const auto rat = cat + "/regions/" + std::to_string(i);
    if (!rj.is_object())
      c.fail(rat, "a region is an object {\"take\": id, \"start\": position, \"end\": position}");
    c.only_keys(rj, rat, {"take", "start", "end"});
    messages::comp_region_spec region;
    region.take = c.string(rj, rat, "take", "", true, 64);
    if (!ids.count(region.take))
      c.fail(rat + "/take", "\"" + region.take + "\" is not a take of this track");
    for (const char* key : {"start", "end"})
      if (!rj.contains(key))
        c.fail(rat, std::string{"missing required key '"} + key + "'");
    region.start = c.time(rj, rat, "start", true);
    region.end = c.time(rj, rat, "end", true);
    comp.regions.push_back(std::move(region));
  }
  track.comp = std::move(comp);
}

// The channel counts of buses and the master: mono, stereo, 5.1, 7.1, 7.1.4.
uint16_t channel_count(checker& c, const json& parent, const std::string& at) {
  const auto n = c.integer(parent, at, "channels", 2, 1, 12);
  if (n != 1 && n != 2 && n != 6 && n != 8 && n != 12)
    c.fail(at + "/channels", std::to_string(n) + " is not 1, 2, 6 (5.1), 8 (7.1) or 12 (7.1.4)");
  return static_cast<uint16_t>(n);
}

// Buses: return, group and sub-mix, each summing what is routed to it.
void parse_buses(checker& c, const json& root, const std::filesystem::path& base,
                 messages::session_document& doc) {
  auto it = root.find("buses");
  if (it == root.end())
    return;
  if (!it->is_array() || it->size() > 1024)
    c.fail("/buses", "is not an array of at most 1024 buses");
  std::set<std::string> ids;
  for (const auto& t : doc.tracks)
    ids.insert(t.id);
  for (size_t b = 0; b < it->size(); ++b) {
    const auto& bj = (*it)[b];
    const auto at = "/buses/" + std::to_string(b);
    if (!bj.is_object())
      c.fail(at, "a bus is an object {\"id\", \"kind\", \"channels\", ...}");
    c.only_keys(bj, at, {"id", "kind", "channels", "gain_db", "pan", "mute", "inserts",
                         "automation", "modulators", "sends", "output", "surround"});
    messages::bus_spec bus;
    bus.id = c.string(bj, at, "id", "", true, 64);
    if (!is_id(bus.id) || bus.id == "master")
      c.fail(at + "/id", "\"" + bus.id + "\" is not an id of 1 to 64 letters, digits, _ . - "
                         "(\"master\" is the master bus)");
    if (!ids.insert(bus.id).second)
      c.fail(at + "/id", "\"" + bus.id + "\" is the id of a track or an earlier bus too");
    bus.kind = c.string(bj, at, "kind", "return", false, 16);
    if (bus.kind != "return" && bus.kind != "group" && bus.kind != "submix")
      c.fail(at + "/kind", "\"" + bus.kind + "\" is not return, group or submix");
    bus.channels = channel_count(c, bj, at);
    bus.gain_db = c.number(bj, at, "gain_db", 0.0, -144.0, 24.0);
    bus.pan = c.number(bj, at, "pan", 0.0, -1.0, 1.0);
    if (bus.channels > 2 && bj.contains("pan"))
      c.fail(at + "/pan", "a surround bus has no stereo pan (its sources are placed by "
                          "\"surround\")");
    bus.mute = c.boolean(bj, at, "mute", false);
    bus.inserts = parse_inserts(c, bj, at, base, doc.sample_rate, "input", true);
    if (bj.contains("automation")) {
      const auto& aj = c.object(bj, at, "automation", true);
      const auto aat = at + "/automation";
      c.only_keys(aj, aat, {"gain_db", "pan"});
      if (auto lane = aj.find("gain_db"); lane != aj.end())
        bus.gain_automation = c.db_points(*lane, aat + "/gain_db", true);
      if (auto lane = aj.find("pan"); lane != aj.end()) {
        if (bus.channels > 2)
          c.fail(aat + "/pan", "a surround bus has no stereo pan");
        bus.pan_automation = c.db_points(*lane, aat + "/pan", true, -1.0, 1.0);
      }
    }
    parse_modulators(c, bj, at, bus);
    for (size_t m = 0; m < bus.modulators.size(); ++m)
      if (bus.channels > 2 && bus.modulators[m].target == "pan")
        c.fail(at + "/modulators/" + std::to_string(m) + "/target",
               "a surround bus has no stereo pan");
    bus.sends = parse_sends(c, bj, at);
    bus.output = c.string(bj, at, "output", "master", false, 64);
    bus.surround = parse_surround(c, bj, at);
    doc.buses.push_back(std::move(bus));
  }
}

// Outputs, sends and sidechains name buses (and sidechains tracks) that
// exist, and no strip reaches itself through them.
void check_routing(checker& c, const messages::session_document& doc) {
  // Strips: tracks 0..T-1, then buses.
  std::map<std::string, size_t> strip_of;
  std::vector<std::string> pointer;
  for (size_t t = 0; t < doc.tracks.size(); ++t) {
    strip_of[doc.tracks[t].id] = pointer.size();
    pointer.push_back("/tracks/" + std::to_string(t));
  }
  const size_t first_bus = pointer.size();
  for (size_t b = 0; b < doc.buses.size(); ++b) {
    strip_of[doc.buses[b].id] = pointer.size();
    pointer.push_back("/buses/" + std::to_string(b));
  }
  // Edges from a strip to what its signal feeds, each with the pointer of
  // the key that makes it.
  struct edge {
    size_t to;
    std::string at;
  };
  std::vector<std::vector<edge>> feeds(pointer.size());
  auto bus_named = [&](const std::string& id, const std::string& at) {
    auto it = strip_of.find(id);
    if (it == strip_of.end() || it->second < first_bus)
      c.fail(at, "\"" + id + "\" is not the id of a bus" +
                   (it == strip_of.end() ? std::string{} : std::string{" (it is a track)"}));
    return it->second;
  };
  auto route = [&](size_t from, const std::string& output,
                   const std::vector<messages::send_spec>& sends,
                   const std::vector<messages::insert_spec>& inserts) {
    const auto& at = pointer[from];
    if (output != "master")
      feeds[from].push_back({bus_named(output, at + "/output"), at + "/output"});
    for (size_t s = 0; s < sends.size(); ++s) {
      const auto sat = at + "/sends/" + std::to_string(s) + "/to";
      feeds[from].push_back({bus_named(sends[s].to, sat), sat});
    }
    for (size_t k = 0; k < inserts.size(); ++k) {
      if (inserts[k].sidechain.empty())
        continue;
      const auto kat = at + "/inserts/" + std::to_string(k) + "/sidechain";
      auto it = strip_of.find(inserts[k].sidechain);
      if (it == strip_of.end())
        c.fail(kat, "\"" + inserts[k].sidechain + "\" is not the id of a track or bus");
      feeds[it->second].push_back({from, kat});
    }
  };
  for (size_t t = 0; t < doc.tracks.size(); ++t)
    route(t, doc.tracks[t].output, doc.tracks[t].sends, doc.tracks[t].inserts);
  for (size_t b = 0; b < doc.buses.size(); ++b)
    route(first_bus + b, doc.buses[b].output, doc.buses[b].sends, doc.buses[b].inserts);
  for (size_t k = 0; k < doc.master_inserts.size(); ++k)
    if (!doc.master_inserts[k].sidechain.empty() &&
        !strip_of.count(doc.master_inserts[k].sidechain))
      c.fail("/master/inserts/" + std::to_string(k) + "/sidechain",
             "\"" + doc.master_inserts[k].sidechain + "\" is not the id of a track or bus");
  // Depth-first along the edges: one that comes back to a strip on the
  // path closes a routing cycle.
  std::vector<int> state(pointer.size(), 0);
  std::vector<size_t> path;
  std::function<void(size_t)> visit = [&](size_t x) {
    state[x] = 1;
    path.push_back(x);
    for (const auto& e : feeds[x]) {
      if (state[e.to] == 1) {
        std::string ring;
        for (auto it = std::find(path.begin(), path.end(), e.to); it != path.end(); ++it)
          ring += (*it < first_bus ? doc.tracks[*it].id : doc.buses[*it - first_bus].id) + " -> ";
        ring += e.to < first_bus ? doc.tracks[e.to].id : doc.buses[e.to - first_bus].id;
        c.fail(e.at, "closes a routing cycle (" + ring + "): a strip cannot feed itself through "
                     "outputs, sends or sidechains");
      }
      if (state[e.to] == 0)
        visit(e.to);
    }
    path.pop_back();
    state[x] = 2;
  };
  for (size_t x = 0; x < pointer.size(); ++x)
    if (state[x] == 0)
      visit(x);
}

// Analysis regions: on a track's timeline range, with the hash of the
// material and the result `loophole analyse --update` stored.
void parse_analysis(checker& c, const json& root, messages::session_document& doc) {
  auto it = root.find("analysis");
  if (it == root.end())
    return;
  if (!it->is_array() || it->size() > 65536)
    c.fail("/analysis", "is not an array of at most 65536 analysis regions");
  std::set<std::string> ids;
  static const std::regex hash_re{R"([0-9a-f]{32})"};
  for (size_t i = 0; i < it->size(); ++i) {
    const auto& aj = (*it)[i];
    const auto at = "/analysis/" + std::to_string(i);
    if (!aj.is_object())
      c.fail(at, "an analysis region is an object {\"id\", \"kind\", \"track\", \"start\", \"end\"}");
    c.only_keys(aj, at, {"id", "kind", "track", "start", "end", "content_hash", "onsets"});
    messages::analysis_region_spec region;
    region.id = c.string(aj, at, "id", "", true, 64);
    if (!is_id(region.id))
      c.fail(at + "/id", "\"" + region.id + "\" is not an id of 1 to 64 letters, digits, _ . -");
    if (!ids.insert(region.id).second)
      c.fail(at + "/id", "\"" + region.id + "\" is the id of an earlier analysis region");
    region.kind = c.string(aj, at, "kind", "transients", false, 64);
    if (region.kind != "transients")
      c.fail(at + "/kind", "\"" + region.kind + "\" is not an analysis kind (transients)");
    region.track = c.string(aj, at, "track", "", true, 64);
    bool known = false;
    for (const auto& t : doc.tracks)
      known = known || t.id == region.track;
    if (!known)
      c.fail(at + "/track", "\"" + region.track + "\" is not the id of a track");
    for (const char* key : {"start", "end"})
      if (!aj.contains(key))
        c.fail(at, std::string{"missing required key '"} + key + "'");
    region.start = c.time(aj, at, "start", true);
    region.end = c.time(aj, at, "end", true);
    region.content_hash = c.string(aj, at, "content_hash", "", false, 32);
    if (!region.content_hash.empty() && !std::regex_match(region.content_hash, hash_re))
      c.fail(at + "/content_hash", "is not 32 lowercase hex digits");
    if (auto on = aj.find("onsets"); on != aj.end()) {
      if (!on->is_array() || on->size() > 10000000)
        c.fail(at + "/onsets", "is not an array of frames");
      for (size_t k = 0; k < on->size(); ++k) {
        const auto& v = (*on)[k];
        if (!v.is_number_integer() || v.get<int64_t>() < 0 ||
            (!region.onsets.empty() && v.get<int64_t>() <= region.onsets.back()))
          c.fail(at + "/onsets/" + std::to_string(k),
                 "is not a frame (an integer) after the one before it");
        region.onsets.push_back(v.get<int64_t>());
      }
    }
    doc.analysis.push_back(std::move(region));
  }
}

} // namespace

messages::session_document parse_session(const std::string& text, const std::string& path) {
  checker c{path};
  if (text.size() > max_session_bytes)
    c.fail("", "the file is larger than " + std::to_string(max_session_bytes >> 20) + " MiB");
  json root;
  try {
    root = json::parse(text);
  } catch (const json::parse_error& e) {
    throw session_error(session_error::kind::invalid,
                        path + ": not valid JSON (byte " + std::to_string(e.byte) + "): " +
                          e.what());
  }
  if (!root.is_object())
    c.fail("", "a session is a JSON object");
  c.only_keys(root, "", {"format", "version", "sample_rate", "tempo", "metadata", "master",
                         "tracks", "buses", "markers", "test_nodes", "analysis", "grooves",
                         "$schema"});
  if (c.string(root, "", "format", "", true) != "loophole-session")
    c.fail("/format", "must be \"loophole-session\"");
  messages::session_document doc;
  doc.path = path;
  auto version = c.integer(root, "", "version", 0, 0, INT32_MAX, true);
  if (version != messages::session_document::current_version)
    c.fail("/version", "version " + std::to_string(version) +
                         " is not supported (this build reads version 1)");
  doc.sample_rate = static_cast<uint32_t>(c.integer(root, "", "sample_rate", 0, 8000, 384000, true));
  doc.test_nodes = c.boolean(root, "", "test_nodes", false);

  const auto& tempo = c.object(root, "", "tempo", false);
  c.only_keys(tempo, "/tempo", {"bpm", "time_signature", "changes", "meter"});
  doc.bpm = c.number(tempo, "/tempo", "bpm", 120.0, 1.0e-3, 999.0);
  if (doc.bpm <= 0)
    c.fail("/tempo/bpm", "must be above 0");
  if (auto it = tempo.find("time_signature"); it != tempo.end()) {
    if (!it->is_array() || it->size() != 2 || !(*it)[0].is_number_integer() ||
        !(*it)[1].is_number_integer())
      c.fail("/tempo/time_signature", "must be [beats per bar, beat unit], e.g. [4, 4]");
    auto beats = (*it)[0].get<int64_t>(), unit = (*it)[1].get<int64_t>();
    if (beats < 1 || beats > 64)
      c.fail("/tempo/time_signature/0", "beats per bar must be in [1, 64]");
    if (unit != 1 && unit != 2 && unit != 4 && unit != 8 && unit != 16 && unit != 32)
      c.fail("/tempo/time_signature/1", "the beat unit must be 1, 2, 4, 8, 16 or 32");
    doc.beats_per_bar = static_cast<uint32_t>(beats);
    doc.beat_unit = static_cast<uint32_t>(unit);
  }
  if (auto it = tempo.find("changes"); it != tempo.end()) {
    if (!it->is_array() || it->size() > 100000)
      c.fail("/tempo/changes", "is not an array of at most 100000 tempo changes");
    for (size_t i = 0; i < it->size(); ++i) {
      const auto& cj = (*it)[i];
      const auto at = "/tempo/changes/" + std::to_string(i);
      if (!cj.is_object())
        c.fail(at, "a tempo change is an object {\"beat\": b, \"bpm\": t, \"ramp\": false}");
      c.only_keys(cj, at, {"beat", "bpm", "ramp"});
      messages::tempo_change change;
      change.beat = c.number(cj, at, "beat", 0.0, 0.0, 1.0e9, true);
      change.bpm = c.number(cj, at, "bpm", 120.0, 1.0e-3, 999.0, true);
      change.ramp = c.boolean(cj, at, "ramp", false);
      const double last = doc.tempo_changes.empty() ? 0.0 : doc.tempo_changes.back().beat;
      if (change.beat <= last)
        c.fail(at + "/beat", "tempo changes must come at increasing beats after beat 0");
      doc.tempo_changes.push_back(change);
    }
  }
  if (auto it = tempo.find("meter"); it != tempo.end()) {
    if (!it->is_array() || it->size() > 100000)
      c.fail("/tempo/meter", "is not an array of at most 100000 time-signature changes");
    for (size_t i = 0; i < it->size(); ++i) {
      const auto& mj = (*it)[i];
      const auto at = "/tempo/meter/" + std::to_string(i);
      if (!mj.is_object())
        c.fail(at, "a time-signature change is an object {\"bar\": n, \"time_signature\": [7, 8]}");
      c.only_keys(mj, at, {"bar", "time_signature"});
      messages::meter_change change;
      change.bar = c.integer(mj, at, "bar", 0, 2, 1000000000, true);
      const auto ts = mj.find("time_signature");
      if (ts == mj.end() || !ts->is_array() || ts->size() != 2 || !(*ts)[0].is_number_integer() ||
          !(*ts)[1].is_number_integer())
        c.fail(at + "/time_signature", "must be [beats per bar, beat unit], e.g. [7, 8]");
      const auto n = (*ts)[0].get<int64_t>(), d = (*ts)[1].get<int64_t>();
      if (n < 1 || n > 64)
        c.fail(at + "/time_signature/0", "beats per bar must be in [1, 64]");
      if (d != 1 && d != 2 && d != 4 && d != 8 && d != 16 && d != 32)
        c.fail(at + "/time_signature/1", "the beat unit must be 1, 2, 4, 8, 16 or 32");
      change.beats_per_bar = static_cast<uint32_t>(n);
      change.beat_unit = static_cast<uint32_t>(d);
      const int64_t last = doc.meter_changes.empty() ? 1 : doc.meter_changes.back().bar;
      if (change.bar <= last)
        c.fail(at + "/bar", "time-signature changes must come at increasing bars after bar 1");
      doc.meter_changes.push_back(change);
    }
  }
  if (auto it = root.find("markers"); it != root.end()) {
    if (!it->is_array() || it->size() > 100000)
      c.fail("/markers", "is not an array of at most 100000 markers");
    for (size_t i = 0; i < it->size(); ++i) {
      const auto& mj = (*it)[i];
      const auto at = "/markers/" + std::to_string(i);
      if (!mj.is_object())
        c.fail(at, "a marker is an object {\"name\": \"Chorus\", \"at\": time}");
      c.only_keys(mj, at, {"name", "at"});
      messages::marker_spec marker;
      marker.name = c.string(mj, at, "name", "", true, 256);
      if (!mj.contains("at"))
        c.fail(at, "missing required key 'at'");
      marker.at = c.time(mj, at, "at", true);
      doc.markers.push_back(std::move(marker));
    }
  }

  const auto& grooves = c.object(root, "", "grooves", false);
  if (grooves.size() > 256)
    c.fail("/grooves", "more than 256 grooves");
  static const std::regex name_re{R"([A-Za-z0-9_.-]{1,64})"};
  for (const auto& [name, gj] : grooves.items()) {
    const auto at = "/grooves/" + name;
    if (!std::regex_match(name, name_re))
      c.fail(at, "\"" + name + "\" is not a name of 1 to 64 letters, digits, _ . -");
    if (!gj.is_object())
      c.fail(at, "a groove is an object {\"grid\": 0.25, \"swing\": 0.6, \"timing\": [...], "
                 "\"velocity\": [...]}");
    c.only_keys(gj, at, {"grid", "swing", "timing", "velocity"});
    messages::groove_spec groove;
    groove.name = name;
    groove.grid = c.number(gj, at, "grid", 0.25, 1.0 / 128, 16.0);
    groove.swing = c.number(gj, at, "swing", 0.5, 0.25, 0.75);
    groove.timing = c.numbers(gj, at, "timing", -0.5, 0.5);
    groove.velocity = c.numbers(gj, at, "velocity", -127.0, 127.0);
    doc.grooves.push_back(std::move(groove));
  }

  const auto& meta = c.object(root, "", "metadata", false);
  c.only_keys(meta, "/metadata", {"title", "artist", "comment", "date"});
  doc.metadata.title = c.string(meta, "/metadata", "title", "", false, 256);
  doc.metadata.artist = c.string(meta, "/metadata", "artist", "", false, 256);
  doc.metadata.comment = c.string(meta, "/metadata", "comment", "", false, 1024);
  doc.metadata.date = c.string(meta, "/metadata", "date", "", false, 10);
  static const std::regex date_re{R"(\d{4}-\d{2}-\d{2})"};
  if (!doc.metadata.date.empty() && !std::regex_match(doc.metadata.date, date_re))
    c.fail("/metadata/date", "\"" + doc.metadata.date + "\" is not a date YYYY-MM-DD");

  const auto base = std::filesystem::path{path}.parent_path();
  const auto& master = c.object(root, "", "master", false);
  c.only_keys(master, "/master", {"gain_db", "channels", "inserts"});
  doc.master_gain_db = c.number(master, "/master", "gain_db", 0.0, -144.0, 24.0);
  doc.master_channels = channel_count(c, master, "/master");
  doc.master_inserts = parse_inserts(c, master, "/master", base, doc.sample_rate, "input", true);

  auto tracks_it = root.find("tracks");
  if (tracks_it == root.end())
    c.fail("", "missing required key 'tracks'");
  if (!tracks_it->is_array())
    c.fail("/tracks", "is not an array");
  if (tracks_it->size() > 4096)
    c.fail("/tracks", "more than 4096 tracks");
  std::set<std::string> ids;
  for (size_t t = 0; t < tracks_it->size(); ++t) {
    const auto& tj = (*tracks_it)[t];
    const auto at = "/tracks/" + std::to_string(t);
    if (!tj.is_object())
      c.fail(at, "a track is an object");
    c.only_keys(tj, at,
                {"id", "name", "channels", "gain_db", "pan", "mute", "solo", "clips", "inserts",
                 "crossfade", "automation", "takes", "comp", "modulators", "instrument", "sends",
                 "output", "surround"});
    messages::track_spec track;
    track.id = c.string(tj, at, "id", "", true, 64);
    if (!is_id(track.id))
      c.fail(at + "/id", "\"" + track.id + "\" is not an id of 1 to 64 letters, digits, _ . -");
    if (!ids.insert(track.id).second)
      c.fail(at + "/id", "\"" + track.id + "\" is the id of an earlier track too");
    track.name = c.string(tj, at, "name", track.id, false, 256);
    track.channels = static_cast<uint16_t>(c.integer(tj, at, "channels", 2, 1, 2));
    track.gain_db = c.number(tj, at, "gain_db", 0.0, -144.0, 24.0);
    track.pan = c.number(tj, at, "pan", 0.0, -1.0, 1.0);
    track.mute = c.boolean(tj, at, "mute", false);
    track.solo = c.boolean(tj, at, "solo", false);
    track.crossfade = c.string(tj, at, "crossfade", "", false, 32);
    if (!track.crossfade.empty() && track.crossfade != "linear" &&
        track.crossfade != "equal_power" && track.crossfade != "exponential" &&
        track.crossfade != "s_curve")
      c.fail(at + "/crossfade",
             "\"" + track.crossfade + "\" is not one of linear, equal_power, exponential, s_curve");
    if (auto cl = tj.find("clips"); cl != tj.end()) {
      if (!cl->is_array())
        c.fail(at + "/clips", "is not an array");
      if (cl->size() > 65536)
        c.fail(at + "/clips", "more than 65536 clips");
      for (size_t k = 0; k < cl->size(); ++k) {
        const auto& cj = (*cl)[k];
        const auto cat = at + "/clips/" + std::to_string(k);
        if (cj.is_object() && (cj.contains("notes") || cj.contains("cc") || cj.contains("pitch_bend"))) {
          if (!tj.contains("instrument"))
            c.fail(cat, "a MIDI clip needs an \"instrument\" on its track");
          track.clips.push_back(c.midi_clip(cj, cat, doc.grooves));
          continue;
        }
        if (tj.contains("instrument"))
          c.fail(cat, "a track with an \"instrument\" plays MIDI clips only (\"notes\", "
                      "\"cc\", \"pitch_bend\")");
        track.clips.push_back(parse_clip(c, cj, cat, base));
      }
    }
    parse_takes_and_comp(c, tj, at, base, track);
    if (tj.contains("instrument")) {
      const auto& ij = c.object(tj, at, "instrument", true);
      const auto iat = at + "/instrument";
      messages::instrument_spec instrument;
      instrument.kind = c.string(ij, iat, "kind", "", true, 64);
      if (instrument.kind == "sine") {
        c.only_keys(ij, iat, {"kind", "attack", "release", "voices"});
        if (ij.contains("attack"))
          instrument.attack = c.time(ij, iat, "attack");
        if (ij.contains("release"))
          instrument.release = c.time(ij, iat, "release");
        instrument.voices = static_cast<uint32_t>(c.integer(ij, iat, "voices", 32, 1, 256));
      } else if (instrument.kind == "sampler" || instrument.kind == "synth") {
        parse_instrument_params(c, ij, iat, base, instrument);
      } else {
        c.fail(iat + "/kind",
               "\"" + instrument.kind + "\" is not an instrument kind (sine, sampler, synth)");
      }
      if (!track.crossfade.empty())
        c.fail(at + "/crossfade", "a track with an instrument has no audio clips to crossfade");
      track.instrument = instrument;
    }
    if (tj.contains("automation")) {
      const auto& aj = c.object(tj, at, "automation", true);
      const auto aat = at + "/automation";
      c.only_keys(aj, aat, {"gain_db", "pan"});
      if (auto lane = aj.find("gain_db"); lane != aj.end())
        track.gain_automation = c.db_points(*lane, aat + "/gain_db", true);
      if (auto lane = aj.find("pan"); lane != aj.end())
        track.pan_automation = c.db_points(*lane, aat + "/pan", true, -1.0, 1.0);
    }
    track.inserts = parse_inserts(c, tj, at, base, doc.sample_rate, "clips", true);
    parse_modulators(c, tj, at, track);
    track.sends = parse_sends(c, tj, at);
    track.output = c.string(tj, at, "output", "master", false, 64);
    track.surround = parse_surround(c, tj, at);
    doc.tracks.push_back(std::move(track));
  }
  parse_buses(c, root, base, doc);
  check_routing(c, doc);
  parse_analysis(c, root, doc);
  return doc;
}

messages::session_document read_session_file(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec))
    throw session_error(session_error::kind::not_found, path + ": no such file");
  if (std::filesystem::is_directory(path, ec))
    throw session_error(session_error::kind::not_found, path + ": is a directory");
  auto size = std::filesystem::file_size(path, ec);
  if (!ec && size > max_session_bytes)
    throw session_error(session_error::kind::invalid,
                        path + ": the file is larger than " +
                          std::to_string(max_session_bytes >> 20) + " MiB");
  std::ifstream in{path, std::ios::binary};
  if (!in)
    throw session_error(session_error::kind::not_found, path + ": cannot be read");
  std::ostringstream buf;
  buf << in.rdbuf();
  return parse_session(buf.str(), path);
}

} // namespace loophole::drivers
