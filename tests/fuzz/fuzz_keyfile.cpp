// Key files: public (.pub) and private (.key, with and without a passphrase) PEM parsing.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>

#include "error.hpp"
#include "keys.hpp"

namespace {
std::string scratch_file(const std::uint8_t* data, std::size_t size) {
  static const std::string path = [] {
    char name[] = "/tmp/medtrail-fuzz-key.XXXXXX";
    int fd = mkstemp(name);
    if (fd >= 0) close(fd);
    return std::string(name);
  }();
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
