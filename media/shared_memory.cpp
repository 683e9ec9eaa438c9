#include "media/shared_memory.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <utility>

#include "media/media_error.hpp"

namespace loophole::media {

namespace {

std::string os_error(const std::string& what) {
  return what + ": " + std::strerror(errno);
}

} // namespace

shared_memory::shared_memory(shared_memory&& other) noexcept
  : name_(std::move(other.name_)),
    data_(std::exchange(other.data_, nullptr)),
    size_(std::exchange(other.size_, 0)),
    owner_(std::exchange(other.owner_, false)) {}

shared_memory& shared_memory::operator=(shared_memory&& other) noexcept {
  if (this != &other) {
    this->~shared_memory();
    new (this) shared_memory(std::move(other));
  }
  return *this;
}

shared_memory::~shared_memory() {
  if (data_)
    munmap(data_, size_);
  if (owner_)
    shm_unlink(name_.c_str());
  data_ = nullptr;
  owner_ = false;
}

shared_memory shared_memory::create(const std::string& tag, size_t bytes) {
  shared_memory seg;
  seg.name_ = "/loophole." + std::to_string(getpid()) + "." + tag;
  seg.size_ = bytes == 0 ? 1 : bytes;
  int fd = shm_open(seg.name_.c_str(), O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0)
    throw media_error(failure::resources, os_error("shared memory " + seg.name_));
  seg.owner_ = true;
  if (ftruncate(fd, static_cast<off_t>(seg.size_)) != 0) {
    auto msg = os_error("shared memory " + seg.name_ + ": resize to " + std::to_string(bytes));
    close(fd);
    throw media_error(failure::resources, msg);
  }
  void* p = mmap(nullptr, seg.size_, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  if (p == MAP_FAILED)
    throw media_error(failure::resources, os_error("shared memory " + seg.name_ + ": map"));
  seg.data_ = static_cast<std::byte*>(p);
  return seg;
}

shared_memory shared_memory::open(const std::string& name, size_t bytes) {
  if (name.rfind("/loophole.", 0) != 0 || name.find('/', 1) != std::string::npos)
    throw media_error(failure::resources, "shared memory name '" + name + "' is not ours");
  shared_memory seg;
  seg.name_ = name;
  int fd = shm_open(name.c_str(), O_RDWR | O_CLOEXEC, 0);
  if (fd < 0)
    throw media_error(failure::resources, os_error("shared memory " + name));
  struct stat st {};
  if (fstat(fd, &st) != 0 || static_cast<size_t>(st.st_size) < bytes) {
    close(fd);
    throw media_error(failure::resources,
                      "shared memory " + name + " is smaller than " + std::to_string(bytes));
  }
  seg.size_ = bytes == 0 ? 1 : bytes;
  // MAP_POPULATE: one bulk fault-in instead of a trap per page.
  void* p = mmap(nullptr, seg.size_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
  close(fd);
  if (p == MAP_FAILED)
    throw media_error(failure::resources, os_error("shared memory " + name + ": map"));
  seg.data_ = static_cast<std::byte*>(p);
  return seg;
}

size_t shared_memory::remove_orphans() {
  size_t removed = 0;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/dev/shm", ec)) {
    auto file = entry.path().filename().string();
    if (file.rfind("loophole.", 0) != 0)
      continue;
    auto dot = file.find('.', 9);
    if (dot == std::string::npos)
      continue;
    pid_t pid = 0;
    try {
      pid = static_cast<pid_t>(std::stol(file.substr(9, dot - 9)));
    } catch (...) {
      continue;
    }
    if (pid > 0 && (kill(pid, 0) == 0 || errno == EPERM))
      continue; // its creator still runs
    if (shm_unlink(("/" + file).c_str()) == 0)
      ++removed;
  }
  return removed;
}

} // namespace loophole::media
