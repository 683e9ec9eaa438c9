#pragma once

// A folder of its own for one test, removed with everything in it when the
// test ends. Shared by the suites that write files.

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace loophole::test {

/// What a render leaves beside its output while it runs: an output_file's
/// temporary file (".NAME.partial-XXXXXX") or a render's state folder
/// (".NAME.loophole"). After any orderly end of a render there must be none.
inline std::vector<std::string> partial_files(const std::filesystem::path& folder) {
  std::vector<std::string> found;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(folder, ec)) {
    const auto name = e.path().filename().string();
    const bool state_folder = name.size() > 9 && name.ends_with(".loophole");
    if (name.rfind('.', 0) == 0 && (name.find(".partial-") != std::string::npos || state_folder))
      found.push_back(name);
  }
  return found;
}

class temp_dir {
public:
  /// Creates /tmp/loophole-<tag>.XXXXXX.
  explicit temp_dir(const std::string& tag = "test") {
    std::string pattern = "/tmp/loophole-" + tag + ".XXXXXX";
    if (!mkdtemp(pattern.data()))
      throw std::runtime_error("mkdtemp failed for " + pattern);
    path_ = pattern;
  }

  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }

  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;

  const std::filesystem::path& path() const noexcept { return path_; }
  std::string str() const { return path_.string(); }

  /// The path of `name` inside the folder.
  std::string file(const std::string& name) const { return (path_ / name).string(); }

  /// partial_files() of this folder.
  std::vector<std::string> partials() const { return partial_files(path_); }

  /// Writes `text` to `name` (creating folders on the way); returns its path.
  std::string write(const std::string& name, const std::string& text) const {
    const auto path = path_ / name;
    std::filesystem::create_directories(path.parent_path());
    std::ofstream out(path, std::ios::binary);
    out << text;
    if (!out)
      throw std::runtime_error("cannot write " + path.string());
    return path.string();
  }

private:
  std::filesystem::path path_;
};

} // namespace loophole::test
