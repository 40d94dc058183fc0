// The digest of a run: every device operation and guest request folds its (time, who, what,
// where, outcome) into a CRC-64 (ISA-L's crc64_ecma_refl), so two runs with the same seed give
// the same digest bit for bit, and any difference in interleaving changes it.
#pragma once

#include <cstdint>
#include <initializer_list>

namespace fvd::sim {

class Trace {
 public:
  // Folds one event, given as integers, into the digest.
  void Add(std::initializer_list<uint64_t> fields);
  uint64_t digest() const { return digest_; }
  uint64_t events() const { return events_; }

 private:
  uint64_t digest_ = 0;
  uint64_t events_ = 0;
};

}  // namespace fvd::sim
