// Byte sizes as people type them on the command line, and back.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "rill/status.h"

namespace rill::cli {

// Parses a whole number of bytes with an optional unit, case-insensitive:
//   B or none, KiB MiB GiB TiB (or K M G T): powers of 1024,
//   KB MB GB TB: powers of 1000 (as disk makers count).
// "4MiB" = 4194304, "64KB" = 64000; one space may separate number and unit
// ("4 MiB", as format_size writes). Other spaces, signs, fractions and values
// that overflow 64 bits are kInvalidArgument with a message naming the text.
Result<std::uint64_t> parse_size(std::string_view text);

// "4 MiB" for exact binary multiples of a unit, otherwise "4194305 B".
std::string format_size(std::uint64_t bytes);

}  // namespace rill::cli
