// An errno as a Status: the code a caller can act on, and a message that
// names what was being done and, for the limits people hit, where to look.
// The lowest layer's helper, shared by io/ and ipc/.
#pragma once

#include <string>

#include "rill/status.h"

namespace rill::io {

// kPermissionDenied for EACCES/EPERM; kResourceExhausted for a full disk or
// memory (ENOSPC, EDQUOT, ENOMEM) and descriptor limits (EMFILE, ENFILE);
// kNotFound for ENOENT; kAlreadyExists for EEXIST; kIoError otherwise.
Code code_for_errno(int err) noexcept;

// "<what>: <strerror(err)>", with a hint for EMFILE and ENFILE.
Status os_error(int err, const std::string& what);

}  // namespace rill::io
