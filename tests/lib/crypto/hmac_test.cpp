#include "ir/crypto/hmac.hpp"

#include "support/catch.hpp"

using ir::Secret;

TEST_CASE("HMAC-SHA256 matches RFC 4231", "[unit][crypto]") {
  // Test case 2 of RFC 4231.
  CHECK(ir::crypto::hmac_sha256_hex(Secret("Jefe"), "what do ya want for nothing?") ==
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  CHECK(ir::crypto::hmac_sha256(Secret("Jefe"), "x").size() == 32);
  CHECK(ir::crypto::equal_constant_time("abc", "abc"));
  CHECK_FALSE(ir::crypto::equal_constant_time("abc", "abd"));
  CHECK_FALSE(ir::crypto::equal_constant_time("abc", "ab"));
}
