#include "io/os_error.h"

#include <cerrno>
#include <cstring>

namespace rill::io {

Code code_for_errno(int err) noexcept {
  switch (err) {
    case EACCES:
    case EPERM: return Code::kPermissionDenied;
    case ENOSPC:
    case EDQUOT:
    case ENOMEM:
    case EMFILE:
    case ENFILE: return Code::kResourceExhausted;
    case ENOENT: return Code::kNotFound;
    case EEXIST: return Code::kAlreadyExists;
    default: return Code::kIoError;
  }
}

Status os_error(int err, const std::string& what) {
  std::string message = what + ": " + std::strerror(err);
  if (err == EMFILE) message += " (this process's limit: see `ulimit -n`)";
  if (err == ENFILE) message += " (the system's limit: see /proc/sys/fs/file-max)";
  return Status(code_for_errno(err), message);
}

}  // namespace rill::io
