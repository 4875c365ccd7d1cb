#include "stored_reading.hpp"

#include <algorithm>
#include <array>
#include <cstring>

#include "canonical_text.hpp"
#include "timefmt.hpp"

namespace medtrail {
namespace {

using canonical_text::for_each_member;
using canonical_text::Member;

// Whether `value` is written as a JSON string without escapes, which is all a device name,
// type or RFC 3339 time holds; a member whose value needs one is never cut.
bool plain(std::string_view value) {
  for (char c : value)
    if (static_cast<unsigned char>(c) < 0x20 || c == '"' || c == '\\') return false;
  return true;
}

// The members that may be cut, in canonical order. Their names are lowercase ASCII letters,
// so comparing them with a name as written (escapes included) orders as RFC 8785's UTF-16
// comparison of the decoded names: an escape's backslash and what it stands for are all below
// 'a', and any non-ASCII byte is above 'z' as its UTF-16 units are.
struct Cuttable {
  std::string_view key;
  ElidedMember bit;
  std::optional<std::string_view> value;  // the envelope's value, unquoted, when it has a plain one
  bool written_as(std::string_view json) const {
    return value && json.size() == value->size() + 2 && json.front() == '"' && json.back() == '"' &&
           json.substr(1, value->size()) == *value;
  }
};

// Built in place, without allocating: verify puts back every reading of the log.
class CuttableMembers {
 public:
  // Only the members in `wanted` (ElidedMember bits) get their values.
  CuttableMembers(const EnvelopeMembers& envelope, int wanted) {
    auto set = [](Cuttable& c, std::string_view value) {
      if (plain(value)) c.value = value;
    };
    if (envelope.device && (wanted & kElidedDevice)) set(members_[0], *envelope.device);
    if (envelope.time_ms && (wanted & (kElidedTime | kElidedTimeToTheSecond))) {
      std::size_t size = format_rfc3339_ms_to(*envelope.time_ms, time_);
      set(members_[1], std::string_view(time_.data(), size));
      // Input written to the second ("...T08:00:00Z") is as common as to the millisecond.
      std::string_view fraction(".000Z");
      if (*envelope.time_ms % 1000 == 0 && size > fraction.size() &&
          std::string_view(time_.data(), size).ends_with(fraction)) {
        std::copy_n(time_.begin(), size - fraction.size(), seconds_.begin());
        seconds_[size - fraction.size()] = 'Z';
        set(members_[2], std::string_view(seconds_.data(), size - fraction.size() + 1));
      }
    }
    if (envelope.type && (wanted & kElidedType)) set(members_[3], *envelope.type);
    if (envelope.type && (wanted & kElidedUnit))
      if (auto unit = usual_unit_of(*envelope.type)) set(members_[4], *unit);
  }
  CuttableMembers(const CuttableMembers&) = delete;
  CuttableMembers& operator=(const CuttableMembers&) = delete;
  const std::array<Cuttable, 5>& all() const { return members_; }

 private:
  std::array<char, kRfc3339MsBufferSize> time_, seconds_;  // written before read
  std::array<Cuttable, 5> members_{
      Cuttable{"device", kElidedDevice, std::nullopt}, Cuttable{"time", kElidedTime, std::nullopt},
      Cuttable{"time", kElidedTimeToTheSecond, std::nullopt}, Cuttable{"type", kElidedType, std::nullopt},
      Cuttable{"unit", kElidedUnit, std::nullopt}};
};

}  // namespace

std::optional<std::string_view> usual_unit_of(std::string_view type) {
  static constexpr std::pair<std::string_view, std::string_view> kUsualUnits[] = {
      {"blood_pressure", "mm[Hg]"}, {"body_temperature", "Cel"},  {"glucose", "mg/dL"},
      {"heart_rate", "/min"},       {"respiratory_rate", "/min"}, {"spo2", "%"},
  };
  for (const auto& [name, unit] : kUsualUnits)
    if (name == type) return unit;
  return std::nullopt;
}

StoredReading elide_envelope_members(std::string_view canonical, const EnvelopeMembers& envelope) {
  CuttableMembers members(envelope, kElidedAll);
  const auto& cuttable = members.all();
  StoredReading out;
  out.text.reserve(canonical.size());
  out.text += '{';
  bool parsed = for_each_member(canonical, [&](const Member& m) {
    for (const auto& c : cuttable) {
      if (!(out.elided & c.bit) && m.key == c.key && c.written_as(m.value)) {
        out.elided |= c.bit;
        return true;
      }
    }
    if (out.text.size() > 1) out.text += ',';
    out.text += m.whole;
    return true;
  });
  out.text += '}';
  // Stored whole unless putting the members back gives the very same text.
  if (!parsed || out.elided == 0 || restore_envelope_members(out.text, out.elided, envelope) != canonical)
    return {std::string(canonical), 0};
  return out;
}

bool restore_envelope_members_into(std::string& out, std::string_view stored, std::int64_t elided,
                                   const EnvelopeMembers& envelope) {
  out.clear();
  if (elided == 0) {
    out.assign(stored);
    return true;
  }
  if (elided & ~kElidedAll) return false;
  if ((elided & kElidedTime) && (elided & kElidedTimeToTheSecond)) return false;
  CuttableMembers members(envelope, static_cast<int>(elided));
  const auto& cuttable = members.all();
  for (const auto& c : cuttable)
    if ((elided & c.bit) && !c.value) return false;

  // Written through a pointer into a buffer sized for the worst case, then cut to length: this
  // runs once per reading in verify, where appending byte by byte showed.
  std::size_t room = stored.size() + 2;
  for (const auto& c : cuttable)
    if (elided & c.bit) room += c.key.size() + c.value->size() + 6;  // ,"key":"value"
  out.resize(room);
  char* const begin = out.data();
  char* at = begin;
  auto put = [&](std::string_view piece) {
    std::memcpy(at, piece.data(), piece.size());
    at += piece.size();
  };
  *at++ = '{';
  auto separate = [&] {
    if (at != begin + 1) *at++ = ',';
  };
  std::size_t next = 0;  // first cuttable member not yet passed
  // Puts back the cut members that sort before `key` (all that are left, without one). The
  // first letters decide but for names that share one.
  auto put_back_before = [&](std::optional<std::string_view> key) {
    for (; next < cuttable.size(); ++next) {
      const auto& c = cuttable[next];
      if (key) {
        auto first = static_cast<unsigned char>(key->empty() ? 0 : (*key)[0]);
        auto cut_first = static_cast<unsigned char>(c.key[0]);
        if (key->empty() || first < cut_first || (first == cut_first && !(c.key < *key))) break;
      }
      if (!(elided & c.bit)) continue;
      separate();
      *at++ = '"';
      put(c.key);
      put("\":\"");
      put(*c.value);
      *at++ = '"';
    }
  };
  bool parsed = for_each_member(stored, [&](const Member& m) {
    if (!m.key.empty() && (m.key[0] == 'd' || m.key[0] == 't' || m.key[0] == 'u'))  // the cuttable names' initials
      for (const auto& c : cuttable)
        if ((elided & c.bit) && m.key == c.key) return false;  // cut, yet stored too
    put_back_before(m.key);
    separate();
    put(m.whole);
    return true;
  });
  if (!parsed) {
    out.clear();
    return false;
  }
  put_back_before(std::nullopt);
  *at++ = '}';
  out.resize(static_cast<std::size_t>(at - begin));
  return true;
}

std::optional<std::string> restore_envelope_members(std::string_view stored, std::int64_t elided,
                                                    const EnvelopeMembers& envelope) {
  std::string out;
  if (!restore_envelope_members_into(out, stored, elided, envelope)) return std::nullopt;
  return out;
}

}  // namespace medtrail
