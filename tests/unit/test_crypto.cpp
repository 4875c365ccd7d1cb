#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <set>
#include <string>

#include "crypto.hpp"
#include "encoding.hpp"

using namespace medtrail;

TEST_CASE("HMAC-SHA256 matches RFC 4231", "[crypto]") {
  // Test case 2: a short key; test case 6: a key longer than the block, hashed first.
  std::string_view jefe = "Jefe";
  std::string_view question = "what do ya want for nothing?";
  CHECK(to_hex(crypto::hmac_sha256(as_bytes(jefe), as_bytes(question))) ==
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  Bytes long_key(131, 0xaa);
  std::string_view text = "Test Using Larger Than Block-Size Key - Hash Key First";
  CHECK(to_hex(crypto::hmac_sha256(long_key, as_bytes(text))) ==
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

TEST_CASE("random bytes never repeat across pool refills, sizes and a fork", "[crypto]") {
  CHECK(crypto::random_bytes(0).empty());
  std::set<Bytes> seen;
  std::size_t drawn = 0;
  // Odd sizes straddle the 4 KiB pool boundary many times; one draw is larger than the pool.
  for (std::size_t n : {32u, 12u, 7u, 4095u, 1u, 5000u, 32u, 32u}) {
    for (int i = 0; i < 300; ++i) {
      auto bytes = crypto::random_bytes(n);
      REQUIRE(bytes.size() == n);
      if (n >= 12) CHECK(seen.insert(bytes).second);
      drawn += n;
    }
  }
  CHECK(drawn > 3 * 4096);

  // A child must not hand out the bytes its parent's pool still holds.
  crypto::random_bytes(16);
  int pipe_fds[2];
  REQUIRE(pipe(pipe_fds) == 0);
  pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    auto bytes = crypto::random_bytes(32);
    ssize_t written = write(pipe_fds[1], bytes.data(), bytes.size());
    _exit(written == 32 ? 0 : 1);
  }
  close(pipe_fds[1]);
  Bytes from_child(32);
  REQUIRE(read(pipe_fds[0], from_child.data(), from_child.size()) == 32);
  close(pipe_fds[0]);
  int status = 0;
  REQUIRE(waitpid(child, &status, 0) == child);
  CHECK(WIFEXITED(status));
  CHECK(crypto::random_bytes(32) != from_child);
}
