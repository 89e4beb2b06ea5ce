#include "drift.hpp"

#include "ir/core/log.hpp"
#include "ir/git/repository.hpp"

namespace ir::steps::drift {

// The repository stays open (and its mirror locked) from reading the
// manifest to committing the fix, so both see the same fetch.
class GitSource {
 public:
  GitSource(git::Mirror opened, std::string resolved)
      : mirror(std::move(opened)), commit(std::move(resolved)) {}
  git::Mirror mirror;
  std::string commit;  // what --ref resolved to
};

namespace {
const git::Signature fix_author{"irsteps drift", "drift@irsteps.io"};
}  // namespace

std::string repository_url(const GitSource& git) {
  return git.mirror.url();
}

Result<Loaded> load_expected(const Options& options) {
  if (!options.from_git()) {
    auto text = read_file(options.expected);
    if (!text) return text.error().with("parameter expected");
    auto manifest = parse_manifest(*text, options.expected);
    if (!manifest) return manifest.error().with("parameter expected");
    return Loaded{std::move(*manifest), nullptr};
  }
  auto credentials =
      git::credentials_from_files("expected", options.username.empty() ? "x-access-token" : options.username,
                                  options.token_file, options.ssh_key, options.known_hosts, options.ca_file);
  if (!credentials) return credentials.error();
  auto mirror = git::Mirror::open(options.expected, std::move(*credentials));
  if (!mirror) return mirror.error().with("parameter expected");
  if (auto fetched = mirror->fetch(); !fetched) return fetched.error().with("fetch " + mirror->url());
  auto commit = mirror->resolve(options.ref);
  if (!commit) return commit.error().with("parameter ref: " + options.ref + " in " + mirror->url());
  const std::string at = options.ref + " (" + commit->substr(0, 12) + ")";
  auto content = mirror->read(*commit, options.path);
  if (!content) return content.error().with("read " + options.path + " at " + at);
  if (!*content) {
    return invalid("parameter path: " + options.path + " is not a file at " + at + " of " + mirror->url());
  }
  log::info("drift.expected", {{"repository", mirror->url()}, {"path", options.path}, {"commit", *commit}});
  auto manifest = parse_manifest(**content, options.path + " at " + at);
  if (!manifest) return manifest.error().with("parameter path");
  return Loaded{std::move(*manifest), std::make_shared<GitSource>(std::move(*mirror), std::move(*commit))};
}

Result<FixCommit> commit_fix(GitSource& git, const Options& options, const std::string& content,
                             const std::string& message) {
  const std::string& branch = options.commit_branch;
  auto head = git.mirror.branch_head(branch);
  if (!head) return head.error().with("parameter commit-fix");
  std::string parent = git.commit;
  if (*head) {
    // A re-run finds its own fix there already; a branch that holds
    // something else gets the fix on top, never a rewritten history.
    auto existing = git.mirror.read(**head, options.path);
    if (!existing) return existing.error().with("read " + options.path + " on branch " + branch);
    if (*existing && **existing == content) return FixCommit{branch, **head, false};
    parent = **head;
  }
  auto commit =
      git.mirror.commit(parent, {git::FileChange{options.path, content, false}}, fix_author, message);
  if (!commit) return commit.error().with("commit the fix of " + options.path);
  if (auto pushed = git.mirror.push(*commit, branch); !pushed) {
    return pushed.error().with("push branch " + branch + " to " + git.mirror.url());
  }
  log::info("drift.fix_pushed", {{"repository", git.mirror.url()}, {"branch", branch}, {"commit", *commit}});
  return FixCommit{branch, *commit, true};
}

}  // namespace ir::steps::drift
