// The root attributes of a metrics file.
#include "attributes.h"

#include <cstdio>
#include <ctime>
#include <set>
#include <string>
#include <vector>

#include "mesl/version.h"

namespace mesl::metrics::detail {
namespace {

// The attributes every metrics file has; the maps in RunAttributes add to them.
const std::set<std::string>& fixed_names() {
  static const std::set<std::string> names = {"config", "version", "cut_shape", "start_time", "world_size", "hosts"};
  return names;
}

void append_json_string(std::string& out, const std::string& value) {
  out += '"';
  for (const char c : value) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '"') {
      out += "\\\"";
    } else if (c == '\\') {
      out += "\\\\";
    } else if (byte < 0x20) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\u%04x", static_cast<unsigned>(byte));
      out += escaped;
    } else {
      out += c;  // UTF-8 passes through unchanged, which JSON allows
    }
  }
  out += '"';
}

}  // namespace

void check_attribute_names(const RunAttributes& attributes) {
  std::set<std::string> seen = fixed_names();
  auto claim = [&seen](const std::string& name, const char* map) {
    if (name.empty()) throw MetricsError(std::string("RunAttributes::") + map + " holds an empty attribute name");
    if (!seen.insert(name).second) {
      throw MetricsError(std::string("RunAttributes::") + map + " entry '" + name +
                         "' clashes with another root attribute of that name; rename it");
    }
  };
  for (const auto& entry : attributes.strings) claim(entry.first, "strings");
  for (const auto& entry : attributes.ints) claim(entry.first, "ints");
  for (const auto& entry : attributes.doubles) claim(entry.first, "doubles");
}

void write_run_attributes(const h5::Node& root, const RunAttributes& attributes) {
  root.set_attribute("config", attributes.config_json);
  root.set_attribute("version", std::string(mesl::kVersion));
  root.set_attribute("cut_shape", attributes.cut_shape);
  root.set_attribute("start_time", utc_now_iso8601());
  root.set_attribute("world_size", attributes.world_size);
  root.set_attribute("hosts", json_string_list(attributes.hosts));
  for (const auto& [name, value] : attributes.strings) root.set_attribute(name, value);
  for (const auto& [name, value] : attributes.ints) root.set_attribute(name, value);
  for (const auto& [name, value] : attributes.doubles) root.set_attribute(name, value);
}

std::string json_string_list(const std::vector<std::string>& values) {
  std::string out = "[";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += ", ";
    append_json_string(out, values[i]);
  }
  return out + "]";
}

std::string utc_now_iso8601() {
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

}  // namespace mesl::metrics::detail
