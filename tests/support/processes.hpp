#pragma once

// What the suites that run programs share: the process table (pid, parent, name, state), the
// shared memory segments a loophole run named after its pid, and running outside tools
// (soxi, flac, ffprobe...) through the shell.

#include <stdio.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace loophole::test {

struct proc_entry {
  pid_t pid;
  pid_t ppid;
  std::string comm;
  char state; ///< as /proc/PID/stat says: R, S, Z...
};

/// Every process /proc lists now.
inline std::vector<proc_entry> processes() {
  namespace fs = std::filesystem;
  std::vector<proc_entry> found;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/proc", ec)) {
    const auto name = e.path().filename().string();
    if (name.empty() || !std::all_of(name.begin(), name.end(), [](char ch) {
          return std::isdigit(static_cast<unsigned char>(ch));
        }))
      continue;
    std::ifstream in(e.path() / "stat");
    std::string line;
    if (!std::getline(in, line))
      continue;
    const auto open = line.find('('), close = line.rfind(')');
    if (open == std::string::npos || close == std::string::npos || close + 4 > line.size())
      continue;
    proc_entry p{};
    p.pid = static_cast<pid_t>(std::stol(name));
    p.comm = line.substr(open + 1, close - open - 1);
    std::istringstream rest(line.substr(close + 2));
    long ppid = 0;
    rest >> p.state >> ppid;
    p.ppid = static_cast<pid_t>(ppid);
    found.push_back(p);
  }
  return found;
}

/// Shared memory segments named after `pid` ("/dev/shm/loophole.<pid>.*").
inline std::vector<std::string> shm_segments_of(pid_t pid) {
  std::vector<std::string> found;
  const auto prefix = "loophole." + std::to_string(pid) + ".";
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/dev/shm", ec)) {
    const auto name = e.path().filename().string();
    if (name.rfind(prefix, 0) == 0)
      found.push_back(name);
  }
  return found;
}

/// Makes this process the subreaper of its descendants, so a `loophole-signal` that outlives
/// its `loophole` is reparented here, where the checks find it. Returns false if it cannot.
inline bool become_subreaper() {
  return prctl(PR_SET_CHILD_SUBREAPER, 1L, 0L, 0L, 0L) == 0;
}

/// True if `tool` is on PATH.
inline bool have(const std::string& tool) {
  return std::system(("command -v " + tool + " >/dev/null 2>&1").c_str()) == 0;
}

/// Runs `command` through the shell (stderr discarded); returns its exit status (-1 if it
/// did not exit) and its standard output.
inline std::pair<int, std::string> shell(const std::string& command) {
  std::string out;
  FILE* p = popen((command + " 2>/dev/null").c_str(), "r");
  if (!p)
    return {-1, out};
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0)
    out.append(buf.data(), n);
  const int status = pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

/// The words of `v` joined by spaces.
inline std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v)
    s += (s.empty() ? "" : " ") + x;
  return s;
}

} // namespace loophole::test
