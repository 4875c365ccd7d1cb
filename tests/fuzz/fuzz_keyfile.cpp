// Key files: public (.pub) and private (.key, with and without a passphrase) PEM parsing.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>

#include "error.hpp"
#include "keys.hpp"

namespace {
// One scratch file per fuzzing process, removed when libFuzzer exits normally (a crash keeps it,
// beside the crash input, which is what one wants to look at then).
class ScratchFile {
 public:
  ScratchFile() {
    char name[] = "/tmp/medtrail-fuzz-key.XXXXXX";
    int fd = mkstemp(name);
    if (fd < 0) return;
    close(fd);
    path_ = name;
  }
  ~ScratchFile() {
    if (!path_.empty()) unlink(path_.c_str());
  }
  ScratchFile(const ScratchFile&) = delete;
  ScratchFile& operator=(const ScratchFile&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string scratch_file(const std::uint8_t* data, std::size_t size) {
  static const ScratchFile scratch;
  const auto& path = scratch.path();
  if (path.empty()) return {};
  std::FILE* file = std::fopen(path.c_str(), "wb");
  if (!file) return {};
  std::fwrite(data, 1, size, file);
  std::fclose(file);
  chmod(path.c_str(), 0600);
  return path;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto path = scratch_file(data, size);
  if (path.empty()) return 0;
  try {
    (void)medtrail::load_public_key(path);
  } catch (const medtrail::Error&) {
  }
  for (const auto& passphrase : {std::optional<std::string>{}, std::optional<std::string>{"fuzz"}}) {
    try {
      (void)medtrail::SigningKey::load(path, passphrase);
    } catch (const medtrail::Error&) {
    }
  }
  return 0;
}
