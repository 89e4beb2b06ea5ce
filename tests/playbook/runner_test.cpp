// The runner's decisions that need no process: variables in scope, dag
// ordering, depends, and retries.
#include "runner.hpp"

#include <algorithm>

#include "retry.hpp"
#include "support/catch.hpp"

using namespace playbook;
using namespace std::chrono_literals;

namespace {

Call task(const std::string& name, std::vector<std::string> dependencies = {}, std::string depends = {}) {
  Call c;
  c.name = name;
  c.template_name = "leaf";
  c.dependencies = std::move(dependencies);
  c.depends = std::move(depends);
  c.where = "dag.tasks[" + name + "]";
  return c;
}

}  // namespace

TEST_CASE("a scope resolves workflow, inputs, steps and retries variables and names unknown ones",
          "[playbook]") {
  Globals globals{{{"ns", "shop"}}, "wf-abcde", "default", "uid-1", "2026-11-26T09:00:00Z"};
  const std::map<std::string, std::string> inputs{{"pod", "web-1"}};
  const std::map<std::string, ChildState> children{
      {"isolate", {"Succeeded", 0, {{"policy", "irsteps-quarantine"}}, "{}"}},
      {"skipped", {"Skipped", std::nullopt, {}, ""}}};
  const Scope scope{&globals, &inputs, "steps", &children, 2};
  CHECK(*scope("workflow.parameters.ns") == "shop");
  CHECK(*scope("workflow.name") == "wf-abcde");
  CHECK(*scope("workflow.creationTimestamp") == "2026-11-26T09:00:00Z");
  CHECK(*scope("inputs.parameters.pod") == "web-1");
  CHECK(*scope("steps.isolate.outputs.parameters.policy") == "irsteps-quarantine");
  CHECK(*scope("steps.isolate.status") == "Succeeded");
  CHECK(*scope("steps.isolate.exitCode") == "0");
  CHECK(*scope("retries") == "2");
  CHECK(scope("steps.skipped.outputs.parameters.policy").error().describe().find("ended Skipped") !=
        std::string::npos);
  CHECK(scope("steps.later.status").error().describe().find("no step later has run") != std::string::npos);
  CHECK(scope("tasks.isolate.status").error().describe() == "unknown variable {{tasks.isolate.status}}");
  CHECK(scope("workflow.parameters.nope").error().describe().find("no parameter nope") != std::string::npos);
  CHECK(scope("item").error().describe() == "unknown variable {{item}}");
}

TEST_CASE("dag dependencies come from dependencies and depends, cycles and unknown tasks are errors",
          "[playbook]") {
  auto deps =
      dag_dependencies({task("a"), task("b", {"a"}), task("c", {}, "a && !b.Failed"), task("d", {"b", "c"})});
  REQUIRE(deps);
  CHECK((*deps)["a"].empty());
  CHECK((*deps)["c"] == std::set<std::string>{"a", "b"});
  CHECK((*deps)["d"] == std::set<std::string>{"b", "c"});

  auto cycle = dag_dependencies({task("a", {"c"}), task("b", {"a"}), task("c", {}, "b.Succeeded")});
  REQUIRE_FALSE(cycle);
  CHECK(cycle.error().describe() == "the dependencies of tasks a, b, c form a cycle");
  auto unknown = dag_dependencies({task("a", {"z"})});
  CHECK(unknown.error().describe().find("no task named z") != std::string::npos);
  auto bad_state = dag_dependencies({task("a"), task("b", {}, "a.AnySucceeded")});
  CHECK(bad_state.error().describe().find("AnySucceeded is not supported") != std::string::npos);
  auto self = dag_dependencies({task("a", {}, "a")});
  CHECK(self.error().describe().find("depends on itself") != std::string::npos);
}

TEST_CASE("depends: a bare task name accepts success, skips and continued failures", "[playbook]") {
  const std::vector<Call> tasks{task("a"), task("b")};
  auto ref = parse_depends_ref("a", tasks);
  REQUIRE(ref);
  Call plain = task("a");
  Call tolerant = task("a");
  tolerant.continue_on_failed = true;
  const ChildState ok{"Succeeded", 0, {}, ""}, failed{"Failed", 1, {}, ""}, omitted{"Omitted", {}, {}, ""};
  CHECK(depends_holds(*ref, ok, plain));
  CHECK(depends_holds(*ref, omitted, plain));
  CHECK_FALSE(depends_holds(*ref, failed, plain));
  CHECK(depends_holds(*ref, failed, tolerant));
  auto failed_ref = parse_depends_ref("b.Failed", tasks);
  REQUIRE(failed_ref);
  CHECK(failed_ref->task == "b");
  CHECK(depends_holds(*failed_ref, failed, plain));
  CHECK_FALSE(depends_holds(*failed_ref, ok, plain));
  CHECK(depends_holds(*parse_depends_ref("b.Errored", tasks), {"Error", {}, {}, ""}, plain));
  CHECK(depends_holds(*parse_depends_ref("b.Skipped", tasks), omitted, plain));
  CHECK_FALSE(parse_depends_ref("c.Failed", tasks));
}

TEST_CASE("retries: policy, expression on the exit code, limit and backoff", "[playbook]") {
  RetryStrategy strategy;
  strategy.where = "t.retryStrategy";
  strategy.expression = "asInt(lastRetry.exitCode) == 4";
  strategy.backoff = Backoff{"5s", "2", "1m"};
  const AttemptOutcome transient{"Failed", 4, 1s}, failed{"Failed", 1, 1s},
      errored{"Error", std::nullopt, 1s};

  auto first = decide_retry(strategy, "3", 1, transient, 1s);
  REQUIRE(first);
  CHECK(first->retry);
  CHECK(first->wait == 5s);
  CHECK(decide_retry(strategy, "3", 3, transient, 20s)->wait == 20s);  // 5s * 2^2
  CHECK_FALSE(decide_retry(strategy, "3", 4, transient, 50s)->retry);  // 3 retries done
  CHECK(decide_retry(strategy, "3", 4, transient, 50s)->reason.find("limit") != std::string::npos);
  CHECK_FALSE(decide_retry(strategy, "3", 1, failed, 1s)->retry);   // exit 1 is not transient
  CHECK_FALSE(decide_retry(strategy, "3", 1, errored, 1s)->retry);  // OnFailure does not retry errors
  auto past_max = decide_retry(strategy, "9", 3, transient, 50s);   // 50s + 20s > 1m
  CHECK_FALSE(past_max->retry);
  CHECK(past_max->reason.find("maxDuration") != std::string::npos);
  CHECK_FALSE(decide_retry(strategy, "3", 1, {"Succeeded", 0, 1s}, 1s)->retry);

  RetryStrategy always;
  always.policy = "Always";
  CHECK(decide_retry(always, "1", 1, errored, 1s)->retry);
  CHECK(decide_retry(always, "", 50, failed, 1s)->retry);  // no limit: Argo retries on
  CHECK(decide_retry(always, "1", 1, errored, 1s)->wait == 0s);
  RetryStrategy on_error;
  on_error.policy = "OnError";
  CHECK(decide_retry(on_error, "1", 1, errored, 1s)->retry);
  CHECK_FALSE(decide_retry(on_error, "1", 1, failed, 1s)->retry);

  RetryStrategy status;
  status.expression = "lastRetry.status == \"Error\"";
  status.policy = "Always";
  CHECK(decide_retry(status, "2", 1, errored, 1s)->retry);
  CHECK_FALSE(decide_retry(status, "2", 1, failed, 1s)->retry);
  CHECK_FALSE(decide_retry(status, "two", 1, errored, 1s));  // a limit that is no number
  CHECK(check_retry_expression("asInt(lastRetry.exitCode) == 4"));
  CHECK_FALSE(check_retry_expression("lastRetry.exitcode == '4'"));
  CHECK(*argo_duration("30") == 30s);
  CHECK(*argo_duration("1m30s") == 90s);
}

// Issue 16 item 8: Argo measures backoff.maxDuration from the first
// attempt's start and gives a retry what is left of it as its deadline
// (workflow/controller/operator.go processNodeRetries, executionDeadline).
TEST_CASE("retries: maxDuration counts from the first start and bounds the retry's run", "[playbook]") {
  RetryStrategy strategy;
  strategy.where = "t.retryStrategy";
  strategy.backoff = Backoff{"5s", "2", "1m"};
  const AttemptOutcome transient{"Failed", 4, 10s};
  auto second = decide_retry(strategy, "3", 1, transient, 10s);
  REQUIRE(second);
  CHECK(second->retry);
  REQUIRE(second->deadline);
  CHECK(*second->deadline == 45s);  // 1m - 10s since the first start - 5s backoff
  auto late = decide_retry(strategy, "3", 2, transient, 61s);
  CHECK_FALSE(late->retry);
  CHECK(late->reason.find("max duration limit exceeded") != std::string::npos);
  RetryStrategy unbounded;
  unbounded.backoff = Backoff{"5s", "2", ""};
  CHECK_FALSE(decide_retry(unbounded, "3", 1, transient, 10s)->deadline);
}

// Issue 16 item 8: the shipped step templates retry a step that ran into its
// 5-minute timeout (exit 4), and give the retry its full 5 minutes.
TEST_CASE("retries: the step templates' maxDuration lets a 5-minute step be retried in full", "[playbook]") {
  Library library;
  REQUIRE(library.load_file(std::string(IRSTEPS_SOURCE_DIR) + "/workflows/argo/steps.yaml", true));
  auto steps = library.get("irsteps-steps");
  REQUIRE(steps);
  for (const auto* name : {"rollout", "rotate-secret"}) {
    INFO(name);
    const Template* t = (*steps)->find(name);
    REQUIRE(t != nullptr);
    REQUIRE(t->retry);
    const auto timeout = std::find_if(t->inputs.begin(), t->inputs.end(),
                                      [](const Parameter& p) { return p.name == "timeout"; });
    REQUIRE(timeout != t->inputs.end());
    const auto step_time = *argo_duration(*timeout->default_value);
    CHECK(step_time == 5min);
    // Every attempt runs into the timeout: each retry still gets all of it.
    auto since_first = std::chrono::milliseconds(0);
    int attempts = 0;
    for (;;) {
      since_first += step_time;
      ++attempts;
      auto decision =
          decide_retry(*t->retry, t->retry->limit, attempts, {"Failed", 4, step_time}, since_first);
      REQUIRE(decision);
      if (!decision->retry) break;
      REQUIRE(decision->deadline);
      CHECK(*decision->deadline >= step_time);
      since_first += decision->wait;
    }
    CHECK(attempts == 4);  // the first attempt and limit 3 retries
  }
}
