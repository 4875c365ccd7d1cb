#include "merkle.hpp"

#include <bit>

#include "crypto.hpp"

namespace medtrail::merkle {
namespace {

// Largest power of two strictly smaller than n (n >= 2), the RFC's split point k.
std::uint64_t split_point(std::uint64_t n) { return std::bit_floor(n - 1); }

// MTH of leaves [lo, hi) of the stored tree. Every range the RFC recursion produces starts
// at a multiple of its left part's size, so a power-of-two range is one stored subtree.
Hash range_hash(std::uint64_t lo, std::uint64_t hi, const HashGetter& get) {
  std::uint64_t n = hi - lo;
  if (std::has_single_bit(n) && lo % n == 0) {
    int level = std::countr_zero(n);
    return get(level, lo >> level);
  }
  std::uint64_t k = split_point(n);
  return node_hash(range_hash(lo, lo + k, get), range_hash(lo + k, hi, get));
}

void inclusion_path(std::uint64_t m, std::uint64_t lo, std::uint64_t hi, const HashGetter& get,
                    std::vector<Hash>& out) {
  if (hi - lo <= 1) return;
  std::uint64_t k = split_point(hi - lo);
  if (m < lo + k) {
    inclusion_path(m, lo, lo + k, get, out);
    out.push_back(range_hash(lo + k, hi, get));
  } else {
    inclusion_path(m, lo + k, hi, get, out);
    out.push_back(range_hash(lo, lo + k, get));
  }
}

// RFC 9162 SUBPROOF(m, D[lo:hi], b), m counted from lo.
void subproof(std::uint64_t m, std::uint64_t lo, std::uint64_t hi, bool complete, const HashGetter& get,
              std::vector<Hash>& out) {
  std::uint64_t n = hi - lo;
  if (m == n) {
    if (!complete) out.push_back(range_hash(lo, hi, get));
    return;
  }
  std::uint64_t k = split_point(n);
  if (m <= k) {
    subproof(m, lo, lo + k, complete, get, out);
    out.push_back(range_hash(lo + k, hi, get));
  } else {
    subproof(m - k, lo + k, hi, false, get, out);
    out.push_back(range_hash(lo, lo + k, get));
  }
}

}  // namespace

Hash leaf_hash(std::span<const std::uint8_t> data) {
  crypto::Sha256 sha;
  const std::uint8_t prefix = 0x00;
  sha.update(std::span(&prefix, 1));
  sha.update(data);
  return sha.finish();
}

Hash node_hash(const Hash& left, const Hash& right) {
  std::uint8_t buf[65];
  buf[0] = 0x01;
  std::copy(left.begin(), left.end(), buf + 1);
  std::copy(right.begin(), right.end(), buf + 33);
  return crypto::sha256(std::span(buf, sizeof buf));
}

Hash empty_root() { return crypto::sha256(std::span<const std::uint8_t>()); }

Frontier Frontier::load(std::uint64_t size, const HashGetter& get) {
  Frontier f;
  f.size_ = size;
  std::uint64_t start = 0;
  for (int level = 63; level >= 0; --level) {
    std::uint64_t width = std::uint64_t(1) << level;
    if (size & width) {
      f.subtrees_.push_back({level, get(level, start >> level)});
      start += width;
    }
  }
  return f;
}

void Frontier::push(const Hash& leaf, const NodeCallback& on_complete) {
  std::uint64_t index = size_++;
  subtrees_.push_back({0, leaf});
  if (on_complete) on_complete(0, index, leaf);
  // Two subtrees of equal height at the end merge into one of the next height.
  while (subtrees_.size() >= 2 && subtrees_[subtrees_.size() - 2].level == subtrees_.back().level) {
    Subtree right = subtrees_.back();
    subtrees_.pop_back();
    Subtree& left = subtrees_.back();
    left.hash = node_hash(left.hash, right.hash);
    left.level += 1;
    if (on_complete) on_complete(left.level, index >> left.level, left.hash);
  }
}

Hash Frontier::root() const {
  if (subtrees_.empty()) return empty_root();
  Hash h = subtrees_.back().hash;
  for (std::size_t i = subtrees_.size() - 1; i-- > 0;) h = node_hash(subtrees_[i].hash, h);
  return h;
}

Hash root_of(std::span<const Hash> leaf_hashes) {
  Frontier f;
  for (const auto& h : leaf_hashes) f.push(h);
  return f.root();
}

Hash tree_root(std::uint64_t size, const HashGetter& get) { return Frontier::load(size, get).root(); }

std::vector<Hash> inclusion_proof(std::uint64_t index, std::uint64_t size, const HashGetter& get) {
  std::vector<Hash> out;
  if (index < size) inclusion_path(index, 0, size, get, out);
  return out;
}

std::vector<Hash> consistency_proof(std::uint64_t old_size, std::uint64_t new_size, const HashGetter& get) {
  std::vector<Hash> out;
  if (old_size == 0 || old_size >= new_size) return out;
  subproof(old_size, 0, new_size, true, get, out);
  return out;
}

bool verify_inclusion(std::uint64_t index, std::uint64_t size, const Hash& leaf, std::span<const Hash> proof,
                      const Hash& root) {
  if (index >= size) return false;
  std::uint64_t fn = index;
  std::uint64_t sn = size - 1;
  Hash r = leaf;
  for (const Hash& p : proof) {
    if (sn == 0) return false;
    if ((fn & 1) || fn == sn) {
      r = node_hash(p, r);
      while (!(fn & 1) && fn != 0) {
        fn >>= 1;
        sn >>= 1;
      }
    } else {
      r = node_hash(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return sn == 0 && crypto::equal_constant_time(r, root);
}

bool verify_consistency(std::uint64_t old_size, std::uint64_t new_size, const Hash& old_root, const Hash& new_root,
                        std::span<const Hash> proof) {
  if (old_size > new_size) return false;
  if (old_size == new_size) return proof.empty() && old_root == new_root;
  if (old_size == 0) return proof.empty();
  if (proof.empty()) return false;
  std::vector<Hash> path;
  if (std::has_single_bit(old_size)) path.push_back(old_root);
  path.insert(path.end(), proof.begin(), proof.end());
  std::uint64_t fn = old_size - 1;
  std::uint64_t sn = new_size - 1;
  while (fn & 1) {
    fn >>= 1;
    sn >>= 1;
  }
  Hash fr = path[0];
  Hash sr = path[0];
  for (std::size_t i = 1; i < path.size(); ++i) {
    const Hash& c = path[i];
    if (sn == 0) return false;
    if ((fn & 1) || fn == sn) {
      fr = node_hash(c, fr);
      sr = node_hash(c, sr);
      while (!(fn & 1) && fn != 0) {
        fn >>= 1;
        sn >>= 1;
      }
    } else {
      sr = node_hash(sr, c);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return sn == 0 && fr == old_root && sr == new_root;
}

}  // namespace medtrail::merkle
