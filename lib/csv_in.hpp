// CSV readings in (docs/FORMATS.md "CSV input"): RFC 4180 records (quoted fields with embedded
// delimiters, quotes and newlines), a UTF-8 byte order mark, CRLF line ends, and a YAML map from
// columns to reading members. Rows become readings that go through the same validation and
// Ingestor as NDJSON; a bad row is rejected with its row number.
#pragma once
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace medtrail::csv {

// Assembles records from physical lines (as LineReader returns them: no "\n", no trailing
// "\r"); a quoted field may span lines, and its line breaks become "\n".
class RecordAssembler {
 public:
  enum class Status { record, more, error };
  RecordAssembler(char delimiter, std::size_t max_record_bytes);
  Status add_line(std::string_view line);
  const std::vector<std::string>& fields() const { return fields_; }
  const std::string& error() const { return error_; }
  // True while a quoted field is open: at end of input, the record is unterminated.
  bool pending() const { return !buffer_.empty() || continuing_; }

 private:
  bool parse();

  char delimiter_;
  std::size_t max_;
  std::string buffer_;
  enum class State { field_start, unquoted, quoted, quote_seen };
  State state_ = State::field_start;
  bool continuing_ = false;
  bool in_quotes_ = false;
  std::vector<std::string> fields_;
  std::string error_;
};

// The YAML map (`ingest --map FILE`); without one, columns are named by the reading members.
struct Map {
  char delimiter = ',';
  bool header = true;
  std::vector<std::string> columns;            // column names, when the file has no header row
  std::map<std::string, std::string> fields;   // reading member -> column name; empty: by header
  nlohmann::json defaults = nlohmann::json::object();  // members every row gets unless a column gives them
  std::map<std::string, std::string> types;    // text of the type column -> reading type; "skip" drops the row
  std::map<std::string, std::string> units;    // text of the unit column -> UCUM code
  std::string time_format = "rfc3339";         // rfc3339, unix (seconds), unix_ms
};

// Parses and checks a map; throws Error (exit 3) naming file:line:column.
Map parse_map(std::string_view yaml_text, const std::string& source);

// Turns records into readings for one file: built from the header row (or the map's columns).
class RowConverter {
 public:
  // Throws Error (exit 3) when the header lacks a mapped column or names no reading member.
  RowConverter(const Map& map, const std::vector<std::string>& header);
  struct Row {
    nlohmann::json reading;  // null when rejected or skipped
    std::string rejection;
    bool skipped = false;    // the map says to skip rows of this type
  };
  Row convert(const std::vector<std::string>& fields) const;

 private:
  const Map& map_;
  std::vector<std::pair<std::string, std::size_t>> members_;  // reading member -> column index
  std::size_t columns_ = 0;
};

// Reading members a CSV column may fill by name.
bool is_reading_member(const std::string& name);

}  // namespace medtrail::csv
