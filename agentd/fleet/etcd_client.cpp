#include "agentd/fleet/etcd_client.hpp"

#include <curl/curl.h>

#include <memory>
#include <mutex>

#include "agentd/common/safe_text.hpp"

namespace agentd::fleet {

namespace {

// A whole answer larger than this is refused: the policy's limit is 64 MiB
// a file, and base64 makes it a third larger.
constexpr size_t kMaxAnswerBytes = size_t{256} << 20;

using CurlPtr = std::unique_ptr<CURL, decltype(&curl_easy_cleanup)>;
using HeaderList = std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)>;

void init_curl_once() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct Transfer {
  std::string body;
  bool too_large = false;
  // Streaming: split into lines and handed over as they come.
  const std::function<bool(std::string_view)>* on_message = nullptr;
  bool ended_by_reader = false;
  const std::atomic<bool>* stop = nullptr;
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
};

size_t on_data(char* data, size_t size, size_t count, void* self) {
  auto* t = static_cast<Transfer*>(self);
  const size_t n = size * count;
  if (t->body.size() + n > kMaxAnswerBytes) {
    t->too_large = true;
    return 0;  // aborts the transfer
  }
  t->body.append(data, n);
  if (!t->on_message) return n;
  size_t start = 0;
  for (size_t newline; (newline = t->body.find('\n', start)) != std::string::npos; start = newline + 1) {
    std::string_view line(t->body.data() + start, newline - start);
    if (line.find_first_not_of(" \r\t") == std::string_view::npos) continue;
    if (!(*t->on_message)(line)) {
      t->ended_by_reader = true;
      return 0;
    }
  }
  t->body.erase(0, start);
  return n;
}

int on_progress(void* self, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* t = static_cast<Transfer*>(self);
  if (t->stop && t->stop->load()) return 1;
  return std::chrono::steady_clock::now() > t->deadline ? 1 : 0;
}

std::string short_text(const std::string& body) { return safe_text(std::string_view(body).substr(0, 300)); }

}  // namespace

Result<std::vector<std::string>> parse_endpoints(std::string_view list) {
  std::vector<std::string> endpoints;
  size_t start = 0;
  while (start <= list.size()) {
    size_t comma = list.find(',', start);
    if (comma == std::string_view::npos) comma = list.size();
    std::string url(list.substr(start, comma - start));
    start = comma + 1;
    if (url.empty()) continue;
    const bool http = url.rfind("http://", 0) == 0, https = url.rfind("https://", 0) == 0;
    if (!http && !https) return make_error("etcd endpoint \"{}\": must start with http:// or https://", url);
    const auto rest = url.substr(http ? 7 : 8);
    if (rest.empty() || rest.find('/') != std::string::npos)
      return make_error("etcd endpoint \"{}\": host:port only, no path", url);
    endpoints.push_back(std::move(url));
  }
  if (endpoints.empty()) return make_error("--etcd-endpoints: no endpoint given");
  return endpoints;
}

Result<EtcdClient> EtcdClient::make(EtcdConfig config) {
  if (config.endpoints.empty()) return make_error("etcd: no endpoint given");
  if (config.cert_file.empty() != config.key_file.empty())
    return make_error("etcd: a client certificate needs its key, and a key its certificate");
  init_curl_once();
  return EtcdClient(std::move(config));
}

namespace {

// One transfer's handle, set up for `url` with the TLS files of `config`.
Result<CurlPtr> handle_for(const EtcdConfig& config, const std::string& url, const std::string& body,
                           curl_slist* headers, Transfer& transfer) {
  CurlPtr curl(curl_easy_init(), curl_easy_cleanup);
  if (!curl) return make_error("etcd: libcurl could not make a handle");
  CURL* c = curl.get();
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_POST, 1L);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.c_str());
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &on_data);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &transfer);
  curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, &on_progress);
  curl_easy_setopt(c, CURLOPT_XFERINFODATA, &transfer);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);  // threads: no SIGALRM for DNS timeouts
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(config.connect_timeout.count()));
  // Only the endpoints named: no proxy from the environment, no redirects.
  curl_easy_setopt(c, CURLOPT_PROXY, "");
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  // A member that vanishes without a FIN (a partition) is noticed.
  curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(c, CURLOPT_TCP_KEEPIDLE, 5L);
  curl_easy_setopt(c, CURLOPT_TCP_KEEPINTVL, 2L);
  if (!config.ca_file.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, config.ca_file.c_str());
  if (!config.cert_file.empty()) curl_easy_setopt(c, CURLOPT_SSLCERT, config.cert_file.c_str());
  if (!config.key_file.empty()) curl_easy_setopt(c, CURLOPT_SSLKEY, config.key_file.c_str());
  return curl;
}

HeaderList json_headers() {
  return HeaderList(curl_slist_append(nullptr, "Content-Type: application/json"), curl_slist_free_all);
}

}  // namespace

Result<std::string> EtcdClient::call(std::string_view path, const nlohmann::json& body) {
  const std::string text = body.dump();
  auto headers = json_headers();
  std::string errors;
  for (size_t tried = 0; tried < config_.endpoints.size(); ++tried) {
    const size_t index = (next_ + tried) % config_.endpoints.size();
    const std::string url = config_.endpoints[index] + std::string(path);
    Transfer transfer;
    transfer.stop = stop_;
    auto curl = handle_for(config_, url, text, headers.get(), transfer);
    if (!curl) return curl.error();
    curl_easy_setopt(curl->get(), CURLOPT_TIMEOUT_MS, static_cast<long>(config_.call_timeout.count()));
    const CURLcode code = curl_easy_perform(curl->get());
    long status = 0;
    curl_easy_getinfo(curl->get(), CURLINFO_RESPONSE_CODE, &status);
    if (code == CURLE_ABORTED_BY_CALLBACK) return make_error("etcd {}: stopped", url);
    if (code == CURLE_OK && status < 500) {
      next_ = index;
      return std::move(transfer.body);  // 4xx carries etcd's error as JSON
    }
    const std::string why = transfer.too_large ? fmt::format("answer larger than {} MiB", kMaxAnswerBytes >> 20)
                            : code != CURLE_OK ? curl_easy_strerror(code)
                                               : fmt::format("HTTP {}: {}", status, short_text(transfer.body));
    errors += fmt::format("{}{}{}: {}", errors.empty() ? "" : "; ", config_.endpoints[index], path, why);
  }
  next_ = (next_ + 1) % config_.endpoints.size();
  return make_error("etcd unreachable: {}", errors);
}

Status EtcdClient::stream(std::string_view path, const nlohmann::json& body,
                          const std::function<bool(std::string_view)>& on_message,
                          std::chrono::milliseconds max_duration) {
  const std::string text = body.dump();
  auto headers = json_headers();
  const std::string url = config_.endpoints[next_] + std::string(path);
  Transfer transfer;
  transfer.on_message = &on_message;
  transfer.stop = stop_;
  transfer.deadline = std::chrono::steady_clock::now() + max_duration;
  auto curl = handle_for(config_, url, text, headers.get(), transfer);
  if (!curl) return curl.error();
  const CURLcode code = curl_easy_perform(curl->get());
  long status = 0;
  curl_easy_getinfo(curl->get(), CURLINFO_RESPONSE_CODE, &status);
  if (transfer.ended_by_reader || (code == CURLE_ABORTED_BY_CALLBACK && !transfer.too_large)) return ok_status();
  if (code == CURLE_OK && status == 200) return make_error("etcd {}: the stream ended", url);
  next_ = (next_ + 1) % config_.endpoints.size();  // the next attempt goes elsewhere
  if (transfer.too_large) return make_error("etcd {}: a message larger than {} MiB", url, kMaxAnswerBytes >> 20);
  if (code != CURLE_OK) return make_error("etcd {}: {}", url, curl_easy_strerror(code));
  return make_error("etcd {}: HTTP {}: {}", url, status, short_text(transfer.body));
}

}  // namespace agentd::fleet
