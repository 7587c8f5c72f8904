// Named shared-memory regions (POSIX shm objects under /dev/shm), created and
// opened with Boost.Interprocess and mapped shared.
//
// Objects are created with mode 0600 (owner only). The creator allocates every
// byte up front (posix_fallocate), so a full /dev/shm fails here with a clear
// error instead of a SIGBUS later, and then writes every page once. An opener
// maps the existing bytes and pre-faults its page tables without writing.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "ipc/region.h"

namespace rill::ipc {

// Creates object `name` (no leading slash) of `size` bytes, zero-filled.
// Fails with kAlreadyExists if it exists.
Result<std::unique_ptr<Region>> create_shared_region(const std::string& name, std::size_t size,
                                                     unsigned mode = 0600);

// Opens existing object `name`, mapping all of it. kNotFound if it is absent.
Result<std::unique_ptr<Region>> open_shared_region(const std::string& name);

// Removes the name; existing mappings stay valid until unmapped. Removing a
// missing name is not an error.
Status remove_shared_region(const std::string& name);

// True if the object exists.
bool shared_region_exists(const std::string& name);

}  // namespace rill::ipc
