#include <catch2/catch.hpp>

#include "csv_in.hpp"
#include "error.hpp"
#include "reading.hpp"

using namespace medtrail;
using nlohmann::json;

namespace {

// Feeds lines; returns the records (or "ERROR: why").
std::vector<std::vector<std::string>> records(const std::vector<std::string>& lines, char delimiter = ',') {
  csv::RecordAssembler a(delimiter, 1024);
  std::vector<std::vector<std::string>> out;
  for (const auto& line : lines) {
    auto s = a.add_line(line);
    if (s == csv::RecordAssembler::Status::record) out.push_back(a.fields());
    if (s == csv::RecordAssembler::Status::error) out.push_back({"ERROR: " + a.error()});
  }
  if (a.pending()) out.push_back({"ERROR: unterminated"});
  return out;
}

}  // namespace

TEST_CASE("CSV records: quotes, embedded delimiters and line breaks", "[csv]") {
  auto r = records({"a,b,c", R"("x, y","say ""hi""",3)", R"(1,"two)", R"(lines",3)", ",,", " spaced , \"q\" ,z"});
  REQUIRE(r.size() == 5);
  CHECK(r[0] == std::vector<std::string>{"a", "b", "c"});
  CHECK(r[1] == std::vector<std::string>{"x, y", "say \"hi\"", "3"});
  CHECK(r[2] == std::vector<std::string>{"1", "two\nlines", "3"});
  CHECK(r[3] == std::vector<std::string>{"", "", ""});
  CHECK(r[4] == std::vector<std::string>{"spaced", "q", "z"});
  CHECK(records({"a;b;\"c;d\""}, ';')[0] == std::vector<std::string>{"a", "b", "c;d"});
  // A stray quote in an unquoted field is that row's error; it does not swallow the next line.
  auto stray = records({R"(a,b"c,d)", "e,f"});
  REQUIRE(stray.size() == 2);
  CHECK(stray[1] == std::vector<std::string>{"e", "f"});
}

TEST_CASE("CSV records: malformed ones are errors, not guesses", "[csv]") {
  CHECK_THAT(records({R"(a,b"c,d)"})[0][0], Catch::Contains("quote inside"));
  CHECK_THAT(records({R"("a"b,c)"})[0][0], Catch::Contains("after the closing quote"));
  CHECK(records({R"("open,1)", "still open"}).back()[0] == "ERROR: unterminated");
  csv::RecordAssembler small(',', 8);
  CHECK(small.add_line("123456789") == csv::RecordAssembler::Status::error);
  CHECK(small.add_line("1,2") == csv::RecordAssembler::Status::record);  // recovers for the next record
}

TEST_CASE("default map: the header names the reading members", "[csv]") {
  csv::Map map;
  csv::RowConverter rows(map, {"device", "time", "type", "value", "unit", "subject"});
  auto row = rows.convert({"t-1", "2026-03-01T10:00:00Z", "body_temperature", "37.5", "Cel", "patient-1"});
  REQUIRE(row.rejection == "");
  CHECK(row.reading == json::parse(R"({"device":"t-1","time":"2026-03-01T10:00:00Z","type":"body_temperature",
    "value":37.5,"unit":"Cel","subject":"patient-1"})"));
  CHECK(validate_reading(row.reading, {1900000000000, 0}).reason == "");
  auto whole = rows.convert({"t-1", "2026-03-01T10:00:00Z", "heart_rate", "72", "/min", ""});
  CHECK(whole.reading["value"].is_number_integer());
  CHECK_FALSE(whole.reading.contains("subject"));  // an empty cell gives nothing
  CHECK_THAT(rows.convert({"t-1", "x", "heart_rate", "fast", "/min", ""}).rejection, Catch::Contains("not a number"));
  CHECK_THAT(rows.convert({"t-1", "x"}).rejection, Catch::Contains("2 fields"));
  // "skip" is a map's word: without one, a row whose type reads "skip" is an unknown type
  // (found by fuzz_csv; the row was dropped without a rejection).
  auto skip = rows.convert({"t-1", "2026-03-01T10:00:00Z", "skip", "1", "/min", ""});
  CHECK_FALSE(skip.skipped);
  CHECK(skip.reading["type"] == "skip");
  CHECK_THROWS_AS(csv::RowConverter(map, {"device", "colour"}), Error);
  CHECK_THROWS_AS(csv::RowConverter(map, {"device", "device"}), Error);
}

TEST_CASE("a YAML map: headerless, delimiter, types, units, defaults, unix times", "[csv]") {
  auto map = csv::parse_map(R"(
delimiter: ";"
header: false
columns: [when, kind, reading]
time_format: unix
fields: {time: when, type: kind, value: reading}
defaults: {device: garmin-1, unit: /min}
types: {HEART_RATE: heart_rate, "*": skip}
)",
                            "garmin.yaml");
  CHECK(map.delimiter == ';');
  csv::RowConverter rows(map, map.columns);
  auto hr = rows.convert({"1772359200", "HEART_RATE", "79.0"});
  CHECK(hr.reading == json::parse(R"({"device":"garmin-1","unit":"/min","time":"2026-03-01T10:00:00.000Z",
    "type":"heart_rate","value":79})"));
  CHECK(rows.convert({"1772359200", "STEPS", "12"}).skipped);

  auto units = csv::parse_map("fields: {device: d, time: t, type: k, value: v, unit: u}\nunits: {bpm: /min}\n", "m.yaml");
  csv::RowConverter r2(units, {"t", "d", "k", "v", "u", "ignored"});
  CHECK(r2.convert({"2026-03-01T10:00:00Z", "w-1", "heart_rate", "60", "bpm", "x"}).reading["unit"] == "/min");
  CHECK_THROWS_AS(csv::RowConverter(units, {"t", "d"}), Error);

  const std::pair<const char*, const char*> bad[] = {
      {"delimiter: ab\n", "m.yaml:1:12"},
      {"fields: {colour: c}\n", "not a reading member"},
      {"header: false\n", "needs columns"},
      {"time_format: excel\n", "time_format"},
      {"nonsense: 1\n", "unknown key"},
      {"fields: [a\n", "m.yaml:"},
      {"- just a list\n", "YAML mapping"},
  };
  for (const auto& [text, why] : bad) {
    INFO(text);
    try {
      csv::parse_map(text, "m.yaml");
      FAIL("accepted");
    } catch (const Error& e) {
      CHECK(e.code() == ExitCode::input_rejected);
      CHECK_THAT(e.what(), Catch::Contains(why));
    }
  }
}
