#include "ingest.hpp"

#include <cstdio>
#include <future>
#include <map>

#include "crypto.hpp"
#include "error.hpp"
#include "jcs.hpp"
#include "privacy.hpp"
#include "timefmt.hpp"
#include "trace_index.hpp"

namespace medtrail {
namespace {

using nlohmann::json;

// One input item as the caller handed it over: an NDJSON line, a reading converted from
// another format, or a line the caller already rejected.
struct Input {
  Input(const std::string& from, std::uint64_t line_number) : source(from), line(line_number) {}
  std::string source;
  std::uint64_t line;
  std::string text;            // an NDJSON line, unless `parsed` is set
  std::optional<json> parsed;  // a converted reading (FHIR, CSV)
  json locator;                // extra members for the receipt: where in the file (FHIR entry, CSV row)
  std::string rejection;       // set by Ingestor::reject
};

// A reading validated and committed-to outside the write lock, or the reason it is rejected.
struct Prepared {
  std::string source;
  std::uint64_t line = 0;
  json locator;
  std::string rejection;  // non-empty: rejected for this reason; nothing else is set
  ValidReading reading;
  std::string canonical;  // JCS of the reading as received (with its "sig", if any)
  StoredReading stored;   // canonical less the envelope's members: what is stored or sealed
  std::string signed_part;  // JCS of the reading without "sig"
  Bytes salt;
  Hash commitment{};
  std::array<std::uint8_t, kReplayTagBytes> replay_tag{};
  std::optional<Hash> subject;
  std::optional<std::string> file_sha256;
  // Sealed ahead when the ledger encrypted payloads as the batch was prepared; the commit
  // seals again only if that changed in between.
  std::optional<payload_crypto::Sealed> sealed;
  std::string ciphertext_sha256;
  // The leaf, hashed, as the worker could build it: the commit adds derived_from links (which
  // need the ledger) and then hashes again. Received is when the worker took the batch.
  LeafRow row;
  Bytes owner_wrap;  // the data key wrapped to the owner for row.id (encrypted ledgers)
};

// What the worker hands the commit: the batch and, on an encrypted ledger, the wrapper (one
// ephemeral X25519 key per batch, as the commit made before) of the data keys' owner wraps.
struct PreparedBatch {
  std::vector<Prepared> items;
  std::unique_ptr<payload_crypto::KeyWrapper> owner_wrapper;
};

void seal_payload(Prepared& p) {
  p.sealed = payload_crypto::seal(p.salt, p.stored.text, p.commitment);
  p.sealed->elided = p.stored.elided;
  p.ciphertext_sha256 = to_hex(crypto::sha256(p.sealed->ciphertext));
}

std::string file_sha256_hex(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return {};
  crypto::Sha256 sha;
  std::uint8_t buf[65536];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) sha.update(std::span(buf, n));
  bool failed = std::ferror(f) != 0;
  std::fclose(f);
  if (failed) return {};
  return to_hex(sha.finish());
}

}  // namespace

// Two stages, so that two cores share the work: while the calling thread commits one batch
// (SQLite, leaf hashes, receipts), a worker prepares the next (JSON parse, validation, JCS,
// salt and commitment, HMACs, payload sealing: pure functions of the input). Everything the
// caller sees (receipts, rejections, statistics) happens on the calling thread, in input
// order, at commit.
struct Ingestor::Impl {
  Ledger& ledger;
  const SigningKey& gateway;
  const DataKey& data_key;
  IngestOptions options;
  IngestEvents events;
  IngestStats stats;
  std::string gateway_key_id;
  std::optional<PublicKey> owner;  // encrypted ledgers: the owner's encryption key (leaf 0's)
  bool sealing = false;  // the ledger encrypted payloads at the last commit
  std::vector<Input> incoming;
  std::int64_t incoming_started_ms = 0;
  std::future<PreparedBatch> preparing;  // the batch before `incoming`
  // The batch committed last, freed by the worker when it next starts: its thousands of
  // allocations were made there, and freeing them was about 2% of the commit thread's time.
  PreparedBatch spent;
  std::int64_t preparing_started_ms = 0;
  // Atomic mode: one transaction for the whole run; receipts wait in a spool file.
  std::unique_ptr<sql::WriteTransaction> atomic_tx;
  std::unique_ptr<Ledger::Appender> atomic_appender;
  std::FILE* spool = nullptr;

  Impl(Ledger& l, const SigningKey& g, const DataKey& d, IngestOptions o, IngestEvents e)
      : ledger(l), gateway(g), data_key(d), options(std::move(o)), events(std::move(e)) {
    gateway_key_id = gateway.identity().key_id();
    ledger.cache_replay_filters();                     // every accepted reading looks its replay tag up
    owner = privacy::owner_key(ledger);
    sealing = owner.has_value();  // what PayloadSealer::enabled() will say
    if (options.atomic) {
      spool = std::tmpfile();
      if (!spool) throw Error(ExitCode::environment, "cannot create a temporary file for --atomic receipts");
    }
  }
  ~Impl() {
    if (preparing.valid()) preparing.wait();  // the worker reads this object
    if (spool) std::fclose(spool);
  }

  void emit_rejection(const std::string& source, std::uint64_t line, const std::string& reason,
                      const json& locator = json::object()) {
    ++stats.rejected;
    json r = {{"line", line}, {"source", source}, {"reason", reason}, {"status", "rejected"}};
    if (locator.is_object()) r.update(locator);
    if (events.rejection) events.rejection(r.dump());
  }

  void enqueue(Input input) {
    ++stats.lines;
    if (incoming.empty()) incoming_started_ms = now_unix_ms();
    incoming.push_back(std::move(input));
    // A fast producer fills chunks: pipelined. A slow one gets its receipts within about
    // chunk_max_ms, with nothing left waiting in the second stage.
    if (incoming.size() >= options.chunk_records)
      advance();
    else if (now_unix_ms() - incoming_started_ms >= options.chunk_max_ms)
      drain();
  }

  // The reading's leaf as far as the worker knows it; `links` are derived_from's ids.
  LeafRow reading_row(const Prepared& p, std::int64_t received_ms, const std::vector<std::string>& links = {}) const {
    LeafRow row;
    row.kind = "reading";
    row.device = p.reading.device;
    row.gateway = gateway_key_id;
    row.time_ms = p.reading.time_ms;
    row.received_ms = received_ms;
    row.type = p.reading.type;
    row.commitment = p.commitment;
    row.subject = p.subject;
    if (!links.empty() || p.file_sha256 || p.sealed) {
      row.extra = json::object();
      if (!links.empty()) row.extra["derived_from"] = links;
      if (p.file_sha256) row.extra["file_sha256"] = *p.file_sha256;
      if (p.sealed) row.extra["ciphertext_sha256"] = p.ciphertext_sha256;
    }
    return row;
  }

  // Worker side. Touches neither the database nor anything the calling thread changes.
  Prepared prepare(Input& input, bool seal, std::int64_t received_ms,
                   const payload_crypto::KeyWrapper* owner_wrapper) const {
    Prepared p;
    p.source = std::move(input.source);
    p.line = input.line;
    p.locator = std::move(input.locator);
    if (!input.rejection.empty()) {
      p.rejection = std::move(input.rejection);
      return p;
    }
    json parsed = input.parsed ? std::move(*input.parsed) : json::parse(input.text, nullptr, false);
    if (parsed.is_discarded()) {
      p.rejection = "not valid JSON (or not UTF-8)";
      return p;
    }
    auto check = validate_reading(parsed, {now_unix_ms(), options.max_future_skew_ms});
    if (!check.reading) {
      p.rejection = std::move(check.reason);
      return p;
    }
    p.reading = std::move(*check.reading);
    try {
      p.canonical = jcs::canonicalize(parsed);
      if (p.reading.signature) {
        parsed.erase("sig");
        p.signed_part = jcs::canonicalize(parsed);
      }
    } catch (const Error& e) {
      p.rejection = e.what();
      return p;
    }
    if (p.reading.payload_file) {
      std::string path = *p.reading.payload_file;
      if (!path.empty() && path[0] != '/' && !options.payload_base_dir.empty()) path = options.payload_base_dir + "/" + path;
      std::string digest = file_sha256_hex(path);
      if (digest.empty()) {
        p.rejection = "payload_file " + *p.reading.payload_file + " cannot be read";
        return p;
      }
      p.file_sha256 = digest;
    }
    p.salt = crypto::random_bytes(32);
    crypto::Sha256 sha;
    sha.update(p.salt);
    sha.update(p.canonical);
    p.commitment = sha.finish();
    p.replay_tag = data_key.replay_tag(p.canonical);
    if (p.reading.subject) p.subject = data_key.pseudonym(*p.reading.subject);
    // Here, on the preparing thread, not at commit: the envelope is the reading's own device,
    // type and time.
    p.stored = elide_envelope_members(p.canonical, {p.reading.device, p.reading.type, p.reading.time_ms});
    if (seal) seal_payload(p);
    p.row = reading_row(p, received_ms);
    p.row.id = leaf_hash_of(p.row);
    if (owner_wrapper && p.sealed) p.owner_wrap = owner_wrapper->wrap(p.sealed->dek, p.row.id);
    return p;
  }

  PreparedBatch prepare_all(std::vector<Input> batch, bool seal, PreparedBatch spent_before) const {
    spent_before = {};
    PreparedBatch out;
    const std::int64_t received_ms = now_unix_ms();
    if (seal && owner) out.owner_wrapper = std::make_unique<payload_crypto::KeyWrapper>(*owner);
    out.items.reserve(batch.size());
    for (auto& input : batch) out.items.push_back(prepare(input, seal, received_ms, out.owner_wrapper.get()));
    return out;
  }

  // Hands the incoming batch to the worker and commits the one it prepared before.
  void advance() {
    PreparedBatch ready;
    if (preparing.valid()) ready = preparing.get();
    if (!incoming.empty()) {
      preparing_started_ms = incoming_started_ms;
      preparing =
          std::async(std::launch::async, &Impl::prepare_all, this, std::move(incoming), sealing, std::move(spent));
      incoming.clear();
      spent = {};
    }
    if (!ready.items.empty()) commit(ready);
    spent = std::move(ready);
  }

  // Commits everything waiting, on the calling thread.
  void drain() {
    if (preparing.valid()) {
      auto ready = preparing.get();
      commit(ready);
    }
    if (!incoming.empty()) {
      auto ready = prepare_all(std::move(incoming), sealing, {});
      incoming.clear();
      commit(ready);
    }
  }

  std::int64_t oldest_waiting_ms() const {
    if (preparing.valid()) return preparing_started_ms;
    return incoming.empty() ? -1 : incoming_started_ms;
  }

  void commit(PreparedBatch& chunk) {
    if (options.atomic) {
      if (!atomic_tx) {
        atomic_tx = std::make_unique<sql::WriteTransaction>(ledger.db());
        ledger.require_active(gateway.identity().key, {"gateway", "authority"});
        atomic_appender = std::make_unique<Ledger::Appender>(ledger);
        atomic_appender->stage_hash_keys();
      }
      commit_chunk(chunk, *atomic_appender, [&](const std::string& line) {
        std::fputs(line.c_str(), spool);
        std::fputc('\n', spool);
      });
    } else {
      std::vector<std::string> receipts;
      sql::WriteTransaction tx(ledger.db());
      ledger.require_active(gateway.identity().key, {"gateway", "authority"});
      Ledger::Appender appender(ledger);
      appender.stage_hash_keys();
      commit_chunk(chunk, appender, [&](const std::string& line) { receipts.push_back(line); });
      tx.commit();
      for (const auto& r : receipts)
        if (events.receipt) events.receipt(r);
      if (events.committed) events.committed();
    }
  }

  // Written directly rather than through a json object (which was 8% of an ingest); the same
  // text as json::dump of that object: members in key order, a locator member replacing a
  // fixed one of the same name.
  static std::string receipt_line(const Prepared& p, const Hash& id, std::int64_t index, const char* status) {
    jcs::ObjectWriter r;
    r.hex("id", id);
    r.value("index", index);
    r.string("device", p.reading.device);
    r.string("type", p.reading.type);
    r.string("time", format_rfc3339_ms(p.reading.time_ms));
    r.string("status", status);
    r.string("source", p.source);
    r.value("line", p.line);
    if (p.locator.is_object())
      for (const auto& [key, value] : p.locator.items()) r.value(key, value);
    return r.finish();
  }

  // Runs inside the caller's write transaction, with the appender's hash keys staged; they
  // are all written when it returns.
  void commit_chunk(PreparedBatch& batch, Ledger::Appender& appender,
                    const std::function<void(const std::string&)>& receipt) {
    append_readings(batch, appender, receipt);
    appender.flush_hash_keys();
  }

  void append_readings(PreparedBatch& batch, Ledger::Appender& appender,
                       const std::function<void(const std::string&)>& receipt) {
    std::map<std::string, Identity> devices;
    for (auto& id : ledger.identities()) devices[id.name] = std::move(id);
    trace::IndexWriter index_writer(ledger.db());
    privacy::PayloadSealer sealer(ledger);
    sealing = sealer.enabled();
    std::int64_t received = now_unix_ms();
    std::uint64_t first = appender.size();
    merkle::Frontier seal_tree;
    for (auto& p : batch.items) {
      if (!p.rejection.empty()) {
        emit_rejection(p.source, p.line, p.rejection, p.locator);
        continue;
      }
      auto device = devices.find(p.reading.device);
      if (device == devices.end()) {
        emit_rejection(p.source, p.line, "device " + p.reading.device + " is not enrolled (medtrail enroll)", p.locator);
        continue;
      }
      if (device->second.retired_index) {
        emit_rejection(p.source, p.line, "device " + p.reading.device + " is retired", p.locator);
        continue;
      }
      if (device->second.key) {
        auto sig = p.reading.signature ? base64_decode(*p.reading.signature) : std::nullopt;
        if (!p.reading.signature) {
          emit_rejection(p.source, p.line, "device " + p.reading.device + " is enrolled with a key and must sign its readings (\"sig\")", p.locator);
          continue;
        }
        if (!sig || !verify_signature(*device->second.key, p.signed_part, *sig)) {
          emit_rejection(p.source, p.line, "the device signature \"sig\" does not verify under " + p.reading.device + "'s key", p.locator);
          continue;
        }
      }
      if (auto existing = appender.replay_tags().find(p.replay_tag)) {
        ++stats.duplicates;
        receipt(receipt_line(p, ledger.leaf(*existing).id, static_cast<std::int64_t>(*existing), "duplicate"));
        continue;
      }
      std::vector<std::string> links;
      std::vector<std::uint64_t> parents;
      std::string link_error;
      if (!p.reading.derived_from.empty()) appender.flush_hash_keys();  // a parent may be in this batch
      for (const auto& link : p.reading.derived_from) {
        try {
          parents.push_back(ledger.resolve(link));
          links.push_back(to_hex(ledger.leaf(parents.back()).id));
        } catch (const Error& e) {
          link_error = std::string("derived_from: ") + e.what();
          break;
        }
      }
      if (!link_error.empty()) {
        emit_rejection(p.source, p.line, link_error, p.locator);
        continue;
      }
      // The worker's leaf stands unless it lacks links or the ledger's encryption is not what
      // the worker saw (it cannot change once init has decided it, but nothing here relies on that).
      const bool reseal = sealer.enabled() != p.sealed.has_value();
      if (reseal) {
        if (sealer.enabled())
          seal_payload(p);
        else
          p.sealed.reset();
      }
      if (reseal || !links.empty()) {
        p.row = reading_row(p, p.row.received_ms, links);
        p.row.id = leaf_hash_of(p.row);
        p.owner_wrap.clear();  // made for the old id
      }
      LeafRow& row = p.row;
      auto index = appender.append_hashed(row);
      if (p.sealed) {
        std::optional<privacy::PayloadSealer::OwnerWrap> owner_wrap;
        if (!p.owner_wrap.empty()) owner_wrap = {batch.owner_wrapper.get(), p.owner_wrap};
        sealer.store(index, row, *p.sealed, p.replay_tag, owner_wrap);
        appender.replay_tags().insert(p.replay_tag, index);
      } else {
        appender.add_payload(index, p.salt, p.stored, p.replay_tag);
      }
      index_writer.add(row, trace::facts_of(row, p.reading, std::move(parents)));
      seal_tree.push(row.id);
      ++stats.accepted;
      receipt(receipt_line(p, row.id, index, "pending"));
    }
    if (seal_tree.size() == 0) return;
    LeafRow seal;
    seal.kind = "seal";
    seal.gateway = gateway_key_id;
    seal.received_ms = received;
    seal.extra = {{"first", first}, {"count", seal_tree.size()}, {"root", to_hex(seal_tree.root())}};
    seal.extra["sig"] = base64_encode(gateway.sign(signed_part_of(seal)));
    appender.append(seal);
  }

  IngestStats finish() {
    drain();
    if (options.atomic && atomic_tx) {
      if (stats.rejected > 0) {
        atomic_tx.reset();  // rolls back: all or nothing
        atomic_appender.reset();
        stats.accepted = 0;
        stats.duplicates = 0;
        return stats;
      }
      atomic_appender.reset();
      atomic_tx->commit();
      atomic_tx.reset();
      std::rewind(spool);
      char* line = nullptr;
      std::size_t cap = 0;
      ssize_t n;
      while ((n = ::getline(&line, &cap, spool)) > 0) {
        std::string text(line, static_cast<std::size_t>(n));
        if (!text.empty() && text.back() == '\n') text.pop_back();
        if (events.receipt) events.receipt(text);
      }
      std::free(line);
      if (events.committed) events.committed();
    }
    return stats;
  }
};

Ingestor::Ingestor(Ledger& ledger, const SigningKey& gateway, const DataKey& data_key, IngestOptions options,
                   IngestEvents events)
    : impl_(std::make_unique<Impl>(ledger, gateway, data_key, std::move(options), std::move(events))) {}
Ingestor::~Ingestor() = default;

void Ingestor::add_line(const std::string& source, std::uint64_t line_number, std::string_view text) {
  Input input(source, line_number);
  input.text = text;
  impl_->enqueue(std::move(input));
}

void Ingestor::add_reading(const std::string& source, std::uint64_t line_number, const nlohmann::json& reading,
                           const nlohmann::json& locator) {
  Input input(source, line_number);
  input.parsed = reading;
  input.locator = locator;
  impl_->enqueue(std::move(input));
}

// Through the queue, so that rejections come out in input order.
void Ingestor::reject(const std::string& source, std::uint64_t line_number, const std::string& reason,
                      const nlohmann::json& locator) {
  Input input(source, line_number);
  input.locator = locator;
  input.rejection = reason;
  impl_->enqueue(std::move(input));
}

void Ingestor::append_waiting() { impl_->drain(); }

std::int64_t Ingestor::commit_due_in_ms() const {
  auto oldest = impl_->oldest_waiting_ms();
  if (impl_->options.atomic || oldest < 0) return -1;
  return std::max<std::int64_t>(0, oldest + impl_->options.chunk_max_ms - now_unix_ms());
}

void Ingestor::commit_waiting() {
  if (!impl_->options.atomic) impl_->drain();
}

IngestStats Ingestor::finish() { return impl_->finish(); }

}  // namespace medtrail
