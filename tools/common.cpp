#include "common.hpp"

#include <dirent.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <cstdlib>

#include "error.hpp"
#include "timefmt.hpp"

namespace medtrail::cli {

std::optional<std::string> passphrase(const Globals& g) {
  if (!g.passphrase_file.empty()) return read_passphrase_file(g.passphrase_file);
  if (const char* env = std::getenv("MEDTRAIL_PASSPHRASE")) return std::string(env);
  return std::nullopt;
}

SigningKey load_signing_key(const std::string& path, const Globals& g) {
  if (path.empty()) throw Error(ExitCode::usage, "--key is required (or set MEDTRAIL_KEY)");
  return SigningKey::load(path, passphrase(g));
}

Ledger open_ledger(const Globals& g, bool writable) {
  return Ledger::open(g.db, writable, {g.busy_timeout_ms});
}

namespace {
std::string directory_of(const std::string& path) {
  auto slash = path.find_last_of('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

std::optional<std::string> matching_data_key_in(const std::string& dir, const std::string& wanted_id) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) return std::nullopt;
  std::optional<std::string> found;
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name.size() <= 8 || name.substr(name.size() - 8) != ".datakey") continue;
    std::string path = dir + "/" + name;
    try {
      if (DataKey::load(path).id() == wanted_id) {
        found = path;
        break;
      }
    } catch (const Error&) {
      // Unreadable candidates are skipped; an explicit --data-key reports its own error.
    }
  }
  ::closedir(d);
  return found;
}
}  // namespace

DataKey find_data_key(const Ledger& ledger, const std::string& explicit_path, const std::string& key_path,
                      const Globals& g) {
  std::string path = explicit_path;
  if (path.empty())
    if (const char* env = std::getenv("MEDTRAIL_DATA_KEY")) path = env;
  if (!path.empty()) {
    DataKey key = DataKey::load(path);
    if (key.id() != ledger.data_key_id())
      throw Error(ExitCode::environment, path + " is not this ledger's data key (id " + key.id() + ", ledger expects " +
                                             ledger.data_key_id() + ")");
    return key;
  }
  for (const auto& dir : {directory_of(key_path), directory_of(g.db)})
    if (auto found = matching_data_key_in(dir, ledger.data_key_id())) return DataKey::load(*found);
  throw Error(ExitCode::not_found, "no data key for this ledger (id " + ledger.data_key_id() +
                                       "): give --data-key FILE or MEDTRAIL_DATA_KEY; keygen --role authority "
                                       "writes NAME.datakey beside the authority key");
}

std::optional<std::int64_t> parse_time_option(const std::string& text, const char* option) {
  if (text.empty()) return std::nullopt;
  auto ms = parse_rfc3339_ms(text);
  if (!ms) throw Error(ExitCode::usage, std::string(option) + " \"" + text + "\" is not an RFC 3339 time, e.g. 2026-03-01T08:00:00Z");
  return ms;
}

std::int64_t parse_duration_option(const std::string& text, const char* option) {
  auto ms = parse_duration_ms(text);
  if (!ms || *ms < 0) throw Error(ExitCode::usage, std::string(option) + " \"" + text + "\" is not a duration like 30s, 15m, 2h or 7d");
  return *ms;
}

Format resolve_format(const std::string& requested) {
  if (requested == "json") return Format::json;
  if (requested == "text") return Format::text;
  return ::isatty(STDOUT_FILENO) ? Format::text : Format::json;
}

void add_format_option(CLI::App& app, std::string& target) {
  app.add_option("--format", target, "Output format: json (NDJSON), text, or auto (text on a terminal)")
      ->check(CLI::IsMember({"auto", "json", "text"}))
      ->default_val("auto");
}

void print_line(const std::string& line) {
  // Stop at the first failed write (disk full, stdout closed) instead of working on and
  // saying so only at exit.
  if (std::fwrite(line.data(), 1, line.size(), stdout) != line.size() || std::fputc('\n', stdout) == EOF)
    throw Error(ExitCode::environment, std::string("cannot write to standard output: ") + std::strerror(errno));
}

void print_stderr(const std::string& line) {
  std::fflush(stdout);
  std::fprintf(stderr, "%s\n", line.c_str());
}

Progress::Progress(std::string what)
    : what_(std::move(what)), enabled_(::isatty(STDERR_FILENO) != 0), started_ms_(now_unix_ms()) {}

Progress::~Progress() {
  if (shown_) std::fputs("\r\033[K", stderr);
}

void Progress::update(std::uint64_t done, std::uint64_t total) {
  if (!enabled_) return;
  std::int64_t now = now_unix_ms();
  if (now - last_ms_ < 250) return;
  last_ms_ = now;
  double seconds = static_cast<double>(now - started_ms_) / 1000.0;
  double rate = seconds > 0 ? static_cast<double>(done) / seconds : 0;
  if (total > 0)
    std::fprintf(stderr, "\r\033[K%s %llu/%llu (%.0f%%, %.0f/s)", what_.c_str(), static_cast<unsigned long long>(done),
                 static_cast<unsigned long long>(total), 100.0 * static_cast<double>(done) / static_cast<double>(total), rate);
  else
    std::fprintf(stderr, "\r\033[K%s %llu (%.0f/s)", what_.c_str(), static_cast<unsigned long long>(done), rate);
  shown_ = true;
}

std::string examples(std::initializer_list<const char*> lines) {
  std::string out = "\nExamples:\n";
  for (const char* l : lines) out += std::string("  ") + l + "\n";
  return out;
}

ScopedReader::ScopedReader(Ledger& ledger, const SigningKey* key) : ledger_(ledger), reader_(ledger, key) {
  ledger_.set_reading_source([this](std::uint64_t index) { return reader_.reading_text(index); });
}

ScopedReader::~ScopedReader() { ledger_.set_reading_source({}); }

void ScopedReader::finish(const std::string& command, const std::string& purpose) {
  ledger_.set_reading_source({});
  if (reader_.locked() > 0)
    print_stderr("medtrail: note: " + std::to_string(reader_.locked()) +
                 " encrypted readings could not be read without --key; results that need their values leave them out");
  if (reader_.refused() > 0)
    print_stderr("medtrail: note: " + std::to_string(reader_.refused()) +
                 " readings are not covered by a live grant to this key and were left out; the refusal is recorded");
  reader_.record_access(command, purpose);
}

}  // namespace medtrail::cli
