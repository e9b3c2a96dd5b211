#include "resources.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "client_state.h"
#include "mesl/error.h"

namespace mesl::train {

double seconds_since_process_start() {
  std::FILE* stat = std::fopen("/proc/self/stat", "r");
  std::FILE* uptime = std::fopen("/proc/uptime", "r");
  double up = -1, started_ticks = -1;
  if (stat != nullptr) {
    char buf[1024] = {};
    const size_t n = std::fread(buf, 1, sizeof buf - 1, stat);
    buf[n] = 0;
    // Field 22 (starttime) counts from the field after the command name, which ends at the last ')'.
    const char* p = std::strrchr(buf, ')');
    for (int field = 2; p != nullptr && field < 22; ++field) p = std::strchr(p + 1, ' ');
    if (p != nullptr) started_ticks = std::strtod(p + 1, nullptr);
  }
  if (uptime != nullptr && std::fscanf(uptime, "%lf", &up) != 1) up = -1;
  if (stat != nullptr) std::fclose(stat);
  if (uptime != nullptr) std::fclose(uptime);
  const long hz = sysconf(_SC_CLK_TCK);
  if (up < 0 || started_ticks < 0 || hz <= 0) return -1;
  return up - started_ticks / static_cast<double>(hz);
}

int64_t peak_rss_bytes() {
  std::FILE* f = std::fopen("/proc/self/status", "r");
  if (f == nullptr) return -1;
  char line[256];
  int64_t kb = -1;
  while (std::fgets(line, sizeof line, f) != nullptr)
    if (std::strncmp(line, "VmHWM:", 6) == 0) kb = std::strtoll(line + 6, nullptr, 10);
  std::fclose(f);
  return kb < 0 ? -1 : kb * 1024;
}

metrics::RankRow rank_report(int rank, int64_t clients, const StateStore* store, double first_step_s) {
  metrics::RankRow r;
  r.rank = rank;
  r.clients = clients;
  r.peak_rss_bytes = peak_rss_bytes();
  r.first_step_s = first_step_s;
  if (store != nullptr) {
    r.state_peak_bytes = store->peak_memory_bytes();
    r.states_held = store->held();
    r.state_bytes = store->memory_bytes() + store->spilled_bytes();
    r.spill_writes = store->spill_writes();
    r.spill_reads = store->spill_reads();
    r.spill_peak_bytes = store->peak_spilled_bytes();
    r.spill_s = store->spill_seconds();
  }
  return r;
}

std::vector<uint8_t> serialize(const metrics::RankRow& r) {
  const int64_t ints[] = {r.rank,        r.clients,     r.peak_rss_bytes, r.state_peak_bytes, r.states_held,
                          r.state_bytes, r.spill_writes, r.spill_reads,    r.spill_peak_bytes};
  const double reals[] = {r.spill_s, r.first_step_s};
  std::vector<uint8_t> out(sizeof ints + sizeof reals);
  std::memcpy(out.data(), ints, sizeof ints);
  std::memcpy(out.data() + sizeof ints, reals, sizeof reals);
  return out;
}

metrics::RankRow parse_rank_report(const std::vector<uint8_t>& bytes) {
  int64_t ints[9];
  double reals[2];
  MESL_CHECK(bytes.size() == sizeof ints + sizeof reals, CommError,
             "a rank's report is malformed: the ranks run different mesl versions");
  std::memcpy(ints, bytes.data(), sizeof ints);
  std::memcpy(reals, bytes.data() + sizeof ints, sizeof reals);
  metrics::RankRow r;
  r.rank = ints[0];
  r.clients = ints[1];
  r.peak_rss_bytes = ints[2];
  r.state_peak_bytes = ints[3];
  r.states_held = ints[4];
  r.state_bytes = ints[5];
  r.spill_writes = ints[6];
  r.spill_reads = ints[7];
  r.spill_peak_bytes = ints[8];
  r.spill_s = reals[0];
  r.first_step_s = reals[1];
  return r;
}

}  // namespace mesl::train
