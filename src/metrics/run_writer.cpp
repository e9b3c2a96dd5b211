// The metrics file of one run: creating it, resuming it, appending rows.
//
// Crash safety without SWMR: rows are kept in memory and reach HDF5 only inside flush(), immediately followed by
// H5Fflush. Between flushes the library has nothing dirty in its caches, so a process killed at any other moment
// leaves the file exactly as the last flush wrote it. /messages is rewritten at flush time for the same reason.
#include "mesl/metrics/run_writer.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "attributes.h"
#include "rows.h"

namespace mesl::metrics {
namespace {

// A chunk is the unit HDF5 reads and extends: ~8 KB per column for steps, and a small one for the few epochs.
constexpr int64_t kStepChunkRows = 1024;
constexpr int64_t kEpochChunkRows = 64;

// Opens `path`, turning a failure into a MetricsError for the user: "PREFIX PATH: REASON; FIX".
h5::File open_file(const std::string& path, h5::Mode mode, const std::string& prefix, const std::string& fix) {
  try {
    return h5::File(path, mode);
  } catch (const h5::H5Error& error) {
    const std::string reason = error.reason().empty() ? error.what() : error.reason();
    throw MetricsError(prefix + " " + path + ": " + reason + "; " + fix);
  }
}

void write_message_totals(const h5::Node& root, const std::vector<MessageTotal>& totals) {
  const h5::Group messages = root.has_child("messages") ? root.group("messages") : root.create_group("messages");
  std::vector<std::string> types;
  std::vector<int64_t> counts, bytes, header_bytes;
  for (const MessageTotal& total : totals) {
    types.push_back(total.type);
    counts.push_back(total.count);
    bytes.push_back(total.bytes);
    header_bytes.push_back(total.header_bytes);
  }
  messages.write_strings("type", types);
  messages.write_tensor("count", at::tensor(counts, at::kLong));
  messages.write_tensor("bytes", at::tensor(bytes, at::kLong));
  messages.write_tensor("header_bytes", at::tensor(header_bytes, at::kLong));
}

void write_clients(const h5::Node& root, const std::vector<ClientRow>& rows) {
  const h5::Group group = root.has_child("clients") ? root.group("clients") : root.create_group("clients");
  const auto& columns = client_columns();
  for (size_t i = 0; i < columns.size(); ++i)
    group.write_tensor(columns[i].name, at::tensor(detail::client_column(rows, i), at::kLong));
}

void write_ranks(const h5::Node& root, const std::vector<RankRow>& rows) {
  const h5::Group group = root.has_child("ranks") ? root.group("ranks") : root.create_group("ranks");
  const auto& columns = rank_columns();
  for (size_t i = 0; i < columns.size(); ++i) {
    const at::Tensor values = at::tensor(detail::rank_column(rows, i), at::kDouble);
    group.write_tensor(columns[i].name, columns[i].type == h5::ColumnType::int64 ? values.to(at::kLong) : values);
  }
}

}  // namespace

struct RunWriter::Impl {
  Impl(std::string file_path, h5::File opened)
      : path(std::move(file_path)),
        file(std::move(opened)),
        steps(file, "steps", step_columns(), kStepChunkRows),
        epochs(file, "epochs", epoch_columns(), kEpochChunkRows),
        participants(file, "participants", participant_columns(), kStepChunkRows) {}

  // The last flush of a run that ends without calling flush(), or that unwinds on an exception: nothing may
  // escape a destructor, and a metrics error must not hide the error that is unwinding.
  ~Impl() {
    try {
      flush();
    } catch (...) {
    }
  }

  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  void flush() {
    if (totals_pending) {
      write_message_totals(file, totals);
      totals_pending = false;
    }
    if (clients_pending) {
      write_clients(file, clients);
      clients_pending = false;
    }
    if (ranks_pending) {
      write_ranks(file, ranks);
      ranks_pending = false;
    }
    participants.flush();
    steps.flush();
    epochs.flush();  // both flush the file; the second costs little
  }

  std::string path;
  h5::File file;
  h5::Table steps;
  h5::Table epochs;
  h5::Table participants;
  std::vector<MessageTotal> totals;
  bool totals_pending = false;
  std::vector<ClientRow> clients;
  bool clients_pending = false;
  std::vector<RankRow> ranks;
  bool ranks_pending = false;
};

RunWriter::RunWriter(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

RunWriter RunWriter::create(const std::string& path, const RunAttributes& attributes) {
  detail::check_attribute_names(attributes);  // before the file is touched
  h5::File file = open_file(path, h5::Mode::create_truncate, "cannot write metrics file", "choose a writable --output");
  detail::write_run_attributes(file, attributes);
  auto impl = std::make_shared<Impl>(path, std::move(file));
  impl->totals_pending = true;  // an empty /messages, so that the layout is complete from the first flush
  impl->flush();
  return RunWriter(std::move(impl));
}

std::string RunWriter::stored_config(const std::string& path) {
  const h5::File file = open_file(path, h5::Mode::read_only, "cannot read metrics file", "check --output");
  if (!file.has_attribute("config"))
    throw MetricsError("metrics file " + path + " has no 'config' attribute, so it is not a mesl metrics file");
  return file.string_attribute("config");
}

RunWriter RunWriter::resume(const std::string& path, int64_t steps_kept, int64_t epochs_kept,
                            int64_t participants_kept) {
  if (steps_kept < 0 || epochs_kept < 0 || participants_kept < 0) {
    throw MetricsError("cannot resume metrics file " + path + " at " + std::to_string(steps_kept) + " steps and " +
                       std::to_string(epochs_kept) + " epochs; the counts must not be negative");
  }
  h5::File file = open_file(path, h5::Mode::read_write, "cannot reopen metrics file",
                            "check --output, or start the run afresh without --resume");
  for (const char* table : {"steps", "epochs"}) {
    if (!file.has_child(table)) {
      throw MetricsError("metrics file " + path + " has no /" + table +
                         " table, so it is not a mesl metrics file; check --output, or start afresh without --resume");
    }
  }
  std::shared_ptr<Impl> impl;
  try {
    impl = std::make_shared<Impl>(path, std::move(file));  // checks the tables' columns
  } catch (const h5::H5Error& error) {
    throw MetricsError("metrics file " + path + " cannot be continued: " + error.reason() +
                       "; check --output, or start afresh without --resume");
  }
  const auto too_short = [&path](const char* what, int64_t held, int64_t kept) {
    throw MetricsError("metrics file " + path + " holds " + std::to_string(held) + " " + what +
                       " but the checkpoint covers " + std::to_string(kept) +
                       "; the file belongs to another run: check --output and --checkpoint-dir");
  };
  if (impl->steps.size() < steps_kept) too_short("steps", impl->steps.size(), steps_kept);
  if (impl->epochs.size() < epochs_kept) too_short("epochs", impl->epochs.size(), epochs_kept);
  if (impl->participants.size() < participants_kept)
    too_short("participant rows", impl->participants.size(), participants_kept);
  impl->steps.truncate(steps_kept);
  impl->epochs.truncate(epochs_kept);
  impl->participants.truncate(participants_kept);
  return RunWriter(std::move(impl));
}

void RunWriter::append_step(const StepRow& row) { impl_->steps.append(detail::to_row(row)); }

void RunWriter::append_epoch(const EpochRow& row) {
  impl_->epochs.append(detail::to_row(row));
  impl_->flush();
}

void RunWriter::set_message_totals(const std::vector<MessageTotal>& totals) {
  impl_->totals = totals;
  impl_->totals_pending = true;
}

void RunWriter::set_clients(const std::vector<ClientRow>& clients) {
  impl_->clients = clients;
  impl_->clients_pending = true;
}

void RunWriter::set_ranks(const std::vector<RankRow>& ranks) {
  impl_->ranks = ranks;
  impl_->ranks_pending = true;
}

void RunWriter::append_participants(int64_t round, const std::vector<int64_t>& clients) {
  for (const int64_t c : clients) impl_->participants.append({static_cast<double>(round), static_cast<double>(c)});
}

int64_t RunWriter::participant_rows() const { return impl_->participants.size(); }

void RunWriter::flush() { impl_->flush(); }

int64_t RunWriter::steps() const { return impl_->steps.size(); }

int64_t RunWriter::epochs() const { return impl_->epochs.size(); }

const std::string& RunWriter::path() const { return impl_->path; }

}  // namespace mesl::metrics
