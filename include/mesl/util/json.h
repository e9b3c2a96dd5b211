#pragma once
// A small JSON writer for the one-line reports mesl prints and the configuration it stores (the project has no
// JSON library among its dependencies, and it only ever writes JSON).
//
//   mesl::Json j;
//   j.add("method", "ms").add("d", int64_t{16}).add("bpe", 2.32);
//   std::string line = j.str();   // {"method":"ms","d":16,"bpe":2.32}
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace mesl {

class Json {
 public:
  Json& add(const std::string& key, const std::string& value) { return raw(key, quote(value)); }
  Json& add(const std::string& key, const char* value) { return raw(key, quote(value)); }
  Json& add(const std::string& key, bool value) { return raw(key, value ? "true" : "false"); }
  Json& add(const std::string& key, int value) { return raw(key, std::to_string(value)); }
  Json& add(const std::string& key, int64_t value) { return raw(key, std::to_string(value)); }
  Json& add(const std::string& key, uint64_t value) { return raw(key, std::to_string(value)); }
  Json& add(const std::string& key, double value) { return raw(key, number(value)); }
  Json& add(const std::string& key, const std::vector<int64_t>& values) {
    std::string s = "[";
    for (size_t i = 0; i < values.size(); ++i) s += (i ? "," : "") + std::to_string(values[i]);
    return raw(key, s + "]");
  }
  Json& add(const std::string& key, const std::vector<std::string>& values) {
    std::string s = "[";
    for (size_t i = 0; i < values.size(); ++i) s += (i ? "," : "") + quote(values[i]);
    return raw(key, s + "]");
  }
  Json& add(const std::string& key, const Json& object) { return raw(key, object.str()); }
  // A value that is already JSON text.
  Json& raw(const std::string& key, const std::string& json) {
    body_ += (body_.empty() ? "" : ",") + quote(key) + ":" + json;
    return *this;
  }
  std::string str() const { return "{" + body_ + "}"; }

  static std::string quote(const std::string& s) {
    std::string out = "\"";
    for (unsigned char c : s) {
      switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\t': out += "\\t"; break;
        case '\r': out += "\\r"; break;
        default:
          if (c < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", c);
            out += buf;
          } else {
            out += static_cast<char>(c);
          }
      }
    }
    return out + "\"";
  }
  // Shortest round-tripping form for finite doubles; null for NaN and Inf (JSON has no such numbers).
  static std::string number(double v) {
    if (!std::isfinite(v)) return "null";
    char buf[32];
    for (int precision = 6; precision <= 17; ++precision) {
      std::snprintf(buf, sizeof buf, "%.*g", precision, v);
      if (std::strtod(buf, nullptr) == v) break;
    }
    return buf;
  }

 private:
  std::string body_;
};

}  // namespace mesl
