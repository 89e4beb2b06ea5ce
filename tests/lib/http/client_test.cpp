// The HTTPS client against a real local server: retries, faults, keep-alive,
// TLS verification, client certificates, streaming and proxies.
#include "ir/http/client.hpp"

#include "support/catch.hpp"
#include "support/http_server.hpp"

#include <boost/asio.hpp>

#include <cstdlib>
#include <map>
#include <thread>

using namespace std::chrono_literals;
using ir::test::HttpServer;
using ir::test::Reply;
using ir::test::SeenRequest;

namespace {

// Records the backoff instead of sleeping: the tests assert the waits
// without spending them.
struct RecordingSleeper {
  std::shared_ptr<std::vector<std::chrono::milliseconds>> waits =
      std::make_shared<std::vector<std::chrono::milliseconds>>();
  void attach(ir::http::Client& client) const {
    auto list = waits;
    client.set_sleeper([list](std::chrono::milliseconds d) { list->push_back(d); });
  }
};

ir::http::Request get(const std::string& url) {
  ir::http::Request request;
  request.url = url;
  return request;
}

}  // namespace

TEST_CASE("503 and 429 are retried, honouring Retry-After", "[unit][http]") {
  std::atomic<int> calls{0};
  HttpServer server([&](const SeenRequest&) {
    const int n = ++calls;
    if (n == 1) return Reply{503, {}, "busy"};
    if (n == 2) return Reply{429, {{"Retry-After", "7"}}, "slow down"};
    return Reply{200, {}, "ok"};
  });
  ir::http::Client client;
  RecordingSleeper sleeper;
  sleeper.attach(client);
  auto response = client.send(get(server.url() + "/x"));
  REQUIRE(response);
  CHECK(response->status == 200);
  CHECK(response->body == "ok");
  CHECK(response->attempts == 3);
  REQUIRE(sleeper.waits->size() == 2);
  CHECK((*sleeper.waits)[0] >= 100ms);
  CHECK((*sleeper.waits)[0] <= 200ms);
  CHECK((*sleeper.waits)[1] == 7s);
}

TEST_CASE("retries are bounded and the last answer is returned", "[unit][http]") {
  HttpServer server([](const SeenRequest&) { return Reply{503, {}, "down"}; });
  ir::http::Client client({}, {.max_attempts = 3});
  RecordingSleeper sleeper;
  sleeper.attach(client);
  auto response = client.send(get(server.url()));
  REQUIRE(response);
  CHECK(response->status == 503);
  CHECK(server.requests().size() == 3);
  CHECK(sleeper.waits->size() == 2);
  CHECK((*sleeper.waits)[1] >= (*sleeper.waits)[0]);
}

TEST_CASE("a reset connection is retried", "[unit][http]") {
  std::atomic<int> calls{0};
  HttpServer server([&](const SeenRequest&) {
    Reply reply{200, {}, "after reset"};
    reply.reset = ++calls == 1;
    return reply;
  });
  ir::http::Client client;
  RecordingSleeper sleeper;
  sleeper.attach(client);
  auto response = client.send(get(server.url()));
  REQUIRE(response);
  CHECK(response->body == "after reset");
  CHECK(calls == 2);
}

TEST_CASE("a slow server hits the deadline and becomes a transient error", "[unit][http]") {
  HttpServer server([](const SeenRequest&) {
    Reply reply{200, {}, "late"};
    reply.delay = 1500ms;
    return reply;
  });
  ir::http::Client client({}, {.max_attempts = 2});
  RecordingSleeper sleeper;
  sleeper.attach(client);
  auto request = get(server.url() + "/slow?token=query-secret");
  request.timeout = 200ms;
  auto response = client.send(request);
  REQUIRE_FALSE(response);
  CHECK(response.error().code() == ir::Code::transient);
  CHECK(response.error().describe().find("after 2 attempts") != std::string::npos);
  CHECK(response.error().describe().find("query-secret") == std::string::npos);
}

TEST_CASE("nothing listening is a transient error after retries", "[unit][http]") {
  unsigned short port = 0;
  {
    HttpServer closed([](const SeenRequest&) { return Reply{}; });
    port = closed.port();
  }
  ir::http::Client client({}, {.max_attempts = 2});
  RecordingSleeper sleeper;
  sleeper.attach(client);
  auto request = get("http://127.0.0.1:" + std::to_string(port) + "/");
  request.bearer_token = ir::Secret("bearer-should-not-show");
  auto response = client.send(request);
  REQUIRE_FALSE(response);
  CHECK(response.error().code() == ir::Code::transient);
  CHECK(response.error().describe().find("bearer-should-not-show") == std::string::npos);
}

TEST_CASE("connections are kept alive across requests", "[unit][http]") {
  HttpServer server([](const SeenRequest&) { return Reply{200, {}, "ok"}; });
  ir::http::Client client;
  for (int i = 0; i < 4; ++i) REQUIRE(client.send(get(server.url() + "/" + std::to_string(i))));
  CHECK(server.requests().size() == 4);
  CHECK(server.connections() == 1);
  CHECK(client.connections_opened() == 1);
}

TEST_CASE("the bearer token is sent as a header", "[unit][http]") {
  HttpServer server([](const SeenRequest&) { return Reply{200, {}, "ok"}; });
  ir::http::Client client;
  auto request = get(server.url());
  request.bearer_token = ir::Secret("tok-123");
  REQUIRE(client.send(request));
  CHECK(server.requests().at(0).header("Authorization") == "Bearer tok-123");
}

TEST_CASE("response bodies stream to the sink and the sink can stop early", "[unit][http]") {
  Reply streamed{200, {}, {}};
  for (int i = 0; i < 64; ++i)
    streamed.chunks.push_back(std::string(64 * 1024, static_cast<char>('a' + i % 26)));
  HttpServer server([&](const SeenRequest&) { return streamed; });
  ir::http::Client client;
  std::size_t total = 0;
  auto all = client.stream(get(server.url()), [&](std::string_view data) {
    total += data.size();
    return true;
  });
  REQUIRE(all);
  CHECK(total == 64u * 64 * 1024);
  CHECK(all->body.empty());
  std::size_t partial = 0;
  auto stopped = client.stream(get(server.url()), [&](std::string_view data) {
    partial += data.size();
    return partial < 100 * 1024;
  });
  REQUIRE(stopped);
  CHECK(partial < total);
}

TEST_CASE("an error answer to a stream is kept for decoding, not streamed", "[unit][http]") {
  HttpServer server([](const SeenRequest&) {
    return Reply{404, {}, R"({"kind":"Status","message":"gone"})"};
  });
  ir::http::Client client;
  bool called = false;
  auto response = client.stream(get(server.url()), [&](std::string_view) { return called = true; });
  REQUIRE(response);
  CHECK(response->status == 404);
  CHECK(response->body.find("gone") != std::string::npos);
  CHECK_FALSE(called);
}

TEST_CASE("request bodies stream from a source", "[unit][http]") {
  HttpServer server([](const SeenRequest& r) { return Reply{200, {}, std::to_string(r.body.size())}; });
  ir::http::Client client;
  auto request = get(server.url());
  request.method = "POST";
  std::size_t left = 3 * 1024 * 1024;
  request.body_source = [&](char* buffer, std::size_t size) {
    const std::size_t n = std::min(size, left);
    std::fill(buffer, buffer + n, 'z');
    left -= n;
    return n;
  };
  auto response = client.send(request);
  REQUIRE(response);
  CHECK(response->body == std::to_string(3 * 1024 * 1024));
}

TEST_CASE("TLS is verified against a CA given in memory", "[unit][http][tls]") {
  const auto ca = ir::test::make_ca("test CA");
  const auto other_ca = ir::test::make_ca("other CA");
  const auto cert = ir::test::issue(ca, {"server", {"localhost"}, {"127.0.0.1"}});
  HttpServer server(
      [](const SeenRequest&) {
        return Reply{200, {}, "secure"};
      },
      ir::test::ServerTls{cert, {}});

  ir::http::Tls trusted;
  trusted.ca_pem = ca.cert_pem;
  ir::http::Client good(trusted);
  auto ok = good.send(get(server.url()));
  REQUIRE(ok);
  CHECK(ok->body == "secure");

  ir::http::Tls wrong;
  wrong.ca_pem = other_ca.cert_pem;
  ir::http::Client bad(wrong, {.max_attempts = 1});
  auto refused = bad.send(get(server.url()));
  REQUIRE_FALSE(refused);
  CHECK(refused.error().code() == ir::Code::action_failed);
  CHECK(refused.error().describe().find("TLS verification failed") != std::string::npos);
}

TEST_CASE("the host name is checked against the certificate", "[unit][http][tls]") {
  const auto ca = ir::test::make_ca("test CA");
  const auto cert = ir::test::issue(ca, {"elsewhere", {"elsewhere.example"}, {}});
  HttpServer server([](const SeenRequest&) { return Reply{200, {}, "x"}; }, ir::test::ServerTls{cert, {}});
  ir::http::Tls tls;
  tls.ca_pem = ca.cert_pem;
  ir::http::Client client(tls, {.max_attempts = 1});
  auto response = client.send(get(server.url()));
  REQUIRE_FALSE(response);
  CHECK(response.error().describe().find("TLS verification failed") != std::string::npos);
}

TEST_CASE("client certificates from memory authenticate us", "[unit][http][tls]") {
  const auto ca = ir::test::make_ca("test CA");
  const auto server_cert = ir::test::issue(ca, {"server", {}, {"127.0.0.1"}});
  const auto client_cert = ir::test::issue(ca, {"irsteps-admin", {}, {}, true});
  HttpServer server(
      [](const SeenRequest&) {
        return Reply{200, {}, "hello"};
      },
      ir::test::ServerTls{server_cert, ca.cert_pem});
  ir::http::Tls tls;
  tls.ca_pem = ca.cert_pem;
  tls.client_cert_pem = client_cert.cert_pem;
  tls.client_key_pem = ir::Secret(client_cert.key_pem);
  ir::http::Client client(tls);
  auto response = client.send(get(server.url()));
  REQUIRE(response);
  CHECK(server.requests().at(0).client_cert_cn == "irsteps-admin");

  ir::http::Tls anonymous;
  anonymous.ca_pem = ca.cert_pem;
  ir::http::Client without(anonymous, {.max_attempts = 1});
  CHECK_FALSE(without.send(get(server.url())));
}

TEST_CASE("HTTPS_PROXY tunnels through CONNECT and NO_PROXY bypasses it", "[unit][http][proxy]") {
  const auto ca = ir::test::make_ca("test CA");
  const auto cert = ir::test::issue(ca, {"server", {}, {"127.0.0.1"}});
  HttpServer server(
      [](const SeenRequest&) {
        return Reply{200, {}, "through"};
      },
      ir::test::ServerTls{cert, {}});
  auto proxy = HttpServer::proxy();
  ir::http::Tls tls;
  tls.ca_pem = ca.cert_pem;
  ::setenv("HTTPS_PROXY", proxy->url().c_str(), 1);
  ::unsetenv("NO_PROXY");
  ::unsetenv("no_proxy");
  {
    ir::http::Client client(tls);
    auto response = client.send(get(server.url()));
    REQUIRE(response);
    CHECK(response->body == "through");
    CHECK(proxy->connections() == 1);
  }
  ::setenv("NO_PROXY", "127.0.0.1", 1);
  {
    ir::http::Client client(tls);
    REQUIRE(client.send(get(server.url())));
    CHECK(proxy->connections() == 1);
  }
  ::unsetenv("HTTPS_PROXY");
  ::unsetenv("NO_PROXY");
}

TEST_CASE("Retry-After is read as seconds or as an HTTP date", "[unit][http]") {
  CHECK(*ir::http::parse_retry_after("12") == 12s);
  CHECK(ir::http::parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0ms);
  CHECK_FALSE(ir::http::parse_retry_after("soon"));
  CHECK_FALSE(ir::http::parse_retry_after(""));
}

TEST_CASE("NO_PROXY entries: names, domains, addresses, CIDRs, ports, *", "[unit][http][proxy]") {
  std::map<std::string, std::string> vars{{"HTTPS_PROXY", "http://proxy:3128"}};
  auto env = [&](const std::string& name) -> std::optional<std::string> {
    if (auto it = vars.find(name); it != vars.end()) return it->second;
    return std::nullopt;
  };
  using ir::http::proxy_for;
  CHECK(proxy_for("https", "api.example.com", 443, env) == "http://proxy:3128");
  CHECK(proxy_for("http", "api.example.com", 80, env).empty());  // HTTP_PROXY is not set
  vars["NO_PROXY"] = "example.com, .internal,10.0.0.0/8,192.168.1.7,registry:5000,[fd00::1]";
  CHECK(proxy_for("https", "api.example.com", 443, env).empty());
  CHECK(proxy_for("https", "example.com", 443, env).empty());
  CHECK(proxy_for("https", "badexample.com", 443, env) == "http://proxy:3128");
  CHECK(proxy_for("https", "db.internal", 443, env).empty());
  CHECK(proxy_for("https", "10.1.2.3", 443, env).empty());
  CHECK(proxy_for("https", "11.1.2.3", 443, env) == "http://proxy:3128");
  CHECK(proxy_for("https", "192.168.1.7", 443, env).empty());
  CHECK(proxy_for("https", "registry", 5000, env).empty());
  CHECK(proxy_for("https", "registry", 443, env) == "http://proxy:3128");
  CHECK(proxy_for("https", "fd00::1", 443, env).empty());
  vars["NO_PROXY"] = "*";
  CHECK(proxy_for("https", "anything", 443, env).empty());
}

TEST_CASE("redirects are followed only when asked, and credentials stay with their server", "[unit][http]") {
  HttpServer target([](const SeenRequest&) { return Reply{200, {}, "moved here"}; });
  HttpServer origin([&](const SeenRequest&) {
    return Reply{307, {{"Location", target.url() + "/blob"}}, ""};
  });
  ir::http::Client client;
  auto request = get(origin.url() + "/v2/x/blobs/sha256:1");
  request.bearer_token = ir::Secret("registry-token");
  auto not_followed = client.send(request);
  REQUIRE(not_followed);
  CHECK(not_followed->status == 307);
  request.follow_redirects = true;
  auto followed = client.send(request);
  REQUIRE(followed);
  CHECK(followed->status == 200);
  CHECK(followed->body == "moved here");
  REQUIRE(target.requests().size() == 1);
  CHECK(target.requests()[0].target == "/blob");
  CHECK(target.requests()[0].header("Authorization").empty());
  CHECK(origin.requests().back().header("Authorization") == "Bearer registry-token");
}

TEST_CASE("a kept-alive connection the server closed is replaced without a retry delay", "[unit][http]") {
  std::atomic<int> calls{0};
  HttpServer server([&](const SeenRequest&) {
    Reply reply{200, {}, "ok"};
    reply.close_after = ++calls == 1;
    return reply;
  });
  ir::http::Client client;
  RecordingSleeper sleeper;
  sleeper.attach(client);
  REQUIRE(client.send(get(server.url())));
  REQUIRE(client.send(get(server.url())));
  CHECK(sleeper.waits->empty());
  CHECK(client.connections_opened() == 2);
}

TEST_CASE("a streamed body reaches the sink as it arrives, not when a buffer fills", "[unit][http]") {
  Reply slow{200, {}, {}};
  slow.chunks = {"first event\n", "second event\n"};
  slow.chunk_pause = 1500ms;
  HttpServer server([&](const SeenRequest&) { return slow; });
  ir::http::Client client;
  const auto started = std::chrono::steady_clock::now();
  std::chrono::milliseconds first_seen{-1};
  auto response = client.stream(get(server.url()), [&](std::string_view data) {
    if (first_seen.count() < 0 && data.find("first") != std::string_view::npos) {
      first_seen =
          std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
    }
    return true;
  });
  REQUIRE(response);
  REQUIRE(first_seen.count() >= 0);
  // The second chunk comes 1.5 s later; the first must not wait for it.
  CHECK(first_seen < 1000ms);
}

TEST_CASE("a connection reset during the TLS handshake is retried as a network fault", "[unit][http][tls]") {
  namespace asio = boost::asio;
  asio::io_context io;
  asio::ip::tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
  const auto port = acceptor.local_endpoint().port();
  std::atomic<int> accepted{0};
  std::thread resetter([&] {
    for (int i = 0; i < 3; ++i) {
      asio::ip::tcp::socket socket(io);
      boost::system::error_code ec;
      acceptor.accept(socket, ec);
      if (ec) return;
      ++accepted;
      socket.set_option(asio::socket_base::linger(true, 0), ec);
      socket.close(ec);
    }
  });
  ir::http::Client client({}, {.max_attempts = 3});
  RecordingSleeper sleeper;
  sleeper.attach(client);
  auto response = client.send(get("https://127.0.0.1:" + std::to_string(port) + "/"));
  resetter.join();
  REQUIRE_FALSE(response);
  CHECK(response.error().code() == ir::Code::transient);
  CHECK(accepted == 3);
  CHECK(sleeper.waits->size() == 2);
}

// Security review, finding 1: a proxy (or anyone on the plain hop to it)
// that answers for the server right behind its CONNECT reply.
TEST_CASE("finding 1: bytes a proxy sends after its CONNECT reply are refused, never read as the answer",
          "[unit][http][proxy][tls]") {
  const auto ca = ir::test::make_ca("test CA");
  const auto cert = ir::test::issue(ca, {"server", {}, {"127.0.0.1"}});
  HttpServer server(
      [](const SeenRequest&) {
        return Reply{200, {}, "the real server"};
      },
      ir::test::ServerTls{cert, {}});
  const std::string injected = "HTTP/1.1 200 OK\r\nContent-Length: 14\r\n\r\nfrom the proxy";
  auto proxy = HttpServer::proxy(injected);
  ir::http::Tls tls;
  tls.ca_pem = ca.cert_pem;
  ::setenv("HTTPS_PROXY", proxy->url().c_str(), 1);
  ::unsetenv("NO_PROXY");
  ::unsetenv("no_proxy");
  ir::http::Client client(tls);
  RecordingSleeper sleeper;
  sleeper.attach(client);
  auto response = client.send(get(server.url() + "/api/v1/namespaces"));
  ::unsetenv("HTTPS_PROXY");
  if (response) CHECK(response->body != "from the proxy");
  REQUIRE_FALSE(response);
  CHECK(response.error().code() == ir::Code::action_failed);
  CHECK(response.error().describe().find("after its CONNECT reply") != std::string::npos);
  // Refused at once, not retried, and the server was never asked.
  CHECK(sleeper.waits->empty());
  CHECK(proxy->connections() == 1);
  CHECK(server.requests().empty());
}

// Security review, finding 23: the generic redirect dropped the bearer
// token but kept an Authorization header the caller set itself.
TEST_CASE("finding 23: a redirect to another server drops an explicit Authorization and Cookie header",
          "[unit][http]") {
  HttpServer target([](const SeenRequest&) { return Reply{200, {}, "moved here"}; });
  HttpServer origin([&](const SeenRequest& request) {
    if (request.target == "/same") return Reply{307, {{"Location", "/landed"}}, ""};
    if (request.target == "/landed") return Reply{200, {}, "same server"};
    return Reply{302, {{"Location", target.url() + "/elsewhere"}}, ""};
  });
  ir::http::Client client;
  auto request = get(origin.url() + "/hook");
  request.follow_redirects = true;
  request.headers = {
      {"authorization", "Basic dXNlcjpzM2NyZXQ="}, {"Cookie", "session=abc"}, {"X-Trace", "1"}};
  auto followed = client.send(request);
  REQUIRE(followed);
  CHECK(followed->body == "moved here");
  REQUIRE(target.requests().size() == 1);
  CHECK(target.requests()[0].header("Authorization").empty());
  CHECK(target.requests()[0].header("Cookie").empty());
  CHECK(target.requests()[0].header("X-Trace") == "1");
  CHECK(origin.requests().back().header("Authorization") == "Basic dXNlcjpzM2NyZXQ=");
  // On the same server they stay.
  request.url = origin.url() + "/same";
  auto same = client.send(request);
  REQUIRE(same);
  CHECK(same->body == "same server");
  CHECK(origin.requests().back().target == "/landed");
  CHECK(origin.requests().back().header("Authorization") == "Basic dXNlcjpzM2NyZXQ=");
}

// Security review, finding 7: a body is read only up to what the caller
// accepts, announced or not.
TEST_CASE("finding 7: a body over max_body is refused as it arrives, announced or chunked, not retried",
          "[unit][http]") {
  const std::string big(64 * 1024, 'x');
  Reply chunked{200, {}, {}};
  chunked.chunks = {big, big, big};
  HttpServer server([&](const SeenRequest& request) {
    if (request.target == "/chunked") return chunked;
    return Reply{200, {}, big};
  });
  ir::http::Client client;
  RecordingSleeper sleeper;
  sleeper.attach(client);
  auto request = get(server.url() + "/sized");
  request.max_body = big.size();
  auto fits = client.send(request);
  REQUIRE(fits);
  CHECK(fits->body.size() == big.size());
  request.max_body = big.size() - 1;
  auto announced = client.send(request);
  REQUIRE_FALSE(announced);
  CHECK(announced.error().code() == ir::Code::rejected);
  CHECK(announced.error().describe().find("65535 bytes") != std::string::npos);
  request.url = server.url() + "/chunked";
  request.max_body = 100 * 1024;
  auto streamed = client.send(request);
  REQUIRE_FALSE(streamed);
  CHECK(streamed.error().code() == ir::Code::rejected);
  std::size_t seen = 0;
  auto sunk = client.stream(request, [&](std::string_view data) {
    seen += data.size();
    return true;
  });
  REQUIRE_FALSE(sunk);
  CHECK(seen <= 100 * 1024);
  CHECK(sleeper.waits->empty());
}

// Security review, findings 11, 12 and 15: "this machine" is decided on the
// parsed address, never on a prefix of a name.
TEST_CASE("findings 11, 12, 15: loopback hosts are addresses in 127.0.0.0/8, ::1, or localhost",
          "[unit][http]") {
  using ir::http::is_loopback_host;
  CHECK(is_loopback_host("127.0.0.1"));
  CHECK(is_loopback_host("127.1.2.3"));
  CHECK(is_loopback_host("::1"));
  CHECK(is_loopback_host("[::1]"));
  CHECK(is_loopback_host("::ffff:127.0.0.1"));
  CHECK(is_loopback_host("localhost"));
  CHECK(is_loopback_host("LocalHost"));
  CHECK_FALSE(is_loopback_host("127.attacker.example"));
  CHECK_FALSE(is_loopback_host("127.0.0.1.nip.io"));
  CHECK_FALSE(is_loopback_host("127.0.0.1:80"));
  CHECK_FALSE(is_loopback_host("localhost.attacker.example"));
  CHECK_FALSE(is_loopback_host("128.0.0.1"));
  CHECK_FALSE(is_loopback_host("10.0.0.1"));
  CHECK_FALSE(is_loopback_host("::2"));
  CHECK_FALSE(is_loopback_host("::ffff:10.0.0.1"));
  CHECK_FALSE(is_loopback_host(""));
  CHECK_FALSE(is_loopback_host("[]"));
  // Boost.URL 1.81 reads the host of "http://127.0.0.1:PORT.example/" as
  // 127.0.0.1:PORT and the rest as the path; a resolver sees another name.
  // Such a URL is no URL: nothing is connected to.
  HttpServer server([](const SeenRequest&) { return Reply{200, {}, "here"}; });
  ir::http::Client client({}, {.max_attempts = 1});
  for (const std::string& url : {"http://127.0.0.1:" + std::to_string(server.port()) + ".attacker.example/",
                                 "http://127.0.0.1:" + std::to_string(server.port()) + "x/"}) {
    INFO(url);
    auto refused = client.send(get(url));
    REQUIRE_FALSE(refused);
    CHECK(refused.error().code() == ir::Code::invalid_input);
  }
  CHECK(server.connections() == 0);
}
