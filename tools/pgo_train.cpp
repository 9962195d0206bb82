// The training load of the profile-guided release build (scripts/lib.sh): it runs an instrumented
// kakehashi on loopback and drives a representative mix of traffic through it, so that the
// compiler lays the release build out from where the gateway actually spends its time.
//
// The mix replays the golden translation cases (tests/golden): OpenAI and Anthropic clients to
// OpenAI, Anthropic and Gemini upstreams, whole answers and streams, tools, images, embeddings,
// legacy completions, upstream errors and refused requests; and the OpenAI clients' requests once
// more to an OpenAI-format upstream, where they take the pass-through path. The upstream is a small
// server here that answers each case with its recorded response.
//
//   kh_pgo_train KAKEHASHI GOLDEN_DIR WORK_DIR [ROUNDS]
//
// Exit status 0 when the gateway answered the load and exited cleanly (its profile is then
// written); anything else means the profile is not to be used.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <boost/json.hpp>

extern char** environ;

namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

std::string readFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// One request of the load and what its upstream answers.
struct Case {
  std::string name;      // provider folder and case, for messages
  std::string provider;  // the gateway provider it goes to
  std::string path;      // the gateway endpoint
  bool anthropic_client = false;
  std::string body;  // the client's request, model prefixed with the provider
  int upstream_status = 200;
  std::string upstream_body;
  bool upstream_sse = false;
};

struct Upstream {
  int status = 200;
  std::string body;
  bool sse = false;
};

// ---- Sockets ----

int listenLoopback(int& port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, 256) != 0) {
    ::close(fd);
    return -1;
  }
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  port = ntohs(a.sin_port);
  return fd;
}

int freePort() {
  int port = 0;
  const int fd = listenLoopback(port);
  if (fd >= 0) ::close(fd);
  return port;
}

int connectLoopback(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  // No read waits forever: a stuck exchange ends the connection instead of the run.
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

bool sendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

// Reads into `buf` until it holds at least `want` bytes; false on EOF or error.
bool fill(int fd, std::string& buf, std::size_t want) {
  char chunk[16384];
  while (buf.size() < want) {
    const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
    if (n <= 0) return false;
    buf.append(chunk, static_cast<std::size_t>(n));
  }
  return true;
}

// The head of the message at the front of `buf` (read as needed), without its blank line.
std::optional<std::string> readHead(int fd, std::string& buf) {
  for (;;) {
    if (const auto end = buf.find("\r\n\r\n"); end != std::string::npos) {
      std::string head = buf.substr(0, end);
      buf.erase(0, end + 4);
      return head;
    }
    if (buf.size() > (1u << 20) || !fill(fd, buf, buf.size() + 1)) return std::nullopt;
  }
}

// A header's value in `head`, by case-insensitive name; empty when absent.
std::string header(std::string_view head, std::string_view name) {
  std::size_t at = head.find("\r\n");
  while (at != std::string_view::npos) {
    const std::size_t line = at + 2;
    const std::size_t end = head.find("\r\n", line);
    const std::string_view l = head.substr(line, end == std::string_view::npos ? end : end - line);
    if (l.size() > name.size() && l[name.size()] == ':' &&
        std::equal(name.begin(), name.end(), l.begin(),
                   [](char a, char b) { return std::tolower(a) == std::tolower(b); })) {
      std::string_view v = l.substr(name.size() + 1);
      while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
      return std::string(v);
    }
    at = end;
  }
  return {};
}

// The body after `head`: by Content-Length, chunked, or (answers only) up to the connection's end.
bool readBody(int fd, std::string& buf, std::string_view head, bool to_close) {
  if (const std::string cl = header(head, "content-length"); !cl.empty()) {
    const std::size_t n = std::strtoul(cl.c_str(), nullptr, 10);
    if (!fill(fd, buf, n)) return false;
    buf.erase(0, n);
    return true;
  }
  if (header(head, "transfer-encoding").find("chunked") != std::string::npos) {
    for (;;) {
      std::size_t eol;
      while ((eol = buf.find("\r\n")) == std::string::npos)
        if (!fill(fd, buf, buf.size() + 1)) return false;
      const std::size_t size = std::strtoul(buf.c_str(), nullptr, 16);
      if (!fill(fd, buf, eol + 2 + size + 2)) return false;
      buf.erase(0, eol + 2 + size + 2);
      if (size == 0) return true;
    }
  }
  if (!to_close) return true;
  while (fill(fd, buf, buf.size() + 1)) buf.clear();
  buf.clear();
  return false;  // the connection is gone
}

// ---- The upstream ----

// Answers every request on one connection from `answers`, chosen by the first path segment
// ("/c12/…" is case 12, "/pj/…" and "/ps/…" the pass-through answers).
void serveUpstream(int fd, const std::vector<Upstream>* answers, const Upstream* pass_json,
                   const Upstream* pass_sse) {
  std::string buf;
  for (;;) {
    const auto head = readHead(fd, buf);
    if (!head || !readBody(fd, buf, *head, false)) break;
    const std::size_t sp = head->find(' ');
    const std::string_view path =
        std::string_view(*head).substr(sp + 1, head->find(' ', sp + 1) - sp - 1);
    const Upstream* a = nullptr;
    if (path.starts_with("/pj/")) {
      a = pass_json;
    } else if (path.starts_with("/ps/")) {
      a = pass_sse;
    } else if (path.starts_with("/c")) {
      const std::size_t i = std::strtoul(std::string(path.substr(2)).c_str(), nullptr, 10);
      if (i < answers->size()) a = &(*answers)[i];
    }
    static const Upstream kNotFound{404, R"({"error":{"message":"not found"}})", false};
    if (a == nullptr) a = &kNotFound;
    std::string out = "HTTP/1.1 " + std::to_string(a->status) + " Status\r\n";
    if (a->sse) {
      char size[32];
      std::snprintf(size, sizeof size, "%zx\r\n", a->body.size());
      out += "Content-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n";
      out += size + a->body + "\r\n0\r\n\r\n";
    } else {
      out += "Content-Type: application/json\r\nContent-Length: " + std::to_string(a->body.size()) +
             "\r\n\r\n" + a->body;
    }
    if (!sendAll(fd, out)) break;
  }
  ::close(fd);
}

// ---- The load ----

std::optional<std::string> setModel(const std::string& body, const std::string& provider) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec || !v.is_object()) return std::nullopt;
  json::object& o = v.as_object();
  const json::value* m = o.if_contains("model");
  const std::string model = m && m->is_string() ? std::string(m->as_string()) : "model";
  o["model"] = provider + ":" + model;
  return json::serialize(v);
}

std::string endpointOf(std::string_view client, std::string_view operation) {
  if (client == "anthropic") return "/v1/messages";
  if (operation == "completion") return "/v1/completions";
  if (operation == "embedding") return "/v1/embeddings";
  return "/v1/chat/completions";
}

struct Load {
  std::vector<Case> cases;
  std::vector<Upstream> answers;  // by case index
  Upstream pass_json, pass_sse;
  std::string providers_yaml;
};

// Reads the golden cases into the load; false when there are none to train on.
bool buildLoad(const fs::path& golden, Load& load) {
  std::vector<fs::path> dirs;
  for (const auto& kind : {"anthropic", "gemini", "openai"})
    for (const auto& e : fs::directory_iterator(golden / kind))
      if (fs::exists(e.path() / "case.json")) dirs.push_back(e.path());
  std::sort(dirs.begin(), dirs.end());
  for (const fs::path& dir : dirs) {
    const std::string kind = dir.parent_path().filename().string();
    boost::system::error_code ec;
    const json::value meta = json::parse(readFile(dir / "case.json"), ec);
    if (ec || !meta.is_object()) continue;
    const json::object& m = meta.as_object();
    auto text = [&](const char* key, const char* fallback) {
      const json::value* v = m.if_contains(key);
      return v && v->is_string() ? std::string(v->as_string()) : std::string(fallback);
    };
    // A dropped stream ends the upstream connection; the rest of the mix covers streams.
    if (text("stream_ends", "normally") == "with_drop") continue;
    const std::string client = text("client", "openai");
    const std::string operation = text("operation", "chat");
    Upstream up;
    if (const json::value* s = m.if_contains("upstream_status"); s && s->is_int64())
      up.status = static_cast<int>(s->as_int64());
    if (fs::exists(dir / "upstream_response.json")) {
      up.body = readFile(dir / "upstream_response.json");
    } else if (fs::exists(dir / "upstream_response.sse")) {
      up.body = readFile(dir / "upstream_response.sse");
      up.sse = true;
    }
    // OpenAI-format answers double as the pass-through upstream's.
    if (kind == "openai" && up.status == 200 && operation == "chat" && !up.body.empty()) {
      Upstream& pass = up.sse ? load.pass_sse : load.pass_json;
      if (pass.body.empty()) pass = up;
    }
    const std::size_t index = load.cases.size();
    const std::string provider = "c" + std::to_string(index);
    const auto body = setModel(readFile(dir / "request.json"), provider);
    if (!body) continue;
    Case c;
    c.name = kind + "/" + dir.filename().string();
    c.provider = provider;
    c.path = endpointOf(client, operation);
    c.anthropic_client = client == "anthropic";
    c.body = *body;
    load.cases.push_back(std::move(c));
    load.answers.push_back(std::move(up));
    const std::string type = kind == "openai" ? "openai-compatible" : kind;
    const std::string suffix = kind == "openai" ? "/v1" : kind == "gemini" ? "/v1beta" : "";
    load.providers_yaml += "  - { name: " + provider + ", type: " + type +
                           ", base_url: \"http://127.0.0.1:UPSTREAM/" + provider + suffix +
                           "\", api_key: train }\n";
  }
  if (load.cases.empty() || load.pass_json.body.empty() || load.pass_sse.body.empty()) return false;
  // The OpenAI clients' chat requests again, to an OpenAI-format upstream: pass-through, the
  // gateway's most common path, three times over.
  const std::size_t golden_cases = load.cases.size();
  for (std::size_t i = 0; i < 3 * golden_cases; ++i) {
    const Case& g = load.cases[i % golden_cases];
    if (g.anthropic_client || g.path != "/v1/chat/completions") continue;
    const bool stream = g.body.find("\"stream\":true") != std::string::npos;
    Case c = g;
    c.name = "pass-through " + g.name;
    c.provider = stream ? "ps" : "pj";
    const std::string from = "\"" + g.provider + ":";
    if (const auto at = c.body.find(from); at != std::string::npos)
      c.body.replace(at, from.size(), "\"" + c.provider + ":");
    load.cases.push_back(std::move(c));
  }
  load.providers_yaml +=
      "  - { name: pj, type: openai-compatible, base_url: \"http://127.0.0.1:UPSTREAM/pj/v1\", "
      "api_key: train }\n"
      "  - { name: ps, type: openai-compatible, base_url: \"http://127.0.0.1:UPSTREAM/ps/v1\", "
      "api_key: train }\n";
  return true;
}

// Sends every case `rounds` times over one keep-alive connection (reopened when the gateway closes
// it), starting at `offset`; counts the answers.
void drive(int port, const std::vector<Case>* cases, int rounds, std::size_t offset,
           std::atomic<long>* answered, std::atomic<long>* lost) {
  int fd = -1;
  std::string buf;
  for (int r = 0; r < rounds; ++r) {
    for (std::size_t k = 0; k < cases->size(); ++k) {
      const Case& c = (*cases)[(k + offset) % cases->size()];
      if (fd < 0) {
        fd = connectLoopback(port);
        buf.clear();
        if (fd < 0) {
          ++*lost;
          continue;
        }
      }
      std::string req =
          "POST " + c.path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n";
      if (c.anthropic_client) req += "anthropic-version: 2023-06-01\r\n";
      req += "Content-Length: " + std::to_string(c.body.size()) + "\r\n\r\n" + c.body;
      const auto head = sendAll(fd, req) ? readHead(fd, buf) : std::nullopt;
      const bool close = head && header(*head, "connection") == "close";
      if (!head || !readBody(fd, buf, *head, close) || close) {
        ::close(fd);
        fd = -1;
      }
      ++*(head ? answered : lost);
    }
  }
  if (fd >= 0) ::close(fd);
}

bool waitHealthy(int port) {
  for (int i = 0; i < 200; ++i) {
    const int fd = connectLoopback(port);
    if (fd >= 0) {
      std::string buf;
      const bool ok = sendAll(fd, "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n") &&
                      readHead(fd, buf).has_value();
      ::close(fd);
      if (ok) return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: kh_pgo_train KAKEHASHI GOLDEN_DIR WORK_DIR [ROUNDS]\n");
    return 2;
  }
  const std::string binary = argv[1];
  const fs::path golden = argv[2];
  const fs::path work = argv[3];
  const int rounds = argc > 4 ? std::max(1, std::atoi(argv[4])) : 30;
  ::signal(SIGPIPE, SIG_IGN);

  Load load;
  if (!buildLoad(golden, load)) {
    std::fprintf(stderr, "kh_pgo_train: no golden cases to train on in %s\n", golden.c_str());
    return 1;
  }

  int upstream_port = 0;
  const int upstream_fd = listenLoopback(upstream_port);
  if (upstream_fd < 0) return 1;
  std::thread([&] {
    for (;;) {
      const int fd = ::accept(upstream_fd, nullptr, nullptr);
      if (fd < 0) return;
      std::thread(serveUpstream, fd, &load.answers, &load.pass_json, &load.pass_sse).detach();
    }
  }).detach();

  fs::create_directories(work / "data");
  const int port = freePort();
  const int admin_port = freePort();
  std::string providers = load.providers_yaml;
  for (std::size_t at; (at = providers.find("UPSTREAM")) != std::string::npos;)
    providers.replace(at, 8, std::to_string(upstream_port));
  const fs::path config = work / "kakehashi.yaml";
  std::ofstream(config) << "server: { host: 127.0.0.1, port: " << port
                        << ", admin_port: " << admin_port << " }\n"
                        << "data_dir: " << (work / "data").string() << "\n"
                        << "log_level: info\nproviders:\n"
                        << providers;

  const std::string log = (work / "kakehashi.log").string();
  posix_spawn_file_actions_t files;
  posix_spawn_file_actions_init(&files);
  posix_spawn_file_actions_addopen(&files, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&files, 1, 2);
  const std::string config_path = config.string();
  const char* args[] = {binary.c_str(),      "serve", "--threads", "1", "--config",
                        config_path.c_str(), nullptr};
  pid_t pid = 0;
  if (posix_spawn(&pid, binary.c_str(), &files, nullptr, const_cast<char**>(args), environ) != 0) {
    std::fprintf(stderr, "kh_pgo_train: cannot start %s\n", binary.c_str());
    return 1;
  }
  posix_spawn_file_actions_destroy(&files);

  int exit_status = 1;
  if (waitHealthy(port)) {
    std::atomic<long> answered{0}, lost{0};
    // A few connections at once, each through the cases from another place.
    std::vector<std::thread> clients;
    for (std::size_t t = 0; t < 4; ++t)
      clients.emplace_back(drive, port, &load.cases, rounds, t * load.cases.size() / 4, &answered,
                           &lost);
    for (auto& t : clients) t.join();
    std::printf("kh_pgo_train: %zu cases x %d rounds x 4 connections: %ld answered, %ld lost\n",
                load.cases.size(), rounds, answered.load(), lost.load());
    exit_status = lost.load() * 20 <= answered.load() ? 0 : 1;
  } else {
    std::fprintf(stderr, "kh_pgo_train: the gateway did not come up (see %s)\n", log.c_str());
  }
  // SIGINT: a graceful stop, after which the instrumented binary writes its profile.
  ::kill(pid, SIGINT);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::fprintf(stderr, "kh_pgo_train: the gateway did not exit cleanly (see %s)\n", log.c_str());
    exit_status = 1;
  }
  // The upstream's threads still wait in accept() and recv() on what main() holds: leave without
  // destroying it under them.
  std::fflush(stdout);
  std::_Exit(exit_status);
}
