// Git repositories read and written through libgit2: a local bare mirror of a
// remote (cached between runs, locked against other processes on the same
// machine), commits built in memory without a working tree, and pushes that
// tell a rejected non-fast-forward (Code::conflict) from other failures.
#pragma once

#include "ir/core/error.hpp"
#include "ir/core/secret.hpp"
#include "ir/git/cache_root.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ir::git {

// How to authenticate to a remote. Secrets come from files, never from
// parameters. A token is sent only over https:// (or http:// to a loopback
// address, for tests); ssh:// needs a key and a known_hosts file.
struct Credentials {
  std::string username;         // HTTPS user name for the token; default "x-access-token"
  std::optional<Secret> token;  // HTTPS password or token
  std::string ssh_key_file;     // private key for ssh:// and user@host: URLs
  std::string ssh_known_hosts;  // known_hosts file checked for ssh:// hosts
  std::string ca_file;          // extra CA bundle for https:// (empty: the system's)
};

// Reads the token file (trailing newline dropped) and checks that the other
// files exist; `what` names the parameter prefix in errors ("case-repo").
[[nodiscard]] Result<Credentials> credentials_from_files(std::string_view what, std::string username,
                                                         const std::string& token_file,
                                                         std::string ssh_key_file,
                                                         std::string ssh_known_hosts, std::string ca_file);

// Refuses, before anything runs, what open() would refuse: credentials in the
// URL, plain http:// or git:// to another machine, ssh:// without known_hosts,
// a local path that is not a repository.
[[nodiscard]] Result<void> check_url(const std::string& url, const Credentials& credentials);

struct Signature {
  std::string name;
  std::string email;
};

// A file to write in a commit; `content` empty with `remove` set deletes it.
struct FileChange {
  std::string path;  // slash-separated, relative to the repository root
  std::string content;
  bool remove = false;
};

struct CommitInfo {
  std::string id;  // hex
  std::string author_name;
  std::string author_email;
  std::int64_t time = 0;  // author time, seconds since the epoch
  std::string message;
  std::vector<std::string> paths;  // files under the walked folder it added or changed
};

// One remote repository. A network remote is worked on through a local bare
// mirror (cached between runs; an exclusive flock held until the Mirror is
// destroyed makes processes on one machine take turns, processes on different
// machines meet at the remote). A local repository (a path or file://) is
// opened directly: libgit2's local transport does not update the remote's
// refs atomically, so pushing to it is a compare-and-swap of the ref instead.
class Mirror {
 public:
  // `url`: https://, http://, ssh://, user@host:path, file:// or a local
  // path. Creates the mirror on first use; does not fetch.
  [[nodiscard]] static Result<Mirror> open(std::string url, Credentials credentials,
                                           std::string cache_root = default_cache_root());
  Mirror(Mirror&&) noexcept;
  Mirror& operator=(Mirror&&) noexcept;
  ~Mirror();

  [[nodiscard]] const std::string& url() const;

  // Fetches every branch and tag of the remote (bounded retries on network
  // faults, then Code::transient; a refused login is Code::forbidden).
  [[nodiscard]] Result<void> fetch();

  // A branch or tag name of the remote (as of the last fetch) or a commit id,
  // full or abbreviated, to a full commit id. Unknown: Code::invalid_input.
  [[nodiscard]] Result<std::string> resolve(std::string_view ref) const;
  // The remote branch's commit id, or nullopt when the remote has no such
  // branch (e.g. an empty repository).
  [[nodiscard]] Result<std::optional<std::string>> branch_head(std::string_view branch) const;

  // A file's content at a commit; nullopt when the path is not a file there.
  [[nodiscard]] Result<std::optional<std::string>> read(std::string_view commit, std::string_view path) const;
  // Paths of the files under `dir` at a commit, recursively, sorted.
  [[nodiscard]] Result<std::vector<std::string>> list(std::string_view commit, std::string_view dir) const;
  // Commits that touched files under `dir`, oldest first (first-parent walk).
  [[nodiscard]] Result<std::vector<CommitInfo>> history(std::string_view commit, std::string_view dir) const;

  // A new commit with `changes` applied on top of `parent` (empty: a root
  // commit). Moves no ref; returns the commit id.
  [[nodiscard]] Result<std::string> commit(std::string_view parent, const std::vector<FileChange>& changes,
                                           const Signature& author, std::string_view message);

  // Pushes `commit` to refs/heads/<branch> of the remote, creating the branch
  // or moving it forward. A refusal because the branch moved on (not a
  // fast-forward, or changed meanwhile) is Code::conflict: fetch and build
  // on the new head. Network faults are retried, then Code::transient.
  [[nodiscard]] Result<void> push(std::string_view commit, std::string_view branch);

 private:
  struct State;
  explicit Mirror(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace ir::git
