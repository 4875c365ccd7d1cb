#include "commands.hpp"
#include "encoding.hpp"
#include "error.hpp"
#include "provenance.hpp"
#include "timefmt.hpp"
#include "trace.hpp"

namespace medtrail::cli {
namespace {

using nlohmann::json;

struct TraceArgs {
  std::string id, device, subject, asset, contacts, origin_of, type, since, until, format, data_key, method, key, purpose;
  bool up = false, down = false, reveal = false;
  int depth = -1;
  int hops = 1;
  double radius = 2.0;
  std::string min_duration = "15m", tolerance = "30s", span = "1m";
};

trace::TimeWindow window_of(const TraceArgs& a) {
  trace::TimeWindow w;
  if (auto since = parse_time_option(a.since, "--since")) w.since_ms = *since;
  if (auto until = parse_time_option(a.until, "--until")) w.until_ms = *until;
  if (w.since_ms > w.until_ms) throw Error(ExitCode::usage, "--since is after --until");
  return w;
}

bool is_pseudonym(const std::string& text) {
  return text.size() == 64 && text.find_first_not_of("0123456789abcdef") == std::string::npos;
}

// A subject given as its pseudonym (64 hex digits, as trace prints them) or as the clear
// identifier, which needs the ledger's data key.
Hash subject_pseudonym(Ledger& ledger, const std::string& subject, const TraceArgs& a, const Globals& g) {
  if (is_pseudonym(subject)) return *hash_from_hex(subject);
  return find_data_key(ledger, a.data_key, "", g).pseudonym(subject);
}

json contact_json(Ledger& ledger, const trace::Contact& c, const std::optional<DataKey>& reveal_key) {
  json evidence = json::array();
  for (auto index : c.evidence) evidence.push_back(to_hex(ledger.leaf(index).id));
  json out = {{"subject", to_hex(c.subject)},
              {"hop", c.hop},
              {"via", to_hex(c.via)},
              {"first", format_rfc3339_ms(c.first_ms)},
              {"last", format_rfc3339_ms(c.last_ms)},
              {"exposure_s", std::llround(static_cast<double>(c.exposure_ms) / 1000.0)},
              {"closest_m", std::round(c.closest_m * 100) / 100},
              {"evidence", evidence}};
  if (reveal_key) {
    auto clear = trace::reveal_subject(ledger, *reveal_key, c.subject);
    out["subject_id"] = clear ? json(*clear) : json(nullptr);
  }
  return out;
}

int run_lineage(Ledger& ledger, const TraceArgs& a) {
  trace::LineageOptions options;
  options.up = a.up || !a.down;
  options.down = a.down || !a.up;
  options.depth = a.depth;
  auto graph = trace::lineage(ledger, ledger.resolve(a.id), options);
  std::string format = a.format.empty() || a.format == "auto" ? "json" : a.format;
  if (format == "json") print_json(trace::lineage_json(graph));
  else if (format == "fhir") print_json(trace::lineage_fhir(graph, ledger));
  else if (format == "prov") print_line(trace::lineage_prov(graph, ledger.origin()).dump(2));
  else if (format == "dot") std::fputs(trace::lineage_dot(graph).c_str(), stdout);
  else std::fputs(trace::lineage_text(graph).c_str(), stdout);
  for (const auto& p : graph.problems) print_stderr("medtrail trace: " + p.kind + ": " + p.detail);
  return graph.problems.empty() ? 0 : static_cast<int>(ExitCode::verification_failed);
}

int run_timeline(Ledger& ledger, const TraceArgs& a, const Globals& g) {
  trace::TimelineQuery q;
  q.window = window_of(a);
  if (!a.type.empty()) q.type = a.type;
  if (!a.device.empty()) {
    q.by = trace::TimelineQuery::By::device;
    q.name = a.device;
  } else if (!a.asset.empty()) {
    q.by = trace::TimelineQuery::By::asset;
    q.name = a.asset;
  } else {
    q.by = trace::TimelineQuery::By::subject;
    q.subject = subject_pseudonym(ledger, a.subject, a, g);
  }
  trace::timeline(ledger, q, [](const trace::TimelineEntry& e) {
    json line = {{"id", to_hex(e.row.id)},
                 {"index", e.row.index},
                 {"time", e.row.time_ms ? format_rfc3339_ms(*e.row.time_ms) : format_rfc3339_ms(e.row.received_ms)},
                 {"type", e.row.type.value_or(e.row.kind)},
                 {"device", e.row.device.value_or("")},
                 {"reading", e.reading ? *e.reading : json(nullptr)},
                 {"block", e.block ? json(*e.block) : json(nullptr)}};
    print_json(line);
  });
  return 0;
}

trace::ContactOptions contact_options(const TraceArgs& a) {
  trace::ContactOptions o;
  o.window = window_of(a);
  if (!(a.radius > 0 && a.radius <= 1000)) throw Error(ExitCode::usage, "--radius must be between 0 and 1000 metres");
  o.radius_m = a.radius;
  o.min_duration_ms = parse_duration_option(a.min_duration, "--min-duration");
  o.time_tolerance_ms = parse_duration_option(a.tolerance, "--time-tolerance");
  o.sample_span_ms = parse_duration_option(a.span, "--sample-span");
  if (o.sample_span_ms == 0) throw Error(ExitCode::usage, "--sample-span must be longer than 0s");
  if (a.hops < 1 || a.hops > 10) throw Error(ExitCode::usage, "--hops must be between 1 and 10");
  o.hops = a.hops;
  o.scan = a.method == "scan";
  return o;
}

int run_contacts(Ledger& ledger, const TraceArgs& a, const Globals& g) {
  auto options = contact_options(a);
  std::optional<DataKey> reveal_key;
  if (a.reveal) reveal_key = find_data_key(ledger, a.data_key, "", g);
  if (!a.contacts.empty()) {
    for (const auto& c : trace::contacts(ledger, subject_pseudonym(ledger, a.contacts, a, g), options))
      print_json(contact_json(ledger, c, reveal_key));
    return 0;
  }
  auto chain = trace::origin(ledger, subject_pseudonym(ledger, a.origin_of, a, g), options);
  for (std::size_t step = 0; step < chain.size(); ++step) {
    const auto& s = chain[step];
    json line = {{"step", step},
                 {"subject", to_hex(s.subject)},
                 {"positive_test", to_hex(ledger.leaf(s.test_index).id)},
                 {"test_time", format_rfc3339_ms(s.test_ms)},
                 {"earliest", step + 1 == chain.size()}};
    if (reveal_key) {
      auto clear = trace::reveal_subject(ledger, *reveal_key, s.subject);
      line["subject_id"] = clear ? json(*clear) : json(nullptr);
    }
    if (s.contact) line["contact"] = contact_json(ledger, *s.contact, std::nullopt);
    print_json(line);
  }
  return 0;
}

}  // namespace

Command trace_command(CLI::App& root, Globals& g) {
  auto* app = root.add_subcommand(
      "trace", "Lineage of a record; timeline of a device, subject or asset; contact tracing and case origin");
  auto a = std::make_shared<TraceArgs>();
  app->add_option("id", a->id, "Record id (or unique prefix of >= 8 hex digits) whose lineage to show");
  app->add_flag("--up", a->up, "Lineage: only ancestors (what the record was derived from)");
  app->add_flag("--down", a->down, "Lineage: only descendants (what was derived from it)");
  app->add_option("--depth", a->depth, "Lineage: follow at most N derivation steps each way")->check(CLI::NonNegativeNumber);
  app->add_option("--format", a->format, "Lineage output: json (nodes and edges), prov (W3C PROV-JSON), fhir (FHIR R4 Provenance Bundle), dot, text")
      ->check(CLI::IsMember({"auto", "json", "prov", "fhir", "dot", "text"}))
      ->default_val("json");
  app->add_option("--device", a->device, "Timeline of a device's readings");
  app->add_option("--subject", a->subject, "Timeline of a subject (clear id with the data key, or its 64-hex pseudonym)");
  app->add_option("--asset", a->asset, "Timeline of an RFID-tagged asset: status, location, sterilization, malfunction");
  app->add_option("--type", a->type, "Timeline: only readings of this type");
  app->add_option("--since", a->since, "Only records at or after this RFC 3339 time");
  app->add_option("--until", a->until, "Only records at or before this RFC 3339 time");
  app->add_option("--contacts", a->contacts, "Contact tracing: who was near this subject (clear id or pseudonym)");
  app->add_option("--origin", a->origin_of, "From this subject's positive test back to the earliest case in the cluster");
  app->add_option("--radius", a->radius, "Contact distance in metres")->capture_default_str();
  app->add_option("--min-duration", a->min_duration, "Cumulative exposure that makes a contact")->capture_default_str();
  app->add_option("--hops", a->hops, "Repeat from contacts up to this many hops")->capture_default_str();
  app->add_option("--time-tolerance", a->tolerance, "Pair two positions at most this far apart in time")->capture_default_str();
  app->add_option("--sample-span", a->span, "Exposure each contact sample counts for (one reporting interval)")->capture_default_str();
  app->add_option("--method", a->method, "Contact search: index (space-time grid) or scan (pairwise, for cross-checking)")
      ->check(CLI::IsMember({"index", "scan"}))
      ->default_val("index");
  app->add_flag("--reveal", a->reveal, "Print contacts' clear subject ids (needs the data key)");
  app->add_option("--key", a->key, "Reader key that decrypts the readings a live grant covers (data owner: all); the read is recorded")
      ->envname("MEDTRAIL_KEY");
  app->add_option("--purpose", a->purpose, "Why you read, kept in the access record");
  app->add_option("--data-key", a->data_key, "Pseudonymisation key (default: MEDTRAIL_DATA_KEY or a matching *.datakey beside the ledger)");
  app->footer(examples({
      "medtrail trace --db ward3.db 3f9a01c2 --format text",
      "medtrail trace --db ward3.db 3f9a01c2 --up --format dot | dot -Tsvg > lineage.svg",
      "medtrail trace --db ward3.db 3f9a01c2 --format prov > lineage.prov.json",
      "medtrail trace --db ward3.db 3f9a01c2 --format fhir | curl -H 'Content-Type: application/fhir+json' --data-binary @- https://fhir.example/r4",
      "medtrail trace --db ward3.db --device wb-0042 --since 2026-03-01T08:00:00Z --type body_temperature",
      "medtrail trace --db ward3.db --subject patient-0001 --data-key keys/hospital.datakey",
      "medtrail trace --db ward3.db --asset resp-0001-01",
      "medtrail trace --db ward3.db --contacts patient-0001 --since 2026-03-01T00:00:00Z --until 2026-03-08T00:00:00Z --hops 2",
      "medtrail trace --db ward3.db --origin patient-0001 --reveal",
  }));
  return {app, [a, &g]() {
            int modes = !a->id.empty() + !a->device.empty() + !a->subject.empty() + !a->asset.empty() +
                        !a->contacts.empty() + !a->origin_of.empty();
            if (modes != 1)
              throw Error(ExitCode::usage,
                          "give exactly one of: a record id, --device, --subject, --asset, --contacts or --origin");
            auto ledger = open_ledger(g, !a->key.empty());
            std::optional<SigningKey> key;
            if (!a->key.empty()) key = load_signing_key(a->key, g);
            ScopedReader reader(ledger, key ? &*key : nullptr);
            int rc = 0;
            {
              sql::ReadTransaction snapshot(ledger.db());
              if (!a->id.empty()) rc = run_lineage(ledger, *a);
              else if (!a->contacts.empty() || !a->origin_of.empty()) rc = run_contacts(ledger, *a, g);
              else rc = run_timeline(ledger, *a, g);
            }
            reader.finish("trace", a->purpose);
            return rc;
          }};
}

}  // namespace medtrail::cli
