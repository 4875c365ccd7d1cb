// Checkpoint files: C2SP signed-note parsing and the checkpoint body inside.
#include <cstdint>
#include <string_view>

#include "error.hpp"
#include "note.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    auto note = medtrail::SignedNote::parse(text);
    auto reparsed = medtrail::SignedNote::parse(note.serialize());
    if (reparsed.text != note.text || reparsed.signatures.size() != note.signatures.size()) __builtin_trap();
    (void)medtrail::parse_checkpoint_body(note.text);
  } catch (const medtrail::Error&) {
  }
  (void)medtrail::parse_checkpoint_body(text);
  return 0;
}
