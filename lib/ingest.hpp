// Ingest: validate readings, commit them as records in chunks, each chunk closed by a seal
// record that the gateway signs over the chunk's Merkle root. One Ed25519 signature per
// chunk instead of per reading keeps the gateway's attestation affordable at high rates,
// while every reading stays attributable: its leaf lies under a signed seal.
//
// Two stages: a worker thread prepares the next chunk while the caller's thread commits the
// previous one (lib/ingest.cpp), so up to two chunks are in memory. Callbacks run on the
// caller's thread only, in input order.
//
// Crash safety: a receipt is emitted only after the chunk that holds it is committed, so
// every receipt a caller has seen is in the ledger. Replays are found by an HMAC tag over
// the reading (never a bare hash of a low-entropy value) and reported as duplicates.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "ledger.hpp"
#include "reading.hpp"

namespace medtrail {

struct IngestOptions {
  bool atomic = false;                 // all or nothing
  // Records per commit (and per seal). Each commit rewrites every page it touched; with ~1,000
  // devices the per-device and per-subject indexes alone give ~1,000 dirty pages each per commit,
  // so 16,384 halves the bytes written per record against 4,096 (bench/README.md, 2026-11-27).
  std::size_t chunk_records = 16384;
  std::int64_t chunk_max_ms = 1000;    // a slow producer still gets receipts within about this
  std::int64_t max_future_skew_ms = 5 * 60 * 1000;
  std::string payload_base_dir;        // where relative payload_file paths are resolved
};

struct IngestEvents {
  std::function<void(const std::string& receipt_line)> receipt;     // after commit
  std::function<void(const std::string& rejection_line)> rejection;
  std::function<void()> committed;                                  // after each commit
};

struct IngestStats {
  std::uint64_t lines = 0;
  std::uint64_t accepted = 0;
  std::uint64_t duplicates = 0;
  std::uint64_t rejected = 0;
};

class Ingestor {
 public:
  Ingestor(Ledger& ledger, const SigningKey& gateway, const DataKey& data_key, IngestOptions options,
           IngestEvents events);
  ~Ingestor();
  // One input line (without its newline). `source` names the file for rejections.
  void add_line(const std::string& source, std::uint64_t line_number, std::string_view text);
  // A reading converted from another format (FHIR, CSV). `locator` is an object whose members
  // (e.g. {"entry": 3} or {"row": 7}) are added to its receipt or rejection line.
  void add_reading(const std::string& source, std::uint64_t line_number, const nlohmann::json& reading,
                   const nlohmann::json& locator = nlohmann::json::object());
  void reject(const std::string& source, std::uint64_t line_number, const std::string& reason,
              const nlohmann::json& locator = nlohmann::json::object());
  // Appends every waiting reading now (in atomic mode, into the open transaction), so a
  // following reading can name them in derived_from.
  void append_waiting();
  // Milliseconds until the records waiting for a commit are due (0: overdue); -1 when none
  // wait (or in atomic mode, where nothing commits before the end).
  std::int64_t commit_due_in_ms() const;
  // Commits the waiting records now: a quiet input stream still gets its receipts.
  void commit_waiting();
  // Commits what is left. In atomic mode commits only when nothing was rejected.
  IngestStats finish();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace medtrail
