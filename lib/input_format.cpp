#include "input_format.hpp"

#include <set>

#include "encoding.hpp"
#include "error.hpp"
#include "trace_index.hpp"

namespace medtrail {
namespace {

using nlohmann::json;

std::string_view strip_bom(std::string_view text) {
  if (text.size() >= 3 && static_cast<unsigned char>(text[0]) == 0xEF && static_cast<unsigned char>(text[1]) == 0xBB &&
      static_cast<unsigned char>(text[2]) == 0xBF)
    text.remove_prefix(3);
  return text;
}

class NdjsonSink : public LineSink {
 public:
  NdjsonSink(Ingestor& ingestor, std::string source, std::size_t max_line)
      : ingestor_(ingestor), source_(std::move(source)), max_line_(max_line) {}
  void line(std::uint64_t number, std::string_view text) override {
    if (number == 1) text = strip_bom(text);
    if (text.find_first_not_of(" \t") == std::string_view::npos) return;  // blank lines carry nothing
    ingestor_.add_line(source_, number, text);
  }
  void too_long(std::uint64_t number) override {
    ingestor_.reject(source_, number, "line longer than " + std::to_string(max_line_) + " bytes");
  }
  void finish() override {}

 private:
  Ingestor& ingestor_;
  std::string source_;
  std::size_t max_line_;
};

// FHIR resources: each converted Observation goes to the Ingestor; its derivedFrom and
// hasMember references become derived_from ids when they name a record already ingested
// (trace index source_refs), and are listed as "unresolved" in its receipt otherwise.
class FhirFeeder {
 public:
  FhirFeeder(Ingestor& ingestor, Ledger& ledger, std::string source, const fhir::ConvertOptions& options)
      : ingestor_(ingestor), ledger_(ledger), source_(std::move(source)), options_(options) {}

  std::uint64_t feed(std::uint64_t line, const json& resource) {
    auto conversion = fhir::convert(resource, options_);
    if (!conversion.error.empty()) {
      ingestor_.reject(source_, line, conversion.error);
      return 0;
    }
    for (auto& item : conversion.items) {
      json locator = json::object();
      if (item.entry) locator["entry"] = *item.entry;
      if (!item.rejection.empty()) {
        ingestor_.reject(source_, line, item.rejection, locator);
        continue;
      }
      if (item.reading.contains("source_ref")) locator["fhir"] = item.reading["source_ref"];
      if (!item.links.empty()) {
        // An entry this one names may still wait for its commit (its id is not known yet):
        // append the waiting ones first. Only then, so a Bundle is not one seal per link.
        bool waiting = false;
        for (const auto& link : item.links) waiting = waiting || added_since_append_.count(link);
        if (waiting) {
          ingestor_.append_waiting();
          added_since_append_.clear();
        }
        json ids = json::array(), unresolved = json::array();
        for (const auto& link : item.links) {
          auto index = trace::find_source_ref(ledger_.db(), link);
          if (index) ids.push_back(to_hex(ledger_.leaf(*index).id));
          else unresolved.push_back(link);
        }
        if (!ids.empty()) item.reading["derived_from"] = ids;
        if (!unresolved.empty()) locator["unresolved"] = unresolved;
      }
      if (item.reading.contains("source_ref")) added_since_append_.insert(item.reading["source_ref"].get<std::string>());
      ingestor_.add_reading(source_, line, item.reading, locator);
    }
    return conversion.skipped;
  }

 private:
  std::set<std::string> added_since_append_;
  Ingestor& ingestor_;
  Ledger& ledger_;
  std::string source_;
  const fhir::ConvertOptions& options_;
};

class FhirNdjsonSink : public LineSink {
 public:
  FhirNdjsonSink(Ingestor& ingestor, Ledger& ledger, std::string source, const FormatOptions& options)
      : ingestor_(ingestor), source_(source), feeder_(ingestor, ledger, source, options.fhir) {}
  void line(std::uint64_t number, std::string_view text) override {
    if (number == 1) text = strip_bom(text);
    if (text.find_first_not_of(" \t") == std::string_view::npos) return;
    json resource = json::parse(text, nullptr, false);
    if (resource.is_discarded()) return ingestor_.reject(source_, number, "not valid JSON (or not UTF-8)");
    skipped_ += feeder_.feed(number, resource);
  }
  void too_long(std::uint64_t number) override {
    ingestor_.reject(source_, number, "resource longer than --max-document bytes");
  }
  void finish() override {}

 private:
  Ingestor& ingestor_;
  std::string source_;
  FhirFeeder feeder_;
};

// A FHIR JSON document (an Observation or a Bundle, usually pretty-printed): parsed whole.
class FhirDocumentSink : public LineSink {
 public:
  FhirDocumentSink(Ingestor& ingestor, Ledger& ledger, std::string source, const FormatOptions& options)
      : ingestor_(ingestor), source_(source), max_(options.max_document), feeder_(ingestor, ledger, source, options.fhir) {}
  void line(std::uint64_t number, std::string_view text) override {
    if (number == 1) text = strip_bom(text);
    if (first_line_ == 0 && text.find_first_not_of(" \t") != std::string_view::npos) first_line_ = number;
    if (too_big_ || text_.size() + text.size() + 1 > max_) {
      too_big_ = true;
      text_.clear();
      return;
    }
    text_.append(text);
    text_ += '\n';
  }
  void too_long(std::uint64_t) override { too_big_ = true; }
  void finish() override {
    auto line = first_line_ ? first_line_ : 1;
    if (too_big_) return ingestor_.reject(source_, line, "FHIR document larger than --max-document bytes");
    if (first_line_ == 0) return;  // empty input
    json resource = json::parse(text_, nullptr, false);
    text_.clear();
    text_.shrink_to_fit();
    if (resource.is_discarded()) return ingestor_.reject(source_, line, "not a valid JSON document (or not UTF-8)");
    skipped_ += feeder_.feed(line, resource);
  }

 private:
  Ingestor& ingestor_;
  std::string source_;
  std::size_t max_;
  FhirFeeder feeder_;
  std::string text_;
  std::uint64_t first_line_ = 0;
  bool too_big_ = false;
};

// CSV: the header row (or the map's columns), then one reading per record. Rows are numbered
// as a spreadsheet shows them: the header is row 1.
class CsvSink : public LineSink {
 public:
  CsvSink(Ingestor& ingestor, std::string source, const FormatOptions& options)
      : ingestor_(ingestor), source_(std::move(source)), map_(options.csv_map),
        assembler_(options.csv_map.delimiter, options.max_line), max_line_(options.max_line) {
    if (!map_.header) converter_ = std::make_unique<csv::RowConverter>(map_, map_.columns);
  }
  void line(std::uint64_t number, std::string_view text) override {
    if (number == 1) text = strip_bom(text);
    if (!assembler_.pending()) {
      if (text.find_first_not_of(" \t") == std::string_view::npos) return;  // blank lines between rows
      record_line_ = number;
    }
    switch (assembler_.add_line(text)) {
      case csv::RecordAssembler::Status::more:
        return;
      case csv::RecordAssembler::Status::error:
        ++row_;
        if (!converter_) throw Error(ExitCode::input_rejected, source_ + ": the header row is not valid CSV: " + assembler_.error());
        return ingestor_.reject(source_, record_line_, assembler_.error(), {{"row", row_}});
      case csv::RecordAssembler::Status::record:
        ++row_;
        break;
    }
    if (!converter_) {
      converter_ = std::make_unique<csv::RowConverter>(map_, assembler_.fields());
      return;
    }
    auto row = converter_->convert(assembler_.fields());
    if (row.skipped) {
      ++skipped_;
      return;
    }
    if (!row.rejection.empty()) return ingestor_.reject(source_, record_line_, row.rejection, {{"row", row_}});
    ingestor_.add_reading(source_, record_line_, row.reading, {{"row", row_}});
  }
  void too_long(std::uint64_t number) override {
    // The line was skipped to its end; a record it belonged to cannot be completed.
    if (!assembler_.pending()) record_line_ = number;
    ++row_;
    assembler_ = csv::RecordAssembler(map_.delimiter, max_line_);
    ingestor_.reject(source_, record_line_, "line longer than --max-line bytes", {{"row", row_}});
  }
  void finish() override {
    if (assembler_.pending())
      ingestor_.reject(source_, record_line_, "unterminated quoted field at the end of the input", {{"row", row_ + 1}});
  }

 private:
  Ingestor& ingestor_;
  std::string source_;
  const csv::Map& map_;
  csv::RecordAssembler assembler_;
  std::size_t max_line_;
  std::unique_ptr<csv::RowConverter> converter_;
  std::uint64_t row_ = 0;
  std::uint64_t record_line_ = 0;
};

}  // namespace

const char* format_name(InputFormat format) {
  switch (format) {
    case InputFormat::ndjson: return "ndjson";
    case InputFormat::fhir_json: return "fhir-json";
    case InputFormat::fhir_ndjson: return "fhir-ndjson";
    case InputFormat::csv: return "csv";
  }
  return "?";
}

InputFormat detect_format(std::string_view prefix) {
  prefix = strip_bom(prefix);
  auto start = prefix.find_first_not_of(" \t\r\n");
  if (start == std::string_view::npos) return InputFormat::ndjson;  // nothing to read
  auto rest = prefix.substr(start);
  auto newline = rest.find('\n');
  bool whole_line = newline != std::string_view::npos;
  auto line = rest.substr(0, newline);
  if (line[0] != '{' && line[0] != '[') return InputFormat::csv;
  bool names_resource = line.find("\"resourceType\"") != std::string_view::npos;
  json value = json::parse(line, nullptr, false);
  if (!value.is_discarded() && value.is_object())
    return value.contains("resourceType") ? InputFormat::fhir_ndjson : InputFormat::ndjson;
  if (!whole_line && line.size() >= 4096)  // one very long line: a resource per line, or a reading
    return names_resource ? InputFormat::fhir_ndjson : InputFormat::ndjson;
  if (line.find_first_not_of(" \t\r{[") == std::string_view::npos || names_resource) return InputFormat::fhir_json;
  return InputFormat::ndjson;  // a broken reading line: NDJSON rejects it with its line number
}

bool format_matches(const std::string& requested, InputFormat detected) {
  if (requested == "ndjson") return detected == InputFormat::ndjson;
  if (requested == "fhir") return detected == InputFormat::fhir_json || detected == InputFormat::fhir_ndjson;
  if (requested == "csv") return detected == InputFormat::csv;
  return false;
}

std::unique_ptr<LineSink> make_sink(InputFormat format, Ingestor& ingestor, Ledger& ledger, const std::string& source,
                                    const FormatOptions& options) {
  switch (format) {
    case InputFormat::ndjson: return std::make_unique<NdjsonSink>(ingestor, source, options.max_line);
    case InputFormat::fhir_ndjson: return std::make_unique<FhirNdjsonSink>(ingestor, ledger, source, options);
    case InputFormat::fhir_json: return std::make_unique<FhirDocumentSink>(ingestor, ledger, source, options);
    case InputFormat::csv: return std::make_unique<CsvSink>(ingestor, source, options);
  }
  throw Error(ExitCode::usage, "unknown input format");
}

}  // namespace medtrail
