// RFC 9162 (Certificate Transparency v2) Merkle trees: leaf and node hashing with domain
// separation, roots, inclusion and consistency proofs and their verification.
//
// A HashGetter returns the hash of a complete, aligned subtree by (level, index): the subtree
// covering leaves [index << level, (index + 1) << level). The ledger stores every 4th level and
// folds the others from at most 8 stored hashes (Ledger::hash_getter). Roots and proofs are
// built from O(log n) such calls.
#pragma once
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "encoding.hpp"

namespace medtrail::merkle {

Hash leaf_hash(std::span<const std::uint8_t> data);  // SHA-256(0x00 || data)
Hash node_hash(const Hash& left, const Hash& right);  // SHA-256(0x01 || left || right)
Hash empty_root();                                    // SHA-256 of the empty string

using HashGetter = std::function<Hash(int level, std::uint64_t index)>;
using NodeCallback = std::function<void(int level, std::uint64_t index, const Hash& hash)>;

// The complete subtrees that make up a tree of size() leaves, largest first.
class Frontier {
 public:
  Frontier() = default;
  static Frontier load(std::uint64_t size, const HashGetter& get);
  // Appends a leaf hash; reports every newly completed subtree (level 0 first, then upwards).
  void push(const Hash& leaf, const NodeCallback& on_complete = {});
  Hash root() const;
  std::uint64_t size() const { return size_; }

 private:
  struct Subtree {
    int level;
    Hash hash;
  };
  std::vector<Subtree> subtrees_;
  std::uint64_t size_ = 0;
};

Hash root_of(std::span<const Hash> leaf_hashes);
Hash tree_root(std::uint64_t size, const HashGetter& get);

std::vector<Hash> inclusion_proof(std::uint64_t index, std::uint64_t size, const HashGetter& get);
std::vector<Hash> consistency_proof(std::uint64_t old_size, std::uint64_t new_size, const HashGetter& get);

bool verify_inclusion(std::uint64_t index, std::uint64_t size, const Hash& leaf, std::span<const Hash> proof,
                      const Hash& root);
bool verify_consistency(std::uint64_t old_size, std::uint64_t new_size, const Hash& old_root, const Hash& new_root,
                        std::span<const Hash> proof);

}  // namespace medtrail::merkle
