// Attributes of every kind on files and groups: writing, replacing, reading back after reopening.
#include <doctest/doctest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "mesl/h5/h5.h"
#include "../common/temp_dir.h"

namespace {

using mesl::h5::File;
using mesl::h5::H5Error;
using mesl::h5::Mode;

const std::string kLongJson = [] {
  std::string json = "{";
  for (int i = 0; i < 6000; ++i) json += "\"key" + std::to_string(i) + "\": " + std::to_string(i) + ", ";
  return json + "\"end\": true}";
}();

}  // namespace

TEST_CASE("attributes of every kind round-trip on the file and on groups") {
  mesl::testing::TempDir dir;
  const std::string path = dir.file("attributes.h5");
  const std::vector<std::vector<int64_t>> vectors = {
      {}, {64}, {64, 16, 16}, {1, -2, 3, -4, 5, -6, std::numeric_limits<int64_t>::max()}};
  {
    const File file(path, Mode::create_truncate);
    const auto group = file.create_group("runs/first");
    for (const mesl::h5::Node* node : {static_cast<const mesl::h5::Node*>(&file),
                                       static_cast<const mesl::h5::Node*>(&group)}) {
      node->set_attribute("method", std::string("ms"));
      node->set_attribute("empty", std::string());
      node->set_attribute("unicode", std::string("μ-σ ✓ 日本"));
      node->set_attribute("config", kLongJson);  // longer than the 64 KiB an object header holds
      node->set_attribute("seed", int64_t{-42});
      node->set_attribute("big", std::numeric_limits<int64_t>::min());
      node->set_attribute("bpe", 2.32);
      node->set_attribute("tiny", 1e-300);
      for (size_t i = 0; i < vectors.size(); ++i) node->set_attribute("v" + std::to_string(i), vectors[i]);
      node->set_attribute("名前", std::string("value of a unicode name"));
    }
  }
  const File file(path, Mode::read_only);
  const auto group = file.group("runs").group("first");
  CHECK(group.name() == "/runs/first");
  for (const mesl::h5::Node* node : {static_cast<const mesl::h5::Node*>(&file),
                                     static_cast<const mesl::h5::Node*>(&group)}) {
    CAPTURE(node->name());
    CHECK(node->string_attribute("method") == "ms");
    CHECK(node->string_attribute("empty").empty());
    CHECK(node->string_attribute("unicode") == "μ-σ ✓ 日本");
    CHECK(node->string_attribute("config") == kLongJson);
    CHECK(node->int_attribute("seed") == -42);
    CHECK(node->int_attribute("big") == std::numeric_limits<int64_t>::min());
    CHECK(node->double_attribute("bpe") == 2.32);
    CHECK(node->double_attribute("tiny") == 1e-300);
    CHECK(node->double_attribute("seed") == -42.0);  // integers convert to doubles
    for (size_t i = 0; i < vectors.size(); ++i) CHECK(node->int_vector_attribute("v" + std::to_string(i)) == vectors[i]);
    CHECK(node->int_vector_attribute("seed") == std::vector<int64_t>{-42});
    CHECK(node->string_attribute("名前") == "value of a unicode name");
    CHECK(node->has_attribute("method"));
    CHECK_FALSE(node->has_attribute("absent"));
  }
}

TEST_CASE("replacing an attribute works across kinds and survives reopening") {
  mesl::testing::TempDir dir;
  const std::string path = dir.file("replace.h5");
  {
    const File file(path, Mode::create_truncate);
    file.set_attribute("x", std::string("first"));
    file.set_attribute("x", std::string("second, longer than the first"));
    CHECK(file.string_attribute("x") == "second, longer than the first");
    file.set_attribute("x", int64_t{7});
    CHECK(file.int_attribute("x") == 7);
    file.set_attribute("x", std::vector<int64_t>{1, 2, 3});
    CHECK(file.int_vector_attribute("x") == std::vector<int64_t>{1, 2, 3});
    file.set_attribute("x", 0.5);
  }
  {
    const File file(path, Mode::read_write);
    CHECK(file.double_attribute("x") == 0.5);
    file.set_attribute("x", std::string("last"));
  }
  const File file(path, Mode::read_only);
  CHECK(file.string_attribute("x") == "last");
}

TEST_CASE("reading an attribute as the wrong kind, or a missing one, names the attribute and the file") {
  mesl::testing::TempDir dir;
  const std::string path = dir.file("kinds.h5");
  const File file(path, Mode::create_truncate);
  file.set_attribute("text", std::string("abc"));
  file.set_attribute("number", 1.5);
  file.set_attribute("numbers", std::vector<int64_t>{1, 2});
  const auto message_of = [](auto&& call) {
    try {
      call();
    } catch (const H5Error& error) {
      return std::string(error.what());
    }
    return std::string("no error");
  };
  const std::string missing = message_of([&] { return file.string_attribute("absent"); });
  CHECK(missing.find("'absent'") != std::string::npos);
  CHECK(missing.find(path) != std::string::npos);
  CHECK(missing.find("H5Aopen") != std::string::npos);
  CHECK(missing.find('\n') == std::string::npos);
  CHECK(message_of([&] { return file.int_attribute("text"); }).find("not an integer") != std::string::npos);
  CHECK(message_of([&] { return file.int_attribute("number"); }).find("not an integer") != std::string::npos);
  CHECK(message_of([&] { return file.double_attribute("text"); }).find("not a numeric") != std::string::npos);
  CHECK(message_of([&] { return file.string_attribute("number"); }).find("not strings") != std::string::npos);
  CHECK(message_of([&] { return file.int_attribute("numbers"); }).find("holds 2 values") != std::string::npos);
  CHECK_THROWS_AS(file.set_attribute("nul", std::string("a\0b", 3)), H5Error);
  CHECK_FALSE(file.has_attribute("nul"));
}
