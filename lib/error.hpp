// Errors that end a command carry the exit status the user sees (PRODUCT.md).
#pragma once
#include <stdexcept>
#include <string>

namespace medtrail {

enum class ExitCode : int {
  ok = 0,
  verification_failed = 1,  // tampering, bad signature, inconsistency, audit findings
  usage = 2,
  input_rejected = 3,       // some input lines rejected
  not_found = 4,            // record, key, checkpoint
  environment = 5,          // locked, unreadable, corrupt, read-only, disk full, bad key/passphrase
};

class Error : public std::runtime_error {
 public:
  Error(ExitCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ExitCode code() const { return code_; }

 private:
  ExitCode code_;
};

}  // namespace medtrail
