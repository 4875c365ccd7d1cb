#include "note.hpp"

#include <charconv>

#include "error.hpp"

namespace medtrail {
namespace {
constexpr std::string_view kDash = "\xe2\x80\x94 ";  // U+2014 EM DASH and a space

std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    auto nl = text.find('\n');
    if (nl == std::string_view::npos) {
      lines.push_back(text);
      break;
    }
    lines.push_back(text.substr(0, nl));
    text.remove_prefix(nl + 1);
  }
  return lines;
}
}  // namespace

std::string Checkpoint::body() const {
  return origin + "\n" + std::to_string(tree_size) + "\n" + base64_encode(root) + "\n";
}

std::optional<Checkpoint> parse_checkpoint_body(std::string_view body) {
  if (body.empty() || body.back() != '\n') return std::nullopt;
  auto lines = split_lines(body);
  if (lines.size() < 3 || lines[0].empty()) return std::nullopt;
  Checkpoint cp;
  cp.origin = std::string(lines[0]);
  auto size = lines[1];
  if (size.empty() || (size.size() > 1 && size[0] == '0')) return std::nullopt;
  auto [ptr, ec] = std::from_chars(size.data(), size.data() + size.size(), cp.tree_size);
  if (ec != std::errc() || ptr != size.data() + size.size()) return std::nullopt;
  auto root = base64_decode(lines[2]);
  if (!root || root->size() != 32) return std::nullopt;
  std::copy(root->begin(), root->end(), cp.root.begin());
  for (std::size_t i = 3; i < lines.size(); ++i)
    if (lines[i].empty()) return std::nullopt;  // extension lines must be non-empty
  return cp;
}

SignedNote SignedNote::parse(std::string_view note) {
  if (note.size() > 1 << 20) throw Error(ExitCode::usage, "signed note is too large");
  auto sep = note.rfind("\n\n");
  if (sep == std::string_view::npos)
    throw Error(ExitCode::usage, "not a signed note: no blank line before the signatures");
  SignedNote out;
  out.text = std::string(note.substr(0, sep + 1));
  std::string_view sigs = note.substr(sep + 2);
  if (sigs.empty() || sigs.back() != '\n')
    throw Error(ExitCode::usage, "not a signed note: signature block must end with a newline");
  for (auto line : split_lines(sigs)) {
    if (line.substr(0, kDash.size()) != kDash)
      throw Error(ExitCode::usage, "not a signed note: signature line must start with an em dash");
    line.remove_prefix(kDash.size());
    auto space = line.find(' ');
    if (space == std::string_view::npos || space == 0)
      throw Error(ExitCode::usage, "not a signed note: malformed signature line");
    auto blob = base64_decode(line.substr(space + 1));
    if (!blob || blob->size() < 5)
      throw Error(ExitCode::usage, "not a signed note: signature is not valid base64");
    NoteSignature s;
    s.name = std::string(line.substr(0, space));
    s.key_hash = std::uint32_t((*blob)[0]) << 24 | std::uint32_t((*blob)[1]) << 16 |
                 std::uint32_t((*blob)[2]) << 8 | (*blob)[3];
    if (blob->size() == 4 + 64) std::copy(blob->begin() + 4, blob->end(), s.signature.begin());
    out.signatures.push_back(std::move(s));
  }
  if (out.signatures.empty()) throw Error(ExitCode::usage, "not a signed note: no signatures");
  return out;
}

std::string SignedNote::serialize() const {
  std::string out = text + "\n";
  for (const auto& s : signatures) {
    Bytes blob = {std::uint8_t(s.key_hash >> 24), std::uint8_t(s.key_hash >> 16),
                  std::uint8_t(s.key_hash >> 8), std::uint8_t(s.key_hash)};
    blob.insert(blob.end(), s.signature.begin(), s.signature.end());
    out += std::string(kDash) + s.name + " " + base64_encode(blob) + "\n";
  }
  return out;
}

bool SignedNote::signed_by(std::string_view name, const PublicKey& key) const {
  std::uint32_t hash = note_key_hash(name, key);
  for (const auto& s : signatures)
    if (s.name == name && s.key_hash == hash && verify_signature(key, text, s.signature))
      return true;
  return false;
}

std::string sign_note(std::string_view body, const SigningKey& key) {
  SignedNote note;
  note.text = std::string(body);
  const auto& id = key.identity();
  note.signatures.push_back({id.name, note_key_hash(id.name, id.key), key.sign(body)});
  return note.serialize();
}

}  // namespace medtrail
