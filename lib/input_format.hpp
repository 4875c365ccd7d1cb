// Input formats of `ingest`: which one a file holds (detected from its first line; a
// contradiction with --format is an error, never a guess), and the line sinks that turn each
// format into readings for the one Ingestor.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "csv_in.hpp"
#include "fhir_in.hpp"
#include "ingest.hpp"

namespace medtrail {

enum class InputFormat { ndjson, fhir_json, fhir_ndjson, csv };

const char* format_name(InputFormat format);  // "ndjson", "fhir-json", "fhir-ndjson", "csv"

// From the input's start up to its first non-blank line (LineReader::peek_first_line): a line
// that is a JSON object is NDJSON, or FHIR Bulk NDJSON when it has a resourceType; a "{" or
// "[" line that is not a whole JSON value starts a FHIR JSON document (a line longer than the
// prefix is NDJSON, FHIR when it names a resourceType); anything else is CSV.
InputFormat detect_format(std::string_view prefix);

// Whether --format (ndjson, fhir or csv) admits what was detected.
bool format_matches(const std::string& requested, InputFormat detected);

struct FormatOptions {
  fhir::ConvertOptions fhir;
  csv::Map csv_map;            // the default map, or --map
  std::size_t max_line = 65536;
  std::size_t max_document = 64u << 20;  // a FHIR JSON document (a Bundle) is parsed whole
};

// Takes an input's lines (LineReader's: numbered from 1, no line end) in one format.
class LineSink {
 public:
  virtual ~LineSink() = default;
  virtual void line(std::uint64_t number, std::string_view text) = 0;
  virtual void too_long(std::uint64_t number) = 0;
  virtual void finish() = 0;  // end of the input
  std::uint64_t skipped() const { return skipped_; }

 protected:
  std::uint64_t skipped_ = 0;  // resources or rows that are not readings (reported in the summary)
};

std::unique_ptr<LineSink> make_sink(InputFormat format, Ingestor& ingestor, Ledger& ledger, const std::string& source,
                                    const FormatOptions& options);

}  // namespace medtrail
