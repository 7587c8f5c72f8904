// Where `rill consume -o` starts, in kcat's notation:
//   beginning      the oldest retained record of each partition
//   end            the next record produced (the default: only new records)
//   N              absolute offset N in each assigned partition
//   -N             N records before the end of each partition (kcat's relative offset)
//   s@MS           the first record whose timestamp is >= MS milliseconds since the epoch
#pragma once

#include <cstdint>
#include <string_view>

#include "rill/status.h"

namespace rill::cli {

struct StartOffset {
  enum class Kind : unsigned char { kBeginning, kEnd, kAbsolute, kFromEnd, kTimestamp };
  Kind kind = Kind::kEnd;
  // kAbsolute: the offset; kFromEnd: how many records before the end;
  // kTimestamp: milliseconds since the epoch.
  std::int64_t value = 0;
};

// kInvalidArgument with the accepted forms when `text` is none of them.
Result<StartOffset> parse_start_offset(std::string_view text);

}  // namespace rill::cli
