// An independent FIX 4.4 initiator for testing Junction's FIX acceptor (docs/FIX.md), built on
// QuickFIX/C++ (Debian's libquickfix-dev) so that the session layer under test is exercised by a
// third-party engine rather than by Junction's own code. Driven line by line over stdin; reports
// one JSON object per line on stdout. test/support/quickfix-peer.ts compiles and drives it.
//
//   peer --host H --port P --sender SENDER --target TARGET --key-file PEM --store DIR
//        [--dict FIX44.xml] [--heartbeat 5] [--reset-on-logon] [--auto-reconnect]
//        [--set Key=Value]...
//
// Build (the QuickFIX 1.15 headers use dynamic exception specifications, which C++17 removed,
// so the dialect is C++14):
//   g++ -O1 -std=gnu++14 -o peer peer.cpp -lquickfix -lssl -lcrypto -lpthread
//
// Commands (one per line, space-separated):
//   connect                      start the initiator (first time) or re-enable the session
//   disconnect [TEXT...]         normal Logout (with Text(58)=TEXT when given); stays disconnected
//   drop                         shutdown(2) the TCP socket, no Logout; store kept; stays
//                                disconnected until `connect`, which resumes the sequence numbers
//   order CLORDID ACCOUNT SYMBOL buy|sell QTY PRICE [gtc|ioc|fok|day] [market] [postonly] [EXTRA...]
//   cancel CLORDID ORIGCLORDID ACCOUNT SYMBOL buy|sell [EXTRA...]
//   replace CLORDID ORIGCLORDID ACCOUNT SYMBOL buy|sell QTY PRICE [EXTRA...]
//   masscancel CLORDID [SYMBOL] [EXTRA...]
//   md REQID SYMBOL [EXTRA...]
//       EXTRA: TAG=VALUE sets (or overrides) a field, -TAG removes one; PRICE `-` omits Price(44)
//   raw 35=X|TAG=VALUE|...       any message body; QuickFIX fills the header and trailer
//   seqnums                      {"event":"seqnums","nextSender":N,"nextTarget":M}
//   setseq SENDER|- TARGET|-     set the next sender / target sequence numbers in the store
//   logonopts [sig=ok|none|bad] [skew=SECONDS]   how the next Logons are signed / timed
//   status                       {"event":"status","loggedOn":..,"enabled":..,...}
//   quit                         Logout if logged on (2 s at most), stop, exit 0
//
// Events: ready, create, logon, logout {text, received, sentText, sent}, app, admin, sent, error,
// ack, seqnums, status, signed {data, sig, headerFilled} (each Logon's signed string), log {text}
// (QuickFIX's session events), in / out {raw} (exact wire strings, SOH kept and escaped as \u0001
// in JSON), bye.
// app/admin: {"event":"app","msgType":"8","seq":N,"possDup":false,"fields":{tag:value},
//             "groups":{"268":[{tag:value},...]},"header":{tag:value},"raw":"..."}
//   `fields` holds every body field outside repeating groups, the NoXXX count fields included;
//   each group entry holds its own fields; a group nested in an entry is flattened into the entry
//   as "COUNTTAG.INDEX.TAG" keys (INDEX from 0) besides its "COUNTTAG" count.
//   Groups are only recognised with a data dictionary (--dict); without one every field is flat
//   in `fields` (a repeated tag keeps its first value) and `raw` has the rest.

#include <quickfix/Application.h>
#include <quickfix/DataDictionary.h>
#include <quickfix/FileStore.h>
#include <quickfix/Log.h>
#include <quickfix/Message.h>
#include <quickfix/Session.h>
#include <quickfix/SessionSettings.h>
#include <quickfix/SocketInitiator.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <iostream>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

// ---------------------------------------------------------------------------------------------
// JSON output

std::mutex g_outMutex;

std::string jsonString(const std::string& s) {
  std::string out;
  out.reserve(s.size() + 2);
  out += '"';
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
  return out;
}

// A JSON object built field by field.
class Json {
 public:
  Json& str(const std::string& key, const std::string& value) { return raw(key, jsonString(value)); }
  Json& num(const std::string& key, long long value) { return raw(key, std::to_string(value)); }
  Json& boolean(const std::string& key, bool value) { return raw(key, value ? "true" : "false"); }
  Json& raw(const std::string& key, const std::string& json) {
    if (!m_body.empty()) m_body += ',';
    m_body += jsonString(key);
    m_body += ':';
    m_body += json;
    return *this;
  }
  std::string text() const { return "{" + m_body + "}"; }
  bool empty() const { return m_body.empty(); }

 private:
  std::string m_body;
};

void emit(const Json& json) {
  std::string line = json.text();
  line += '\n';
  std::lock_guard<std::mutex> lock(g_outMutex);
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fflush(stdout);
}

void emitEvent(const std::string& event) { emit(Json().str("event", event)); }

void emitError(const std::string& text) { emit(Json().str("event", "error").str("text", text)); }

// ---------------------------------------------------------------------------------------------
// Time

// UTC as FIX's UTCTimestamp with milliseconds: YYYYMMDD-HH:MM:SS.sss
std::string fixTimestamp(std::chrono::system_clock::time_point when) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(when.time_since_epoch()).count();
  std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%d-%H:%M:%S", &tm);
  char out[40];
  std::snprintf(out, sizeof out, "%s.%03d", buf, static_cast<int>(ms % 1000));
  return out;
}

std::string fixTimestampNow() { return fixTimestamp(std::chrono::system_clock::now()); }

// ---------------------------------------------------------------------------------------------
// Ed25519 signing (OpenSSL 3)

std::string opensslError() {
  std::string out;
  unsigned long e;
  while ((e = ERR_get_error()) != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "unknown OpenSSL error" : out;
}

class Signer {
 public:
  explicit Signer(const std::string& pemFile) {
    FILE* f = std::fopen(pemFile.c_str(), "r");
    if (!f) throw std::runtime_error("cannot open key file " + pemFile + ": " + std::strerror(errno));
    m_key = PEM_read_PrivateKey(f, nullptr, nullptr, nullptr);
    std::fclose(f);
    if (!m_key) throw std::runtime_error("cannot read the private key in " + pemFile + ": " + opensslError());
    if (EVP_PKEY_get_id(m_key) != EVP_PKEY_ED25519) {
      EVP_PKEY_free(m_key);
      m_key = nullptr;
      throw std::runtime_error("the key in " + pemFile + " is not an Ed25519 key");
    }
  }
  ~Signer() { if (m_key) EVP_PKEY_free(m_key); }
  Signer(const Signer&) = delete;
  Signer& operator=(const Signer&) = delete;

  // base64 of the Ed25519 signature of `data`
  std::string signBase64(const std::string& data) const {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    if (!ctx) throw std::runtime_error("EVP_MD_CTX_new failed");
    unsigned char sig[64];
    size_t sigLen = sizeof sig;
    bool ok = EVP_DigestSignInit(ctx, nullptr, nullptr, nullptr, m_key) == 1 &&
              EVP_DigestSign(ctx, sig, &sigLen, reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1;
    EVP_MD_CTX_free(ctx);
    if (!ok) throw std::runtime_error("Ed25519 signing failed: " + opensslError());
    unsigned char b64[4 * ((sizeof sig + 2) / 3) + 1];
    int n = EVP_EncodeBlock(b64, sig, static_cast<int>(sigLen));
    return std::string(reinterpret_cast<char*>(b64), static_cast<size_t>(n));
  }

 private:
  EVP_PKEY* m_key = nullptr;
};

// ---------------------------------------------------------------------------------------------
// Message → JSON

const char SOH = '\x01';

std::string fieldsJson(const FIX::FieldMap& map) {
  Json j;
  for (FIX::FieldMap::const_iterator i = map.begin(); i != map.end(); ++i)
    j.str(std::to_string(i->getTag()), i->getString());
  return j.text();
}

// Adds the fields of `map` and, flattened under `prefix`, the entries of its nested groups.
void flattenInto(Json& j, const FIX::FieldMap& map, const std::string& prefix) {
  for (FIX::FieldMap::const_iterator i = map.begin(); i != map.end(); ++i)
    j.str(prefix + std::to_string(i->getTag()), i->getString());
  for (FIX::FieldMap::g_const_iterator g = map.g_begin(); g != map.g_end(); ++g) {
    for (size_t k = 0; k < g->second.size(); ++k)
      flattenInto(j, *g->second[k], prefix + std::to_string(g->first) + "." + std::to_string(k) + ".");
  }
}

std::string groupsJson(const FIX::FieldMap& map) {
  Json groups;
  for (FIX::FieldMap::g_const_iterator g = map.g_begin(); g != map.g_end(); ++g) {
    std::string entries = "[";
    for (size_t k = 0; k < g->second.size(); ++k) {
      Json entry;
      flattenInto(entry, *g->second[k], "");
      if (k) entries += ',';
      entries += entry.text();
    }
    entries += ']';
    groups.raw(std::to_string(g->first), entries);
  }
  return groups.text();
}

Json messageJson(const std::string& event, const FIX::Message& message) {
  const FIX::Header& header = message.getHeader();
  std::string msgType = header.isSetField(FIX::FIELD::MsgType) ? header.getField(FIX::FIELD::MsgType) : "";
  long long seq = 0;
  if (header.isSetField(FIX::FIELD::MsgSeqNum)) seq = std::atoll(header.getField(FIX::FIELD::MsgSeqNum).c_str());
  bool possDup = header.isSetField(FIX::FIELD::PossDupFlag) && header.getField(FIX::FIELD::PossDupFlag) == "Y";
  Json j;
  j.str("event", event).str("msgType", msgType).num("seq", seq).boolean("possDup", possDup)
      .raw("fields", fieldsJson(message)).raw("groups", groupsJson(message)).raw("header", fieldsJson(header))
      .str("raw", message.toString());
  return j;
}

// ---------------------------------------------------------------------------------------------
// QuickFIX log → events

class EventLog : public FIX::Log {
 public:
  void clear() override {}
  void backup() override {}
  void onIncoming(const std::string& s) override { emit(Json().str("event", "in").str("raw", s)); }
  void onOutgoing(const std::string& s) override { emit(Json().str("event", "out").str("raw", s)); }
  void onEvent(const std::string& s) override { emit(Json().str("event", "log").str("text", s)); }
};

class EventLogFactory : public FIX::LogFactory {
 public:
  FIX::Log* create() override { return new EventLog(); }
  FIX::Log* create(const FIX::SessionID&) override { return new EventLog(); }
  void destroy(FIX::Log* log) override { delete log; }
};

// ---------------------------------------------------------------------------------------------
// Options

struct Options {
  std::string host = "127.0.0.1";
  int port = 0;
  std::string sender, target, keyFile, store, dict;
  int heartbeat = 5;
  bool resetOnLogon = false;
  bool autoReconnect = false;
  std::vector<std::string> extraSettings;  // Key=Value
};

[[noreturn]] void usage(const std::string& why) {
  std::cerr << "peer: " << why << "\n"
            << "usage: peer --host H --port P --sender S --target T --key-file PEM --store DIR "
               "[--dict FIX44.xml] [--heartbeat 5] [--reset-on-logon] [--auto-reconnect] [--set Key=Value]...\n";
  std::exit(2);
}

Options parseOptions(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage("missing value for " + a);
      return argv[++i];
    };
    if (a == "--host") o.host = value();
    else if (a == "--port") o.port = std::atoi(value().c_str());
    else if (a == "--sender") o.sender = value();
    else if (a == "--target") o.target = value();
    else if (a == "--key-file") o.keyFile = value();
    else if (a == "--store") o.store = value();
    else if (a == "--dict") o.dict = value();
    else if (a == "--heartbeat") o.heartbeat = std::atoi(value().c_str());
    else if (a == "--reset-on-logon") o.resetOnLogon = true;
    else if (a == "--auto-reconnect") o.autoReconnect = true;
    else if (a == "--set") o.extraSettings.push_back(value());
    else usage("unknown argument " + a);
  }
  if (o.port <= 0 || o.sender.empty() || o.target.empty() || o.keyFile.empty() || o.store.empty())
    usage("--port, --sender, --target, --key-file and --store are required");
  return o;
}

// ---------------------------------------------------------------------------------------------
// The application

class Peer : public FIX::Application {
 public:
  Peer(const Options& options, const Signer& signer) : m_options(options), m_signer(signer) {}

  void setSessionID(const FIX::SessionID& id) { m_sessionID = id; }
  FIX::Session* session() const { return FIX::Session::lookupSession(m_sessionID); }

  std::atomic<bool> wantConnected{false};

  // logonopts
  std::mutex optsMutex;
  std::string signatureMode = "ok";  // ok | none | bad
  long long skewSeconds = 0;

  void onCreate(const FIX::SessionID& id) override {
    emit(Json().str("event", "create").str("session", id.toString()));
  }

  void onLogon(const FIX::SessionID&) override {
    {
      std::lock_guard<std::mutex> lock(m_logoutMutex);
      m_logoutText.clear();
      m_logoutReceived = false;
      m_logoutSentText.clear();
      m_logoutSent = false;
    }
    emitEvent("logon");
  }

  // Called by QuickFIX whenever a connection that had sent or received a Logon goes away.
  void onLogout(const FIX::SessionID&) override {
    std::string text, sentText;
    bool received, sent;
    {
      std::lock_guard<std::mutex> lock(m_logoutMutex);
      text = m_logoutText;
      received = m_logoutReceived;
      sentText = m_logoutSentText;
      sent = m_logoutSent;
      m_logoutText.clear();
      m_logoutReceived = false;
      m_logoutSentText.clear();
      m_logoutSent = false;
    }
    // Stay disconnected until the next `connect` (unless --auto-reconnect and no disconnect/drop
    // was asked for). Runs on the initiator's thread inside Session::disconnect, before the
    // initiator can schedule a reconnection.
    if (!wantConnected.load() || !m_options.autoReconnect) {
      if (FIX::Session* s = session()) s->logout();
    }
    // text/received: the acceptor's Logout, if one came; sentText/sent: ours (QuickFIX's own
    // reasons, e.g. "MsgSeqNum too low, expecting 5 but received 3").
    emit(Json().str("event", "logout").str("text", text).boolean("received", received).str("sentText", sentText)
             .boolean("sent", sent));
  }

  void toAdmin(FIX::Message& message, const FIX::SessionID&) override {
    FIX::Header& header = message.getHeader();
    std::string msgType = header.isSetField(FIX::FIELD::MsgType) ? header.getField(FIX::FIELD::MsgType) : "";
    if (msgType == "5") {
      std::lock_guard<std::mutex> lock(m_logoutMutex);
      m_logoutSent = true;
      m_logoutSentText = message.isSetField(FIX::FIELD::Text) ? message.getField(FIX::FIELD::Text) : "";
    }
    if (msgType != "A") return;
    try {
      signLogon(message);
    } catch (std::exception& e) {
      emitError(std::string("signing the Logon: ") + e.what());
    }
  }

  void fromAdmin(const FIX::Message& message, const FIX::SessionID&)
      throw(FIX::FieldNotFound, FIX::IncorrectDataFormat, FIX::IncorrectTagValue, FIX::RejectLogon) override {
    const FIX::Header& header = message.getHeader();
    if (header.isSetField(FIX::FIELD::MsgType) && header.getField(FIX::FIELD::MsgType) == "5") {
      std::lock_guard<std::mutex> lock(m_logoutMutex);
      m_logoutReceived = true;
      m_logoutText = message.isSetField(FIX::FIELD::Text) ? message.getField(FIX::FIELD::Text) : "";
    }
    emit(messageJson("admin", message));
  }

  void toApp(FIX::Message&, const FIX::SessionID&) throw(FIX::DoNotSend) override {}

  void fromApp(const FIX::Message& message, const FIX::SessionID&)
      throw(FIX::FieldNotFound, FIX::IncorrectDataFormat, FIX::IncorrectTagValue, FIX::UnsupportedMessageType) override {
    emit(messageJson("app", message));
  }

 private:
  // Adds RawDataLength(95)/RawData(96): base64 Ed25519 signature of
  // SendingTime ^A A ^A MsgSeqNum ^A SenderCompID ^A TargetCompID, the values that go on the wire.
  // QuickFIX's Session::sendRaw fills the header (BeginString, CompIDs, MsgSeqNum, SendingTime)
  // before calling toAdmin and serialises the message right after it without touching
  // SendingTime again. The one change after toAdmin: a Logon carrying ResetSeqNumFlag=Y gets
  // MsgSeqNum 1 (the store is reset), so that is what is signed and set here.
  void signLogon(FIX::Message& message) {
    FIX::Header& header = message.getHeader();
    std::string mode;
    long long skew;
    {
      std::lock_guard<std::mutex> lock(optsMutex);
      mode = signatureMode;
      skew = skewSeconds;
    }
    bool filled = header.isSetField(FIX::FIELD::SendingTime) && header.isSetField(FIX::FIELD::MsgSeqNum);
    if (!header.isSetField(FIX::FIELD::SendingTime) || skew != 0)
      header.setField(FIX::FIELD::SendingTime,
                      fixTimestamp(std::chrono::system_clock::now() + std::chrono::seconds(skew)));
    if (message.isSetField(FIX::FIELD::ResetSeqNumFlag) && message.getField(FIX::FIELD::ResetSeqNumFlag) == "Y")
      header.setField(FIX::FIELD::MsgSeqNum, "1");
    if (!header.isSetField(FIX::FIELD::MsgSeqNum)) throw std::runtime_error("the Logon has no MsgSeqNum yet");
    std::string data = header.getField(FIX::FIELD::SendingTime) + SOH + "A" + SOH + header.getField(FIX::FIELD::MsgSeqNum) + SOH +
                       header.getField(FIX::FIELD::SenderCompID) + SOH + header.getField(FIX::FIELD::TargetCompID);
    if (mode == "none") {
      message.removeField(FIX::FIELD::RawDataLength);
      message.removeField(FIX::FIELD::RawData);
    } else {
      std::string signature = m_signer.signBase64(data);
      if (mode == "bad") signature[0] = signature[0] == 'A' ? 'B' : 'A';
      message.setField(FIX::FIELD::RawDataLength, std::to_string(signature.size()));
      message.setField(FIX::FIELD::RawData, signature);
    }
    // `headerFilled`: whether QuickFIX had set SendingTime and MsgSeqNum before calling toAdmin.
    emit(Json().str("event", "signed").str("data", data).str("sig", mode).boolean("headerFilled", filled));
  }

  const Options& m_options;
  const Signer& m_signer;
  FIX::SessionID m_sessionID;
  std::mutex m_logoutMutex;
  std::string m_logoutText;
  bool m_logoutReceived = false;
  std::string m_logoutSentText;
  bool m_logoutSent = false;
};

// ---------------------------------------------------------------------------------------------
// Commands

std::vector<std::string> splitWords(const std::string& line) {
  std::vector<std::string> out;
  std::istringstream in(line);
  std::string w;
  while (in >> w) out.push_back(w);
  return out;
}

bool isNumber(const std::string& s) {
  if (s.empty()) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

void setAnyField(FIX::Message& m, int tag, const std::string& value) {
  if (FIX::Message::isHeaderField(tag)) m.getHeader().setField(tag, value);
  else if (FIX::Message::isTrailerField(tag)) m.getTrailer().setField(tag, value);
  else m.setField(tag, value);
}

void removeAnyField(FIX::Message& m, int tag) {
  if (FIX::Message::isHeaderField(tag)) m.getHeader().removeField(tag);
  else if (FIX::Message::isTrailerField(tag)) m.getTrailer().removeField(tag);
  else m.removeField(tag);
}

// TAG=VALUE sets, -TAG removes. Returns false (with an error event) on anything else.
bool applyExtras(FIX::Message& m, const std::vector<std::string>& words, size_t from) {
  for (size_t i = from; i < words.size(); ++i) {
    const std::string& w = words[i];
    size_t eq = w.find('=');
    if (eq != std::string::npos && isNumber(w.substr(0, eq))) {
      setAnyField(m, std::atoi(w.substr(0, eq).c_str()), w.substr(eq + 1));
    } else if (w.size() > 1 && w[0] == '-' && isNumber(w.substr(1))) {
      removeAnyField(m, std::atoi(w.c_str() + 1));
    } else {
      emitError("unexpected argument " + w);
      return false;
    }
  }
  return true;
}

bool sideCode(const std::string& side, std::string& out) {
  if (side == "buy" || side == "1") { out = "1"; return true; }
  if (side == "sell" || side == "2") { out = "2"; return true; }
  emitError("side must be buy or sell, not " + side);
  return false;
}

FIX::Message newMessage(const std::string& msgType) {
  FIX::Message m;
  m.getHeader().setField(FIX::FIELD::MsgType, msgType);
  return m;
}

class Commands {
 public:
  Commands(const Options& options, Peer& peer, FIX::SocketInitiator& initiator, const FIX::SessionID& sessionID,
           const FIX::DataDictionary* dict)
      : m_options(options), m_peer(peer), m_initiator(initiator), m_sessionID(sessionID), m_dict(dict) {}

  // Returns false on quit.
  bool run(const std::string& line) {
    std::vector<std::string> w = splitWords(line);
    if (w.empty()) return true;
    const std::string& cmd = w[0];
    try {
      if (cmd == "connect") connect();
      else if (cmd == "disconnect") disconnect(line);
      else if (cmd == "drop") drop();
      else if (cmd == "order") order(w);
      else if (cmd == "cancel") cancel(w);
      else if (cmd == "replace") replace(w);
      else if (cmd == "masscancel") massCancel(w);
      else if (cmd == "md") marketData(w);
      else if (cmd == "raw") raw(line);
      else if (cmd == "seqnums") seqnums();
      else if (cmd == "setseq") setseq(w);
      else if (cmd == "logonopts") logonopts(w);
      else if (cmd == "status") status();
      else if (cmd == "quit") { quit(); return false; }
      else emitError("unknown command " + cmd);
    } catch (std::exception& e) {
      emitError(cmd + ": " + e.what());
    }
    return true;
  }

  void quit() {
    m_peer.wantConnected = false;
    if (m_started) {
      FIX::Session* s = session();
      if (s && s->isLoggedOn()) {
        s->logout();
        for (int i = 0; i < 40 && s->isLoggedOn(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      m_initiator.stop(true);
    }
    emitEvent("bye");
  }

 private:
  FIX::Session* session() {
    FIX::Session* s = FIX::Session::lookupSession(m_sessionID);
    if (!s) throw std::runtime_error("no session " + m_sessionID.toString());
    return s;
  }

  static Json ack(const std::string& cmd) { return Json().str("event", "ack").str("cmd", cmd); }

  void connect() {
    m_peer.wantConnected = true;
    session()->logon();  // enable: the initiator (re)connects within ReconnectInterval
    if (!m_started) {
      m_initiator.start();
      m_started = true;
    }
    emit(ack("connect"));
  }

  void disconnect(const std::string& line) {
    std::string text;
    size_t at = line.find("disconnect");
    if (at != std::string::npos) {
      text = line.substr(at + std::strlen("disconnect"));
      size_t b = text.find_first_not_of(' ');
      text = b == std::string::npos ? "" : text.substr(b);
    }
    m_peer.wantConnected = false;
    session()->logout(text);  // disabled: Logout goes out on the next timer tick, then no reconnection
    emit(ack("disconnect"));
  }

  // The initiator's own thread owns the socket; shutdown(2) from here is the thread-safe way to cut
  // it: QuickFIX then reads EOF and disconnects without a Logout.
  void drop() {
    m_peer.wantConnected = false;
    int found = 0;
    DIR* dir = opendir("/proc/self/fd");
    if (dir) {
      while (struct dirent* e = readdir(dir)) {
        if (!isNumber(e->d_name)) continue;
        int fd = std::atoi(e->d_name);
        struct stat st;
        if (fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode)) continue;
        struct sockaddr_storage peer;
        socklen_t len = sizeof peer;
        if (getpeername(fd, reinterpret_cast<struct sockaddr*>(&peer), &len) != 0) continue;
        int port = 0;
        if (peer.ss_family == AF_INET) port = ntohs(reinterpret_cast<struct sockaddr_in*>(&peer)->sin_port);
        else if (peer.ss_family == AF_INET6) port = ntohs(reinterpret_cast<struct sockaddr_in6*>(&peer)->sin6_port);
        if (port != m_options.port) continue;
        ::shutdown(fd, SHUT_RDWR);
        ++found;
      }
      closedir(dir);
    }
    // Not connected (or no Logon exchanged yet): disable so that it stays down until `connect`.
    if (!found) session()->logout();
    emit(ack("drop").num("sockets", found));
  }

  void send(FIX::Message& m) {
    std::string msgType = m.getHeader().getField(FIX::FIELD::MsgType);
    std::string clOrdId = m.isSetField(FIX::FIELD::ClOrdID) ? m.getField(FIX::FIELD::ClOrdID) : "";
    bool ok = FIX::Session::sendToTarget(m, m_sessionID);
    long long seq = 0;
    if (m.getHeader().isSetField(FIX::FIELD::MsgSeqNum)) seq = std::atoll(m.getHeader().getField(FIX::FIELD::MsgSeqNum).c_str());
    bool loggedOn = session()->isLoggedOn();
    if (!ok) {
      emit(Json().str("event", "error").str("text", "sendToTarget returned false").str("msgType", msgType)
               .str("clOrdId", clOrdId).num("seq", seq).boolean("loggedOn", loggedOn));
      return;
    }
    // Not logged on: QuickFIX stored it under `seq` but did not write it; it goes out (PossDupFlag=Y)
    // when the acceptor asks for it with a ResendRequest after the next Logon.
    emit(Json().str("event", "sent").str("msgType", msgType).str("clOrdId", clOrdId).num("seq", seq)
             .boolean("loggedOn", loggedOn));
  }

  void order(const std::vector<std::string>& w) {
    if (w.size() < 7) return emitError("usage: order CLORDID ACCOUNT SYMBOL buy|sell QTY PRICE [gtc|ioc|fok|day] [market] [postonly] [EXTRA...]");
    std::string side;
    if (!sideCode(w[4], side)) return;
    FIX::Message m = newMessage("D");
    m.setField(FIX::FIELD::ClOrdID, w[1]);
    m.setField(FIX::FIELD::Account, w[2]);
    m.setField(FIX::FIELD::Symbol, w[3]);
    m.setField(FIX::FIELD::Side, side);
    m.setField(FIX::FIELD::OrderQty, w[5]);
    if (w[6] != "-") m.setField(FIX::FIELD::Price, w[6]);
    m.setField(FIX::FIELD::OrdType, "2");
    size_t i = 7;
    for (; i < w.size(); ++i) {
      const std::string& t = w[i];
      if (t == "gtc") m.setField(FIX::FIELD::TimeInForce, "1");
      else if (t == "day") m.setField(FIX::FIELD::TimeInForce, "0");
      else if (t == "ioc") m.setField(FIX::FIELD::TimeInForce, "3");
      else if (t == "fok") m.setField(FIX::FIELD::TimeInForce, "4");
      else if (t == "market") m.setField(FIX::FIELD::OrdType, "1");
      else if (t == "limit") m.setField(FIX::FIELD::OrdType, "2");
      else if (t == "postonly") m.setField(FIX::FIELD::ExecInst, "6");
      else break;
    }
    m.setField(FIX::FIELD::TransactTime, fixTimestampNow());
    if (!applyExtras(m, w, i)) return;
    send(m);
  }

  void cancel(const std::vector<std::string>& w) {
    if (w.size() < 6) return emitError("usage: cancel CLORDID ORIGCLORDID ACCOUNT SYMBOL buy|sell [EXTRA...]");
    std::string side;
    if (!sideCode(w[5], side)) return;
    FIX::Message m = newMessage("F");
    m.setField(FIX::FIELD::ClOrdID, w[1]);
    m.setField(FIX::FIELD::OrigClOrdID, w[2]);
    m.setField(FIX::FIELD::Account, w[3]);
    m.setField(FIX::FIELD::Symbol, w[4]);
    m.setField(FIX::FIELD::Side, side);
    m.setField(FIX::FIELD::TransactTime, fixTimestampNow());
    if (!applyExtras(m, w, 6)) return;
    send(m);
  }

  void replace(const std::vector<std::string>& w) {
    if (w.size() < 8) return emitError("usage: replace CLORDID ORIGCLORDID ACCOUNT SYMBOL buy|sell QTY PRICE [EXTRA...]");
    std::string side;
    if (!sideCode(w[5], side)) return;
    FIX::Message m = newMessage("G");
    m.setField(FIX::FIELD::ClOrdID, w[1]);
    m.setField(FIX::FIELD::OrigClOrdID, w[2]);
    m.setField(FIX::FIELD::Account, w[3]);
    m.setField(FIX::FIELD::Symbol, w[4]);
    m.setField(FIX::FIELD::Side, side);
    m.setField(FIX::FIELD::OrderQty, w[6]);
    if (w[7] != "-") m.setField(FIX::FIELD::Price, w[7]);
    m.setField(FIX::FIELD::OrdType, "2");
    m.setField(FIX::FIELD::TransactTime, fixTimestampNow());
    if (!applyExtras(m, w, 8)) return;
    send(m);
  }

  void massCancel(const std::vector<std::string>& w) {
    if (w.size() < 2) return emitError("usage: masscancel CLORDID [SYMBOL] [EXTRA...]");
    FIX::Message m = newMessage("q");
    m.setField(FIX::FIELD::ClOrdID, w[1]);
    size_t i = 2;
    bool extra0 = w.size() > 2 && ((w[2].find('=') != std::string::npos && isNumber(w[2].substr(0, w[2].find('=')))) ||
                                   (w[2].size() > 1 && w[2][0] == '-' && isNumber(w[2].substr(1))));
    if (w.size() > 2 && !extra0) {
      m.setField(FIX::FIELD::MassCancelRequestType, "1");
      m.setField(FIX::FIELD::Symbol, w[2]);
      i = 3;
    } else {
      m.setField(FIX::FIELD::MassCancelRequestType, "7");
    }
    m.setField(FIX::FIELD::TransactTime, fixTimestampNow());
    if (!applyExtras(m, w, i)) return;
    send(m);
  }

  void marketData(const std::vector<std::string>& w) {
    if (w.size() < 3) return emitError("usage: md REQID SYMBOL [EXTRA...]");
    FIX::Message m = newMessage("V");
    m.setField(FIX::FIELD::MDReqID, w[1]);
    m.setField(FIX::FIELD::SubscriptionRequestType, "1");
    m.setField(FIX::FIELD::MarketDepth, "0");
    m.setField(FIX::FIELD::MDUpdateType, "1");
    for (const char* type : {"0", "1", "2"}) {
      FIX::Group g(FIX::FIELD::NoMDEntryTypes, FIX::FIELD::MDEntryType);
      g.setField(FIX::FIELD::MDEntryType, type);
      m.addGroup(g);
    }
    FIX::Group sym(FIX::FIELD::NoRelatedSym, FIX::FIELD::Symbol);
    sym.setField(FIX::FIELD::Symbol, w[2]);
    m.addGroup(sym);
    if (!applyExtras(m, w, 3)) return;
    send(m);
  }

  // raw 35=X|TAG=VALUE|...: parsed with the data dictionary (when there is one) so that groups
  // are recognised, then sent through the session (header and trailer filled by QuickFIX).
  void raw(const std::string& line) {
    size_t at = line.find("raw");
    std::string text = line.substr(at + 3);
    size_t b = text.find_first_not_of(' ');
    if (b == std::string::npos) return emitError("usage: raw 35=X|TAG=VALUE|...");
    text = text.substr(b);
    while (!text.empty() && (text.back() == ' ' || text.back() == '|' || text.back() == '\r')) text.pop_back();
    std::string body;
    std::string msgType;
    std::stringstream parts(text);
    std::string part;
    while (std::getline(parts, part, '|')) {
      if (part.empty()) continue;
      size_t eq = part.find('=');
      if (eq == std::string::npos || !isNumber(part.substr(0, eq))) return emitError("raw: not TAG=VALUE: " + part);
      std::string tag = part.substr(0, eq);
      if (tag == "8" || tag == "9" || tag == "10") continue;
      if (tag == "35") { msgType = part.substr(eq + 1); continue; }
      body += part;
      body += SOH;
    }
    if (msgType.empty()) return emitError("raw: 35=MsgType is required");
    std::string wire = std::string("8=FIX.4.4") + SOH + "9=0" + SOH + "35=" + msgType + SOH + body + "10=000" + SOH;
    FIX::Message m;
    m.setString(wire, false, m_dict, m_dict);
    send(m);
  }

  void seqnums() {
    FIX::Session* s = session();
    emit(Json().str("event", "seqnums").num("nextSender", s->getExpectedSenderNum()).num("nextTarget", s->getExpectedTargetNum()));
  }

  void setseq(const std::vector<std::string>& w) {
    if (w.size() != 3) return emitError("usage: setseq SENDER|- TARGET|-");
    FIX::Session* s = session();
    if (w[1] != "-") s->setNextSenderMsgSeqNum(std::atoi(w[1].c_str()));
    if (w[2] != "-") s->setNextTargetMsgSeqNum(std::atoi(w[2].c_str()));
    seqnums();
  }

  void logonopts(const std::vector<std::string>& w) {
    std::lock_guard<std::mutex> lock(m_peer.optsMutex);
    for (size_t i = 1; i < w.size(); ++i) {
      if (w[i] == "sig=ok" || w[i] == "sig=none" || w[i] == "sig=bad") m_peer.signatureMode = w[i].substr(4);
      else if (w[i].rfind("skew=", 0) == 0) m_peer.skewSeconds = std::atoll(w[i].c_str() + 5);
      else { emitError("logonopts: expected sig=ok|none|bad or skew=SECONDS, not " + w[i]); return; }
    }
    emit(ack("logonopts").str("sig", m_peer.signatureMode).num("skew", m_peer.skewSeconds));
  }

  void status() {
    FIX::Session* s = session();
    emit(Json().str("event", "status").boolean("loggedOn", s->isLoggedOn()).boolean("enabled", s->isEnabled())
             .boolean("sentLogon", s->sentLogon()).boolean("receivedLogon", s->receivedLogon())
             .boolean("started", m_started).num("nextSender", s->getExpectedSenderNum())
             .num("nextTarget", s->getExpectedTargetNum()));
  }

  const Options& m_options;
  Peer& m_peer;
  FIX::SocketInitiator& m_initiator;
  FIX::SessionID m_sessionID;
  const FIX::DataDictionary* m_dict;
  bool m_started = false;
};

std::string buildSettings(const Options& o) {
  std::ostringstream s;
  s << "[DEFAULT]\n"
    << "ConnectionType=initiator\n"
    << "ReconnectInterval=1\n"
    << "FileStorePath=" << o.store << "\n"
    << "StartTime=00:00:00\n"
    << "EndTime=00:00:00\n"
    << "NonStopSession=Y\n"
    << "PersistMessages=Y\n"
    << "ResetOnLogon=" << (o.resetOnLogon ? "Y" : "N") << "\n"
    << "ResetOnLogout=N\n"
    << "ResetOnDisconnect=N\n"
    << "ValidateUserDefinedFields=N\n";
  if (o.dict.empty()) s << "UseDataDictionary=N\n";
  else s << "UseDataDictionary=Y\nDataDictionary=" << o.dict << "\n";
  s << "\n[SESSION]\n"
    << "BeginString=FIX.4.4\n"
    << "SenderCompID=" << o.sender << "\n"
    << "TargetCompID=" << o.target << "\n"
    << "SocketConnectHost=" << o.host << "\n"
    << "SocketConnectPort=" << o.port << "\n"
    << "HeartBtInt=" << o.heartbeat << "\n";
  for (const std::string& kv : o.extraSettings) s << kv << "\n";
  return s.str();
}

}  // namespace

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  Options options = parseOptions(argc, argv);
  try {
    Signer signer(options.keyFile);
    std::unique_ptr<FIX::DataDictionary> dict;
    if (!options.dict.empty()) dict.reset(new FIX::DataDictionary(options.dict));

    std::istringstream cfg(buildSettings(options));
    FIX::SessionSettings settings(cfg);
    FIX::SessionID sessionID("FIX.4.4", options.sender, options.target);

    Peer peer(options, signer);
    peer.setSessionID(sessionID);
    FIX::FileStoreFactory storeFactory(settings);
    EventLogFactory logFactory;
    // The constructor creates the session (onCreate) but connects nothing before start().
    FIX::SocketInitiator initiator(peer, storeFactory, settings, logFactory);
    Commands commands(options, peer, initiator, sessionID, dict.get());

    emitEvent("ready");
    std::string line;
    bool running = true;
    while (running && std::getline(std::cin, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      running = commands.run(line);
    }
    if (running) commands.quit();  // stdin closed
  } catch (std::exception& e) {
    emitError(std::string("fatal: ") + e.what());
    std::fflush(stdout);
    return 1;
  }
  std::fflush(stdout);
  return 0;
}
