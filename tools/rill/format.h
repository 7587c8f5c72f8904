// RecordFormat: how `rill consume -f` prints a record (kcat's tokens).
//
//   %t topic       %p partition     %o offset        %T timestamp (ms since epoch)
//   %k key         %s value         %K key size      %S value size
//   %h headers as key=value pairs separated by ','   %% a literal '%'
//   \n newline     \t tab           \r return        \\ a backslash
//
// A null key prints as nothing for %k and as -1 for %K (Kafka's wire length
// of a null key); a null header value prints as the key alone. Keys and values
// are written as their raw bytes. Anything else after '%' or '\' is an error
// at parse time, not a surprise in the output.
//
// Thread safety: immutable after parse(); share freely.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "rill/record.h"
#include "rill/status.h"
#include "tools/rill/output.h"

namespace rill::cli {

class RecordFormat {
 public:
  // kcat's default: the value and a newline.
  static constexpr std::string_view kDefault = "%s\\n";

  // Compiles `spec`; kInvalidArgument naming the bad token and its position.
  static Result<RecordFormat> parse(std::string_view spec);

  // Appends `record` of `topic` rendered per the format.
  void append(const RecordView& record, std::string_view topic, OutputBuffer& out) const;

 private:
  enum class Field : unsigned char {
    kLiteral,
    kTopic,
    kPartition,
    kOffset,
    kKey,
    kValue,
    kTimestampMs,
    kKeySize,
    kValueSize,
    kHeaders,
  };
  struct Piece {
    Field field;
    std::string literal;  // for kLiteral
  };
  std::vector<Piece> pieces_;
};

}  // namespace rill::cli
