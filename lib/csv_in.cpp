#include "csv_in.hpp"

#include <yaml-cpp/yaml.h>

#include <charconv>
#include <cmath>
#include <set>

#include "error.hpp"
#include "timefmt.hpp"

namespace medtrail::csv {
namespace {

using nlohmann::json;

const std::set<std::string>& number_members() {
  static const std::set<std::string> kNumbers = {"value", "systolic", "diastolic", "mean", "lat",
                                                 "lon", "accuracy_m", "distance_m", "seq"};
  return kNumbers;
}

const std::set<std::string>& text_members() {
  static const std::set<std::string> kText = {"device", "time", "type", "subject", "sig", "source_ref",
                                              "unit", "peer", "result", "asset", "cycle", "status",
                                              "location", "code", "message", "title", "payload_file"};
  return kText;
}

std::string trim(std::string_view s) {
  auto b = s.find_first_not_of(" \t");
  if (b == std::string_view::npos) return "";
  auto e = s.find_last_not_of(" \t");
  return std::string(s.substr(b, e - b + 1));
}

std::optional<double> parse_number(const std::string& text) {
  double v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

// Whole numbers stay integers in the reading, so a value written "37" commits as 37, not 37.0.
json number_json(double v) {
  if (std::floor(v) == v && std::fabs(v) < 9e15) return static_cast<std::int64_t>(v);
  return v;
}

}  // namespace

bool is_reading_member(const std::string& name) {
  return number_members().count(name) || text_members().count(name) || name == "derived_from";
}

RecordAssembler::RecordAssembler(char delimiter, std::size_t max_record_bytes)
    : delimiter_(delimiter), max_(max_record_bytes) {}

RecordAssembler::Status RecordAssembler::add_line(std::string_view line) {
  if (continuing_) buffer_ += '\n';
  if (buffer_.size() + line.size() > max_) {
    buffer_.clear();
    continuing_ = in_quotes_ = false;
    error_ = "record longer than " + std::to_string(max_) + " bytes";
    return Status::error;
  }
  // Only a quote that opens a field starts a quoted field; a stray quote elsewhere is left
  // for parse() to report, and must not swallow the following lines.
  if (!continuing_) state_ = State::field_start;
  for (char c : line) {
    switch (state_) {
      case State::field_start:
        if (c == '"') state_ = State::quoted;
        else if (c != ' ' && c != delimiter_) state_ = State::unquoted;
        break;
      case State::unquoted:
        if (c == delimiter_) state_ = State::field_start;
        break;
      case State::quoted:
        if (c == '"') state_ = State::quote_seen;
        break;
      case State::quote_seen:  // a doubled quote, or the end of the quoted field
        state_ = c == '"' ? State::quoted : c == delimiter_ ? State::field_start : State::unquoted;
        break;
    }
  }
  in_quotes_ = state_ == State::quoted;
  buffer_.append(line);
  if (in_quotes_) {
    continuing_ = true;
    return Status::more;
  }
  continuing_ = false;
  bool ok = parse();
  buffer_.clear();
  return ok ? Status::record : Status::error;
}

bool RecordAssembler::parse() {
  fields_.clear();
  std::size_t i = 0;
  const std::size_t n = buffer_.size();
  for (;;) {
    std::string field;
    // Spaces before an opening quote are allowed (spreadsheets write `a, "b"`).
    std::size_t start = i;
    while (start < n && buffer_[start] == ' ') ++start;
    if (start < n && buffer_[start] == '"') {
      i = start + 1;
      for (;;) {
        if (i >= n) {
          error_ = "unterminated quoted field";
          return false;
        }
        if (buffer_[i] == '"') {
          if (i + 1 < n && buffer_[i + 1] == '"') {
            field += '"';
            i += 2;
            continue;
          }
          ++i;
          break;
        }
        field += buffer_[i++];
      }
      while (i < n && buffer_[i] == ' ') ++i;
      if (i < n && buffer_[i] != delimiter_) {
        error_ = "text after the closing quote of field " + std::to_string(fields_.size() + 1);
        return false;
      }
    } else {
      auto end = buffer_.find(delimiter_, i);
      if (end == std::string::npos) end = n;
      std::string_view raw(buffer_.data() + i, end - i);
      if (raw.find('"') != std::string_view::npos) {
        error_ = "a quote inside unquoted field " + std::to_string(fields_.size() + 1) + " (quote the whole field)";
        return false;
      }
      field = trim(raw);
      i = end;
    }
    fields_.push_back(std::move(field));
    if (i >= n) return true;
    ++i;  // the delimiter
  }
}

Map parse_map(std::string_view yaml_text, const std::string& source) {
  auto fail = [&](const YAML::Mark& mark, const std::string& message) {
    if (mark.is_null()) return Error(ExitCode::input_rejected, source + ": " + message);
    return Error(ExitCode::input_rejected,
                 source + ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1) + ": " + message);
  };
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml_text));
  } catch (const YAML::Exception& e) {
    throw fail(e.mark, e.msg);
  }
  if (!root.IsMap()) throw fail(root.Mark(), "a CSV map is a YAML mapping (delimiter, header, columns, fields, defaults, types, units, time_format)");
  Map map;
  auto scalar = [&](const YAML::Node& node, const std::string& what) {
    if (!node.IsScalar()) throw fail(node.Mark(), what + " must be a plain value");
    return node.Scalar();
  };
  auto string_map = [&](const YAML::Node& node, const std::string& what) {
    if (!node.IsMap()) throw fail(node.Mark(), what + " must be a mapping");
    std::map<std::string, std::string> out;
    for (const auto& item : node) {
      auto key = scalar(item.first, what + " key");
      if (!out.emplace(key, scalar(item.second, what + "." + key)).second)
        throw fail(item.first.Mark(), "duplicate key \"" + key + "\" in " + what);
    }
    return out;
  };
  for (const auto& item : root) {
    auto key = scalar(item.first, "a key");
    const YAML::Node& value = item.second;
    if (key == "delimiter") {
      auto d = scalar(value, "delimiter");
      if (d == "\\t" || d == "tab") d = "\t";
      if (d.size() != 1 || d[0] == '"' || d[0] == '\n' || d[0] == '\r')
        throw fail(value.Mark(), "delimiter must be one character (not a quote or a line break)");
      map.delimiter = d[0];
    } else if (key == "header") {
      auto h = scalar(value, "header");
      if (h != "true" && h != "false") throw fail(value.Mark(), "header must be true or false");
      map.header = h == "true";
    } else if (key == "columns") {
      if (!value.IsSequence() || value.size() == 0) throw fail(value.Mark(), "columns must be a list of column names");
      for (const auto& c : value) map.columns.push_back(scalar(c, "a column name"));
    } else if (key == "fields") {
      map.fields = string_map(value, "fields");
      for (const auto& f : value) {
        auto member = f.first.Scalar();
        if (!is_reading_member(member)) throw fail(f.first.Mark(), "\"" + member + "\" is not a reading member");
      }
    } else if (key == "defaults") {
      for (const auto& [member, text] : string_map(value, "defaults")) {
        if (!is_reading_member(member) || member == "derived_from")
          throw fail(value[member].Mark(), "\"" + member + "\" is not a reading member a default can give");
        if (number_members().count(member)) {
          auto v = parse_number(text);
          if (!v) throw fail(value[member].Mark(), "default " + member + " must be a number");
          map.defaults[member] = number_json(*v);
        } else {
          map.defaults[member] = text;
        }
      }
    } else if (key == "types") {
      map.types = string_map(value, "types");
    } else if (key == "units") {
      map.units = string_map(value, "units");
    } else if (key == "time_format") {
      map.time_format = scalar(value, "time_format");
      if (map.time_format != "rfc3339" && map.time_format != "unix" && map.time_format != "unix_ms")
        throw fail(value.Mark(), "time_format must be rfc3339, unix or unix_ms");
    } else {
      throw fail(item.first.Mark(), "unknown key \"" + key + "\" (delimiter, header, columns, fields, defaults, types, units, time_format)");
    }
  }
  if (!map.header && map.columns.empty()) throw fail(root.Mark(), "header: false needs columns: the names of the columns");
  return map;
}

RowConverter::RowConverter(const Map& map, const std::vector<std::string>& header) : map_(map), columns_(header.size()) {
  auto column_of = [&](const std::string& name) -> std::optional<std::size_t> {
    for (std::size_t i = 0; i < header.size(); ++i)
      if (header[i] == name) return i;
    return std::nullopt;
  };
  std::set<std::string> seen;
  for (const auto& name : header)
    if (!name.empty() && !seen.insert(name).second)
      throw Error(ExitCode::input_rejected, "the header names column \"" + name + "\" twice");
  if (map.fields.empty()) {
    for (std::size_t i = 0; i < header.size(); ++i) {
      if (!is_reading_member(header[i]))
        throw Error(ExitCode::input_rejected, "column \"" + header[i] +
                                                  "\" is not a reading member; give --map to say which columns to take");
      members_.emplace_back(header[i], i);
    }
    return;
  }
  for (const auto& [member, column] : map.fields) {
    auto i = column_of(column);
    if (!i) throw Error(ExitCode::input_rejected, "the map takes " + member + " from column \"" + column + "\", which the header lacks");
    members_.emplace_back(member, *i);
  }
}

RowConverter::Row RowConverter::convert(const std::vector<std::string>& fields) const {
  Row row;
  auto reject = [&](std::string why) {
    row.rejection = std::move(why);
    return row;
  };
  if (fields.size() != columns_)
    return reject("the row has " + std::to_string(fields.size()) + " fields, the header " + std::to_string(columns_));
  json reading = map_.defaults;
  for (const auto& [member, column] : members_) {
    const std::string& text = fields[column];
    if (text.empty()) continue;  // an empty cell gives nothing (a default, if any, stays)
    if (member == "type") {
      // The map's entry for this text, else its "*" entry, else the text as the type.
      auto t = map_.types.find(text);
      if (t == map_.types.end()) t = map_.types.find("*");
      // Only the map says "skip": a file whose type column reads "skip" is an unknown type.
      std::string type = t == map_.types.end() ? text : t->second;
      if (t != map_.types.end() && type == "skip") {
        row.skipped = true;
        return row;
      }
      reading["type"] = type;
    } else if (member == "unit") {
      auto u = map_.units.find(text);
      reading["unit"] = u == map_.units.end() ? text : u->second;
    } else if (member == "time" && map_.time_format != "rfc3339") {
      auto v = parse_number(text);
      if (!v) return reject("time \"" + text.substr(0, 64) + "\" is not a number (time_format " + map_.time_format + ")");
      auto ms = map_.time_format == "unix" ? *v * 1000.0 : *v;
      if (!(ms > -1e15 && ms < 1e15)) return reject("time " + text.substr(0, 64) + " is out of range");
      reading["time"] = format_rfc3339_ms(static_cast<std::int64_t>(std::llround(ms)));
    } else if (member == "derived_from") {
      json ids = json::array();
      std::size_t p = 0;
      while (p < text.size()) {
        auto b = text.find_first_not_of(" \t\n", p);
        if (b == std::string::npos) break;
        auto e = text.find_first_of(" \t\n", b);
        ids.push_back(text.substr(b, e == std::string::npos ? std::string::npos : e - b));
        p = e == std::string::npos ? text.size() : e;
      }
      reading["derived_from"] = ids;
    } else if (number_members().count(member)) {
      auto v = parse_number(text);
      if (!v) return reject(member + " \"" + text.substr(0, 64) + "\" is not a number");
      reading[member] = number_json(*v);
    } else {
      reading[member] = text;
    }
  }
  row.reading = std::move(reading);
  return row;
}

}  // namespace medtrail::csv
