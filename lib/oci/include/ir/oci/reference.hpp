// Image references by the Docker reference grammar (distribution/reference):
// [registry[:port]/]path[:tag][@digest], with Docker Hub's defaults
// (docker.io, library/ for one-component names, tag latest).
#pragma once

#include "ir/core/error.hpp"

#include <string>
#include <string_view>

namespace ir::oci {

struct Reference {
  std::string registry;    // host[:port] as written, "docker.io" by default
  std::string repository;  // "library/nginx"
  std::string tag;         // empty when only a digest is given
  std::string digest;      // "sha256:<hex>", or empty

  // The host to talk to: Docker Hub's API lives at registry-1.docker.io.
  [[nodiscard]] std::string api_host() const;
  // "registry/repository[:tag][@digest]".
  [[nodiscard]] std::string str() const;
  // The same image by digest.
  [[nodiscard]] Reference with_digest(std::string digest_text) const;
};

// Invalid input naming what is wrong. Upper-case repository names, empty
// components and malformed digests are refused as Docker refuses them.
[[nodiscard]] Result<Reference> parse_reference(std::string_view text);

// "sha256:<64 hex>" (or sha512 with 128).
[[nodiscard]] bool is_digest(std::string_view text);

}  // namespace ir::oci
