// Certificates made in memory for tests: a CA, server certificates with IP
// and DNS names, client certificates. ECDSA P-256, SHA-256.
#pragma once

#include <string>
#include <vector>

namespace ir::test {

struct KeyPair {
  std::string cert_pem;
  std::string key_pem;
};

struct CertRequest {
  std::string common_name;
  std::vector<std::string> dns_names;
  std::vector<std::string> ip_addresses;
  bool client = false;  // extendedKeyUsage clientAuth instead of serverAuth
  std::vector<std::string> organizations;
};

KeyPair make_ca(const std::string& common_name);
KeyPair issue(const KeyPair& ca, const CertRequest& request);

}  // namespace ir::test
