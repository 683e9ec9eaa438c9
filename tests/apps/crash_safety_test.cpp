// apps/crash_safety: the crash safety of `loophole render`, end to end, with the real
// `loophole` and `loophole-signal` binaries and a private HOME/XDG environment.
//
// The suite writes its own media (four deterministic tracks of 6-9 s, float and 24-bit, at
// 48 kHz) and sessions with inserts: a stateful delay with feedback on one track and a
// test.fault node on another. Every disturbed render is compared byte for byte with an
// undisturbed render of the same session:
//
//   - Signal workers SIGKILLed at >= 20 seeded random points of one render (two seeds; one
//     with a checkpoint after every segment, so kills land during checkpoint writes), and
//     one worker SIGSTOPped: the output is identical, the diagnostics count the restarts;
//   - nodes that crash their worker (SIGSEGV, abort, exit, a crash while the node's state is
//     saved for a checkpoint, a hang, a leak past the memory limit): quarantined, then a clear
//     failure naming the node (exit 70), nothing written; NaN: exit 70 naming the node;
//   - loophole itself SIGKILLed mid-render and resumed with --resume (WAV and FLAC, several
//     times in a row), restarted without --resume, killed before its first checkpoint, and a
//     resumed render killed again before its own first checkpoint;
//   - workers killed past the restart limit (exit 69) and SIGINT (exit 130): nothing left;
//   - a full disk (exit 74) and an output folder that is not one (exit 73);
//   - Pulse's own actors killed mid-render (--debug-kill): restarted, the output identical.
//
// After every run: no loophole-signal process descended from this test is left running, no
// shared memory segment or runtime folder of the run's loophole, and (after any ending but a
// SIGKILL of loophole) no `.OUT.loophole` state folder and no temporary file.

#define BOOST_TEST_MODULE apps_crash_safety
#define BOOST_TEST_DYN_LINK
#include <algorithm>
#include <array>
#include <boost/test/unit_test.hpp>

#include "tests/support/sound_file.hpp"
#include "tests/support/processes.hpp"
#include "tests/support/temp_dir.hpp"
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <numbers>
#include <optional>
#include <poll.h>
#include <random>
#include <signal.h>
#include <sndfile.h>
#include <spawn.h>
#include <sstream>
#include <stdlib.h>
#include <string>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

#ifndef LOOPHOLE_BIN_DIR
#error "LOOPHOLE_BIN_DIR must name the folder holding loophole and loophole-signal"
#endif

extern char** environ;

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

namespace {

constexpr int rate = 48000;
constexpr int workers = 2; // every render: two Signal instances (the machine has 2 cores)
/// Frames per segment for every render (the default is 32768): about 110 segments per render,
/// so that kills and checkpoints land at many points. Resume needs the same value.
constexpr const char* segment_env = "LOOPHOLE_RENDER_SEGMENT_FRAMES=4096";
/// The slow session: sleeps this long per 1024-frame block, ~1.8 s per render.
constexpr double slow_sleep_ms = 4.0;

const std::string loophole_exe = std::string{LOOPHOLE_BIN_DIR} + "/loophole";

// -- small things ---------------------------------------------------------------------------

std::vector<char> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

bool contains(const std::string& text, const std::string& needle) {
  return text.find(needle) != std::string::npos;
}

using loophole::test::join;

using loophole::test::have;
using loophole::test::shell;

/// Every name in `folder` (hidden ones included), sorted.
std::vector<std::string> listing(const fs::path& folder) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(folder, ec))
    names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

/// The hidden state folder of a render of `output` (".NAME.loophole" beside it).
fs::path state_folder(const std::string& output) {
  const fs::path p{output};
  std::string name = ".";
  name += p.filename().string();
  name += ".loophole";
  return p.parent_path() / name;
}

// -- processes --------------------------------------------------------------------------------

/// Makes this process the subreaper of its descendants: a `loophole-signal` that outlives its
/// `loophole` is reparented here, where the checks below find it.
struct subreaper_fixture {
  subreaper_fixture() {
    if (!loophole::test::become_subreaper())
      BOOST_TEST_MESSAGE("prctl(PR_SET_CHILD_SUBREAPER) failed: orphan checks are weaker");
  }
};
BOOST_TEST_GLOBAL_FIXTURE(subreaper_fixture);

using loophole::test::proc_entry;
using loophole::test::processes;

/// Live (not zombie) loophole-signal processes of which this test is an ancestor.
std::vector<proc_entry> live_signal_descendants() {
  const auto all = processes();
  std::map<pid_t, pid_t> parent;
  for (const auto& p : all)
    parent[p.pid] = p.ppid;
  const pid_t self = getpid();
  std::vector<proc_entry> found;
  for (const auto& p : all) {
    if (p.comm != "loophole-signal" || p.state == 'Z')
      continue;
    pid_t q = p.ppid;
    for (int depth = 0; depth < 64 && q > 1; ++depth) {
      if (q == self) {
        found.push_back(p);
        break;
      }
      auto it = parent.find(q);
      if (it == parent.end())
        break;
      q = it->second;
    }
  }
  return found;
}

/// Reaps the loophole-signal zombies reparented to this test (after a SIGKILL of loophole).
void reap_signal_zombies() {
  const pid_t self = getpid();
  for (const auto& p : processes())
    if (p.ppid == self && p.comm == "loophole-signal" && p.state == 'Z')
      waitpid(p.pid, nullptr, WNOHANG);
}

/// loophole's live Signal children, in pid order.
std::vector<pid_t> signal_children(pid_t loophole) {
  std::vector<pid_t> found;
  for (const auto& p : processes())
    if (p.ppid == loophole && p.comm == "loophole-signal" && p.state != 'Z')
      found.push_back(p.pid);
  std::sort(found.begin(), found.end());
  return found;
}

using loophole::test::shm_segments_of;

// -- the shared material: private environment, media, sessions, references -------------------

/// A fault insert (test.fault) on the "drums" track.
struct fault_spec {
  std::string fault = "none";
  double at_seconds = 0.0;
  double leak_mb = 0.0;
  double sleep_ms = 1.0;
  int drum_repeats = 1; ///< the drums clip this many times in a row (longer sessions)
};

/// Writes one deterministic media file. `pcm24`: 24-bit integer, else 32-bit float.
void write_media(const fs::path& path, int channels, double seconds, bool pcm24,
                 const std::function<double(int64_t, int)>& sample) {
  SF_INFO info{};
  info.samplerate = rate;
  info.channels = channels;
  info.format = SF_FORMAT_WAV | (pcm24 ? SF_FORMAT_PCM_24 : SF_FORMAT_FLOAT);
  const auto frames = static_cast<int64_t>(std::llround(seconds * rate));
  std::vector<float> v(static_cast<size_t>(frames * channels));
  for (int64_t i = 0; i < frames; ++i)
    for (int c = 0; c < channels; ++c)
      v[static_cast<size_t>(i * channels + c)] = static_cast<float>(sample(i, c));
  SNDFILE* f = sf_open(path.c_str(), SFM_WRITE, &info);
  if (!f)
    throw std::runtime_error("cannot write " + path.string() + ": " + sf_strerror(nullptr));
  const auto written = sf_writef_float(f, v.data(), frames);
  sf_close(f);
  if (written != frames)
    throw std::runtime_error("short write of " + path.string());
}

class world {
public:
  world() {
    for (const char* sub : {"home", "config", "cache", "run", "diag", "cases"})
      fs::create_directory(dir_.path() / sub);
    fs::permissions(dir_.path() / "run", fs::perms::owner_all, fs::perm_options::replace);
    write_all_media();
  }

  const fs::path& path() const { return dir_.path(); }
  fs::path runtime_folder_of(pid_t pid) const {
    return dir_.path() / "run" / ("loophole-" + std::to_string(pid));
  }
  std::string diag(const std::string& name) const {
    const auto p = (dir_.path() / "diag" / name).string();
    std::error_code ec;
    fs::remove(p, ec);
    return p;
  }

  /// The session file for `f` (written once).
  std::string session(const fault_spec& f) {
    std::ostringstream key;
    key << f.fault << "-" << f.at_seconds << "-" << f.leak_mb << "-" << f.sleep_ms << "-"
        << f.drum_repeats;
    const auto name = key.str() + ".json";
    const auto path = dir_.path() / name;
    if (!fs::exists(path))
      write_text(path.string(), session_json(f).dump(2));
    return path.string();
  }

  /// The id of the test.fault node of `session`, from `loophole render --dry-run --json`.
  uint32_t fault_node(const std::string& session);
  std::string fault_label() const { return "drums / test.fault 0"; }
  std::string node_name(const std::string& session) {
    return "node " + std::to_string(fault_node(session)) + " ('" + fault_label() + "')";
  }

  /// An undisturbed render of `session` (same flags and environment as the tests use) to a
  /// file with extension `ext`; rendered once.
  const std::vector<char>& reference(const std::string& session, const std::string& ext);
  /// The peak its --json summary gave.
  double reference_peak(const std::string& session, const std::string& ext) {
    reference(session, ext);
    return peaks_.at(session + "|" + ext);
  }

private:
  void write_all_media() {
    const auto at = [this](const char* name) { return dir_.path() / name; };
    // Drums: noise bursts (a fixed LCG) on a decaying low sine, every quarter second.
    uint32_t seed = 12345u;
    std::vector<float> noise(static_cast<size_t>(8 * rate) * 2);
    for (auto& x : noise) {
      seed = seed * 1664525u + 1013904223u;
      x = static_cast<float>((seed >> 8) * (1.0 / 16777216.0) * 2.0 - 1.0);
    }
    write_media(at("drums.wav"), 2, 8.0, false, [&](int64_t i, int c) {
      const double t = static_cast<double>(i % (rate / 4)) / rate;
      const double env = std::exp(-t * 30.0);
      return env * (0.35 * std::sin(2 * std::numbers::pi * (60.0 + 40.0 * env) * t) +
                    0.15 * static_cast<double>(noise[static_cast<size_t>(i * 2 + c)]));
    });
    write_media(at("bass.wav"), 1, 7.0, true, [](int64_t i, int) {
      const double t = static_cast<double>(i) / rate;
      const double f = (i / (rate / 2)) % 2 ? 55.0 : 73.42;
      return 0.3 * std::sin(2 * std::numbers::pi * f * t) +
             0.1 * std::sin(2 * std::numbers::pi * 2 * f * t);
    });
    write_media(at("pad.wav"), 2, 6.0, true, [](int64_t i, int c) {
      const double t = static_cast<double>(i) / rate;
      double s = 0;
      for (double f : {220.0, 277.18, 329.63})
        s += std::sin(2 * std::numbers::pi * (f + 0.7 * c) * t + 0.5 * c);
      return 0.12 * s * std::min(1.0, t / 0.5);
    });
    write_media(at("lead.wav"), 2, 9.0, false, [](int64_t i, int c) {
      const double t = static_cast<double>(i) / rate;
      const double vib = 4.0 * std::sin(2 * std::numbers::pi * 5.5 * t);
      return (0.2 - 0.05 * c) * std::sin(2 * std::numbers::pi * (660.0 + vib) * t) *
             (0.6 + 0.4 * std::sin(2 * std::numbers::pi * 0.5 * t));
    });
  }

  static json session_json(const fault_spec& f) {
    json drum_clips = json::array();
    for (int k = 0; k < f.drum_repeats; ++k)
      drum_clips.push_back({{"media", "drums.wav"}, {"position", {{"seconds", 8.0 * k}}}});
    json fault{{"kind", "test.fault"},
               {"fault", f.fault},
               {"at", {{"seconds", f.at_seconds}}},
               {"leak_mb", f.leak_mb},
               {"sleep_ms", f.sleep_ms}};
    json delay{{"kind", "delay"},
               {"time", {{"seconds", 0.3}}},
               {"feedback", 0.5},
               {"wet", 0.5},
               {"dry", 1.0}};
    json tracks = json::array();
    tracks.push_back({{"id", "drums"},
                      {"channels", 2},
                      {"gain_db", -2.0},
                      {"pan", -0.2},
                      {"clips", drum_clips},
                      {"inserts", json::array({fault})}});
    tracks.push_back({{"id", "bass"},
                      {"channels", 1},
                      {"gain_db", -4.0},
                      {"pan", 0.1},
                      {"clips", {{{"media", "bass.wav"}, {"position", {{"seconds", 0.5}}}}}},
                      {"inserts", json::array({delay})}});
    tracks.push_back(
        {{"id", "pad"},
         {"channels", 2},
         {"gain_db", -6.0},
         {"pan", 0.3},
         {"clips",
          {{{"media", "pad.wav"},
            {"position", {{"beats", 4}}},
            {"fade_out", {{"length", {{"seconds", 0.5}}}, {"shape", "s_curve"}}}}}}});
    tracks.push_back({{"id", "lead"},
                      {"channels", 2},
                      {"gain_db", -5.0},
                      {"pan", -0.4},
                      {"clips", {{{"media", "lead.wav"}, {"position", {{"samples", 12000}}}}}}});
    return {{"format", "loophole-session"},
            {"version", 1},
            {"sample_rate", rate},
            {"test_nodes", true},
            {"tempo", {{"bpm", 120.0}, {"time_signature", {4, 4}}}},
            {"metadata", {{"title", "Crash safety"}, {"artist", "Loophole tests"}}},
            {"master", {{"gain_db", -3.0}}},
            {"tracks", tracks}};
  }

  loophole::test::temp_dir dir_{"crash-safety-test"};
  std::map<std::string, uint32_t> fault_nodes_;
  std::map<std::string, std::vector<char>> references_;
  std::map<std::string, double> peaks_;
};

world& shared() {
  static world w;
  return w;
}

// -- running loophole ---------------------------------------------------------------------------

/// What a watcher sees of a running loophole, ~every 5 ms.
struct run_control {
  pid_t pid = -1;
  double elapsed = 0;       ///< seconds since the start
  int64_t frames_done = 0;  ///< from the last --progress json line
  int64_t frames_total = 0; ///< 0 until the first progress line
  int progress_lines = 0;
};

struct run_options {
  std::vector<std::string> env;                  ///< extra "NAME=value" entries
  std::function<void(run_control&)> watch;       ///< called while loophole runs
  std::chrono::seconds time_limit{60};           ///< then the process is killed (a hang)
};

struct run_result {
  pid_t pid = -1;
  int code = -1;          ///< exit status, or 128 + the signal that killed it
  bool signaled = false;  ///< killed by a signal rather than exiting
  bool timed_out = false; ///< killed by this test after run_options::time_limit
  std::string out, err;
  double seconds = 0;
  std::optional<json> summary; ///< the --json summary line, if any
};

std::ostream& operator<<(std::ostream& os, const run_result& r) {
  return os << "exit " << r.code << (r.signaled ? " (killed)" : "")
            << (r.timed_out ? " (hung: killed by the test)" : "") << " after " << r.seconds
            << " s\n--- stdout (progress lines left out):\n"
            << [&] {
                 std::string kept;
                 std::istringstream in(r.out);
                 for (std::string line; std::getline(in, line);)
                   if (!contains(line, "\"event\":\"progress\""))
                     kept += line + "\n";
                 return kept;
               }()
            << "--- stderr:\n"
            << r.err << "---";
}

/// After a run: nothing of it is left running; after any ending but a SIGKILL, nothing of it
/// is left mapped or on disk either. Kills and reaps what is left running.
void check_hygiene(const run_result& r, const std::string& what) {
  // A Signal instance must not outlive its loophole: after a SIGKILL of loophole it dies by
  // PDEATHSIG (give it a moment); after any other ending loophole has already reaped it.
  const auto deadline = steady::now() + (r.signaled ? 3s : 0s);
  std::vector<proc_entry> left;
  for (;;) {
    reap_signal_zombies();
    left = live_signal_descendants();
    if (left.empty() || steady::now() >= deadline)
      break;
    std::this_thread::sleep_for(20ms);
  }
  if (!r.timed_out) {
    std::ostringstream pids;
    for (const auto& p : left)
      pids << " " << p.pid << " (state " << p.state << ", parent " << p.ppid << ")";
    BOOST_TEST(left.empty(), what << ": loophole-signal process(es) left running after loophole "
                                  << r.pid << " ended:" << pids.str());
  }
  for (const auto& p : left) {
    kill(p.pid, SIGKILL);
    waitpid(p.pid, nullptr, 0); // ours if reparented here; otherwise returns at once
  }
  if (r.signaled)
    return; // loophole could not clean up: the next run must (checked by the tests)
  const auto segments = shm_segments_of(r.pid);
  BOOST_TEST(segments.empty(), what << ": shared memory left behind: " << join(segments));
  const auto runtime = shared().runtime_folder_of(r.pid);
  BOOST_TEST(!fs::exists(runtime), what << ": runtime folder left behind: " << runtime);
}

/// Runs `loophole args...` with the private environment, capturing stdout and stderr and
/// following --progress json lines on stdout.
run_result run_loophole(const std::vector<std::string>& args, const run_options& options = {}) {
  auto& w = shared();
  std::vector<std::string> argv_s{loophole_exe};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  const char* path_env = std::getenv("PATH");
  std::vector<std::string> env_s{
      "PATH=" + std::string{path_env ? path_env : "/usr/bin:/bin"},
      "HOME=" + (w.path() / "home").string(),
      "XDG_CONFIG_HOME=" + (w.path() / "config").string(),
      "XDG_CACHE_HOME=" + (w.path() / "cache").string(),
      "XDG_RUNTIME_DIR=" + (w.path() / "run").string(),
      "LANG=C",
      segment_env,
  };
  env_s.insert(env_s.end(), options.env.begin(), options.env.end());
  std::vector<char*> argv, envp;
  for (auto& a : argv_s)
    argv.push_back(a.data());
  argv.push_back(nullptr);
  for (auto& e : env_s)
    envp.push_back(e.data());
  envp.push_back(nullptr);

  int out_pipe[2], err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0)
    throw std::runtime_error("pipe2 failed");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], STDERR_FILENO);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, defaults;
  sigemptyset(&none);
  sigemptyset(&defaults);
  for (int s : {SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGCHLD, SIGUSR1, SIGUSR2})
    sigaddset(&defaults, s);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  run_result r;
  const auto started = steady::now();
  const int rc =
      posix_spawn(&r.pid, loophole_exe.c_str(), &actions, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  close(out_pipe[1]);
  close(err_pipe[1]);
  if (rc != 0) {
    close(out_pipe[0]);
    close(err_pipe[0]);
    throw std::runtime_error("posix_spawn " + loophole_exe + ": " + std::strerror(rc));
  }
  fcntl(out_pipe[0], F_SETFL, O_NONBLOCK);
  fcntl(err_pipe[0], F_SETFL, O_NONBLOCK);

  auto drain = [](int fd, std::string& into) {
    std::array<char, 65536> buf{};
    for (;;) {
      const auto n = read(fd, buf.data(), buf.size());
      if (n <= 0)
        return n == 0; // true: end of file
      into.append(buf.data(), static_cast<size_t>(n));
    }
  };
  run_control control;
  control.pid = r.pid;
  size_t parsed = 0; // stdout parsed up to here
  auto parse_lines = [&] {
    for (;;) {
      const auto eol = r.out.find('\n', parsed);
      if (eol == std::string::npos)
        return;
      const auto line = r.out.substr(parsed, eol - parsed);
      parsed = eol + 1;
      const auto j = json::parse(line, nullptr, false);
      if (!j.is_object())
        continue;
      if (j.value("event", "") == "progress") {
        control.frames_done = j.value("frames_done", int64_t{0});
        control.frames_total = j.value("frames_total", int64_t{0});
        ++control.progress_lines;
      } else if (j.contains("file") || j.contains("error")) {
        r.summary = j;
      }
    }
  };
  bool out_open = true, err_open = true;
  int status = 0;
  bool exited = false;
  while (!exited) {
    std::array<pollfd, 2> fds{pollfd{out_pipe[0], POLLIN, 0}, pollfd{err_pipe[0], POLLIN, 0}};
    poll(fds.data(), fds.size(), 5);
    if (out_open && drain(out_pipe[0], r.out))
      out_open = false;
    if (err_open && drain(err_pipe[0], r.err))
      err_open = false;
    parse_lines();
    const auto elapsed = steady::now() - started;
    control.elapsed = std::chrono::duration<double>(elapsed).count();
    if (options.watch && !r.timed_out)
      options.watch(control);
    if (elapsed > options.time_limit && !r.timed_out) {
      kill(r.pid, SIGKILL);
      r.timed_out = true;
    }
    const pid_t wp = waitpid(r.pid, &status, WNOHANG);
    exited = wp == r.pid;
  }
  drain(out_pipe[0], r.out);
  drain(err_pipe[0], r.err);
  parse_lines();
  close(out_pipe[0]);
  close(err_pipe[0]);
  r.seconds = std::chrono::duration<double>(steady::now() - started).count();
  if (WIFEXITED(status)) {
    r.code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    r.code = 128 + WTERMSIG(status);
    r.signaled = true;
  }
  check_hygiene(r, "loophole " + join(args));
  return r;
}

/// `loophole render SESSION -o OUT` with the flags every test uses, and `extra`.
std::vector<std::string> render_args(const std::string& session, const std::string& out,
                                     std::vector<std::string> extra = {}) {
  std::vector<std::string> args{"render",    session, "-o", out, "--workers",
                                std::to_string(workers), "--progress", "json"};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

uint32_t world::fault_node(const std::string& session) {
  if (auto it = fault_nodes_.find(session); it != fault_nodes_.end())
    return it->second;
  const auto r = run_loophole({"render", session, "-o", (path() / "plan.wav").string(),
                               "--dry-run", "--json"});
  BOOST_TEST_REQUIRE(r.code == 0, r);
  const auto plan = json::parse(r.out);
  std::optional<uint32_t> id;
  for (const auto& n : plan.at("nodes"))
    if (n.value("label", "") == fault_label()) {
      BOOST_TEST_REQUIRE(n.value("kind", "") == "test.fault", n.dump());
      id = n.at("id").get<uint32_t>();
    }
  BOOST_TEST_REQUIRE(id.has_value(), "no node '" << fault_label() << "' in the plan: " << r.out);
  return fault_nodes_[session] = *id;
}

const std::vector<char>& world::reference(const std::string& session, const std::string& ext) {
  const auto key = session + "|" + ext;
  if (auto it = references_.find(key); it != references_.end())
    return it->second;
  static int n = 0;
  const auto out = (path() / ("reference-" + std::to_string(n++) + "." + ext)).string();
  const auto r = run_loophole(render_args(session, out, {"--json"}));
  BOOST_TEST_REQUIRE(r.code == 0, "the reference render failed: " << r);
  BOOST_TEST_REQUIRE(r.summary.has_value(), r);
  peaks_[key] = r.summary->value("peak", -1.0);
  BOOST_TEST_MESSAGE("reference " << fs::path{session}.filename().string() << " ." << ext << ": "
                                  << r.seconds << " s");
  auto bytes = read_bytes(out);
  BOOST_TEST_REQUIRE(bytes.size() > 100000u);
  return references_[key] = std::move(bytes);
}

// -- one test's output folder ------------------------------------------------------------------

class case_dir {
public:
  explicit case_dir(const std::string& name) : path_(shared().path() / "cases" / name) {
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  std::string out(const std::string& name) const { return (path_ / name).string(); }
  std::vector<std::string> names() const { return listing(path_); }
  const fs::path& path() const { return path_; }

private:
  fs::path path_;
};

json read_diagnostics(const std::string& path) {
  std::ifstream in(path);
  BOOST_TEST_REQUIRE(in.good(), "no diagnostics report " << path);
  json j = json::parse(in, nullptr, false);
  BOOST_TEST_REQUIRE(j.is_object(), "the diagnostics report " << path << " is not JSON");
  BOOST_TEST(j.value("format", "") == "loophole-diagnostics");
  BOOST_TEST(!fs::exists(path + ".tmp"));
  return j;
}

size_t count_events(const json& diag, const std::string& kind,
                    std::optional<uint32_t> node = std::nullopt) {
  size_t n = 0;
  for (const auto& e : diag.at("events"))
    if (e.value("kind", "") == kind &&
        (!node || (e.contains("node") && e.at("node").get<uint32_t>() == *node)))
      ++n;
  return n;
}

/// A render ended cleanly (however it ended): no state folder, no temporary file.
void check_clean_folder(const case_dir& dir, const std::string& output) {
  BOOST_TEST(!fs::exists(state_folder(output)),
             state_folder(output) << " is left after a render that ended cleanly");
  BOOST_TEST(loophole::test::partial_files(dir.path()).empty(),
             "temporary files: " << join(loophole::test::partial_files(dir.path())));
}

/// A render of `output` that succeeded: byte-identical to `reference`, nothing else left.
void check_identical(const case_dir& dir, const std::string& output,
                     const std::vector<char>& reference) {
  BOOST_TEST_REQUIRE(fs::exists(output), output << " was not written");
  const auto got = read_bytes(output);
  BOOST_TEST(got.size() == reference.size());
  if (got != reference) {
    size_t first = 0;
    while (first < std::min(got.size(), reference.size()) && got[first] == reference[first])
      ++first;
    BOOST_TEST(false, output << " differs from the undisturbed render, first at byte " << first);
  }
  check_clean_folder(dir, output);
}

/// A render that failed: no output and nothing else beside it.
void check_nothing_written(const case_dir& dir, const std::string& output) {
  BOOST_TEST(!fs::exists(output), output << " exists after a failed render");
  check_clean_folder(dir, output);
  BOOST_TEST(dir.names().empty(), "left in the output folder: " << join(dir.names()));
}

// -- killing Signal workers at random --------------------------------------------------------

/// Kills one of loophole's Signal instances at seeded random moments, spread over the
/// render: kill i waits until the render has written i/(kills+2) of its frames and a random
/// 25-110 ms have passed since the previous kill.
struct random_worker_killer {
  std::mt19937_64 rng;
  int planned;
  int kills = 0;
  int settled_kills = 0; ///< of workers alive for >= 250 ms: surely attached to the job
  std::vector<double> at_fraction;
  std::map<pid_t, steady::time_point> first_seen;
  steady::time_point last_kill{};
  std::chrono::milliseconds gap{0};

  random_worker_killer(uint64_t seed, int planned_kills) : rng(seed), planned(planned_kills) {}

  void operator()(run_control& c) {
    const auto now = steady::now();
    const auto children = signal_children(c.pid);
    for (auto pid : children)
      first_seen.emplace(pid, now);
    if (kills >= planned || c.frames_total == 0 || children.empty())
      return;
    const double done = static_cast<double>(c.frames_done) / static_cast<double>(c.frames_total);
    if (done < static_cast<double>(kills + 1) / (planned + 2) || now - last_kill < gap)
      return;
    // Half the time the oldest worker (surely busy with the job), else any (perhaps one
    // still starting after the previous kill).
    pid_t victim = children[std::uniform_int_distribution<size_t>(0, children.size() - 1)(rng)];
    if (std::uniform_int_distribution<int>(0, 1)(rng) == 0)
      victim = *std::min_element(children.begin(), children.end(), [&](pid_t a, pid_t b) {
        return first_seen[a] < first_seen[b];
      });
    if (kill(victim, SIGKILL) != 0)
      return;
    ++kills;
    if (now - first_seen[victim] >= 250ms)
      ++settled_kills;
    at_fraction.push_back(done);
    last_kill = now;
    gap = std::chrono::milliseconds{std::uniform_int_distribution<int>(25, 110)(rng)};
  }
};

void random_worker_kills(uint64_t seed, const std::string& checkpoint_ms) {
  auto& w = shared();
  case_dir dir{"worker-kills-" + std::to_string(seed)};
  const auto session = w.session({"slow", 0.0, 0.0, slow_sleep_ms});
  const auto& reference = w.reference(session, "wav");
  const auto out = dir.out("mix.wav");
  const auto diag = w.diag("worker-kills-" + std::to_string(seed) + ".json");

  random_worker_killer killer{seed, 24};
  run_options o;
  o.env = {"LOOPHOLE_RENDER_CHECKPOINT_MS=" + checkpoint_ms, "LOOPHOLE_SIGNAL_MAX_RESTARTS=1000"};
  o.watch = std::ref(killer);
  const auto r = run_loophole(render_args(session, out, {"--diagnostics", diag, "--json"}), o);
  BOOST_TEST_MESSAGE("seed " << seed << ", checkpoint_ms " << checkpoint_ms << ": "
                             << killer.kills << " kills (" << killer.settled_kills
                             << " of settled workers) in " << r.seconds << " s");
  BOOST_TEST_REQUIRE(r.code == 0, r);
  BOOST_TEST(killer.kills >= 20, "only " << killer.kills << " kills landed before the end");
  if (!killer.at_fraction.empty()) {
    // Spread over the render, not bunched at one end.
    BOOST_TEST(killer.at_fraction.front() < 0.25);
    BOOST_TEST(killer.at_fraction.back() > 0.7);
  }
  check_identical(dir, out, reference);

  const auto d = read_diagnostics(diag);
  BOOST_TEST(d.value("result", "") == "ok");
  const auto restarts = d.value("restarts", -1);
  BOOST_TEST_MESSAGE("seed " << seed << ": " << restarts << " restarts in the diagnostics");
  BOOST_TEST(restarts >= killer.settled_kills, "restarts " << restarts);
  BOOST_TEST(restarts <= killer.kills, "restarts " << restarts);
  BOOST_TEST(count_events(d, "failure") == static_cast<size_t>(restarts));
  BOOST_TEST(count_events(d, "resumed") >= 1u);
  // Kills from outside are no node's fault: none is quarantined for them.
  BOOST_TEST(d.at("quarantined").empty(), "quarantined after SIGKILLs from outside: "
                                              << d.at("quarantined").dump());
  BOOST_TEST(count_events(d, "quarantine") == 0u);
  BOOST_TEST(d.value("checkpoints", 0) > 0);
  BOOST_TEST(d.value("resumed_frames", -1) == 0);
  // The summary says the same.
  BOOST_TEST_REQUIRE(r.summary.has_value(), r);
  BOOST_TEST(r.summary->value("worker_restarts", -1) == restarts);
  BOOST_TEST(r.summary->value("peak", -2.0) == w.reference_peak(session, "wav"));
  BOOST_TEST(contains(r.err, std::to_string(restarts) + " Signal instance failures survived"),
             r.err);
}

// -- faulty nodes ----------------------------------------------------------------------------------

/// A render whose fault node keeps taking its worker down: it is quarantined after two
/// deaths, fails again in safe mode, and the render stops with exit 70 naming it.
void expect_quarantine_then_failure(const std::string& fault, std::vector<std::string> env,
                                    const std::string& detail_needle,
                                    const std::string& where_needle, double at_seconds = 3.0,
                                    double leak_mb = 0.0, int drum_repeats = 1,
                                    double max_seconds = 30.0) {
  auto& w = shared();
  case_dir dir{"fault-" + fault};
  const auto session = w.session({fault, at_seconds, leak_mb, 1.0, drum_repeats});
  const auto node = w.fault_node(session);
  const auto name = w.node_name(session);
  const auto out = dir.out("mix.wav");
  const auto diag = w.diag("fault-" + fault + ".json");
  run_options o;
  o.env = std::move(env);
  const auto r = run_loophole(render_args(session, out, {"--diagnostics", diag}), o);
  BOOST_TEST_MESSAGE(fault << ": exit " << r.code << " after " << r.seconds << " s");
  BOOST_TEST(r.code == 70, r);
  BOOST_TEST(!r.signaled);
  BOOST_TEST(r.seconds < max_seconds, fault << " took " << r.seconds << " s to fail");
  BOOST_TEST(contains(r.err, name + " took its Signal instance down 3 times"), r.err);
  BOOST_TEST(contains(r.err, "alone in safe mode"), r.err);
  BOOST_TEST(contains(r.err, where_needle), r.err);
  BOOST_TEST(contains(r.err, detail_needle), r.err);
  BOOST_TEST(contains(r.err, out + " was not written"), r.err);
  check_nothing_written(dir, out);

  const auto d = read_diagnostics(diag);
  BOOST_TEST(d.value("result", "") == "failed");
  BOOST_TEST(contains(d.value("error", ""), name), d.value("error", ""));
  BOOST_TEST(d.value("restarts", 0) == 3);
  BOOST_TEST(count_events(d, "failure", node) == 3u, d.at("events").dump(1));
  for (const auto& e : d.at("events"))
    if (e.value("kind", "") == "failure") {
      BOOST_TEST(contains(e.value("detail", ""), detail_needle), e.dump());
      BOOST_TEST(e.value("node_label", "") == w.fault_label(), e.dump());
    }
  BOOST_TEST(count_events(d, "quarantine", node) == 1u, d.at("events").dump(1));
  BOOST_TEST_REQUIRE(d.at("quarantined").size() == 1u, d.at("quarantined").dump());
  BOOST_TEST(d.at("quarantined")[0].value("node", -1) == static_cast<int>(node));
  BOOST_TEST(d.at("quarantined")[0].value("node_label", "") == w.fault_label());
}

// -- killing loophole -----------------------------------------------------------------------------

/// The identity of the checkpoint file in a state folder (its inode: each save renames a new
/// file over it), or 0 if there is none.
ino_t checkpoint_inode(const std::string& output) {
  struct stat sb {};
  if (::stat((state_folder(output) / "checkpoint").c_str(), &sb) != 0)
    return 0;
  return sb.st_ino;
}

/// Runs `args` and SIGKILLs loophole once it has written `fraction` of the frames and (if
/// `need_checkpoint`) saved a checkpoint of its own, plus a random 0-40 ms. Checks what a
/// killed render must leave: a state folder, no output.
run_result run_and_kill_pulse(const std::vector<std::string>& args, const std::string& output,
                              std::vector<std::string> env, double fraction,
                              bool need_checkpoint, std::mt19937_64& rng) {
  const auto before = checkpoint_inode(output);
  std::optional<steady::time_point> kill_at;
  run_options o;
  o.env = std::move(env);
  bool killed = false;
  o.watch = [&](run_control& c) {
    if (killed || c.frames_total == 0)
      return;
    const auto now = steady::now();
    if (!kill_at) {
      const bool far_enough = static_cast<double>(c.frames_done) >=
                              fraction * static_cast<double>(c.frames_total);
      const auto inode = checkpoint_inode(output);
      const bool saved = inode != 0 && inode != before;
      if (far_enough && (saved || !need_checkpoint))
        kill_at = now + std::chrono::milliseconds{std::uniform_int_distribution<int>(0, 40)(rng)};
    }
    if (kill_at && now >= *kill_at) {
      kill(c.pid, SIGKILL);
      killed = true;
    }
  };
  const auto r = run_loophole(args, o);
  BOOST_TEST_MESSAGE("loophole killed at " << fraction << " of the frames: " << r.code << " after "
                                           << r.seconds << " s");
  BOOST_TEST_REQUIRE(r.signaled, "the render ended before it could be killed: " << r);
  BOOST_TEST(r.code == 128 + SIGKILL);
  BOOST_TEST(!fs::exists(output), output << " exists after loophole was killed mid-render");
  BOOST_TEST(fs::is_directory(state_folder(output)),
             "no state folder " << state_folder(output) << " after loophole was killed");
  if (need_checkpoint)
    BOOST_TEST(checkpoint_inode(output) != 0, "no checkpoint in " << state_folder(output));
  return r;
}

/// After the runs that followed a SIGKILL of loophole `pid`: its shared memory and runtime
/// folder are gone (removed by the next run).
void check_killed_run_cleaned(pid_t pid) {
  const auto segments = shm_segments_of(pid);
  BOOST_TEST(segments.empty(), "shared memory of killed loophole " << pid
                                                                    << " left: " << join(segments));
  BOOST_TEST(!fs::exists(shared().runtime_folder_of(pid)),
             "the runtime folder of killed loophole " << pid << " is left");
}

/// Several kills of loophole in a row, each followed by the same command with --resume,
/// the last of which finishes.
void kill_and_resume_chain(const std::string& ext, uint64_t seed,
                           const std::vector<double>& kill_fractions) {
  auto& w = shared();
  case_dir dir{"pulse-kills-" + ext};
  const auto session = w.session({"slow", 0.0, 0.0, slow_sleep_ms});
  const auto& reference = w.reference(session, ext);
  const auto out = dir.out("mix." + ext);
  const std::vector<std::string> env{"LOOPHOLE_RENDER_CHECKPOINT_MS=50"};
  std::mt19937_64 rng{seed};
  std::vector<pid_t> killed;
  for (size_t i = 0; i < kill_fractions.size(); ++i) {
    BOOST_TEST_CONTEXT("kill " << i + 1) {
      std::vector<std::string> extra;
      if (i > 0)
        extra.push_back("--resume");
      const auto r = run_and_kill_pulse(render_args(session, out, extra), out, env,
                                        kill_fractions[i], true, rng);
      killed.push_back(r.pid);
    }
  }
  const auto diag = w.diag("pulse-kills-" + ext + ".json");
  const auto r = run_loophole(render_args(session, out, {"--resume", "--json", "--diagnostics", diag}),
                              {env, {}, 60s});
  BOOST_TEST_REQUIRE(r.code == 0, r);
  check_identical(dir, out, reference);
  BOOST_TEST(dir.names() == std::vector<std::string>{"mix." + ext}, join(dir.names()));
  BOOST_TEST(contains(r.err, "resumed after"), r.err);
  const auto d = read_diagnostics(diag);
  BOOST_TEST(d.value("result", "") == "ok");
  BOOST_TEST(d.value("resumed_frames", int64_t{0}) > 0);
  BOOST_TEST(count_events(d, "checkpoint_resume") == 1u);
  BOOST_TEST(d.value("restarts", -1) == 0);
  BOOST_TEST_REQUIRE(r.summary.has_value());
  BOOST_TEST(r.summary->value("resumed_frames", int64_t{0}) == d.value("resumed_frames", int64_t{0}));
  // The peak of the frames rendered before the kills is carried in the checkpoints.
  BOOST_TEST(r.summary->value("peak", -2.0) == w.reference_peak(session, ext));
  for (auto pid : killed)
    check_killed_run_cleaned(pid);
  if (ext == "flac") {
    if (have("flac"))
      BOOST_TEST(shell("flac -s -t '" + out + "'").first == 0, "flac -t " << out);
    else
      BOOST_TEST_MESSAGE("flac is not installed: flac -t skipped");
  }
}

} // namespace

// ==========================================================================================

BOOST_AUTO_TEST_SUITE(session_checks)

BOOST_AUTO_TEST_CASE(test_fault_nodes_are_refused_unless_enabled) {
  auto& w = shared();
  case_dir dir{"refused"};
  std::ifstream in(w.session({"segv", 1.0}));
  auto doc = json::parse(in);
  doc.erase("test_nodes");
  const auto session = (w.path() / "no-test-nodes.json").string();
  write_text(session, doc.dump(2));
  const auto out = dir.out("mix.wav");
  const auto r = run_loophole(render_args(session, out));
  BOOST_TEST(r.code == 65, r);
  BOOST_TEST(contains(r.err, "/tracks/0/inserts/0/kind"), r.err);
  check_nothing_written(dir, out);
  // --allow-test-nodes accepts it (a dry run: nothing is rendered).
  const auto allowed = run_loophole({"render", session, "-o", out, "--dry-run", "--allow-test-nodes"});
  BOOST_TEST(allowed.code == 0, allowed);
  BOOST_TEST(contains(allowed.out, "test.fault"), allowed.out);
}

// The references agree: a test.fault node that does nothing, or only sleeps, passes the audio
// through unchanged (so the "none" session is a reference for the leak below).
BOOST_AUTO_TEST_CASE(a_slow_or_idle_fault_node_changes_no_sample) {
  auto& w = shared();
  const auto& slow = w.reference(w.session({"slow", 0.0, 0.0, slow_sleep_ms}), "wav");
  const auto& idle = w.reference(w.session({"none", 3.0}), "wav");
  BOOST_TEST((slow == idle), "the slow and the idle fault sessions render differently");
}

BOOST_AUTO_TEST_SUITE_END()

// ==========================================================================================

BOOST_AUTO_TEST_SUITE(signal_workers_killed)

// Case 1, and case 2's kills during checkpoint writes: every segment is a checkpoint, so the
// kills land while states are snapshotted, sent and saved.
BOOST_AUTO_TEST_CASE(random_sigkills_with_a_checkpoint_every_segment_give_identical_output) {
  random_worker_kills(20261124, "0");
}

BOOST_AUTO_TEST_CASE(random_sigkills_with_a_small_checkpoint_interval_give_identical_output) {
  random_worker_kills(7, "30");
}

// A double-precision render (whose delay line, bus and checkpoints hold doubles) survives random
// kills with the same bytes as its undisturbed render, which differs from the float render.
BOOST_AUTO_TEST_CASE(random_sigkills_of_a_double_precision_render_give_identical_output) {
  auto& w = shared();
  case_dir dir{"double-kills"};
  const auto session = w.session({"slow", 0.0, 0.0, slow_sleep_ms});
  const auto reference_out = dir.out("reference.wav");
  const auto undisturbed =
    run_loophole(render_args(session, reference_out, {"--precision", "double", "--json"}));
  BOOST_TEST_REQUIRE(undisturbed.code == 0, undisturbed);
  BOOST_TEST_REQUIRE(undisturbed.summary.has_value(), undisturbed);
  BOOST_TEST(undisturbed.summary->value("precision", "") == "double", undisturbed);
  const auto reference = read_bytes(reference_out);
  fs::remove(reference_out);
  BOOST_TEST((reference != w.reference(session, "wav")),
             "the double render has the float render's bytes");

  random_worker_killer killer{20261201, 10};
  run_options o;
  o.env = {"LOOPHOLE_RENDER_CHECKPOINT_MS=0", "LOOPHOLE_SIGNAL_MAX_RESTARTS=1000"};
  o.watch = std::ref(killer);
  const auto out = dir.out("mix.wav");
  const auto r = run_loophole(render_args(session, out, {"--precision", "double"}), o);
  BOOST_TEST_REQUIRE(r.code == 0, r);
  BOOST_TEST(killer.kills >= 5, "only " << killer.kills << " kills landed before the end");
  check_identical(dir, out, reference);
}

// Review regression: both workers die at once (one recovery starts while the other's is still
// attaching). The second recovery must not treat the instance still restarting as a survivor
// whose load_job can be sent straight away (the router drops it: the process is not connected).
BOOST_AUTO_TEST_CASE(two_workers_killed_at_once_do_not_hang_the_render) {
  auto& w = shared();
  case_dir dir{"two-at-once"};
  const auto session = w.session({"slow", 0.0, 0.0, slow_sleep_ms});
  const auto& reference = w.reference(session, "wav");
  const auto out = dir.out("mix.wav");
  bool killed = false;
  run_options o;
  o.time_limit = std::chrono::seconds{30};
  o.watch = [&](run_control& c) {
    if (killed || c.frames_total == 0 || c.frames_done * 10 < c.frames_total * 3)
      return;
    const auto children = signal_children(c.pid);
    if (children.size() < 2)
      return;
    for (auto pid : children)
      kill(pid, SIGKILL);
    killed = true;
  };
  const auto r = run_loophole(render_args(session, out), o);
  BOOST_TEST_REQUIRE(killed);
  BOOST_TEST_REQUIRE(!r.timed_out, r);
  BOOST_TEST_REQUIRE(r.code == 0, r);
  check_identical(dir, out, reference);
}

// Review regression: a checkpoint whose node states exceed wire::max_frame_bytes (five stereo
// delays of 2^21 frames in one track: 80 MiB) must fail the render with a message, not hang it
// (Pulse's router drops the oversized task_done and the segment never completes).
BOOST_AUTO_TEST_CASE(an_oversized_checkpoint_does_not_hang_the_render) {
  auto& w = shared();
  case_dir dir{"oversized-checkpoint"};
  const auto session = (dir.path() / "big-states.json").string();
  json delay{{"kind", "delay"}, {"time", {{"seconds", 43.0}}}, {"feedback", 0.1},
             {"wet", 0.2},      {"dry", 1.0}};
  json s{{"format", "loophole-session"},
         {"version", 1},
         {"sample_rate", rate},
         {"tempo", {{"bpm", 120.0}, {"time_signature", {4, 4}}}},
         {"master", {{"gain_db", -20.0}}},
         {"tracks",
          {{{"id", "a"},
            {"channels", 2},
            {"clips", {{{"media", (w.path() / "drums.wav").string()},
                        {"position", {{"seconds", 0.0}}}}}},
            {"inserts", json::array({delay, delay, delay, delay, delay})}}}}};
  write_text(session, s.dump(2));
  const auto out = dir.out("mix.wav");
  run_options o;
  o.env = {"LOOPHOLE_RENDER_CHECKPOINT_MS=0"};
  o.time_limit = std::chrono::seconds{30};
  const auto r = run_loophole(render_args(session, out), o);
  BOOST_TEST_REQUIRE(!r.timed_out, r);
  // Refused before rendering, whatever the checkpoint interval or the worker count.
  BOOST_TEST(r.code == 65, r);
  BOOST_TEST(contains(r.err, "more than a checkpoint can carry"), r.err);
  BOOST_TEST(contains(r.err, "a / delay"), r.err);
  BOOST_TEST(!fs::exists(out));
}

// Case 5: a worker stopped (SIGSTOP) mid-render falls silent, is killed after the heartbeat
// timeout and replaced; the render finishes identical.
BOOST_AUTO_TEST_CASE(a_stopped_worker_is_replaced_and_the_output_is_identical) {
  auto& w = shared();
  case_dir dir{"sigstop"};
  const auto session = w.session({"slow", 0.0, 0.0, slow_sleep_ms});
  const auto& reference = w.reference(session, "wav");
  const auto out = dir.out("mix.wav");
  const auto diag = w.diag("sigstop.json");
  std::mt19937_64 rng{99};
  pid_t stopped = 0;
  run_options o;
  o.env = {"LOOPHOLE_SIGNAL_HEARTBEAT_TIMEOUT_MS=1000"};
  o.watch = [&](run_control& c) {
    if (stopped || c.frames_total == 0 || c.frames_done * 10 < c.frames_total * 3)
      return;
    const auto children = signal_children(c.pid);
    if (children.empty())
      return;
    const auto victim =
        children[std::uniform_int_distribution<size_t>(0, children.size() - 1)(rng)];
    if (kill(victim, SIGSTOP) == 0)
      stopped = victim;
  };
  const auto r = run_loophole(render_args(session, out, {"--diagnostics", diag}), o);
  BOOST_TEST_MESSAGE("SIGSTOP of " << stopped << ": exit " << r.code << " after " << r.seconds
                                   << " s");
  BOOST_TEST_REQUIRE(stopped != 0, "no worker was stopped");
  BOOST_TEST_REQUIRE(r.code == 0, r);
  check_identical(dir, out, reference);
  BOOST_TEST(kill(stopped, 0) != 0, "the stopped worker " << stopped << " still exists");
  const auto d = read_diagnostics(diag);
  BOOST_TEST(d.value("restarts", -1) == 1);
  BOOST_TEST(count_events(d, "failure") == 1u, d.at("events").dump(1));
  BOOST_TEST(count_events(d, "restart") == 1u, d.at("events").dump(1));
  BOOST_TEST(count_events(d, "resumed") == 1u, d.at("events").dump(1));
  for (const auto& e : d.at("events")) {
    if (e.value("kind", "") == "failure")
      BOOST_TEST(contains(e.value("detail", ""), "silent"), e.dump());
    if (e.value("kind", "") == "restart") // the new process, not the stopped one
      BOOST_TEST(!contains(e.value("detail", ""), "pid " + std::to_string(stopped) + ")"),
                 e.dump());
  }
  BOOST_TEST(d.at("quarantined").empty());
}

// Pulse's own actors killed mid-render through the debug command: each is restarted by
// Pulse's supervisor with its state (the running job, the Signal supervisors, the resident
// media), and the render finishes identical.
BOOST_AUTO_TEST_CASE(pulse_actors_killed_mid_render_are_restarted_and_the_output_is_identical) {
  auto& w = shared();
  const auto session = w.session({"slow", 0.0, 0.0, slow_sleep_ms});
  const auto& reference = w.reference(session, "wav");
  const std::vector<std::vector<std::string>> plans{
    {"renderer@300"},
    {"signals@300"},
    {"media_pool@300"},
    {"session@200", "resolver@250"},
    {"renderer@200", "signals@400", "media_pool@600", "renderer@800"},
  };
  for (const auto& plan : plans) {
    BOOST_TEST_CONTEXT("--debug-kill " << join(plan)) {
      case_dir dir{"debug-kill"};
      const auto out = dir.out("mix.wav");
      std::vector<std::string> extra;
      for (const auto& k : plan) {
        extra.push_back("--debug-kill");
        extra.push_back(k);
      }
      const auto r = run_loophole(render_args(session, out, extra));
      BOOST_TEST_REQUIRE(r.code == 0, r);
      check_identical(dir, out, reference);
      BOOST_TEST(contains(r.err, "Pulse's supervisor restarted " + std::to_string(plan.size()) +
                                   " actor"),
                 r.err);
    }
  }
  case_dir dir{"debug-kill-bad"};
  const auto r = run_loophole(render_args(session, dir.out("mix.wav"), {"--debug-kill", "pool@5"}));
  BOOST_TEST(r.code == 64, r);
  BOOST_TEST(contains(r.err, "is not NAME@MS"), r.err);
}

BOOST_AUTO_TEST_SUITE_END()

// ==========================================================================================

BOOST_AUTO_TEST_SUITE(faulty_nodes)

// Case 2: a node that crashes whenever its state is saved for a checkpoint (every segment is
// one here) is quarantined, crashes again in safe mode, and the render fails naming it.
BOOST_AUTO_TEST_CASE(a_crash_while_saving_a_checkpoint_is_quarantined_then_fails_naming_the_node) {
  expect_quarantine_then_failure("snapshot_crash", {"LOOPHOLE_RENDER_CHECKPOINT_MS=0"},
                                 "SIGSEGV", "while its state was saved for a checkpoint");
}

// Case 3.
BOOST_AUTO_TEST_CASE(segv_is_quarantined_then_fails_naming_the_node) {
  expect_quarantine_then_failure("segv", {}, "SIGSEGV", "in the block at frame");
}

BOOST_AUTO_TEST_CASE(abort_is_quarantined_then_fails_naming_the_node) {
  expect_quarantine_then_failure("abort", {}, "SIGABRT", "in the block at frame");
}

BOOST_AUTO_TEST_CASE(exit_is_quarantined_then_fails_naming_the_node) {
  expect_quarantine_then_failure("exit", {}, "exited with status 3", "in the block at frame");
}

// Case 4: a hang is ended by the heartbeat timeout, three times, in bounded time.
BOOST_AUTO_TEST_CASE(a_hang_is_quarantined_then_fails_naming_the_node_within_15_s) {
  expect_quarantine_then_failure("hang", {"LOOPHOLE_SIGNAL_HEARTBEAT_TIMEOUT_MS=1000"}, "silent",
                                 "in the block at frame", 3.0, 0.0, 1, 15.0);
}

// Case 6.
BOOST_AUTO_TEST_CASE(nan_fails_naming_the_node_and_writes_nothing) {
  auto& w = shared();
  case_dir dir{"fault-nan"};
  const auto session = w.session({"nan", 3.0});
  const auto name = w.node_name(session);
  const auto out = dir.out("mix.wav");
  const auto diag = w.diag("fault-nan.json");
  const auto r = run_loophole(render_args(session, out, {"--diagnostics", diag}));
  BOOST_TEST(r.code == 70, r);
  BOOST_TEST(contains(r.err, name), r.err);
  BOOST_TEST(contains(r.err, "NaN"), r.err);
  // The NaN is at 3 s, frame 144000: in the 1024-frame block from frame 143360.
  BOOST_TEST(contains(r.err, "in the block at frame " + std::to_string(3 * rate / 1024 * 1024)),
             r.err);
  BOOST_TEST(contains(r.err, out + " was not written"), r.err);
  check_nothing_written(dir, out);
  const auto d = read_diagnostics(diag);
  BOOST_TEST(d.value("result", "") == "failed");
  BOOST_TEST(count_events(d, "non_finite") == 1u, d.at("events").dump(1));
  BOOST_TEST(d.value("restarts", -1) == 0);
}

// Case 7: a leak past the workers' memory limit ends in an abort in the node (every time:
// it is quarantined, and fails again), and the render fails naming it. The leak is 1 MiB per
// 1024-frame block, so the session is 40 s long: long enough for two deaths at full blocks
// whatever the checkpoint they restart from.
BOOST_AUTO_TEST_CASE(a_leak_past_the_memory_limit_fails_naming_the_node) {
  expect_quarantine_then_failure("leak", {"LOOPHOLE_SIGNAL_MEMORY_LIMIT_MB=512"}, "SIGABRT",
                                 "in the block at frame", 1.0, 2048.0, 5);
}

BOOST_AUTO_TEST_CASE(a_small_leak_without_a_limit_renders_identical_output) {
  auto& w = shared();
  case_dir dir{"fault-leak-16"};
  const auto& reference = w.reference(w.session({"none", 3.0}), "wav");
  const auto session = w.session({"leak", 1.0, 16.0});
  const auto out = dir.out("mix.wav");
  const auto diag = w.diag("fault-leak-16.json");
  const auto r = run_loophole(render_args(session, out, {"--diagnostics", diag}));
  BOOST_TEST_REQUIRE(r.code == 0, r);
  check_identical(dir, out, reference);
  const auto d = read_diagnostics(diag);
  BOOST_TEST(d.value("restarts", -1) == 0);
}

BOOST_AUTO_TEST_SUITE_END()

// ==========================================================================================

BOOST_AUTO_TEST_SUITE(loophole_killed)

// Case 8: loophole SIGKILLed three times in a row (the second and third time while resuming),
// then resumed to the end: the same bytes as an undisturbed render.
BOOST_AUTO_TEST_CASE(killed_and_resumed_three_times_wav_is_identical) {
  std::mt19937_64 rng{4242};
  std::vector<double> at;
  for (auto [lo, hi] : {std::pair{0.1, 0.3}, std::pair{0.35, 0.55}, std::pair{0.6, 0.85}})
    at.push_back(std::uniform_real_distribution<double>(lo, hi)(rng));
  kill_and_resume_chain("wav", rng(), at);
}

BOOST_AUTO_TEST_CASE(killed_and_resumed_twice_flac_is_identical) {
  std::mt19937_64 rng{31337};
  std::vector<double> at;
  for (auto [lo, hi] : {std::pair{0.15, 0.4}, std::pair{0.5, 0.8}})
    at.push_back(std::uniform_real_distribution<double>(lo, hi)(rng));
  kill_and_resume_chain("flac", rng(), at);
}

// Without --resume the state of the killed render is cleared, with a note, and the render
// starts over.
BOOST_AUTO_TEST_CASE(without_resume_the_leftover_state_is_cleared_and_the_render_starts_over) {
  auto& w = shared();
  case_dir dir{"pulse-kill-no-resume"};
  const auto session = w.session({"slow", 0.0, 0.0, slow_sleep_ms});
  const auto& reference = w.reference(session, "wav");
  const auto out = dir.out("mix.wav");
  const std::vector<std::string> env{"LOOPHOLE_RENDER_CHECKPOINT_MS=50"};
  std::mt19937_64 rng{555};
  const auto killed = run_and_kill_pulse(render_args(session, out), out, env, 0.4, true, rng);
  const auto diag = w.diag("pulse-kill-no-resume.json");
  const auto r = run_loophole(render_args(session, out, {"--diagnostics", diag}), {env, {}, 60s});
  BOOST_TEST_REQUIRE(r.code == 0, r);
  check_identical(dir, out, reference);
  BOOST_TEST(contains(r.err, "removed the state of an interrupted render of " + out), r.err);
  BOOST_TEST(!contains(r.err, "resumed after"), r.err);
  const auto d = read_diagnostics(diag);
  BOOST_TEST(d.value("resumed_frames", int64_t{-1}) == 0);
  BOOST_TEST(count_events(d, "checkpoint_resume") == 0u);
  check_killed_run_cleaned(killed.pid);
}

// Killed before any checkpoint (none is ever taken: the interval is an hour), --resume renders
// from the start.
BOOST_AUTO_TEST_CASE(killed_before_any_checkpoint_resume_renders_from_the_start) {
  auto& w = shared();
  case_dir dir{"pulse-kill-no-checkpoint"};
  const auto session = w.session({"slow", 0.0, 0.0, slow_sleep_ms});
  const auto& reference = w.reference(session, "wav");
  const auto out = dir.out("mix.wav");
  const std::vector<std::string> env{"LOOPHOLE_RENDER_CHECKPOINT_MS=3600000"};
  std::mt19937_64 rng{777};
  const auto killed = run_and_kill_pulse(render_args(session, out), out, env, 0.3, false, rng);
  BOOST_TEST(checkpoint_inode(out) == 0u, "a checkpoint was saved");
  const auto diag = w.diag("pulse-kill-no-checkpoint.json");
  const auto r = run_loophole(render_args(session, out, {"--resume", "--diagnostics", diag}),
                              {env, {}, 60s});
  BOOST_TEST_REQUIRE(r.code == 0, r);
  check_identical(dir, out, reference);
  BOOST_TEST(contains(r.err, "rendered from the start"), r.err);
  BOOST_TEST(!contains(r.err, "resumed after"), r.err);
  const auto d = read_diagnostics(diag);
  BOOST_TEST(d.value("resumed_frames", int64_t{-1}) == 0);
  BOOST_TEST(count_events(d, "checkpoint_resume") == 0u);
  check_killed_run_cleaned(killed.pid);
}

// A resumed render copies the frames of the killed one into a partial file of its own and
// deletes the old one. Killed again before it has saved a checkpoint of its own, it must leave
// a state that --resume still continues from the checkpoint on disk.
BOOST_AUTO_TEST_CASE(a_resumed_render_killed_before_its_own_first_checkpoint_can_be_resumed) {
  auto& w = shared();
  case_dir dir{"pulse-killed-twice-quickly"};
  const auto session = w.session({"slow", 0.0, 0.0, slow_sleep_ms});
  const auto& reference = w.reference(session, "wav");
  const auto out = dir.out("mix.wav");
  const std::vector<std::string> env{}; // the default checkpoint interval, 250 ms
  std::mt19937_64 rng{2024};
  const auto first = run_and_kill_pulse(render_args(session, out), out, env, 0.35, true, rng);
  const auto checkpoint = checkpoint_inode(out);
  std::vector<fs::path> old_partials;
  for (const auto& name : listing(state_folder(out)))
    if (name.rfind("partial-", 0) == 0)
      old_partials.push_back(state_folder(out) / name);
  BOOST_TEST_REQUIRE(!old_partials.empty(), join(listing(state_folder(out))));

  // Killed as soon as it has taken over (the old partial file is gone), long before its first
  // checkpoint of its own would be due (250 ms of rendering).
  bool killed = false;
  run_options o;
  o.env = env;
  o.watch = [&](run_control& c) {
    if (killed)
      return;
    const bool taken_over = std::none_of(old_partials.begin(), old_partials.end(),
                                         [](const fs::path& p) { return fs::exists(p); });
    if (taken_over) {
      kill(c.pid, SIGKILL);
      killed = true;
    }
  };
  const auto second = run_loophole(render_args(session, out, {"--resume"}), o);
  BOOST_TEST_REQUIRE(second.signaled, "the resumed render was not caught between taking over "
                                      "and its first checkpoint: "
                                          << second);
  // It re-pointed the checkpoint at its own partial file before dropping the old one.
  BOOST_TEST(checkpoint_inode(out) != checkpoint, "the checkpoint still names the old file");
  BOOST_TEST_MESSAGE("left by the second kill: " << join(listing(state_folder(out))));

  const auto diag = w.diag("pulse-killed-twice-quickly.json");
  const auto r = run_loophole(render_args(session, out, {"--resume", "--diagnostics", diag}),
                              {env, {}, 60s});
  BOOST_TEST_REQUIRE(r.code == 0, r);
  check_identical(dir, out, reference);
  // Regression: a resumed render once unlinked the killed render's partial file right after
  // copying its frames, while the checkpoint on disk still named it; killed in that window, the
  // next --resume found no partial file and rendered from the start. The checkpoint now points
  // at the new partial file before the old one goes.
  BOOST_TEST(contains(r.err, "resumed after"), r.err);
  const auto d = read_diagnostics(diag);
  BOOST_TEST(d.value("resumed_frames", int64_t{0}) > 0, "resumed_frames "
                                                            << d.value("resumed_frames", -1));
  check_killed_run_cleaned(first.pid);
  check_killed_run_cleaned(second.pid);
}

BOOST_AUTO_TEST_SUITE_END()

// ==========================================================================================

// Other orderly endings of a render that was under way: nothing may be left of it either.
BOOST_AUTO_TEST_SUITE(other_endings)

// Workers killed faster than the restart intensity allows (5 restarts in 10 s by default):
// the render gives up with exit 69, cleanly.
BOOST_AUTO_TEST_CASE(workers_killed_past_the_restart_limit_end_the_render_cleanly) {
  auto& w = shared();
  case_dir dir{"restart-limit"};
  const auto session = w.session({"slow", 0.0, 0.0, slow_sleep_ms});
  const auto out = dir.out("mix.wav");
  const auto diag = w.diag("restart-limit.json");
  std::mt19937_64 rng{11};
  int kills = 0;
  steady::time_point last{};
  run_options o;
  o.watch = [&](run_control& c) {
    const auto now = steady::now();
    if (kills >= 30 || c.frames_total == 0 || now - last < 40ms)
      return;
    const auto children = signal_children(c.pid);
    if (children.empty())
      return;
    if (kill(children[std::uniform_int_distribution<size_t>(0, children.size() - 1)(rng)],
             SIGKILL) == 0) {
      ++kills;
      last = now;
    }
  };
  const auto r = run_loophole(render_args(session, out, {"--diagnostics", diag}), o);
  BOOST_TEST_MESSAGE("restart limit: exit " << r.code << " after " << kills << " kills, "
                                            << r.seconds << " s");
  BOOST_TEST(r.code == 69, r);
  BOOST_TEST(contains(r.err, "restart limit"), r.err);
  BOOST_TEST(contains(r.err, "the output was not written"), r.err);
  check_nothing_written(dir, out);
  const auto d = read_diagnostics(diag);
  BOOST_TEST(d.value("result", "") == "failed");
  BOOST_TEST(d.value("restarts", 0) >= 6);
}

// SIGINT mid-render: exit 130, no output, no state folder.
BOOST_AUTO_TEST_CASE(sigint_mid_render_leaves_nothing) {
  auto& w = shared();
  case_dir dir{"sigint"};
  const auto session = w.session({"slow", 0.0, 0.0, slow_sleep_ms});
  const auto out = dir.out("mix.wav");
  bool sent = false, saw_state = false;
  run_options o;
  o.watch = [&](run_control& c) {
    saw_state = saw_state || fs::exists(state_folder(out));
    if (!sent && c.frames_total > 0 && c.frames_done * 10 >= c.frames_total * 3) {
      kill(c.pid, SIGINT);
      sent = true;
    }
  };
  const auto r = run_loophole(render_args(session, out), o);
  BOOST_TEST_REQUIRE(sent, "the render ended before the interrupt: " << r);
  BOOST_TEST(saw_state, "no state folder was seen while the render ran");
  BOOST_TEST(r.code == 130, r);
  BOOST_TEST(!r.signaled);
  check_nothing_written(dir, out);
}

BOOST_AUTO_TEST_SUITE_END()

// ==========================================================================================

BOOST_AUTO_TEST_SUITE(output_errors)

// Case 9: a full disk (a 1 MiB tmpfs) gives exit 74 and leaves the folder empty.
BOOST_AUTO_TEST_CASE(a_full_disk_gives_exit_74_and_leaves_nothing) {
  auto& w = shared();
  const auto mount_point = w.path() / "cases" / "tiny-disk";
  fs::create_directories(mount_point);
  if (::mount("tmpfs", mount_point.c_str(), "tmpfs", 0, "size=1m") != 0) {
    BOOST_TEST_MESSAGE("cannot mount a tmpfs (" << std::strerror(errno)
                                                << "): the full disk case is skipped");
    return;
  }
  struct unmount {
    fs::path p;
    ~unmount() { ::umount2(p.c_str(), MNT_DETACH); }
  } guard{mount_point};
  const auto session = w.session({"none", 3.0});
  const auto out = (mount_point / "mix.wav").string();
  const auto diag = w.diag("full-disk.json");
  const auto r = run_loophole(render_args(session, out, {"--diagnostics", diag}));
  BOOST_TEST(r.code == 74, r);
  BOOST_TEST(!r.signaled);
  BOOST_TEST(contains(r.err, "No space left on device"), r.err);
  BOOST_TEST(!fs::exists(out));
  BOOST_TEST(listing(mount_point).empty(), "left on the full disk: " << join(listing(mount_point)));
  const auto d = read_diagnostics(diag);
  BOOST_TEST(d.value("result", "") == "failed");
}

BOOST_AUTO_TEST_CASE(an_output_folder_that_is_not_one_gives_exit_73) {
  auto& w = shared();
  case_dir dir{"unwritable"};
  const auto session = w.session({"none", 3.0});
  const auto file = dir.out("plain-file");
  write_text(file, "not a folder");
  for (const auto& out : {file + "/mix.wav", dir.out("no-such-folder/mix.wav")}) {
    BOOST_TEST_CONTEXT(out) {
      const auto r = run_loophole(render_args(session, out));
      BOOST_TEST(r.code == 73, r);
      BOOST_TEST(contains(r.err, out), r.err);
      BOOST_TEST(!fs::exists(out));
      BOOST_TEST(dir.names() == std::vector<std::string>{"plain-file"}, join(dir.names()));
      if (out == file + "/mix.wav") {
        // Regression: this was reported as "folder ... does not exist".
        BOOST_TEST(!contains(r.err, "does not exist"), r.err);
        BOOST_TEST(contains(r.err, "is not a folder"), r.err);
      } else {
        BOOST_TEST(contains(r.err, "does not exist"), r.err);
      }
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
