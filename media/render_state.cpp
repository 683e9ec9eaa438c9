#include "media/render_state.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <xxhash.h>

#include "media/media_error.hpp"

namespace loophole::media {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view checkpoint_magic = "LPHCKPT1";

void put_u64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i)
    out.push_back(static_cast<char>(v >> (8 * i)));
}

void put_string(std::string& out, std::string_view s) {
  put_u64(out, s.size());
  out.append(s);
}

struct reader {
  std::string_view in;
  bool ok = true;

  uint64_t u64() {
    if (in.size() < 8) {
      ok = false;
      return 0;
    }
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i)
      v |= uint64_t{static_cast<unsigned char>(in[static_cast<size_t>(i)])} << (8 * i);
    in.remove_prefix(8);
    return v;
  }

  std::string string() {
    const auto n = u64();
    if (!ok || n > in.size()) {
      ok = false;
      return {};
    }
    std::string s{in.substr(0, n)};
    in.remove_prefix(n);
    return s;
  }
};

bool write_all(int fd, const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    const auto n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

} // namespace

std::string encode_checkpoint(const checkpoint_record& r) {
  std::string out{checkpoint_magic};
  put_string(out, r.identity);
  put_u64(out, static_cast<uint64_t>(r.segment));
  put_u64(out, static_cast<uint64_t>(r.frames));
  put_string(out, r.partial);
  put_u64(out, static_cast<uint64_t>(r.data_offset));
  uint64_t peak_bits = 0;
  std::memcpy(&peak_bits, &r.peak, sizeof peak_bits);
  put_u64(out, peak_bits);
  put_u64(out, r.states.size());
  for (const auto& [node, bytes] : r.states) {
    put_u64(out, node);
    put_string(out, bytes);
  }
  put_u64(out, XXH3_64bits(out.data(), out.size()));
  return out;
}

std::optional<checkpoint_record> decode_checkpoint(std::string_view bytes) {
  if (bytes.size() < checkpoint_magic.size() + 8 ||
      bytes.substr(0, checkpoint_magic.size()) != checkpoint_magic)
    return std::nullopt;
  const auto body = bytes.substr(0, bytes.size() - 8);
  reader sum{bytes.substr(bytes.size() - 8)};
  if (sum.u64() != XXH3_64bits(body.data(), body.size()))
    return std::nullopt;
  reader in{body.substr(checkpoint_magic.size())};
  checkpoint_record r;
  r.identity = in.string();
  r.segment = static_cast<int64_t>(in.u64());
  r.frames = static_cast<int64_t>(in.u64());
  r.partial = in.string();
  r.data_offset = static_cast<int64_t>(in.u64());
  const auto peak_bits = in.u64();
  std::memcpy(&r.peak, &peak_bits, sizeof r.peak);
  const auto n = in.u64();
  if (!in.ok || n > in.in.size() / 16)
    return std::nullopt;
  for (uint64_t i = 0; i < n && in.ok; ++i) {
    const auto node = in.u64();
    auto state = in.string();
    if (node > UINT32_MAX)
      return std::nullopt;
    r.states.emplace_back(static_cast<uint32_t>(node), std::move(state));
  }
  if (!in.ok || !in.in.empty() || r.segment < 0 || r.frames < 0 || !(r.peak >= 0) ||
      r.partial.find('/') != std::string::npos)
    return std::nullopt;
  return r;
}

std::string render_identity(std::string_view description) {
  const auto h = XXH3_128bits(description.data(), description.size());
  char buf[33];
  std::snprintf(buf, sizeof buf, "%016llx%016llx", static_cast<unsigned long long>(h.high64),
                static_cast<unsigned long long>(h.low64));
  return buf;
}

render_state::render_state(const std::string& output_path) {
  const fs::path target{output_path};
  const auto dir = target.has_parent_path() ? target.parent_path() : fs::path{"."};
  // Built by append: GCC 12 at -O3 warns falsely (-Wrestrict) on "." + string.
  std::string name{"."};
  name.append(target.filename().string()).append(".loophole");
  folder_ = (dir / name).string();
  // A render that ends removes its lock file and folder; one that opened
  // the lock just before may then hold a lock on a file that is gone. So a
  // claim checks, once locked, that the lock is still the one in the folder,
  // and starts again if not.
  for (int attempt = 0;; ++attempt) {
    leftover_ = false;
    if (::mkdir(folder_.c_str(), 0755) != 0) {
      if (errno != EEXIST)
        throw media_error(failure::unwritable, output_path + ": cannot create " + folder_ +
                                                 ": " + std::strerror(errno));
      leftover_ = true;
    }
    lock_fd_ = ::open(path_of("lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (lock_fd_ < 0) {
      if (errno == ENOENT && attempt < 5)
        continue; // the folder went between mkdir and open
      throw media_error(failure::unwritable,
                        output_path + ": cannot lock " + folder_ + ": " + std::strerror(errno));
    }
    if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
      const int err = errno;
      ::close(lock_fd_);
      lock_fd_ = -1;
      if (err == EWOULDBLOCK)
        throw media_error(failure::exists, output_path +
                                             ": another render of this file is running (" +
                                             folder_ + ")");
      throw media_error(failure::unwritable,
                        output_path + ": cannot lock " + folder_ + ": " + std::strerror(err));
    }
    struct stat held {}, named {};
    if (::fstat(lock_fd_, &held) == 0 && ::stat(path_of("lock").c_str(), &named) == 0 &&
        held.st_ino == named.st_ino && held.st_dev == named.st_dev)
      break;
    ::close(lock_fd_);
    lock_fd_ = -1;
    if (attempt >= 5)
      throw media_error(failure::exists,
                        output_path + ": the state folder " + folder_ + " keeps changing");
  }
  // A folder with nothing but a lock is what a render that died before its
  // first checkpoint leaves, or what a racing claimer just made.
  if (leftover_) {
    std::error_code ec;
    bool any = false;
    for (const auto& e : fs::directory_iterator(folder_, ec))
      any = any || e.path().filename() != "lock";
    leftover_ = any;
  }
}

render_state::~render_state() {
  if (!keep_) {
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(folder_, ec))
      if (e.path().filename() != "lock")
        fs::remove(e.path(), ec);
    ::unlink(path_of("lock").c_str());
    ::rmdir(folder_.c_str());
  }
  if (lock_fd_ >= 0)
    ::close(lock_fd_);
}

std::optional<checkpoint_record> render_state::load_checkpoint() const {
  const int fd = ::open(path_of("checkpoint").c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return std::nullopt;
  std::string data;
  char buf[65536];
  for (;;) {
    const auto n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    data.append(buf, static_cast<size_t>(n));
    if (data.size() > (size_t{1} << 32))
      break;
  }
  ::close(fd);
  return decode_checkpoint(data);
}

void render_state::save_checkpoint(const checkpoint_record& record) {
  const auto tmp = path_of("checkpoint.new");
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    throw media_error(failure::io, folder_ + ": cannot write a checkpoint: " + std::strerror(errno));
  const bool ok = write_all(fd, encode_checkpoint(record));
  const int err = errno;
  ::close(fd);
  // Renamed only once complete: a reader sees the previous checkpoint or
  // this one, never a torn one (the checksum catches the rest).
  if (!ok || ::rename(tmp.c_str(), path_of("checkpoint").c_str()) != 0) {
    ::unlink(tmp.c_str());
    throw media_error(failure::io, folder_ + ": cannot write a checkpoint: " +
                                     std::strerror(ok ? errno : err));
  }
}

void render_state::clear() {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(folder_, ec))
    if (e.path().filename() != "lock")
      fs::remove(e.path(), ec);
  leftover_ = false;
}

std::string render_state::fresh_partial_name() const {
  for (unsigned n = 1;; ++n) {
    auto name = "partial-" + std::to_string(n);
    struct stat sb {};
    if (::stat(path_of(name).c_str(), &sb) != 0)
      return name;
  }
}

} // namespace loophole::media
