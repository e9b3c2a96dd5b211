// Names, validation, the canonical spec string and the budget formulas of the codec options.
#include "mesl/codec/options.h"

#include <cmath>
#include <limits>
#include <map>
#include <sstream>

#include "mesl/error.h"

namespace mesl::codec {
namespace {

template <typename Enum>
struct NameTable {
  const char* what;  // for messages: "codec method", "--positions", ...
  std::vector<std::pair<std::string, Enum>> entries;

  Enum parse(const std::string& name) const {
    for (const auto& [n, e] : entries)
      if (n == name) return e;
    std::string names;
    for (const auto& [n, e] : entries) names += (names.empty() ? "" : ", ") + n;
    throw ConfigError(::mesl::detail::concat("unknown ", what, " '", name, "'; choose one of ", names));
  }
  std::string name(Enum value) const {
    for (const auto& [n, e] : entries)
      if (e == value) return n;
    return "?";
  }
};

const NameTable<Method> kMethods{"codec method",
                                 {{"identity", Method::identity},
                                  {"fp16", Method::fp16},
                                  {"bf16", Method::bf16},
                                  {"qu", Method::qu},
                                  {"sp", Method::sp},
                                  {"rt", Method::rt},
                                  {"ms", Method::ms}}};
const NameTable<Positions> kPositions{"positions", {{"bitmap", Positions::bitmap}, {"kv", Positions::kv}}};
const NameTable<Rounding> kRoundings{"rounding", {{"round", Rounding::round}, {"floor", Rounding::floor}}};
const NameTable<Sign> kSigns{"sign mode",
                             {{"nonneg", Sign::nonneg}, {"signed", Sign::signed_values}, {"auto", Sign::automatic}}};
const NameTable<Scope> kScopes{"scope", {{"batch", Scope::batch}, {"sample", Scope::sample}}};
const NameTable<Impl> kImpls{"implementation", {{"fast", Impl::fast}, {"reference", Impl::reference}}};

std::string format_double(double v) {
  std::ostringstream out;
  out.precision(std::numeric_limits<double>::max_digits10 - 2);  // 15 digits: 0.01 prints as 0.01
  out << v;
  return out.str();
}

double parse_double(const std::string& key, const std::string& text) {
  try {
    size_t used = 0;
    double v = std::stod(text, &used);
    if (used == text.size() && std::isfinite(v)) return v;
  } catch (const std::exception&) {
  }
  throw ConfigError(::mesl::detail::concat("codec setting ", key, "=", text, " is not a number"));
}

int64_t parse_int(const std::string& key, const std::string& text) {
  try {
    size_t used = 0;
    long long v = std::stoll(text, &used);
    if (used == text.size()) return v;
  } catch (const std::exception&) {
  }
  throw ConfigError(::mesl::detail::concat("codec setting ", key, "=", text, " is not an integer"));
}

}  // namespace

const std::vector<std::string>& method_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const auto& [n, e] : kMethods.entries) out.push_back(n);
    return out;
  }();
  return names;
}

Method parse_method(const std::string& name) { return kMethods.parse(name); }
std::string to_string(Method v) { return kMethods.name(v); }
Positions parse_positions(const std::string& name) { return kPositions.parse(name); }
std::string to_string(Positions v) { return kPositions.name(v); }
Rounding parse_rounding(const std::string& name) { return kRoundings.parse(name); }
std::string to_string(Rounding v) { return kRoundings.name(v); }
Sign parse_sign(const std::string& name) { return kSigns.parse(name); }
std::string to_string(Sign v) { return kSigns.name(v); }
Scope parse_scope(const std::string& name) { return kScopes.parse(name); }
std::string to_string(Scope v) { return kScopes.name(v); }
Impl parse_impl(const std::string& name) { return kImpls.parse(name); }
std::string to_string(Impl v) { return kImpls.name(v); }

bool is_sparse(Method m) { return m == Method::ms || m == Method::sp || m == Method::rt; }

int effective_bits(const CodecOptions& o) {
  switch (o.method()) {
    case Method::ms: return o.bits() == 0 ? 2 : o.bits();
    case Method::qu: return o.bits() == 0 ? 8 : o.bits();
    default: return 0;
  }
}

void validate(const CodecOptions& o) {
  const std::string m = to_string(o.method());
  if (o.method() == Method::ms) {
    MESL_CHECK(o.bits() >= 0 && o.bits() <= 8, ConfigError, "--bits ", o.bits(),
               " is out of range for ms: the mask width b must be 1..8");
  } else if (o.method() == Method::qu) {
    MESL_CHECK(o.bits() >= 0 && o.bits() <= 16, ConfigError, "--bits ", o.bits(),
               " is out of range for qu: the code width q must be 1..16");
  } else {
    MESL_CHECK(o.bits() == 0, ConfigError, "--bits is not a setting of ", m,
               "; it applies to ms (mask width) and qu (code width)");
  }
  if (is_sparse(o.method())) {
    MESL_CHECK(o.keep().has_value() != o.k().has_value(), ConfigError, m,
               " needs exactly one of --keep FRACTION or --k COUNT");
    if (o.keep()) {
      MESL_CHECK(*o.keep() >= 0.0 && *o.keep() <= 1.0, ConfigError, "--keep must be a fraction in [0, 1]; got ",
                 format_double(*o.keep()));
    }
    if (o.k()) MESL_CHECK(*o.k() >= 0, ConfigError, "--k must be >= 0; got ", *o.k());
  } else {
    MESL_CHECK(!o.keep() && !o.k(), ConfigError, "--keep and --k are settings of ms, sp and rt, not of ", m);
  }
  MESL_CHECK(o.alpha() >= 0.0 && o.alpha() <= 1.0, ConfigError, "--alpha must be in [0, 1]; got ",
             format_double(o.alpha()));
  if (o.method() == Method::ms && o.sign() == Sign::signed_values) {
    MESL_CHECK(effective_bits(o) >= 2, ConfigError,
               "signed ms spends one mask bit on the sign: use --bits 2 or more");
  }
  MESL_CHECK(o.threads() >= 0, ConfigError, "--threads must be >= 0; got ", o.threads());
}

std::string to_spec(const CodecOptions& o) {
  std::ostringstream out;
  out << to_string(o.method());
  std::vector<std::string> parts;
  if (is_sparse(o.method())) {
    if (o.keep()) parts.push_back("keep=" + format_double(*o.keep()));
    if (o.k()) parts.push_back("k=" + std::to_string(*o.k()));
  }
  if (o.method() == Method::ms || o.method() == Method::qu)
    parts.push_back("bits=" + std::to_string(effective_bits(o)));
  if (o.method() == Method::sp || o.method() == Method::rt) parts.push_back("positions=" + to_string(o.positions()));
  if (o.method() == Method::ms) {
    parts.push_back("rounding=" + to_string(o.rounding()));
    parts.push_back("sign=" + to_string(o.sign()));
  }
  if (is_sparse(o.method())) parts.push_back("scope=" + to_string(o.scope()));
  if (o.method() == Method::rt) {
    parts.push_back("alpha=" + format_double(o.alpha()));
    parts.push_back("seed=" + std::to_string(o.seed()));
  }
  for (size_t i = 0; i < parts.size(); ++i) out << (i == 0 ? ":" : ",") << parts[i];
  return out.str();
}

CodecOptions parse_spec(const std::string& spec) {
  const auto colon = spec.find(':');
  CodecOptions o(parse_method(spec.substr(0, colon)));
  if (colon != std::string::npos) {
    std::stringstream rest(spec.substr(colon + 1));
    std::string item;
    while (std::getline(rest, item, ',')) {
      if (item.empty()) continue;
      const auto eq = item.find('=');
      MESL_CHECK(eq != std::string::npos, ConfigError, "codec setting '", item, "' in '", spec,
                 "' must be key=value");
      const std::string key = item.substr(0, eq), value = item.substr(eq + 1);
      if (key == "keep") o.keep(parse_double(key, value));
      else if (key == "k") o.k(parse_int(key, value));
      else if (key == "bits") o.bits(static_cast<int>(parse_int(key, value)));
      else if (key == "positions") o.positions(parse_positions(value));
      else if (key == "rounding") o.rounding(parse_rounding(value));
      else if (key == "sign") o.sign(parse_sign(value));
      else if (key == "scope") o.scope(parse_scope(value));
      else if (key == "alpha") o.alpha(parse_double(key, value));
      else if (key == "seed") o.seed(static_cast<uint64_t>(parse_int(key, value)));
      else if (key == "threads") o.threads(static_cast<int>(parse_int(key, value)));
      else if (key == "impl") o.impl(parse_impl(value));
      else
        throw ConfigError(::mesl::detail::concat("unknown codec setting '", key, "' in '", spec,
                                         "'; known: keep, k, bits, positions, rounding, sign, scope, alpha, seed, "
                                         "threads, impl"));
    }
  }
  validate(o);
  return o;
}

int64_t kept_count(const CodecOptions& o, int64_t elements) {
  if (!is_sparse(o.method())) return 0;
  if (o.k()) {
    MESL_CHECK(*o.k() <= elements, CodecError, "--k ", *o.k(), " is larger than the ", elements,
               " elements it selects from", o.scope() == Scope::sample ? " (per sample row)" : "",
               "; use a smaller --k or --keep");
    return *o.k();
  }
  const double exact = *o.keep() * static_cast<double>(elements);
  const auto k = static_cast<int64_t>(std::floor(exact * (1.0 + 1e-12)));
  return std::min<int64_t>(std::max<int64_t>(k, 0), elements);
}

double nominal_bpe(const CodecOptions& o, const std::vector<int64_t>& shape) {
  int64_t d = 1;
  for (auto s : shape) d *= s;
  if (d == 0) return 0.0;
  const double dd = static_cast<double>(d);
  int64_t kept = 0;
  if (is_sparse(o.method())) {
    if (o.scope() == Scope::sample && !shape.empty())
      kept = shape[0] * kept_count(o, d / shape[0]);
    else
      kept = kept_count(o, d);
  }
  switch (o.method()) {
    case Method::identity: return 32.0;
    case Method::fp16:
    case Method::bf16: return 16.0;
    case Method::qu: return effective_bits(o) + 64.0 / dd;
    case Method::sp:
    case Method::rt:
      return o.positions() == Positions::kv ? 64.0 * kept / dd : 1.0 + 32.0 * kept / dd;
    case Method::ms: return effective_bits(o) + 32.0 * kept / dd;
  }
  return 0.0;
}

}  // namespace mesl::codec
