// RFC 9162 Merkle trees (lib/merkle.hpp) against published test vectors and against a naive
// implementation of the RFC's recursive definitions, written here straight from the text so
// that it shares nothing with the library but SHA-256.
#include <catch2/catch.hpp>
#include <map>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "crypto.hpp"
#include "encoding.hpp"
#include "merkle.hpp"

using namespace medtrail;
namespace mk = medtrail::merkle;

namespace {

Hash hx(const char* text) {
  auto h = hash_from_hex(text);
  if (!h) throw std::invalid_argument(std::string("bad hex in test: ") + text);
  return *h;
}

// ---- Naive RFC 9162 section 2.1, over a vector of leaf hashes ------------------------------

Hash naive_leaf(std::span<const std::uint8_t> data) {
  Bytes buf{0x00};
  buf.insert(buf.end(), data.begin(), data.end());
  return crypto::sha256(buf);
}

Hash naive_node(const Hash& left, const Hash& right) {
  Bytes buf{0x01};
  buf.insert(buf.end(), left.begin(), left.end());
  buf.insert(buf.end(), right.begin(), right.end());
  return crypto::sha256(buf);
}

// The largest power of two smaller than n (n > 1), found by counting up rather than with bit tricks.
std::size_t split(std::size_t n) {
  std::size_t k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

using Leaves = std::vector<Hash>;

Leaves slice(const Leaves& d, std::size_t lo, std::size_t hi) { return Leaves(d.begin() + lo, d.begin() + hi); }

// MTH(D[n]), section 2.1.1.
Hash mth(const Leaves& d) {
  if (d.empty()) return crypto::sha256(std::string_view());
  if (d.size() == 1) return d[0];
  std::size_t k = split(d.size());
  return naive_node(mth(slice(d, 0, k)), mth(slice(d, k, d.size())));
}

// PATH(m, D[n]), section 2.1.3.1.
Leaves path(std::size_t m, const Leaves& d) {
  std::size_t n = d.size();
  if (n == 1) return {};
  std::size_t k = split(n);
  Leaves out;
  if (m < k) {
    out = path(m, slice(d, 0, k));
    out.push_back(mth(slice(d, k, n)));
  } else {
    out = path(m - k, slice(d, k, n));
    out.push_back(mth(slice(d, 0, k)));
  }
  return out;
}

// SUBPROOF(m, D[n], b), section 2.1.4.1.
Leaves subproof(std::size_t m, const Leaves& d, bool b) {
  std::size_t n = d.size();
  if (m == n) return b ? Leaves{} : Leaves{mth(d)};
  std::size_t k = split(n);
  Leaves out;
  if (m <= k) {
    out = subproof(m, slice(d, 0, k), b);
    out.push_back(mth(slice(d, k, n)));
  } else {
    out = subproof(m - k, slice(d, k, n), false);
    out.push_back(mth(slice(d, 0, k)));
  }
  return out;
}

// PROOF(m, D[n]).
Leaves proof(std::size_t m, const Leaves& d) { return subproof(m, d, true); }

// The ledger's view of a tree: complete, aligned subtrees by (level, index). Asking for one
// that is not complete within the first `size` leaves is a bug in the caller, so it throws.
mk::HashGetter getter_for(const Leaves& all, std::size_t size) {
  return [&all, size](int level, std::uint64_t index) -> Hash {
    if (level < 0 || level > 62 || ((index + 1) << level) > size)
      throw std::logic_error("asked for subtree (" + std::to_string(level) + ", " + std::to_string(index) +
                             ") outside a tree of " + std::to_string(size));
    return mth(slice(all, index << level, (index + 1) << level));
  };
}

// Leaf hashes of distinct made-up entries: "entry-0", "entry-1", ...
Leaves synthetic_leaves(std::size_t n) {
  Leaves out;
  for (std::size_t i = 0; i < n; ++i) out.push_back(naive_leaf(as_bytes("entry-" + std::to_string(i))));
  return out;
}

Hash flipped(Hash h, std::size_t byte = 0) {
  h[byte] ^= 0x20;
  return h;
}

// ---- Published vectors ----------------------------------------------------------------------
//
// Leaves, node hashes and roots of the Certificate Transparency reference tree, from
// transparency-dev/merkle testonly/constants.go (LeafInputs, NodeHashes, RootHashes), the same
// values google/certificate-transparency-go's merkle tests use. Values only.

const std::vector<Bytes>& reference_inputs() {
  static const std::vector<Bytes> inputs = [] {
    std::vector<Bytes> out;
    for (const char* h : {"", "00", "10", "2021", "3031", "40414243", "5051525354555657",
                          "606162636465666768696a6b6c6d6e6f",
                          // Our own ninth leaf, to reach size 9 (not a published input).
                          "707172737475767778797a7b7c7d7e7f"})
      out.push_back(*from_hex(h));
    return out;
  }();
  return inputs;
}

Leaves reference_leaves(std::size_t n) {
  Leaves out;
  for (std::size_t i = 0; i < n; ++i) out.push_back(mk::leaf_hash(reference_inputs()[i]));
  return out;
}

const char* const kReferenceRoots[] = {
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",  // 0: SHA-256("")
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    // 9: not published; computed independently with Python's hashlib from the RFC's MTH
    // (the same script reproduces sizes 0..8 above), and by mth() in this file.
    "094187f2c2d0ea54c935de530d65389c9a75b0231c0609a54433e4917daf3c82",
};

// NodeHashes(): every complete subtree of the 8-leaf reference tree, by level then index.
const std::vector<std::vector<const char*>> kReferenceNodes = {
    {"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
     "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
     "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
     "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
     "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
     "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
     "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
     "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1"},
    {"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
     "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
     "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
     "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"},
    {"d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
     "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"},
    {"5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"},
};

}  // namespace

TEST_CASE("leaf and node hashes use the RFC 9162 domain separation prefixes", "[merkle]") {
  for (const auto& input : reference_inputs()) CHECK(mk::leaf_hash(input) == naive_leaf(input));
  Hash a = naive_leaf(as_bytes("a")), b = naive_leaf(as_bytes("b"));
  CHECK(mk::node_hash(a, b) == naive_node(a, b));
  CHECK(mk::node_hash(a, b) != mk::node_hash(b, a));
  // A leaf whose data looks like two hashes must not collide with the node of those hashes.
  Bytes joined(a.begin(), a.end());
  joined.insert(joined.end(), b.begin(), b.end());
  CHECK(mk::leaf_hash(joined) != mk::node_hash(a, b));
  CHECK(mk::empty_root() == hx(kReferenceRoots[0]));
}

TEST_CASE("roots of the Certificate Transparency reference tree, sizes 0 to 9", "[merkle]") {
  const Leaves all = reference_leaves(9);
  for (std::size_t n = 0; n <= 9; ++n) {
    INFO("tree size " << n);
    Leaves prefix = slice(all, 0, n);
    Hash want = hx(kReferenceRoots[n]);
    CHECK(mth(prefix) == want);  // the naive implementation agrees with the published value
    CHECK(mk::root_of(prefix) == want);
    CHECK(mk::tree_root(n, getter_for(all, n)) == want);
    CHECK(mk::Frontier::load(n, getter_for(all, n)).root() == want);
  }
}

TEST_CASE("inclusion and consistency proofs match the published transparency-dev vectors", "[merkle]") {
  // transparency-dev/merkle proof/verify_test.go: inclusionProofs (1-based leaf numbers there,
  // 0-based indices here) and consistencyProofs.
  const Leaves all = reference_leaves(8);
  auto root = [&](std::size_t n) { return hx(kReferenceRoots[n]); };
  struct Vector {
    std::uint64_t a, b;
    std::vector<const char*> proof;
  };
  const Vector inclusion[] = {
      {0, 8, {"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
              "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
              "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"}},
      {5, 8, {"bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
              "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
              "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
      {2, 3, {"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"}},
      {1, 5, {"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
              "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
              "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"}},
  };
  for (const auto& v : inclusion) {
    INFO("inclusion of " << v.a << " in " << v.b);
    Leaves want;
    for (const char* h : v.proof) want.push_back(hx(h));
    CHECK(mk::inclusion_proof(v.a, v.b, getter_for(all, v.b)) == want);
    CHECK(mk::verify_inclusion(v.a, v.b, all[v.a], want, root(v.b)));
  }
  const Vector consistency[] = {
      {1, 8, {"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
              "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
              "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"}},
      {6, 8, {"0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
              "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
              "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
      {2, 5, {"5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
              "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"}},
      {6, 7, {"0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
              "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
              "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
  };
  for (const auto& v : consistency) {
    INFO("consistency of " << v.a << " with " << v.b);
    Leaves want;
    for (const char* h : v.proof) want.push_back(hx(h));
    CHECK(mk::consistency_proof(v.a, v.b, getter_for(all, v.b)) == want);
    CHECK(mk::verify_consistency(v.a, v.b, root(v.a), root(v.b), want));
  }
}

TEST_CASE("inclusion proofs equal the RFC's PATH for every leaf of every tree up to 64", "[merkle]") {
  const Leaves all = synthetic_leaves(64);
  const Hash other = naive_leaf(as_bytes("not in the tree"));
  for (std::uint64_t n = 1; n <= 64; ++n) {
    const Leaves tree = slice(all, 0, n);
    const Hash root = mth(tree);
    for (std::uint64_t m = 0; m < n; ++m) {
      INFO("leaf " << m << " of " << n);
      const Leaves got = mk::inclusion_proof(m, n, getter_for(all, n));
      REQUIRE(got == path(m, tree));
      REQUIRE(mk::verify_inclusion(m, n, tree[m], got, root));

      // Every probe below is a lie about the same tree; none may verify.
      std::vector<std::pair<std::string, bool>> lies;
      auto lie = [&](std::string what, bool accepted) { lies.emplace_back(std::move(what), accepted); };
      auto verify = [&](std::uint64_t i, std::uint64_t s, const Hash& leaf, const Leaves& p, const Hash& r) {
        return mk::verify_inclusion(i, s, leaf, p, r);
      };
      for (std::size_t e = 0; e < got.size(); ++e) {
        for (std::size_t byte : {std::size_t(0), std::size_t(31)}) {
          Leaves p = got;
          p[e] = flipped(p[e], byte);
          lie("proof[" + std::to_string(e) + "] byte " + std::to_string(byte) + " flipped", verify(m, n, tree[m], p, root));
        }
        Leaves dropped = got;
        dropped.erase(dropped.begin() + static_cast<std::ptrdiff_t>(e));
        lie("proof[" + std::to_string(e) + "] dropped", verify(m, n, tree[m], dropped, root));
      }
      for (const Hash& extra : {other, root, tree[m]}) {
        Leaves appended = got, prepended = got;
        appended.push_back(extra);
        prepended.insert(prepended.begin(), extra);
        lie("element appended", verify(m, n, tree[m], appended, root));
        lie("element prepended", verify(m, n, tree[m], prepended, root));
      }
      if (m > 0) lie("index - 1", verify(m - 1, n, tree[m], got, root));
      lie("index + 1", verify(m + 1, n, tree[m], got, root));
      if ((m ^ 2) < n) lie("index ^ 2", verify(m ^ 2, n, tree[m], got, root));
      lie("index = size", verify(n, n, tree[m], got, root));
      lie("size * 2", verify(m, n * 2, tree[m], got, root));
      lie("size / 2", verify(m, n / 2, tree[m], got, root));
      lie("wrong root", verify(m, n, tree[m], got, flipped(root)));
      lie("empty-tree root", verify(m, n, tree[m], got, mk::empty_root()));
      lie("wrong leaf", verify(m, n, other, got, root));
      for (const auto& [what, accepted] : lies) {
        INFO(what);
        CHECK_FALSE(accepted);
      }
    }
  }
}

TEST_CASE("consistency proofs equal the RFC's PROOF for every pair of sizes up to 64", "[merkle]") {
  const Leaves all = synthetic_leaves(64);
  Leaves roots{mk::empty_root()};
  for (std::size_t n = 1; n <= 64; ++n) roots.push_back(mth(slice(all, 0, n)));
  const Hash other = naive_leaf(as_bytes("unrelated"));
  for (std::uint64_t n = 1; n <= 64; ++n) {
    for (std::uint64_t m = 1; m <= n; ++m) {
      INFO("old size " << m << ", new size " << n);
      const Leaves got = mk::consistency_proof(m, n, getter_for(all, n));
      REQUIRE(got == proof(m, slice(all, 0, n)));
      REQUIRE(mk::verify_consistency(m, n, roots[m], roots[n], got));
      if (m == n) {
        CHECK(got.empty());
        CHECK_FALSE(mk::verify_consistency(m, n, roots[m], flipped(roots[n]), got));
        CHECK_FALSE(mk::verify_consistency(m, n, roots[m], roots[n], Leaves{other}));
        continue;
      }

      std::vector<std::pair<std::string, bool>> lies;
      auto lie = [&](std::string what, bool accepted) { lies.emplace_back(std::move(what), accepted); };
      auto verify = [&](std::uint64_t a, std::uint64_t b, const Hash& ra, const Hash& rb, const Leaves& p) {
        return mk::verify_consistency(a, b, ra, rb, p);
      };
      for (std::size_t e = 0; e < got.size(); ++e) {
        for (std::size_t byte : {std::size_t(0), std::size_t(31)}) {
          Leaves p = got;
          p[e] = flipped(p[e], byte);
          lie("proof[" + std::to_string(e) + "] byte " + std::to_string(byte) + " flipped", verify(m, n, roots[m], roots[n], p));
        }
        Leaves dropped = got;
        dropped.erase(dropped.begin() + static_cast<std::ptrdiff_t>(e));
        lie("proof[" + std::to_string(e) + "] dropped", verify(m, n, roots[m], roots[n], dropped));
      }
      for (const Hash& extra : {other, roots[m], roots[n], got[0]}) {
        Leaves appended = got, prepended = got;
        appended.push_back(extra);
        prepended.insert(prepended.begin(), extra);
        lie("element appended", verify(m, n, roots[m], roots[n], appended));
        lie("element prepended", verify(m, n, roots[m], roots[n], prepended));
      }
      lie("empty proof", verify(m, n, roots[m], roots[n], {}));
      lie("old size - 1", verify(m - 1, n, roots[m], roots[n], got));
      lie("old size + 1", verify(m + 1, n, roots[m], roots[n], got));
      if ((m ^ 2) != 0) lie("old size ^ 2", verify(m ^ 2, n, roots[m], roots[n], got));
      lie("new size * 2", verify(m, n * 2, roots[m], roots[n], got));
      lie("new size / 2", verify(m, n / 2, roots[m], roots[n], got));
      lie("sizes swapped", verify(n, m, roots[n], roots[m], got));
      lie("wrong old root", verify(m, n, flipped(roots[m]), roots[n], got));
      lie("wrong new root", verify(m, n, roots[m], flipped(roots[n]), got));
      lie("roots swapped", verify(m, n, roots[n], roots[m], got));
      lie("new root of a different tree", verify(m, n, roots[m], mth(synthetic_leaves(n + 1)), got));
      for (const auto& [what, accepted] : lies) {
        INFO(what);
        CHECK_FALSE(accepted);
      }
    }
  }
}

TEST_CASE("degenerate proof requests and verifications", "[merkle]") {
  const Leaves all = synthetic_leaves(4);
  const Hash r4 = mth(all);
  // Out-of-range requests give empty proofs rather than reading past the tree.
  CHECK(mk::inclusion_proof(4, 4, getter_for(all, 4)).empty());
  CHECK(mk::inclusion_proof(0, 0, getter_for(all, 0)).empty());
  CHECK(mk::consistency_proof(0, 4, getter_for(all, 4)).empty());
  CHECK(mk::consistency_proof(4, 4, getter_for(all, 4)).empty());
  CHECK(mk::consistency_proof(5, 4, getter_for(all, 4)).empty());
  // A one-leaf tree: the root is the leaf hash and the proof is empty.
  CHECK(mk::verify_inclusion(0, 1, all[0], {}, all[0]));
  CHECK_FALSE(mk::verify_inclusion(0, 1, all[0], {}, all[1]));
  CHECK_FALSE(mk::verify_inclusion(0, 0, all[0], {}, all[0]));
  CHECK_FALSE(mk::verify_inclusion(1, 1, all[0], {}, all[0]));
  // Anything is consistent with the empty tree, given an empty proof.
  CHECK(mk::verify_consistency(0, 4, mk::empty_root(), r4, {}));
  CHECK_FALSE(mk::verify_consistency(0, 4, mk::empty_root(), r4, Leaves{r4}));
  CHECK(mk::verify_consistency(0, 0, mk::empty_root(), mk::empty_root(), {}));
  // A tree never shrinks.
  CHECK_FALSE(mk::verify_consistency(4, 3, r4, mth(slice(all, 0, 3)), {}));
  // Equal sizes need equal roots.
  CHECK(mk::verify_consistency(4, 4, r4, r4, {}));
  CHECK_FALSE(mk::verify_consistency(4, 4, r4, all[0], {}));
}

TEST_CASE("Frontier push, load and root agree with root_of for every size up to 64", "[merkle]") {
  const Leaves all = synthetic_leaves(64);
  mk::Frontier pushed;
  CHECK(pushed.size() == 0);
  CHECK(pushed.root() == mk::empty_root());
  for (std::uint64_t n = 1; n <= 64; ++n) {
    INFO("tree size " << n);
    pushed.push(all[n - 1]);
    const Hash want = mth(slice(all, 0, n));
    CHECK(pushed.size() == n);
    CHECK(pushed.root() == want);
    CHECK(mk::root_of(slice(all, 0, n)) == want);
    CHECK(mk::tree_root(n, getter_for(all, n)) == want);

    mk::Frontier loaded = mk::Frontier::load(n, getter_for(all, n));
    CHECK(loaded.size() == n);
    CHECK(loaded.root() == want);
    // A loaded frontier must carry on exactly like one built by pushing.
    if (n < 64) {
      loaded.push(all[n]);
      CHECK(loaded.root() == mth(slice(all, 0, n + 1)));
    }
  }
  CHECK(mk::Frontier::load(0, getter_for(all, 0)).root() == mk::empty_root());
}

TEST_CASE("Frontier reports exactly the complete aligned subtrees, as each completes", "[merkle]") {
  const Leaves all = synthetic_leaves(64);
  mk::Frontier f;
  std::map<std::pair<int, std::uint64_t>, Hash> seen;
  for (std::uint64_t j = 0; j < 64; ++j) {
    INFO("pushing leaf " << j);
    std::vector<std::tuple<int, std::uint64_t, Hash>> reported;
    f.push(all[j], [&](int level, std::uint64_t index, const Hash& h) { reported.emplace_back(level, index, h); });
    // Leaf j completes the subtrees that end at j: levels 0 .. (trailing ones of j), smallest first.
    std::vector<std::tuple<int, std::uint64_t, Hash>> expected;
    for (int level = 0;; ++level) {
      std::uint64_t index = j >> level;
      expected.emplace_back(level, index, mth(slice(all, index << level, (index + 1) << level)));
      if (((j + 1) >> level) & 1) break;  // the subtree one level up does not end at leaf j
    }
    CHECK(reported == expected);
    for (const auto& [level, index, h] : reported) CHECK(seen.emplace(std::make_pair(level, index), h).second);
  }
  // After 64 leaves every aligned subtree of the 64-leaf tree was reported once: 64+32+...+1.
  CHECK(seen.size() == 127);
  // And what was reported is what a HashGetter must return for the same (level, index).
  auto get = getter_for(all, 64);
  for (const auto& [key, h] : seen) CHECK(get(key.first, key.second) == h);
}

TEST_CASE("Frontier node reports reproduce the published reference node hashes", "[merkle]") {
  const Leaves leaves = reference_leaves(8);
  mk::Frontier f;
  std::map<std::pair<int, std::uint64_t>, Hash> seen;
  for (const Hash& leaf : leaves)
    f.push(leaf, [&](int level, std::uint64_t index, const Hash& h) { seen[{level, index}] = h; });
  std::size_t count = 0;
  for (std::size_t level = 0; level < kReferenceNodes.size(); ++level)
    for (std::size_t index = 0; index < kReferenceNodes[level].size(); ++index, ++count) {
      INFO("level " << level << " index " << index);
      auto it = seen.find({static_cast<int>(level), index});
      REQUIRE(it != seen.end());
      CHECK(it->second == hx(kReferenceNodes[level][index]));
    }
  CHECK(seen.size() == count);
}
