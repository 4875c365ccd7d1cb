// How a reading is stored (schema 14): without the members its envelope already holds, and
// (schema 15) without its unit when that is its type's usual one.
//
// A reading's canonical text repeats its device, type and time, which the leaf keeps in clear
// for tracing; at 10^6 readings those three members are about 70 of the 140 bytes. Ingest
// stores the text without them (in clear, or sealed on an encrypted ledger) and
// payloads.elided says which were cut; every reader puts them back from the leaf before
// hashing, parsing or showing the reading, so the commitment SHA-256(salt || JCS(reading)) is
// over the reading as received, unchanged.
//
// A member is cut only when its value is exactly the envelope's (the time when written as the
// envelope writes it, or to the second), and only when putting it back gives the canonical
// text byte for byte; anything else is stored whole, with elided NULL. Works on canonical
// (RFC 8785) text: members in order, no whitespace.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace medtrail {

// Bits of payloads.elided. The time is cut when written as the envelope writes it (to the
// millisecond) or, for a whole second, to the second; one bit says which to put back. The unit
// is cut when it is the usual unit of the envelope's type (usual_unit_of).
enum ElidedMember : int {
  kElidedDevice = 1,
  kElidedType = 2,
  kElidedTime = 4,
  kElidedTimeToTheSecond = 8,
  kElidedUnit = 16,
};
inline constexpr int kElidedAll = kElidedDevice | kElidedType | kElidedTime | kElidedTimeToTheSecond | kElidedUnit;

// The unit that kElidedUnit puts back for a reading of `type` (a table of the file format, in
// docs/FORMATS.md: never changed, or stored readings would be put back wrong); nothing for a
// type without one.
std::optional<std::string_view> usual_unit_of(std::string_view type);

// What the leaf holds of the members that may be cut.
struct EnvelopeMembers {
  std::optional<std::string_view> device;
  std::optional<std::string_view> type;
  std::optional<std::int64_t> time_ms;
};

struct StoredReading {
  std::string text;
  int elided = 0;  // 0: stored whole
};

// The text to store for `canonical`, and which members it lacks.
StoredReading elide_envelope_members(std::string_view canonical, const EnvelopeMembers& envelope);

// The canonical text of a stored reading; `elided` 0 returns `stored` as it is. Nothing when
// the stored text is not a canonical object, already holds a member it should lack, or the
// envelope lacks a value to put back: verify reports the reading as not matching its
// commitment.
std::optional<std::string> restore_envelope_members(std::string_view stored, std::int64_t elided,
                                                    const EnvelopeMembers& envelope);
// The same into `out`, reusing its buffer (verify puts back every reading of the log); false
// where the above gives nothing.
bool restore_envelope_members_into(std::string& out, std::string_view stored, std::int64_t elided,
                                   const EnvelopeMembers& envelope);

}  // namespace medtrail
