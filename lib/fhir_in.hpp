// FHIR R4 Observations in: one Observation, a Bundle of them (collection, transaction, batch,
// searchset), or one resource per line of Bulk Data NDJSON, converted to medtrail readings
// (docs/FORMATS.md "FHIR input"). The conversion only maps; the readings then go through the
// same validation and Ingestor as NDJSON, so commitments, indexes and receipts have one path.
//
// Nothing here touches the ledger: links (derivedFrom, hasMember) come back as normalised
// references ("Observation/<id>") for the caller to resolve against records already ingested.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace medtrail::fhir {

struct ConvertOptions {
  std::string default_device;  // for Observations whose device names none medtrail can use
};

// One Observation: the reading (without derived_from), or why it was rejected.
struct Converted {
  std::optional<std::uint64_t> entry;  // its index in Bundle.entry, from 0, when from a Bundle
  nlohmann::json reading;              // null when rejected
  std::vector<std::string> links;      // derivedFrom and hasMember, as "Type/<id>"
  std::string rejection;
};

struct Conversion {
  std::vector<Converted> items;  // in ingest order: an entry named by another comes first
  std::uint64_t skipped = 0;     // entries that are not Observations to record (Patient, DELETE, ...)
  std::string error;             // the whole resource rejected (not FHIR, unsupported Bundle type)
};

Conversion convert(const nlohmann::json& resource, const ConvertOptions& options);

// "Observation/x" from "Observation/x", "https://host/fhir/Observation/x/_history/2"; "" for
// anything that is not a literal reference of that shape (urn:uuid:, #contained, ...).
std::string normalize_reference(std::string_view reference);

// The reading type a code maps to ("" for none): LOINC (http://loinc.org) or IEEE 11073 MDC
// (urn:iso:std:iso:11073:10101) codings, first match wins.
std::string reading_type_for(const nlohmann::json& codeable_concept);

}  // namespace medtrail::fhir
