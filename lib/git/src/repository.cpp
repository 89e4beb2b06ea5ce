#include "ir/git/repository.hpp"

#include "ir/core/encoding.hpp"
#include "ir/core/json.hpp"
#include "ir/core/log.hpp"
#include "ir/http/client.hpp"
#include "known_hosts.hpp"

#include <git2.h>
#include <boost/url/parse.hpp>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#if defined(__SANITIZE_ADDRESS__)
// Leaks of Debian 12's libraries, not ours to fix; LeakSanitizer is kept
// quiet about exactly these:
// - libgit2 1.5 leaks its PCRE2 match data whenever a config regex does not
//   match (git_regexp_match returns before freeing it; fixed later);
// - over SSH, on every connection: libgit2 1.5.1 reads ~/.ssh/known_hosts
//   and never frees the libssh2 list nor two path buffers (git_str_clear
//   where git_str_dispose was meant), and libssh2 1.10 leaks BIGNUMs when it
//   derives the public key from an ed25519 or ECDSA key file. libgit2's
//   internals have no symbols here, so what is allocated under
//   git_remote_connect_ext is not checked: our own callbacks (credentials,
//   host key) allocate through RAII types only.
extern "C" const char* __lsan_default_suppressions() {  // NOLINT(bugprone-reserved-identifier)
  return "leak:libpcre2-8.so\n"
         "leak:libssh2_knownhost_init\n"
         "leak:git_remote_connect_ext\n";
}
#endif

namespace ir::git {
namespace {

namespace fs = std::filesystem;

void init_libgit2() {
  static std::once_flag once;
  // Never shut down: libgit2's global state lives as long as the process.
  std::call_once(once, [] { git_libgit2_init(); });
}

template <class T, void (*Free)(T*)>
struct Owned {
  T* ptr = nullptr;
  Owned() = default;
  Owned(const Owned&) = delete;
  Owned& operator=(const Owned&) = delete;
  ~Owned() {
    if (ptr != nullptr) Free(ptr);
  }
  T** out() { return &ptr; }
  T* get() const { return ptr; }
};
using RepoPtr = Owned<git_repository, git_repository_free>;
using RemotePtr = Owned<git_remote, git_remote_free>;
using CommitPtr = Owned<git_commit, git_commit_free>;
using TreePtr = Owned<git_tree, git_tree_free>;
using EntryPtr = Owned<git_tree_entry, git_tree_entry_free>;
using BlobPtr = Owned<git_blob, git_blob_free>;
using IndexPtr = Owned<git_index, git_index_free>;
using RefPtr = Owned<git_reference, git_reference_free>;
using SigPtr = Owned<git_signature, git_signature_free>;
using WalkPtr = Owned<git_revwalk, git_revwalk_free>;
using DiffPtr = Owned<git_diff, git_diff_free>;
using ObjectPtr = Owned<git_object, git_object_free>;

std::string last_message() {
  const git_error* e = git_error_last();
  return e != nullptr && e->message != nullptr ? e->message : "unknown libgit2 error";
}

// A libgit2 failure of a purely local operation: our bug or a broken mirror.
Error local_failure(std::string_view what) {
  return Error(Code::action_failed, std::string(what) + ": " + last_message());
}

std::string oid_hex(const git_oid& oid) {
  char buf[GIT_OID_HEXSZ + 1];
  git_oid_tostr(buf, sizeof buf, &oid);
  return buf;
}

Result<git_oid> parse_oid(std::string_view hex, std::string_view what) {
  git_oid oid;
  if (hex.size() != GIT_OID_HEXSZ || git_oid_fromstrn(&oid, hex.data(), hex.size()) != 0) {
    return invalid(std::string(what) + ": not a commit id: " + std::string(hex));
  }
  return oid;
}

// What kind of remote a URL names; checks what must be refused before any
// connection is made.
struct Location {
  bool local = false;
  std::string path;  // local: absolute path
  std::string url;   // network: as given
  std::string scheme;
  std::string host;
  int port = 0;
};

Result<Location> locate(const std::string& url, const Credentials& credentials) {
  Location loc;
  if (url.empty()) return invalid("repository URL is empty");
  auto scheme_end = url.find("://");
  if (scheme_end == std::string::npos) {
    // scp-like user@host:path is ssh; anything else is a local path.
    auto colon = url.find(':');
    auto slash = url.find('/');
    if (colon != std::string::npos && (slash == std::string::npos || colon < slash) && colon > 0) {
      loc.scheme = "ssh";
      loc.url = url;
      auto at = url.find('@');
      loc.host = url.substr(at == std::string::npos || at > colon ? 0 : at + 1,
                            colon - (at == std::string::npos || at > colon ? 0 : at + 1));
      loc.port = 22;
      if (credentials.ssh_known_hosts.empty()) {
        return invalid("an ssh repository needs a known_hosts file to check the server's host key");
      }
    } else {
      loc.local = true;
      std::error_code ec;
      loc.path = fs::absolute(url, ec).lexically_normal().string();
      if (ec) return invalid("repository path " + url + ": " + ec.message());
    }
    return loc;
  }
  loc.scheme = url.substr(0, scheme_end);
  if (loc.scheme == "file") {
    loc.local = true;
    loc.path = fs::path(url.substr(scheme_end + 3)).lexically_normal().string();
    if (!fs::path(loc.path).is_absolute()) return invalid("file:// URL must name an absolute path: " + url);
    return loc;
  }
  auto parsed = boost::urls::parse_uri(url);
  if (!parsed) return invalid("not a valid URL: " + url);
  // Boost.URL 1.81 reads "http://127.0.0.1.example/" as the host 127.0.0.1
  // and the path ".example/", where a resolver (libgit2, DNS) sees the name
  // 127.0.0.1.example: after an authority a path starts with '/'.
  if (!parsed->encoded_path().empty() && parsed->encoded_path().front() != '/')
    return invalid("not a valid URL (its host is not a name or an address): " + url);
  if (parsed->has_password()) {
    // Never echo the URL here: it holds a secret.
    return invalid("repository URL carries a password or token; give it in a token file instead");
  }
  loc.url = url;
  loc.host = std::string(parsed->encoded_host());
  loc.port = parsed->has_port() ? static_cast<int>(parsed->port_number()) : 0;
  if (loc.scheme == "https") {
    if (loc.port == 0) loc.port = 443;
    // libgit2's TLS here (mbedTLS) checks DNS names only, so a certificate
    // for an IP address could never be verified.
    if (parsed->host_type() == boost::urls::host_type::ipv4 ||
        parsed->host_type() == boost::urls::host_type::ipv6) {
      return invalid(
          "https:// to an IP address cannot be verified; use the host name in the server's certificate");
    }
  } else if (loc.scheme == "http") {
    // Plain HTTP gives no integrity: only for a server on this machine.
    // The host parsed as an address (127.0.0.0/8, ::1) or "localhost": a
    // name like 127.attacker.example is not this machine.
    if (!ir::http::is_loopback_host(std::string(parsed->encoded_host_address())))
      return invalid("http:// is refused for " + loc.host +
                     " (the token and the repository would travel in clear; use https://, or http:// only to "
                     "this machine)");
    if (loc.port == 0) loc.port = 80;
  } else if (loc.scheme == "ssh") {
    if (loc.port == 0) loc.port = 22;
  } else {
    return invalid("unsupported repository URL scheme " + loc.scheme +
                   ":// (use https://, ssh://, file:// or a path)");
  }
  if (loc.scheme == "ssh" && credentials.ssh_known_hosts.empty()) {
    return invalid("an ssh:// repository needs a known_hosts file to check the server's host key");
  }
  return loc;
}

// --- callbacks -----------------------------------------------------------------

struct Callbacks {
  const Credentials* credentials = nullptr;
  const Location* location = nullptr;
  int credential_calls = 0;
  std::optional<Error> failure;       // a reason of ours, better than libgit2's message
  std::vector<std::string> rejected;  // refs the server refused on push
};

int credentials_cb(git_credential** out, const char* /*url*/, const char* username_from_url,
                   unsigned int allowed_types, void* payload) {
  auto& cb = *static_cast<Callbacks*>(payload);
  // An ssh URL without a user name: libgit2 first asks for the name alone.
  // Answering is no login attempt, so it does not use up the one try.
  if (allowed_types == GIT_CREDENTIAL_USERNAME) return git_credential_username_new(out, "git");
  // libgit2 asks again after a refusal: one try each, then give up.
  if (++cb.credential_calls > 1) {
    cb.failure = Error(Code::forbidden, "the server refused the credentials");
    return GIT_EAUTH;
  }
  const Credentials& c = *cb.credentials;
  if ((allowed_types & GIT_CREDENTIAL_SSH_KEY) != 0 && !c.ssh_key_file.empty()) {
    const char* user = username_from_url != nullptr && *username_from_url != 0 ? username_from_url : "git";
    return git_credential_ssh_key_new(out, user, nullptr, c.ssh_key_file.c_str(), nullptr);
  }
  if ((allowed_types & GIT_CREDENTIAL_USERPASS_PLAINTEXT) != 0 && c.token) {
    const std::string token(c.token->reveal());
    const std::string user = c.username.empty() ? "x-access-token" : c.username;
    int rc = git_credential_userpass_plaintext_new(out, user.c_str(), token.c_str());
    return rc;
  }
  if (allowed_types == GIT_CREDENTIAL_DEFAULT) {
    // Only Negotiate offered: libgit2 would log in with the Kerberos ticket
    // of the process, which a step has no business holding.
    cb.failure = Error(Code::forbidden,
                       "the server offers only Kerberos (Negotiate) authentication, which irsteps does not "
                       "use; let it take a token over HTTP Basic authentication");
    return GIT_EAUTH;
  }
  cb.failure = Error(Code::forbidden, "the server asks for credentials and none were given");
  return GIT_EAUTH;
}

int certificate_cb(git_cert* cert, int /*valid*/, const char* host, void* payload) {
  auto& cb = *static_cast<Callbacks*>(payload);
  if (cert->cert_type != GIT_CERT_HOSTKEY_LIBSSH2) return GIT_PASSTHROUGH;  // x509: libgit2 verifies
  const auto* key = reinterpret_cast<const git_cert_hostkey*>(cert);
  if ((key->type & GIT_CERT_SSH_RAW) == 0) {
    cb.failure = Error(Code::forbidden, "the SSH library gave no raw host key to check");
    return GIT_ECERTIFICATE;
  }
  auto checked = detail::check_host_key(cb.credentials->ssh_known_hosts, host, cb.location->port,
                                        std::string_view(key->hostkey, key->hostkey_len));
  if (!checked) {
    cb.failure = checked.error();
    return GIT_ECERTIFICATE;
  }
  return 0;
}

int push_update_cb(const char* refname, const char* status, void* payload) {
  if (status != nullptr) {
    static_cast<Callbacks*>(payload)->rejected.push_back(std::string(refname) + ": " + status);
  }
  return 0;
}

git_remote_callbacks make_callbacks(Callbacks& cb) {
  git_remote_callbacks callbacks;
  git_remote_init_callbacks(&callbacks, GIT_REMOTE_CALLBACKS_VERSION);
  callbacks.credentials = credentials_cb;
  callbacks.certificate_check = certificate_cb;
  callbacks.push_update_reference = push_update_cb;
  callbacks.payload = &cb;
  return callbacks;
}

// A failed network operation as an Error with the right code.
Error network_failure(int rc, const Callbacks& cb, std::string_view what) {
  if (cb.failure) return Error(*cb.failure).with(std::string(what));
  const git_error* e = git_error_last();
  const std::string message = last_message();
  const int klass = e != nullptr ? e->klass : 0;
  Code code = Code::action_failed;
  if (rc == GIT_EAUTH || message.find("401") != std::string::npos ||
      message.find("403") != std::string::npos) {
    code = Code::forbidden;
  } else if (rc == GIT_ECERTIFICATE || klass == GIT_ERROR_SSL) {
    code = Code::invalid_input;
  } else if (message.find("404") != std::string::npos || rc == GIT_ENOTFOUND) {
    code = Code::invalid_input;
  } else if (klass == GIT_ERROR_NET || klass == GIT_ERROR_HTTP || klass == GIT_ERROR_SSH ||
             klass == GIT_ERROR_OS || klass == GIT_ERROR_CALLBACK) {
    code = Code::transient;
  }
  return Error(code, message).with(std::string(what));
}

template <class Op>
Result<void> with_retries(std::string_view what, Op op) {
  constexpr int attempts = 4;
  for (int attempt = 1;; ++attempt) {
    auto result = op();
    if (result || result.error().code() != Code::transient || attempt == attempts) return result;
    log::warn("git.retry", {{"what", what}, {"attempt", attempt}, {"message", result.error().describe()}});
    std::this_thread::sleep_for(std::chrono::milliseconds(250) * (1 << attempt));
  }
}

Result<std::string> remote_ref_name(bool local, std::string_view kind, std::string_view name) {
  if (name.empty() || name.find("..") != std::string_view::npos || name.starts_with("-") ||
      name.find_first_of(" ~^:?*[\\") != std::string_view::npos) {
    return invalid("not a valid " + std::string(kind) + " name: " + std::string(name));
  }
  if (kind == "tag") return "refs/tags/" + std::string(name);
  return std::string(local ? "refs/heads/" : "refs/remotes/origin/") + std::string(name);
}

Result<void> check_path(std::string_view path) {
  if (path.empty() || path.starts_with("/") || path.ends_with("/")) {
    return invalid("not a relative file path: " + std::string(path));
  }
  std::size_t start = 0;
  while (start < path.size()) {
    auto slash = path.find('/', start);
    auto part = path.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (part.empty() || part == "." || part == ".." || part == ".git") {
      return invalid("not a valid path in a repository: " + std::string(path));
    }
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return {};
}

Result<void> lookup_tree(git_repository* repo, std::string_view commit, TreePtr& tree) {
  auto oid = parse_oid(commit, "commit");
  if (!oid) return oid.error();
  CommitPtr c;
  if (git_commit_lookup(c.out(), repo, &*oid) != 0) return invalid("no commit " + std::string(commit));
  if (git_commit_tree(tree.out(), c.get()) != 0)
    return local_failure("read the tree of " + std::string(commit));
  return {};
}

}  // namespace

Result<Credentials> credentials_from_files(std::string_view what, std::string username,
                                           const std::string& token_file, std::string ssh_key_file,
                                           std::string ssh_known_hosts, std::string ca_file) {
  Credentials c;
  c.username = std::move(username);
  const std::string prefix(what);
  if (!token_file.empty()) {
    auto text = read_file(token_file);
    if (!text) return invalid(prefix + "-token-file: cannot read " + token_file);
    std::string value = std::move(*text);
    while (!value.empty() && (value.back() == '\n' || value.back() == '\r')) value.pop_back();
    if (value.empty()) return invalid(prefix + "-token-file: " + token_file + " is empty");
    c.token = Secret(std::move(value));
  }
  auto readable = [&](const std::string& file, std::string_view param) -> Result<void> {
    if (file.empty()) return {};
    std::ifstream in(file);
    if (!in) return invalid(prefix + "-" + std::string(param) + ": cannot read " + file);
    return {};
  };
  if (auto r = readable(ssh_key_file, "ssh-key"); !r) return r.error();
  if (auto r = readable(ssh_known_hosts, "known-hosts"); !r) return r.error();
  if (auto r = readable(ca_file, "ca-file"); !r) return r.error();
  c.ssh_key_file = std::move(ssh_key_file);
  c.ssh_known_hosts = std::move(ssh_known_hosts);
  c.ca_file = std::move(ca_file);
  return c;
}

Result<void> check_url(const std::string& url, const Credentials& credentials) {
  init_libgit2();
  auto location = locate(url, credentials);
  if (!location) return location.error();
  if (location->local) {
    RepoPtr repo;
    if (git_repository_open_ext(repo.out(), location->path.c_str(), GIT_REPOSITORY_OPEN_NO_SEARCH, nullptr) !=
        0) {
      return invalid("no git repository at " + location->path + " (create one with: git init --bare " +
                     location->path + ")");
    }
  }
  return {};
}

struct Mirror::State {
  std::string url;
  Credentials credentials;
  Location location;
  RepoPtr repo;
  int lock_fd = -1;

  State() = default;
  State(const State&) = delete;
  State& operator=(const State&) = delete;
  ~State() {
    if (lock_fd >= 0) ::close(lock_fd);  // releases the flock
  }

  Result<void> prepare_tls() const {
    if (location.local || credentials.ca_file.empty()) return {};
    if (git_libgit2_opts(GIT_OPT_SET_SSL_CERT_LOCATIONS, credentials.ca_file.c_str(), nullptr) != 0) {
      return invalid("ca-file " + credentials.ca_file + ": " + last_message());
    }
    return {};
  }
};

Mirror::Mirror(std::unique_ptr<State> state) : state_(std::move(state)) {}
Mirror::Mirror(Mirror&&) noexcept = default;
Mirror& Mirror::operator=(Mirror&&) noexcept = default;
Mirror::~Mirror() = default;

const std::string& Mirror::url() const {
  return state_->url;
}

Result<Mirror> Mirror::open(std::string url, Credentials credentials, std::string cache_root) {
  init_libgit2();
  auto state = std::make_unique<State>();
  auto location = locate(url, credentials);
  if (!location) return location.error();
  state->location = std::move(*location);
  state->url = std::move(url);
  state->credentials = std::move(credentials);

  if (state->location.local) {
    const auto& path = state->location.path;
    if (git_repository_open_ext(state->repo.out(), path.c_str(), GIT_REPOSITORY_OPEN_NO_SEARCH, nullptr) !=
        0) {
      return invalid("no git repository at " + path + " (create one with: git init --bare " + path + ")");
    }
    return Mirror(std::move(state));
  }

  std::error_code ec;
  const fs::path dir = fs::path(cache_root) / "git" / (sha256_hex(state->url).substr(0, 24) + ".git");
  fs::create_directories(dir.parent_path(), ec);
  if (ec) return invalid("cache folder " + dir.parent_path().string() + ": " + ec.message());
  const std::string lock_path = dir.string() + ".lock";
  state->lock_fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (state->lock_fd < 0) return invalid("cannot open lock file " + lock_path);
  // Other processes on this machine hold the mirror for one fetch and push,
  // or for the rounds of a contended push (at most about two minutes each);
  // waiting five minutes for them is bounded and generous.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(5);
  while (::flock(state->lock_fd, LOCK_EX | LOCK_NB) != 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      return Error(Code::transient, "the local mirror " + dir.string() + " stayed locked by another process");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  bool fresh = !fs::exists(dir / "HEAD");
  if (!fresh && git_repository_open_bare(state->repo.out(), dir.c_str()) != 0) {
    // A mirror broken by a crash is only a cache: start it again.
    log::warn("git.mirror_reset", {{"path", dir.string()}, {"message", last_message()}});
    fs::remove_all(dir, ec);
    fresh = true;
  }
  if (fresh) {
    fs::remove_all(dir, ec);
    if (git_repository_init(state->repo.out(), dir.c_str(), 1) != 0) return local_failure("create mirror");
    RemotePtr remote;
    if (git_remote_create_with_fetchspec(remote.out(), state->repo.get(), "origin", state->url.c_str(),
                                         "+refs/heads/*:refs/remotes/origin/*") != 0) {
      return invalid("repository URL " + state->url + ": " + last_message());
    }
  }
  return Mirror(std::move(state));
}

Result<void> Mirror::fetch() {
  auto& s = *state_;
  if (s.location.local) return {};  // read directly
  if (auto tls = s.prepare_tls(); !tls) return tls;
  return with_retries("fetch " + s.url, [&]() -> Result<void> {
    RemotePtr remote;
    if (git_remote_lookup(remote.out(), s.repo.get(), "origin") != 0) return local_failure("mirror remote");
    Callbacks cb{&s.credentials, &s.location};
    git_fetch_options options;
    git_fetch_options_init(&options, GIT_FETCH_OPTIONS_VERSION);
    options.callbacks = make_callbacks(cb);
    options.prune = GIT_FETCH_PRUNE;
    options.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_ALL;
    options.proxy_opts.type = GIT_PROXY_AUTO;
    if (int rc = git_remote_fetch(remote.get(), nullptr, &options, nullptr); rc != 0) {
      return network_failure(rc, cb, "fetch " + s.url);
    }
    return {};
  });
}

Result<std::string> Mirror::resolve(std::string_view ref) const {
  auto& s = *state_;
  if (ref.empty()) return invalid("ref is empty");
  for (std::string_view kind : {"branch", "tag"}) {
    auto name = remote_ref_name(s.location.local, kind, ref);
    if (!name) return name.error();
    ObjectPtr object;
    RefPtr reference;
    if (git_reference_lookup(reference.out(), s.repo.get(), name->c_str()) != 0) continue;
    if (git_reference_peel(object.out(), reference.get(), GIT_OBJECT_COMMIT) != 0) {
      return invalid(std::string(kind) + " " + std::string(ref) + " does not point at a commit");
    }
    return oid_hex(*git_object_id(object.get()));
  }
  const bool hex = ref.size() >= 4 && ref.size() <= GIT_OID_HEXSZ &&
                   ref.find_first_not_of("0123456789abcdef") == std::string_view::npos;
  if (hex) {
    git_oid prefix;
    ObjectPtr object;
    if (git_oid_fromstrn(&prefix, ref.data(), ref.size()) == 0 &&
        git_object_lookup_prefix(object.out(), s.repo.get(), &prefix, ref.size(), GIT_OBJECT_COMMIT) == 0) {
      return oid_hex(*git_object_id(object.get()));
    }
  }
  return invalid("no branch, tag or commit " + std::string(ref) + " in " + s.url);
}

Result<std::optional<std::string>> Mirror::branch_head(std::string_view branch) const {
  auto name = remote_ref_name(state_->location.local, "branch", branch);
  if (!name) return name.error();
  git_oid oid;
  if (git_reference_name_to_id(&oid, state_->repo.get(), name->c_str()) != 0)
    return std::optional<std::string>();
  return std::optional<std::string>(oid_hex(oid));
}

Result<std::optional<std::string>> Mirror::read(std::string_view commit, std::string_view path) const {
  if (auto ok = check_path(path); !ok) return ok.error();
  TreePtr tree;
  if (auto found = lookup_tree(state_->repo.get(), commit, tree); !found) return found.error();
  EntryPtr entry;
  if (git_tree_entry_bypath(entry.out(), tree.get(), std::string(path).c_str()) != 0 ||
      git_tree_entry_type(entry.get()) != GIT_OBJECT_BLOB) {
    return std::optional<std::string>();
  }
  BlobPtr blob;
  if (git_blob_lookup(blob.out(), state_->repo.get(), git_tree_entry_id(entry.get())) != 0) {
    return local_failure("read " + std::string(path));
  }
  const auto* data = static_cast<const char*>(git_blob_rawcontent(blob.get()));
  return std::optional<std::string>(
      std::string(data, static_cast<std::size_t>(git_blob_rawsize(blob.get()))));
}

Result<std::vector<std::string>> Mirror::list(std::string_view commit, std::string_view dir) const {
  TreePtr tree;
  if (auto found = lookup_tree(state_->repo.get(), commit, tree); !found) return found.error();
  std::vector<std::string> paths;
  TreePtr sub;
  const git_tree* root = tree.get();
  std::string prefix;
  if (!dir.empty()) {
    if (auto ok = check_path(dir); !ok) return ok.error();
    EntryPtr entry;
    if (git_tree_entry_bypath(entry.out(), tree.get(), std::string(dir).c_str()) != 0 ||
        git_tree_entry_type(entry.get()) != GIT_OBJECT_TREE) {
      return paths;
    }
    if (git_tree_lookup(sub.out(), state_->repo.get(), git_tree_entry_id(entry.get())) != 0) {
      return local_failure("read " + std::string(dir));
    }
    root = sub.get();
    prefix = std::string(dir) + "/";
  }
  struct Walk {
    std::vector<std::string>* paths;
    const std::string* prefix;
  } walk{&paths, &prefix};
  auto cb = [](const char* root_path, const git_tree_entry* entry, void* payload) -> int {
    auto& w = *static_cast<Walk*>(payload);
    if (git_tree_entry_type(entry) == GIT_OBJECT_BLOB) {
      w.paths->push_back(*w.prefix + root_path + git_tree_entry_name(entry));
    }
    return 0;
  };
  if (git_tree_walk(root, GIT_TREEWALK_PRE, cb, &walk) != 0) return local_failure("list " + std::string(dir));
  std::sort(paths.begin(), paths.end());
  return paths;
}

Result<std::vector<CommitInfo>> Mirror::history(std::string_view commit, std::string_view dir) const {
  auto oid = parse_oid(commit, "commit");
  if (!oid) return oid.error();
  git_repository* repo = state_->repo.get();
  WalkPtr walk;
  if (git_revwalk_new(walk.out(), repo) != 0) return local_failure("history");
  git_revwalk_simplify_first_parent(walk.get());
  if (git_revwalk_push(walk.get(), &*oid) != 0) return invalid("no commit " + std::string(commit));
  const std::string dir_path(dir);
  // The id of `dir`'s tree (or blob) in a commit; zero when absent.
  auto dir_id = [&](git_commit* c) {
    git_oid id{};
    TreePtr tree;
    if (git_commit_tree(tree.out(), c) != 0) return id;
    if (dir.empty()) {
      git_oid_cpy(&id, git_tree_id(tree.get()));
      return id;
    }
    EntryPtr entry;
    if (git_tree_entry_bypath(entry.out(), tree.get(), dir_path.c_str()) == 0) {
      git_oid_cpy(&id, git_tree_entry_id(entry.get()));
    }
    return id;
  };
  // The files under `dir` that a commit added or changed.
  auto changed = [&](git_commit* c, git_commit* parent) -> Result<std::vector<std::string>> {
    TreePtr mine, theirs;
    if (git_commit_tree(mine.out(), c) != 0 ||
        (parent != nullptr && git_commit_tree(theirs.out(), parent) != 0)) {
      return local_failure("history");
    }
    git_diff_options options;
    git_diff_options_init(&options, GIT_DIFF_OPTIONS_VERSION);
    char* spec[] = {const_cast<char*>(dir_path.c_str())};
    if (!dir.empty()) options.pathspec = {spec, 1};
    DiffPtr diff;
    if (git_diff_tree_to_tree(diff.out(), repo, theirs.get(), mine.get(), &options) != 0)
      return local_failure("diff");
    std::vector<std::string> paths;
    for (std::size_t i = 0; i < git_diff_num_deltas(diff.get()); ++i) {
      const git_diff_delta* delta = git_diff_get_delta(diff.get(), i);
      if (delta->status != GIT_DELTA_DELETED) paths.emplace_back(delta->new_file.path);
    }
    return paths;
  };
  std::vector<CommitInfo> out;
  git_oid next;
  while (git_revwalk_next(&next, walk.get()) == 0) {
    CommitPtr c;
    if (git_commit_lookup(c.out(), repo, &next) != 0) return local_failure("history");
    git_oid mine = dir_id(c.get());
    git_oid theirs{};
    CommitPtr parent;
    if (git_commit_parentcount(c.get()) > 0) {
      if (git_commit_parent(parent.out(), c.get(), 0) != 0) return local_failure("history");
      theirs = dir_id(parent.get());
    }
    if (git_oid_equal(&mine, &theirs)) continue;
    auto paths = changed(c.get(), parent.get());
    if (!paths) return paths.error();
    const git_signature* author = git_commit_author(c.get());
    CommitInfo info;
    info.id = oid_hex(next);
    info.author_name = author->name != nullptr ? author->name : "";
    info.author_email = author->email != nullptr ? author->email : "";
    info.time = author->when.time;
    info.message = git_commit_message(c.get()) != nullptr ? git_commit_message(c.get()) : "";
    info.paths = std::move(*paths);
    out.push_back(std::move(info));
  }
  std::reverse(out.begin(), out.end());
  return out;
}

Result<std::string> Mirror::commit(std::string_view parent, const std::vector<FileChange>& changes,
                                   const Signature& author, std::string_view message) {
  git_repository* repo = state_->repo.get();
  IndexPtr index;
  if (git_index_new(index.out()) != 0) return local_failure("new index");
  CommitPtr parent_commit;
  if (!parent.empty()) {
    auto oid = parse_oid(parent, "parent");
    if (!oid) return oid.error();
    TreePtr tree;
    if (git_commit_lookup(parent_commit.out(), repo, &*oid) != 0)
      return invalid("no commit " + std::string(parent));
    if (git_commit_tree(tree.out(), parent_commit.get()) != 0 ||
        git_index_read_tree(index.get(), tree.get()) != 0) {
      return local_failure("read the tree of " + std::string(parent));
    }
  }
  for (const auto& change : changes) {
    if (auto ok = check_path(change.path); !ok) return ok.error();
    if (change.remove) {
      if (git_index_remove_bypath(index.get(), change.path.c_str()) != 0)
        return local_failure("remove " + change.path);
      continue;
    }
    git_index_entry entry{};
    if (git_blob_create_from_buffer(&entry.id, repo, change.content.data(), change.content.size()) != 0) {
      return local_failure("write " + change.path);
    }
    entry.mode = GIT_FILEMODE_BLOB;
    entry.path = change.path.c_str();
    entry.file_size = static_cast<std::uint32_t>(change.content.size());
    if (git_index_add(index.get(), &entry) != 0) return local_failure("add " + change.path);
  }
  git_oid tree_id;
  if (git_index_write_tree_to(&tree_id, index.get(), repo) != 0) return local_failure("write tree");
  TreePtr tree;
  if (git_tree_lookup(tree.out(), repo, &tree_id) != 0) return local_failure("read the new tree");
  SigPtr signature;
  if (git_signature_now(signature.out(), author.name.c_str(), author.email.c_str()) != 0) {
    return invalid("commit author: " + last_message());
  }
  const git_commit* parents[1] = {parent_commit.get()};
  git_oid commit_id;
  const std::string text(message);
  if (git_commit_create(&commit_id, repo, nullptr, signature.get(), signature.get(), nullptr, text.c_str(),
                        tree.get(), parent.empty() ? 0 : 1, parents) != 0) {
    return local_failure("commit");
  }
  return oid_hex(commit_id);
}

Result<void> Mirror::push(std::string_view commit, std::string_view branch) {
  auto& s = *state_;
  auto oid = parse_oid(commit, "commit");
  if (!oid) return oid.error();
  auto branch_ref = remote_ref_name(true, "branch", branch);
  if (!branch_ref) return branch_ref.error();
  git_repository* repo = s.repo.get();

  if (s.location.local) {
    // Compare-and-swap of the branch: the ref's lock file makes it atomic.
    if (!git_repository_is_bare(repo)) {
      RefPtr head;
      if (git_repository_head(head.out(), repo) == 0 && *branch_ref == git_reference_name(head.get())) {
        return invalid("branch " + std::string(branch) + " is checked out in " + s.location.path +
                       "; use a bare repository (git init --bare) or another branch");
      }
    }
    git_oid current;
    const bool exists = git_reference_name_to_id(&current, repo, branch_ref->c_str()) == 0;
    if (exists && !git_oid_equal(&current, &*oid) && git_graph_descendant_of(repo, &*oid, &current) != 1) {
      return Error(Code::conflict, "branch " + std::string(branch) + " moved on (not a fast-forward)");
    }
    RefPtr updated;
    const std::string log_message = "irsteps: update " + std::string(branch);
    int rc = exists ? git_reference_create_matching(updated.out(), repo, branch_ref->c_str(), &*oid, 1,
                                                    &current, log_message.c_str())
                    : git_reference_create(updated.out(), repo, branch_ref->c_str(), &*oid, 0,
                                           log_message.c_str());
    if (rc == GIT_EMODIFIED || rc == GIT_EEXISTS || rc == GIT_ELOCKED) {
      return Error(Code::conflict, "branch " + std::string(branch) + " changed meanwhile");
    }
    if (rc != 0) return local_failure("update branch " + std::string(branch));
    return {};
  }

  if (auto tls = s.prepare_tls(); !tls) return tls;
  // libgit2 pushes from a ref, not a bare commit id.
  const std::string source = "refs/irsteps/push";
  RefPtr temp;
  if (git_reference_create(temp.out(), repo, source.c_str(), &*oid, 1, nullptr) != 0) {
    return local_failure("prepare push");
  }
  const std::string refspec = source + ":" + *branch_ref;
  return with_retries("push " + s.url, [&]() -> Result<void> {
    RemotePtr remote;
    if (git_remote_lookup(remote.out(), repo, "origin") != 0) return local_failure("mirror remote");
    Callbacks cb{&s.credentials, &s.location};
    git_push_options options;
    git_push_options_init(&options, GIT_PUSH_OPTIONS_VERSION);
    options.callbacks = make_callbacks(cb);
    options.proxy_opts.type = GIT_PROXY_AUTO;
    char* specs[] = {const_cast<char*>(refspec.c_str())};
    git_strarray array{specs, 1};
    int rc = git_remote_push(remote.get(), &array, &options);
    if (rc == GIT_ENONFASTFORWARD) {
      return Error(Code::conflict, "branch " + std::string(branch) + " moved on (not a fast-forward)");
    }
    if (rc != 0) return network_failure(rc, cb, "push to " + s.url);
    if (!cb.rejected.empty()) {
      return Error(Code::conflict, "the server refused the update of " + cb.rejected.front());
    }
    return {};
  });
}

}  // namespace ir::git
