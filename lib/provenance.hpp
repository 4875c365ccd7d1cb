// Renderings of a lineage graph: medtrail's nodes-and-edges JSON, W3C PROV-JSON (2013 Member
// Submission), Graphviz dot, and an indented text tree for a terminal.
#pragma once
#include <nlohmann/json.hpp>
#include <string>

#include "trace.hpp"

namespace medtrail::trace {

nlohmann::json node_json(const LineageNode& node);
nlohmann::json lineage_json(const Lineage& lineage);
// `origin` names the ledger in the PROV namespace (urn:medtrail:<origin>:).
nlohmann::json lineage_prov(const Lineage& lineage, const std::string& origin);
// FHIR R4: a transaction Bundle that PUTs one Provenance per record of the lineage (id = the
// record id), so a FHIR server stores the lineage next to the Observations. Reads the ledger
// for signatures (device, record signer, block authority) and agent names.
nlohmann::json lineage_fhir(const Lineage& lineage, Ledger& ledger);
std::string lineage_dot(const Lineage& lineage);
std::string lineage_text(const Lineage& lineage);

}  // namespace medtrail::trace
