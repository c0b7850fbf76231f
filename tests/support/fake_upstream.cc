#include "tests/support/fake_upstream.h"

#include "core/http_client.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "core/sha256.h"

namespace datasnap::testing {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kMaxHeaderBytes = 64 * 1024;
constexpr std::size_t kMaxBodyBytes = 64 * 1024 * 1024;
constexpr std::size_t kStreamChunkBytes = 64 * 1024;

char Lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

std::string ToLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = Lower(c);
  return out;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (Lower(a[i]) != Lower(b[i])) return false;
  }
  return true;
}

bool ContainsTokenIgnoreCase(std::string_view value, std::string_view token) {
  return ToLower(value).find(ToLower(token)) != std::string::npos;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

bool HasHeader(const Headers& headers, std::string_view name) {
  return FindHeader(headers, name).has_value();
}

void RemoveHeader(Headers& headers, std::string_view name) {
  std::erase_if(headers,
                [&](const auto& h) { return EqualsIgnoreCase(h.first, name); });
}

// Host header -> lower case, without port.
std::string HostKey(std::string_view host) {
  host = Trim(host);
  if (!host.empty() && host.front() == '[') {
    auto close = host.find(']');
    if (close != std::string_view::npos) host = host.substr(0, close + 1);
  } else if (std::count(host.begin(), host.end(), ':') == 1) {
    host = host.substr(0, host.find(':'));
  }
  return ToLower(host);
}

// The reason phrase, from the client's table; the status line needs one.
std::string Reason(int status) {
  const std::string_view phrase = HttpReasonPhrase(status);
  return phrase.empty() ? "Status" : std::string(phrase);
}

bool StatusHasNoBody(int status) {
  return (status >= 100 && status < 200) || status == 204 || status == 304;
}

std::string ContentTypeFor(std::string_view path) {
  auto slash = path.rfind('/');
  std::string_view name =
      slash == std::string_view::npos ? path : path.substr(slash + 1);
  auto dot = name.rfind('.');
  std::string ext = dot == std::string_view::npos ? "" : ToLower(name.substr(dot));
  if (ext == ".html" || ext == ".htm") return "text/html; charset=utf-8";
  if (ext == ".json") return "application/json";
  return "application/octet-stream";
}

std::optional<std::string> PercentDecode(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out.push_back(in[i]);
      continue;
    }
    if (i + 2 >= in.size()) return std::nullopt;
    int hi = hex(in[i + 1]), lo = hex(in[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

// A decoded request path that stays inside the root, or nullopt.
std::optional<std::string> SafeRelativePath(std::string_view raw_path) {
  auto decoded = PercentDecode(raw_path);
  if (!decoded || decoded->empty() || decoded->front() != '/') return std::nullopt;
  if (decoded->find('\0') != std::string::npos) return std::nullopt;
  std::string_view rest(*decoded);
  std::size_t start = 0;
  while (start <= rest.size()) {
    auto end = rest.find('/', start);
    if (end == std::string_view::npos) end = rest.size();
    std::string_view segment = rest.substr(start, end - start);
    if (segment == "..") return std::nullopt;
    start = end + 1;
  }
  return decoded;
}

std::optional<std::int64_t> ParseHttpDate(const std::string& text) {
  struct tm tm {};
  const char* end = strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (end == nullptr) return std::nullopt;
  return static_cast<std::int64_t>(timegm(&tm));
}

bool ETagMatches(std::string_view if_none_match, std::string_view etag) {
  std::string_view strip_weak = etag;
  std::size_t start = 0;
  while (start <= if_none_match.size()) {
    auto end = if_none_match.find(',', start);
    if (end == std::string_view::npos) end = if_none_match.size();
    std::string_view tag = Trim(if_none_match.substr(start, end - start));
    if (tag == "*") return true;
    if (tag.starts_with("W/")) tag.remove_prefix(2);
    if (tag == strip_weak) return true;
    start = end + 1;
  }
  return false;
}

std::string InsertInvalidUtf8(std::string body) {
  if (body.empty()) return std::string(kInvalidUtf8DefaultBody);
  auto quote = body.rfind('"');
  if (quote == std::string::npos) {
    body.append(kInvalidUtf8Bytes);
  } else {
    body.insert(quote, kInvalidUtf8Bytes);
  }
  return body;
}

}  // namespace

std::optional<std::string> FindHeader(const Headers& headers,
                                      std::string_view name) {
  for (const auto& [key, value] : headers) {
    if (EqualsIgnoreCase(key, name)) return value;
  }
  return std::nullopt;
}

const char* FaultName(Fault fault) {
  switch (fault) {
    case Fault::kNone: return "none";
    case Fault::kTruncatedBody: return "truncated_body";
    case Fault::kConnectionReset: return "connection_reset";
    case Fault::kSlowDrip: return "slow_drip";
    case Fault::kRedirectLoop: return "redirect_loop";
    case Fault::kOversizedBody: return "oversized_body";
    case Fault::kWrongContentType: return "wrong_content_type";
    case Fault::kInvalidUtf8: return "invalid_utf8";
  }
  return "unknown";
}

FakeResponse FakeResponse::Ok(std::string body, std::string content_type) {
  FakeResponse r;
  r.body = std::move(body);
  if (!content_type.empty()) r.headers.emplace_back("Content-Type", content_type);
  return r;
}

FakeResponse FakeResponse::Status(int status, Headers headers, std::string body) {
  FakeResponse r;
  r.status = status;
  r.headers = std::move(headers);
  r.body = std::move(body);
  return r;
}

FakeResponse FakeResponse::WithFault(Fault fault, std::string body) {
  FakeResponse r;
  r.fault = fault;
  r.body = std::move(body);
  return r;
}

// Counts one request in flight for its whole lifetime.
class FakeUpstreamServer::InFlightGuard {
 public:
  InFlightGuard(FakeUpstreamServer& server, std::string host)
      : server_(server), host_(std::move(host)) {
    server_.Enter(host_);
  }
  ~InFlightGuard() { Release(); }
  void Release() {
    if (!released_) server_.Leave(host_);
    released_ = true;
  }
  InFlightGuard(const InFlightGuard&) = delete;
  InFlightGuard& operator=(const InFlightGuard&) = delete;

 private:
  FakeUpstreamServer& server_;
  std::string host_;
  bool released_ = false;
};

FakeUpstreamServer::FakeUpstreamServer(FakeUpstreamOptions options)
    : options_(std::move(options)), latency_ms_(options_.latency.count()) {
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC | O_NONBLOCK) != 0) {
    throw std::runtime_error(std::string("fake upstream: pipe: ") +
                             std::strerror(errno));
  }
  wake_read_fd_ = pipe_fds[0];
  wake_write_fd_ = pipe_fds[1];

  listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (listen_fd_ < 0) {
    int err = errno;
    close(wake_read_fd_);
    close(wake_write_fd_);
    throw std::runtime_error(std::string("fake upstream: socket: ") +
                             std::strerror(err));
  }
  int one = 1;
  setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);  // 127.0.0.1, never another
  addr.sin_port = htons(options_.port);
  socklen_t len = sizeof addr;
  if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      listen(listen_fd_, 128) != 0 ||
      getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    int err = errno;
    close(listen_fd_);
    close(wake_read_fd_);
    close(wake_write_fd_);
    throw std::runtime_error("fake upstream: bind 127.0.0.1:" +
                             std::to_string(options_.port) + ": " +
                             std::strerror(err));
  }
  port_ = ntohs(addr.sin_port);
  base_url_ = "http://127.0.0.1:" + std::to_string(port_);
  accept_thread_ = std::thread([this] { AcceptLoop(); });
}

FakeUpstreamServer::~FakeUpstreamServer() { Stop(); }

void FakeUpstreamServer::Stop() {
  std::lock_guard lifecycle(lifecycle_mu_);
  {
    std::lock_guard lock(stop_mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (wake_write_fd_ >= 0) {
    // The pipe is never drained: it stays readable for every poll().
    [[maybe_unused]] auto ignored = write(wake_write_fd_, "x", 1);
  }
  if (accept_thread_.joinable()) accept_thread_.join();
  std::list<std::unique_ptr<Connection>> connections;
  {
    std::lock_guard lock(connections_mu_);
    connections.swap(connections_);
  }
  for (auto& c : connections) {
    if (c->thread.joinable()) c->thread.join();
  }
  for (int* fd : {&listen_fd_, &wake_read_fd_, &wake_write_fd_}) {
    if (*fd >= 0) close(*fd);
    *fd = -1;
  }
}

std::string FakeUpstreamServer::Url(std::string_view path) const {
  return base_url_ + std::string(path);
}

void FakeUpstreamServer::SetScenario(const std::string& path,
                                     std::vector<FakeResponse> responses) {
  std::lock_guard lock(mu_);
  if (responses.empty()) {
    scenarios_.erase(path);
    return;
  }
  scenarios_[path] = Scenario{std::move(responses), 0};
}

void FakeUpstreamServer::ClearScenario(const std::string& path) {
  std::lock_guard lock(mu_);
  scenarios_.erase(path);
}

void FakeUpstreamServer::ClearScenarios() {
  std::lock_guard lock(mu_);
  scenarios_.clear();
}

void FakeUpstreamServer::SetLatency(std::chrono::milliseconds latency) {
  latency_ms_ = latency.count();
}

std::string FakeUpstreamServer::ETagFor(std::string_view content) {
  return "\"" + Sha256Hex(content).substr(0, 16) + "\"";
}

std::string FakeUpstreamServer::HttpDate(std::int64_t unix_seconds) {
  time_t t = static_cast<time_t>(unix_seconds);
  struct tm tm {};
  gmtime_r(&t, &tm);
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed",
                                          "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr",
                                            "May", "Jun", "Jul", "Aug",
                                            "Sep", "Oct", "Nov", "Dec"};
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d GMT",
                kDays[tm.tm_wday], tm.tm_mday, kMonths[tm.tm_mon],
                tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buf;
}

std::vector<RecordedRequest> FakeUpstreamServer::Requests() const {
  std::lock_guard lock(mu_);
  return requests_;
}

std::vector<RecordedRequest> FakeUpstreamServer::RequestsFor(
    std::string_view path) const {
  std::lock_guard lock(mu_);
  std::vector<RecordedRequest> out;
  for (const auto& r : requests_) {
    if (r.path == path) out.push_back(r);
  }
  return out;
}

std::size_t FakeUpstreamServer::RequestCount() const {
  std::lock_guard lock(mu_);
  return requests_.size();
}

int FakeUpstreamServer::PeakConcurrency() const {
  std::lock_guard lock(mu_);
  return overall_.peak;
}

int FakeUpstreamServer::PeakConcurrency(std::string_view host) const {
  std::lock_guard lock(mu_);
  auto it = per_host_.find(HostKey(host));
  return it == per_host_.end() ? 0 : it->second.peak;
}

int FakeUpstreamServer::InFlight() const {
  std::lock_guard lock(mu_);
  return overall_.current;
}

std::uint64_t FakeUpstreamServer::ConnectionsAccepted() const {
  std::lock_guard lock(mu_);
  return connections_accepted_;
}

void FakeUpstreamServer::ClearRecords() {
  std::lock_guard lock(mu_);
  requests_.clear();
  overall_.peak = overall_.current;
  for (auto it = per_host_.begin(); it != per_host_.end();) {
    if (it->second.current == 0) {
      it = per_host_.erase(it);
    } else {
      it->second.peak = it->second.current;
      ++it;
    }
  }
  connections_accepted_ = 0;
}

void FakeUpstreamServer::Enter(const std::string& host) {
  std::lock_guard lock(mu_);
  overall_.peak = std::max(overall_.peak, ++overall_.current);
  Peak& p = per_host_[host];
  p.peak = std::max(p.peak, ++p.current);
}

void FakeUpstreamServer::Leave(const std::string& host) {
  std::lock_guard lock(mu_);
  --overall_.current;
  --per_host_[host].current;
}

bool FakeUpstreamServer::SleepFor(std::chrono::milliseconds duration) {
  if (duration.count() <= 0) return !Stopping();
  std::unique_lock lock(stop_mu_);
  return !stop_cv_.wait_for(lock, duration, [this] { return stopping_.load(); });
}

int FakeUpstreamServer::WaitReadable(int fd, std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  for (;;) {
    if (Stopping()) return -1;
    auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return 0;
    pollfd fds[2] = {{fd, POLLIN, 0}, {wake_read_fd_, POLLIN, 0}};
    int n = poll(fds, 2, static_cast<int>(std::min<long long>(left.count(), 1 << 30)));
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    if (fds[1].revents != 0) return -1;
    if (fds[0].revents != 0) return 1;
  }
}

bool FakeUpstreamServer::SendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    if (Stopping()) return false;
    ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n > 0) {
      data.remove_prefix(static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd fds[2] = {{fd, POLLOUT, 0}, {wake_read_fd_, POLLIN, 0}};
      int r = poll(fds, 2, -1);
      if (r < 0 && errno != EINTR) return false;
      if (fds[1].revents != 0) return false;
      if (fds[0].revents & (POLLERR | POLLHUP)) return false;
      continue;
    }
    return false;
  }
  return true;
}

bool FakeUpstreamServer::SendFinal(int fd, std::string_view data,
                                   InFlightGuard& in_flight) {
  in_flight.Release();
  return SendAll(fd, data);
}

void FakeUpstreamServer::AcceptLoop() {
  for (;;) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_read_fd_, POLLIN, 0}};
    int n = poll(fds, 2, -1);
    if (Stopping()) return;
    if (n < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents != 0) return;
    if (fds[0].revents == 0) continue;
    int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      // EMFILE and the like: back off instead of spinning on poll().
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
          errno != ECONNABORTED) {
        SleepFor(milliseconds(10));
      }
      continue;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    std::uint64_t id;
    {
      std::lock_guard lock(mu_);
      ++connections_accepted_;
      id = ++next_connection_id_;
    }
    std::lock_guard lock(connections_mu_);
    // Reap finished connection threads so long benchmarks do not pile up.
    for (auto it = connections_.begin(); it != connections_.end();) {
      if ((*it)->done.load()) {
        (*it)->thread.join();
        it = connections_.erase(it);
      } else {
        ++it;
      }
    }
    auto conn = std::make_unique<Connection>();
    Connection* raw = conn.get();
    conn->thread = std::thread([this, fd, id, raw] {
      ServeConnection(fd, id);
      raw->done = true;
    });
    connections_.push_back(std::move(conn));
  }
}

void FakeUpstreamServer::ServeConnection(int fd, std::uint64_t connection_id) {
  std::string buf;
  char tmp[16 * 1024];
  // Reads more bytes into buf; false on EOF, error, timeout or stop.
  auto read_more = [&]() -> bool {
    for (;;) {
      if (WaitReadable(fd, options_.idle_timeout) <= 0) return false;
      ssize_t n = recv(fd, tmp, sizeof tmp, 0);
      if (n > 0) {
        buf.append(tmp, static_cast<std::size_t>(n));
        return true;
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        continue;
      return false;
    }
  };
  auto fail = [&](int status) {
    std::string msg = std::string("HTTP/1.1 ") + std::to_string(status) + " " +
                      Reason(status) +
                      "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    SendAll(fd, msg);
  };

  for (;;) {
    // Tolerate stray CRLFs between requests.
    while (buf.starts_with("\r\n")) buf.erase(0, 2);
    std::size_t header_end;
    bool ok = true;
    while ((header_end = buf.find("\r\n\r\n")) == std::string::npos) {
      if (buf.size() > kMaxHeaderBytes) {
        fail(431);
        ok = false;
        break;
      }
      if (!read_more()) {
        ok = false;
        break;
      }
    }
    if (!ok) break;
    auto arrival = Clock::now();

    RecordedRequest request;
    request.arrival = arrival;
    request.connection_id = connection_id;
    std::string_view head(buf.data(), header_end);
    auto line_end = head.find("\r\n");
    std::string_view request_line = head.substr(0, line_end);
    auto sp1 = request_line.find(' ');
    auto sp2 = request_line.rfind(' ');
    if (sp1 == std::string_view::npos || sp2 == sp1) {
      fail(400);
      break;
    }
    request.method = std::string(request_line.substr(0, sp1));
    request.target = std::string(request_line.substr(sp1 + 1, sp2 - sp1 - 1));
    request.version = std::string(request_line.substr(sp2 + 1));
    if (!request.version.starts_with("HTTP/1.")) {
      fail(400);
      break;
    }
    std::string_view target = request.target;
    if (target.starts_with("http://") || target.starts_with("https://")) {
      auto slash = target.find('/', target.find("//") + 2);
      target = slash == std::string_view::npos ? "/" : target.substr(slash);
    }
    request.path = std::string(target.substr(0, target.find_first_of("?#")));
    if (line_end != std::string_view::npos) {
      std::string_view rest = head.substr(line_end + 2);
      while (!rest.empty()) {
        auto eol = rest.find("\r\n");
        std::string_view line = rest.substr(0, eol);
        rest = eol == std::string_view::npos ? std::string_view() : rest.substr(eol + 2);
        auto colon = line.find(':');
        if (colon == std::string_view::npos) continue;
        request.headers.emplace_back(std::string(Trim(line.substr(0, colon))),
                                     std::string(Trim(line.substr(colon + 1))));
      }
    }
    buf.erase(0, header_end + 4);

    InFlightGuard in_flight(*this, HostKey(request.Header("Host").value_or("")));

    bool keep_alive;
    auto connection = request.Header("Connection").value_or("");
    if (request.version == "HTTP/1.0") {
      keep_alive = ContainsTokenIgnoreCase(connection, "keep-alive");
    } else {
      keep_alive = !ContainsTokenIgnoreCase(connection, "close");
    }

    // Request body: Content-Length or chunked.
    auto te = request.Header("Transfer-Encoding");
    auto cl = request.Header("Content-Length");
    bool chunked = te && ContainsTokenIgnoreCase(*te, "chunked");
    bool has_body = chunked || (cl && *cl != "0");
    if (has_body) {
      auto expect = request.Header("Expect");
      if (expect && ContainsTokenIgnoreCase(*expect, "100-continue")) {
        if (!SendAll(fd, "HTTP/1.1 100 Continue\r\n\r\n")) break;
      }
    }
    if (chunked) {
      for (;;) {
        std::size_t eol;
        while ((eol = buf.find("\r\n")) == std::string::npos) {
          if (!read_more()) { ok = false; break; }
        }
        if (!ok) break;
        std::size_t size = 0;
        try {
          size = std::stoul(buf.substr(0, eol), nullptr, 16);
        } catch (...) {
          ok = false;
          break;
        }
        buf.erase(0, eol + 2);
        if (size == 0) {
          // Trailers, up to an empty line.
          for (;;) {
            while ((eol = buf.find("\r\n")) == std::string::npos) {
              if (!read_more()) { ok = false; break; }
            }
            if (!ok) break;
            bool empty = eol == 0;
            buf.erase(0, eol + 2);
            if (empty) break;
          }
          break;
        }
        if (request.body.size() + size > kMaxBodyBytes) { ok = false; break; }
        while (buf.size() < size + 2) {
          if (!read_more()) { ok = false; break; }
        }
        if (!ok) break;
        request.body.append(buf, 0, size);
        buf.erase(0, size + 2);
      }
      if (!ok) break;
    } else if (cl) {
      std::size_t length = 0;
      try {
        length = std::stoul(*cl);
      } catch (...) {
        fail(400);
        break;
      }
      if (length > kMaxBodyBytes) {
        fail(413);
        break;
      }
      while (buf.size() < length) {
        if (!read_more()) { ok = false; break; }
      }
      if (!ok) break;
      request.body = buf.substr(0, length);
      buf.erase(0, length);
    }

    {
      std::lock_guard lock(mu_);
      requests_.push_back(request);
    }
    if (!HandleRequest(fd, request, keep_alive, in_flight)) break;
  }
  close(fd);
}

std::optional<FakeResponse> FakeUpstreamServer::NextScenarioResponse(
    const std::string& path) {
  std::lock_guard lock(mu_);
  auto it = scenarios_.find(path);
  if (it == scenarios_.end()) return std::nullopt;
  Scenario& s = it->second;
  std::size_t index = std::min(s.next, s.responses.size() - 1);
  if (s.next < s.responses.size()) ++s.next;
  return s.responses[index];
}

bool FakeUpstreamServer::HandleRequest(int fd, RecordedRequest& request,
                                       bool keep_alive,
                                       InFlightGuard& in_flight) {
  if (!SleepFor(milliseconds(latency_ms_.load()))) return false;
  if (auto response = NextScenarioResponse(request.path)) {
    if (!SleepFor(response->delay)) return false;
    return ServeScenario(fd, request, *response, keep_alive, in_flight);
  }
  return ServeFile(fd, request, keep_alive, in_flight);
}

namespace {

// Status line, Date, the given headers, Content-Length (unless the headers
// have one or it is nullopt) and Connection (unless the headers have one).
std::string BuildHead(int status, const Headers& headers,
                      std::optional<std::uint64_t> content_length,
                      bool keep_alive, bool http10) {
  std::string out = "HTTP/1.1 " + std::to_string(status) + " " + Reason(status) +
                    "\r\n";
  out += "Date: " +
         FakeUpstreamServer::HttpDate(static_cast<std::int64_t>(time(nullptr))) +
         "\r\n";
  out += "Server: datasnap-fake-upstream\r\n";
  for (const auto& [k, v] : headers) out += k + ": " + v + "\r\n";
  if (content_length && !HasHeader(headers, "Content-Length")) {
    out += "Content-Length: " + std::to_string(*content_length) + "\r\n";
  }
  if (!HasHeader(headers, "Connection")) {
    if (!keep_alive) {
      out += "Connection: close\r\n";
    } else if (http10) {
      out += "Connection: keep-alive\r\n";
    }
  }
  out += "\r\n";
  return out;
}

}  // namespace

bool FakeUpstreamServer::ServeScenario(int fd, const RecordedRequest& request,
                                       const FakeResponse& response,
                                       bool keep_alive,
                                       InFlightGuard& in_flight) {
  const bool head_only = request.method == "HEAD";
  const bool http10 = request.version == "HTTP/1.0";
  Headers headers = response.headers;
  if (auto c = FindHeader(headers, "Connection");
      c && ContainsTokenIgnoreCase(*c, "close")) {
    keep_alive = false;
  }
  int status = response.status;
  std::string body = response.body;
  bool no_body = StatusHasNoBody(status);

  switch (response.fault) {
    case Fault::kConnectionReset: {
      linger lg{1, 0};
      setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
      return false;  // the caller closes: RST, no response byte
    }
    case Fault::kWrongContentType:
      RemoveHeader(headers, "Content-Type");
      headers.emplace_back("Content-Type", "text/html; charset=utf-8");
      break;
    case Fault::kInvalidUtf8:
      body = InsertInvalidUtf8(std::move(body));
      break;
    case Fault::kRedirectLoop: {
      if (status < 300 || status > 399) status = 302;
      RemoveHeader(headers, "Location");
      headers.emplace_back("Location",
                           base_url_ + (response.redirect_to.empty()
                                            ? request.target
                                            : response.redirect_to));
      no_body = false;
      break;
    }
    default:
      break;
  }
  if (!no_body && !HasHeader(headers, "Content-Type")) {
    headers.emplace_back("Content-Type", ContentTypeFor(request.path));
  }

  switch (response.fault) {
    case Fault::kTruncatedBody: {
      std::size_t sent = std::min(response.truncate_after.value_or(body.size() / 2),
                                  body.size());
      std::uint64_t declared = std::max<std::uint64_t>(body.size(), sent + 1);
      RemoveHeader(headers, "Content-Length");
      if (!SendAll(fd, BuildHead(status, headers, declared, false, http10)))
        return false;
      if (!head_only) SendAll(fd, std::string_view(body).substr(0, sent));
      return false;  // close without the rest
    }
    case Fault::kSlowDrip: {
      std::string head = BuildHead(status, headers, body.size(), keep_alive, http10);
      if (head_only || body.empty()) return SendFinal(fd, head, in_flight) && keep_alive;
      if (!SendAll(fd, head)) return false;
      std::size_t chunk = std::max<std::size_t>(1, response.drip_chunk_bytes);
      for (std::size_t off = 0; off < body.size(); off += chunk) {
        if (!SleepFor(response.drip_interval)) return false;
        std::string_view piece = std::string_view(body).substr(off, chunk);
        bool sent = off + chunk >= body.size() ? SendFinal(fd, piece, in_flight)
                                               : SendAll(fd, piece);
        if (!sent) return false;
      }
      return keep_alive;
    }
    case Fault::kOversizedBody: {
      RemoveHeader(headers, "Content-Length");
      std::uint64_t total = response.oversized_bytes;
      std::string head = BuildHead(status, headers, total, keep_alive, http10);
      if (head_only || total == 0) return SendFinal(fd, head, in_flight) && keep_alive;
      if (!SendAll(fd, head)) return false;
      std::string pattern =
          body.empty() ? std::string("abcdefghijklmnopqrstuvwxyz") : body;
      std::string block;
      while (block.size() < kStreamChunkBytes || block.empty()) block += pattern;
      // Each block starts at offset 0 of the pattern, so the stream is
      // `pattern` repeated without seams.
      for (std::uint64_t sent = 0; sent < total;) {
        std::size_t n = static_cast<std::size_t>(
            std::min<std::uint64_t>(block.size(), total - sent));
        std::string_view piece = std::string_view(block).substr(0, n);
        bool ok = sent + n >= total ? SendFinal(fd, piece, in_flight)
                                    : SendAll(fd, piece);
        if (!ok) return false;
        sent += n;
      }
      return keep_alive;
    }
    default:
      break;
  }

  std::optional<std::uint64_t> length;
  if (!no_body) length = body.size();
  std::string out = BuildHead(status, headers, length, keep_alive, http10);
  if (!no_body && !head_only) out += body;
  if (!SendFinal(fd, out, in_flight)) return false;
  return keep_alive;
}

bool FakeUpstreamServer::ServeFile(int fd, const RecordedRequest& request,
                                   bool keep_alive, InFlightGuard& in_flight) {
  const bool http10 = request.version == "HTTP/1.0";
  const bool head_only = request.method == "HEAD";
  auto simple = [&](int status, Headers headers, std::string body) {
    headers.emplace_back("Content-Type", "text/plain; charset=utf-8");
    std::string out = BuildHead(status, headers, body.size(), keep_alive, http10);
    if (!head_only) out += body;
    return SendFinal(fd, out, in_flight) && keep_alive;
  };
  if (request.method != "GET" && request.method != "HEAD") {
    return simple(405, {{"Allow", "GET, HEAD"}}, "method not allowed\n");
  }
  auto relative = SafeRelativePath(request.path);
  if (options_.root.empty() || !relative) {
    return simple(404, {}, "not found\n");
  }
  std::vector<std::string> candidates;
  if (relative->ends_with('/')) {
    candidates = {*relative + "index.json", *relative + "index.html"};
  } else {
    candidates = {*relative};
  }
  std::string file;
  struct stat st {};
  for (const auto& c : candidates) {
    std::string full = options_.root + c;
    if (stat(full.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
      file = full;
      break;
    }
  }
  if (file.empty()) return simple(404, {}, "not found\n");
  std::ifstream in(file, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  if (!in) return simple(404, {}, "not found\n");
  std::string content = ss.str();

  std::string etag = ETagFor(content);
  std::int64_t mtime = static_cast<std::int64_t>(st.st_mtim.tv_sec);
  std::string last_modified = HttpDate(mtime);
  Headers headers = {{"ETag", etag}, {"Last-Modified", last_modified}};

  bool not_modified = false;
  if (auto inm = request.Header("If-None-Match")) {
    not_modified = ETagMatches(*inm, etag);
  } else if (auto ims = request.Header("If-Modified-Since")) {
    auto since = ParseHttpDate(*ims);
    not_modified = since && mtime <= *since;
  }
  if (not_modified) {
    return SendFinal(fd, BuildHead(304, headers, std::nullopt, keep_alive, http10),
                     in_flight) &&
           keep_alive;
  }
  headers.emplace_back("Content-Type", ContentTypeFor(file));
  std::string out = BuildHead(200, headers, content.size(), keep_alive, http10);
  if (!head_only) out += content;
  return SendFinal(fd, out, in_flight) && keep_alive;
}

}  // namespace datasnap::testing
