#include "provenance.hpp"

#include <functional>
#include <set>

#include "encoding.hpp"
#include "timefmt.hpp"

namespace medtrail::trace {
namespace {

using nlohmann::json;

std::string id_of(const LineageNode& node) { return to_hex(node.row.id); }
std::string short_id(const LineageNode& node) { return id_of(node).substr(0, 12); }

std::string time_of(const LineageNode& node) {
  return node.row.time_ms ? format_rfc3339_ms(*node.row.time_ms) : format_rfc3339_ms(node.row.received_ms);
}

std::string block_text(const LineageNode& node) {
  return node.block ? "block " + std::to_string(*node.block) : std::string("pending");
}

json typed_time(const std::string& text) { return {{"$", text}, {"type", "xsd:dateTime"}}; }

// Graphviz double-quoted string: escape quotes and backslashes, keep our own \n line breaks.
std::string dot_quote(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c == '\n' ? ' ' : c;
  }
  return out + "\"";
}

}  // namespace

json node_json(const LineageNode& node) {
  json out = {{"id", id_of(node)},
              {"index", node.row.index},
              {"kind", node.row.kind},
              {"time", time_of(node)},
              {"received", format_rfc3339_ms(node.row.received_ms)},
              {"block", node.block ? json(*node.block) : json(nullptr)},
              {"included", node.included},
              {"distance", node.distance}};
  if (node.row.type) out["type"] = *node.row.type;
  if (node.row.device) out["device"] = *node.row.device;
  if (node.row.gateway) out["gateway"] = *node.row.gateway;
  if (!node.gateway_name.empty()) out["gateway_name"] = node.gateway_name;
  return out;
}

json lineage_json(const Lineage& lineage) {
  json nodes = json::array(), edges = json::array(), problems = json::array();
  for (const auto& [index, node] : lineage.nodes) nodes.push_back(node_json(node));
  for (const auto& e : lineage.edges)
    edges.push_back({{"from", id_of(lineage.nodes.at(e.child))},
                     {"to", id_of(lineage.nodes.at(e.parent))},
                     {"relation", "derived_from"}});
  for (const auto& p : lineage.problems)
    problems.push_back({{"kind", p.kind}, {"record", id_of(lineage.nodes.at(p.index))}, {"detail", p.detail}});
  return {{"root", id_of(lineage.nodes.at(lineage.root))},
          {"nodes", nodes},
          {"edges", edges},
          {"problems", problems},
          {"truncated", lineage.truncated}};
}

json lineage_prov(const Lineage& lineage, const std::string& origin) {
  json entity = json::object(), activity = json::object(), agent = json::object();
  json generated = json::object(), attributed = json::object(), associated = json::object();
  json derived = json::object(), used = json::object();
  auto record = [](const LineageNode& n) { return "rec:" + id_of(n); };
  auto measurement = [](const LineageNode& n) { return "medtrail:measurement-" + id_of(n); };
  int relation = 0;
  auto next_id = [&relation]() { return "_:r" + std::to_string(++relation); };
  for (const auto& [index, node] : lineage.nodes) {
    json e = {{"prov:type", {{"$", "medtrail:" + node.row.kind}, {"type", "prov:QUALIFIED_NAME"}}},
              {"medtrail:index", node.row.index},
              {"medtrail:included", node.included},
              {"prov:generatedAtTime", typed_time(time_of(node))}};
    if (node.row.type) e["prov:label"] = *node.row.type;
    if (node.block) e["medtrail:block"] = *node.block;
    entity[record(node)] = e;
    activity[measurement(node)] = {{"prov:startTime", typed_time(time_of(node))},
                                   {"prov:endTime", typed_time(time_of(node))},
                                   {"prov:type", {{"$", "medtrail:measurement"}, {"type", "prov:QUALIFIED_NAME"}}}};
    generated[next_id()] = {{"prov:entity", record(node)}, {"prov:activity", measurement(node)},
                            {"prov:time", typed_time(time_of(node))}};
    if (node.row.device) {
      std::string device = "dev:" + *node.row.device;
      agent[device] = {{"prov:type", {{"$", "medtrail:device"}, {"type", "prov:QUALIFIED_NAME"}}}};
      associated[next_id()] = {{"prov:activity", measurement(node)}, {"prov:agent", device}};
      attributed[next_id()] = {{"prov:entity", record(node)}, {"prov:agent", device}};
    }
    if (node.row.gateway) {
      std::string gateway = "key:" + *node.row.gateway;
      json a = {{"prov:type", {{"$", "prov:SoftwareAgent"}, {"type", "prov:QUALIFIED_NAME"}}},
                {"medtrail:role", "gateway"}};
      if (!node.gateway_name.empty()) a["prov:label"] = node.gateway_name;
      agent[gateway] = a;
      attributed[next_id()] = {{"prov:entity", record(node)}, {"prov:agent", gateway}};
    }
  }
  for (const auto& e : lineage.edges) {
    const auto& child = lineage.nodes.at(e.child);
    const auto& parent = lineage.nodes.at(e.parent);
    derived[next_id()] = {{"prov:generatedEntity", record(child)},
                          {"prov:usedEntity", record(parent)},
                          {"prov:activity", measurement(child)}};
    used[next_id()] = {{"prov:activity", measurement(child)}, {"prov:entity", record(parent)}};
  }
  json out = {{"prefix",
               {{"medtrail", "https://medtrail.example/ns#"},
                {"rec", "urn:medtrail:" + origin + ":record:"},
                {"dev", "urn:medtrail:" + origin + ":device:"},
                {"key", "urn:medtrail:key:"}}},
              {"entity", entity},
              {"activity", activity},
              {"agent", agent},
              {"wasGeneratedBy", generated},
              {"used", used},
              {"wasDerivedFrom", derived},
              {"wasAttributedTo", attributed},
              {"wasAssociatedWith", associated}};
  return out;
}

namespace {

json coding(const char* system, const std::string& code, const std::string& display) {
  return {{"system", system}, {"code", code}, {"display", display}};
}

// Agent: participant type (author, enterer, attester), medtrail role, who by identifier.
json fhir_agent(const std::string& origin, const char* type_code, const char* type_display, const std::string& role,
                const std::string& system, const std::string& value, const std::string& display) {
  return {{"type", {{"coding", json::array({coding("http://terminology.hl7.org/CodeSystem/provenance-participant-type",
                                                   type_code, type_display)})}}},
          {"role", json::array({{{"coding", json::array({coding("urn:medtrail:role", role, role)})}}})},
          {"who", {{"identifier", {{"system", "urn:medtrail:" + origin + ":" + system}, {"value", value}}}, {"display", display}}}};
}

// FHIR Signature. type from ASTM E1762 (the code system FHIR's signature-type binds to).
json fhir_signature(const char* type_code, const char* type_display, const std::string& when, json who,
                    const std::string& signed_content, const std::string& sig) {
  return {{"type", json::array({coding("urn:iso-astm:E1762-95:2013", type_code, type_display)})},
          {"when", when},
          {"who", std::move(who)},
          // What the Ed25519 signature covers; FORMATS.md says how to rebuild those bytes.
          {"targetFormat", "application/json"},
          {"sigFormat", "application/octet-stream"},
          {"data", sig},
          {"extension", json::array({{{"url", "urn:medtrail:signed-content"}, {"valueString", signed_content}}})}};
}

}  // namespace

json lineage_fhir(const Lineage& lineage, Ledger& ledger) {
  const std::string origin = ledger.origin();
  const std::string record_system = "urn:medtrail:" + origin + ":record";
  auto record_ref = [&](const LineageNode& n) {
    return json{{"identifier", {{"system", record_system}, {"value", id_of(n)}}},
                {"display", n.row.type.value_or(n.row.kind) + (n.row.device ? " from " + *n.row.device : "")}};
  };
  std::map<std::uint64_t, std::vector<std::uint64_t>> parents;
  for (const auto& e : lineage.edges) parents[e.child].push_back(e.parent);
  json entries = json::array();
  for (const auto& [index, node] : lineage.nodes) {
    const LeafRow& row = node.row;
    json agents = json::array(), signatures = json::array(), entities = json::array();
    std::string recorded = format_rfc3339_ms(row.received_ms);
    if (row.kind == "reading") {
      if (row.device) agents.push_back(fhir_agent(origin, "author", "Author", "device", "device", *row.device, *row.device));
      if (row.gateway)
        agents.push_back(fhir_agent(origin, "enterer", "Enterer", "gateway", "key", *row.gateway,
                                    node.gateway_name.empty() ? *row.gateway : node.gateway_name));
      // A device that signs its readings: its signature over JCS(reading without sig).
      if (auto payload = ledger.payload(index); payload && payload->at("reading").is_object()) {
        const json& reading = payload->at("reading");
        if (reading.contains("sig") && reading["sig"].is_string() && row.device)
          signatures.push_back(fhir_signature("1.2.840.10065.1.12.1.1", "Author's Signature", time_of(node),
                                              {{"identifier", {{"system", "urn:medtrail:" + origin + ":device"}, {"value", *row.device}}}},
                                              "JCS of the reading as received, without sig", reading["sig"].get<std::string>()));
        // The source: the reading as received, which the record commits to (salted).
        if (row.commitment)
          entities.push_back({{"role", "source"},
                              {"what", {{"identifier", {{"system", "urn:medtrail:commitment"}, {"value", to_hex(*row.commitment)}}},
                                        {"display", "the " + row.type.value_or("reading") + " reading as received (salted SHA-256 commitment)"}}}});
      }
    } else if (row.gateway) {
      auto signer = ledger.identity_by_key_id(*row.gateway);
      agents.push_back(fhir_agent(origin, "author", "Author", signer ? signer->role : "signer", "key", *row.gateway,
                                  signer ? signer->name : *row.gateway));
      if (row.extra.is_object() && row.extra.contains("sig") && row.extra["sig"].is_string())
        signatures.push_back(fhir_signature("1.2.840.10065.1.12.1.1", "Author's Signature", recorded,
                                            {{"identifier", {{"system", "urn:medtrail:" + origin + ":key"}, {"value", *row.gateway}}}},
                                            "JCS of the record's envelope without sig", row.extra["sig"].get<std::string>()));
    }
    // The authority that sealed the record in a block attests it; its block signature covers
    // the log root and so this record.
    if (node.block) {
      if (auto block = ledger.block(*node.block)) {
        std::string signer_id = block->header.value("signer", "");
        auto authority = ledger.identity_by_key_id(signer_id);
        std::string name = authority ? authority->name : signer_id;
        agents.push_back(fhir_agent(origin, "attester", "Attester", "authority", "key", signer_id, name));
        for (const auto& s : block->signatures)
          if (s.is_object() && s.value("key_id", "") == signer_id)
            signatures.push_back(fhir_signature("1.2.840.10065.1.12.1.5", "Verification Signature",
                                                block->header.value("time", recorded),
                                                {{"identifier", {{"system", "urn:medtrail:" + origin + ":key"}, {"value", signer_id}}},
                                                 {"display", name}},
                                                "JCS of block " + std::to_string(*node.block) + "'s header", s.value("sig", "")));
      }
    }
    if (auto it = parents.find(index); it != parents.end())
      for (auto parent : it->second) entities.push_back({{"role", "derivation"}, {"what", record_ref(lineage.nodes.at(parent))}});
    json provenance = {{"resourceType", "Provenance"},
                       {"id", id_of(node)},
                       {"target", json::array({record_ref(node)})},
                       {"occurredDateTime", time_of(node)},
                       {"recorded", recorded},
                       {"activity", {{"coding", json::array({coding("http://terminology.hl7.org/CodeSystem/v3-DataOperation",
                                                                    "CREATE", "create")})}}},
                       {"agent", agents}};
    if (!entities.empty()) provenance["entity"] = entities;
    if (!signatures.empty()) provenance["signature"] = signatures;
    entries.push_back({{"fullUrl", "urn:medtrail:" + origin + ":provenance:" + id_of(node)},
                       {"resource", provenance},
                       {"request", {{"method", "PUT"}, {"url", "Provenance/" + id_of(node)}}}});
  }
  return {{"resourceType", "Bundle"}, {"type", "transaction"}, {"entry", entries}};
}

std::string lineage_dot(const Lineage& lineage) {
  std::string out = "digraph lineage {\n  rankdir=BT;\n  node [shape=box, fontname=\"monospace\", fontsize=10];\n";
  std::set<std::uint64_t> troubled;
  for (const auto& p : lineage.problems) troubled.insert(p.index);
  for (const auto& [index, node] : lineage.nodes) {
    std::string label = node.row.type.value_or(node.row.kind) + "\\n" + node.row.device.value_or("") +
                        (node.gateway_name.empty() ? "" : " via " + node.gateway_name) + "\\n" + short_id(node) +
                        "\\n" + time_of(node) + "\\n" + block_text(node) + (node.included ? "" : " (not under checkpoint)");
    // dot_quote would escape our \n line breaks; build the label by hand instead.
    std::string quoted = "\"";
    for (char c : label) {
      if (c == '"') quoted += '\\';
      quoted += c;
    }
    quoted += "\"";
    out += "  " + dot_quote(id_of(node)) + " [label=" + quoted;
    if (index == lineage.root) out += ", style=bold, penwidth=2";
    if (troubled.count(index)) out += ", color=red";
    out += "];\n";
  }
  for (const auto& e : lineage.edges)
    out += "  " + dot_quote(id_of(lineage.nodes.at(e.child))) + " -> " + dot_quote(id_of(lineage.nodes.at(e.parent))) +
           " [label=\"derived from\"];\n";
  int missing = 0;
  for (const auto& p : lineage.problems) {
    if (p.kind != "dangling") continue;
    std::string name = "missing-" + std::to_string(++missing);
    out += "  " + dot_quote(name) + " [label=" + dot_quote("missing record") + ", style=dashed, color=red];\n";
    out += "  " + dot_quote(id_of(lineage.nodes.at(p.index))) + " -> " + dot_quote(name) + " [color=red, style=dashed];\n";
  }
  return out + "}\n";
}

std::string lineage_text(const Lineage& lineage) {
  std::map<std::uint64_t, std::vector<std::uint64_t>> parents, children;
  for (const auto& e : lineage.edges) {
    parents[e.child].push_back(e.parent);
    children[e.parent].push_back(e.child);
  }
  auto line = [](const LineageNode& n) {
    return short_id(n) + "  " + n.row.type.value_or(n.row.kind) + "  " + n.row.device.value_or("-") + "  " +
           time_of(n) + "  " + block_text(n) + (n.included ? "" : "  (not under the signed checkpoint)");
  };
  std::string out = line(lineage.nodes.at(lineage.root)) + "\n";
  // Each direction as a tree; a node reached twice (a shared ancestor) is shown, not re-expanded.
  auto tree = [&](const std::map<std::uint64_t, std::vector<std::uint64_t>>& next, const char* heading) {
    if (!next.count(lineage.root)) return;
    out += std::string(heading) + "\n";
    std::set<std::uint64_t> shown;
    std::function<void(std::uint64_t, const std::string&)> walk = [&](std::uint64_t index, const std::string& indent) {
      auto it = next.find(index);
      if (it == next.end()) return;
      for (std::size_t i = 0; i < it->second.size(); ++i) {
        bool last = i + 1 == it->second.size();
        auto target = it->second[i];
        bool again = !shown.insert(target).second || target == lineage.root;
        out += indent + (last ? "`-- " : "|-- ") + line(lineage.nodes.at(target)) + (again ? "  (shown above)" : "") + "\n";
        if (!again) walk(target, indent + (last ? "    " : "|   "));
      }
    };
    walk(lineage.root, "  ");
  };
  tree(parents, "derived from:");
  tree(children, "used by:");
  for (const auto& p : lineage.problems) out += "problem: " + p.kind + " at " + short_id(lineage.nodes.at(p.index)) + ": " + p.detail + "\n";
  if (lineage.truncated) out += "(depth limit reached; more links exist)\n";
  return out;
}

}  // namespace medtrail::trace
