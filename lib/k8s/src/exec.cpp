// exec and logs: the two node-proxied subresources every forensic step needs.
#include "ir/core/log.hpp"
#include "ir/k8s/client.hpp"
#include "ir/k8s/names.hpp"

namespace ir::k8s {
namespace {

enum Channel : unsigned char {
  stdin_channel = 0,
  stdout_channel = 1,
  stderr_channel = 2,
  error_channel = 3,
  close_channel = 255
};

// The status the server sends on channel 3 when the command has ended.
Result<int> exit_code_from_status(std::string_view text) {
  auto status = parse_json(text, "exec status");
  if (!status || !status->is_object()) return Error(Code::action_failed, "the exec status is not JSON");
  if (string_at(*status, {"status"}) == "Success") return 0;
  if (string_at(*status, {"reason"}) == "NonZeroExitCode") {
    if (const auto* causes = find(*status, {"details", "causes"}); causes != nullptr && causes->is_array()) {
      for (const auto& cause : causes->get_array()) {
        if (string_at(cause, {"reason"}) == "ExitCode") return std::stoi(string_at(cause, {"message"}, "1"));
      }
    }
    return 1;
  }
  const std::string message = string_at(*status, {"message"}, "the command could not run");
  return Error(Code::action_failed, message);
}

}  // namespace

Result<ExecResult> Client::exec(std::string_view ns, std::string_view pod, const ExecOptions& options,
                                const http::DataSink& out, const http::DataSink& err) {
  std::string query = "stdout=true&stderr=true";
  if (options.stdin_data) query += "&stdin=true";
  if (!options.container.empty()) query += "&container=" + http::url_encode(options.container);
  for (const auto& part : options.command) query += "&command=" + http::url_encode(part);
  const std::string what = "exec in pod " + std::string(pod) +
                           (options.container.empty() ? "" : " container " + options.container);
  http::Request request;
  if (auto plain = check_request_path(path(resources::pods, ns, pod, "exec")); !plain) return plain.error();
  request.url = config().server + path(resources::pods, ns, pod, "exec") + "?" + query;
  std::unique_ptr<http::WebSocket> socket;
  for (int pass = 0; pass < 2 && !socket; ++pass) {
    auto credentials = credentials_.current();
    if (!credentials) return credentials.error();
    request.bearer_token = credentials->token;
    auto upgrade = http_->websocket(request, {"v5.channel.k8s.io", "v4.channel.k8s.io"});
    requests_.fetch_add(1);
    if (!upgrade) return upgrade.error().with(what);
    log::info("k8s.request", {{"method", "GET"},
                              {"path", path(resources::pods, ns, pod, "exec")},
                              {"status", upgrade->socket ? 101 : upgrade->refused.status}});
    if (upgrade->socket) {
      socket = std::move(upgrade->socket);
    } else if (upgrade->refused.status == 401 && pass == 0) {
      credentials_.invalidate();
    } else {
      return error_from_response(upgrade->refused, what);
    }
  }
  if (!socket) return Error(Code::forbidden, "the API server rejected the credentials").with(what);
  ExecResult result;
  result.protocol = socket->protocol();
  if (options.stdin_data) {
    if (result.protocol != "v5.channel.k8s.io") {
      socket->close();
      return invalid("the server offers no way to end stdin (" + result.protocol +
                     "); sending input needs v5.channel.k8s.io (Kubernetes 1.29 or later)")
          .with(what);
    }
    constexpr std::size_t chunk = 32 * 1024;
    for (std::size_t offset = 0; offset < options.stdin_data->size(); offset += chunk) {
      std::string message(1, static_cast<char>(stdin_channel));
      message += options.stdin_data->substr(offset, chunk);
      if (auto written = socket->write(message, options.timeout); !written) return written.error().with(what);
    }
    const std::string close_stdin{static_cast<char>(close_channel), static_cast<char>(stdin_channel)};
    if (auto written = socket->write(close_stdin, options.timeout); !written)
      return written.error().with(what);
  }
  std::optional<Result<int>> status;
  for (;;) {
    auto message = socket->read(options.timeout);
    // Servers may drop the connection right after the exit status instead of
    // closing the WebSocket properly; with the status in hand that is the end.
    if (!message && status) break;
    if (!message) return message.error().with(what);
    if (!*message) break;  // the server closed the socket: the command is over
    const std::string& data = **message;
    if (data.empty()) continue;
    const auto channel = static_cast<unsigned char>(data[0]);
    const std::string_view payload(data.data() + 1, data.size() - 1);
    if (payload.empty()) continue;
    if (channel == stdout_channel) {
      if (!out(payload)) break;
    } else if (channel == stderr_channel) {
      if (!err(payload)) break;
    } else if (channel == error_channel) {
      status = exit_code_from_status(payload);
    }
  }
  socket->close();
  if (!status)
    return Error(Code::transient, "the connection ended before the command's exit status arrived").with(what);
  if (!*status) return status->error().with(what);
  result.exit_code = **status;
  return result;
}

Result<void> Client::logs(std::string_view ns, std::string_view pod, const LogOptions& options,
                          const http::DataSink& sink) {
  std::string query;
  auto add = [&](const std::string& term) { query += (query.empty() ? "?" : "&") + term; };
  if (!options.container.empty()) add("container=" + http::url_encode(options.container));
  if (options.previous) add("previous=true");
  if (options.timestamps) add("timestamps=true");
  if (options.follow) add("follow=true");
  if (options.tail_lines) add("tailLines=" + std::to_string(*options.tail_lines));
  if (options.limit_bytes) add("limitBytes=" + std::to_string(*options.limit_bytes));
  if (!options.since_time.empty()) add("sinceTime=" + http::url_encode(options.since_time));
  const std::string what = "logs of pod " + std::string(pod) +
                           (options.container.empty() ? "" : " container " + options.container);
  auto response = raw_stream(path(resources::pods, ns, pod, "log") + query, sink, std::chrono::minutes(5));
  if (!response) return response.error().with(what);
  if (response->status < 200 || response->status >= 300) return error_from_response(*response, what);
  return {};
}

}  // namespace ir::k8s
