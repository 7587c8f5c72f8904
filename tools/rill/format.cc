#include "tools/rill/format.h"

namespace rill::cli {
namespace {

Status bad_token(std::string_view spec, std::size_t at, std::string_view why) {
  return Status(Code::kInvalidArgument, "format '" + std::string(spec) + "': " + std::string(why) + " at position " +
                                            std::to_string(at + 1) +
                                            " (tokens: %t %p %o %k %s %T %K %S %h %%, escapes: \\n \\t \\r \\\\)");
}

// Floor division, so that timestamps before 1970 still print the millisecond they fall in.
std::int64_t floor_ms(std::int64_t ns) {
  return ns >= 0 ? ns / 1'000'000 : -((-ns + 999'999) / 1'000'000);
}

}  // namespace

Result<RecordFormat> RecordFormat::parse(std::string_view spec) {
  RecordFormat format;
  std::string literal;
  auto push = [&](Field f) {
    if (!literal.empty()) format.pieces_.push_back(Piece{Field::kLiteral, std::move(literal)});
    literal.clear();
    format.pieces_.push_back(Piece{f, {}});
  };
  for (std::size_t i = 0; i < spec.size(); ++i) {
    const char c = spec[i];
    if (c != '%' && c != '\\') {
      literal.push_back(c);
      continue;
    }
    if (i + 1 == spec.size()) return bad_token(spec, i, std::string("a lone '") + c + "' ends the format");
    const char t = spec[++i];
    if (c == '\\') {
      switch (t) {
        case 'n':
          literal.push_back('\n');
          break;
        case 't':
          literal.push_back('\t');
          break;
        case 'r':
          literal.push_back('\r');
          break;
        case '\\':
          literal.push_back('\\');
          break;
        default:
          return bad_token(spec, i - 1, std::string("unknown escape '\\") + t + "'");
      }
      continue;
    }
    switch (t) {
      case 't':
        push(Field::kTopic);
        break;
      case 'p':
        push(Field::kPartition);
        break;
      case 'o':
        push(Field::kOffset);
        break;
      case 'k':
        push(Field::kKey);
        break;
      case 's':
        push(Field::kValue);
        break;
      case 'T':
        push(Field::kTimestampMs);
        break;
      case 'K':
        push(Field::kKeySize);
        break;
      case 'S':
        push(Field::kValueSize);
        break;
      case 'h':
        push(Field::kHeaders);
        break;
      case '%':
        literal.push_back('%');
        break;
      default:
        return bad_token(spec, i - 1, std::string("unknown token '%") + t + "'");
    }
  }
  if (!literal.empty()) format.pieces_.push_back(Piece{Field::kLiteral, std::move(literal)});
  return format;
}

void RecordFormat::append(const RecordView& record, std::string_view topic, OutputBuffer& out) const {
  for (const Piece& piece : pieces_) {
    switch (piece.field) {
      case Field::kLiteral:
        out.append(piece.literal);
        break;
      case Field::kTopic:
        out.append(topic);
        break;
      case Field::kPartition:
        out.append_int(record.partition());
        break;
      case Field::kOffset:
        out.append_int(record.offset());
        break;
      case Field::kKey:
        out.append(record.key());
        break;
      case Field::kValue:
        out.append(record.value());
        break;
      case Field::kTimestampMs:
        out.append_int(floor_ms(record.timestamp_ns()));
        break;
      case Field::kKeySize:
        out.append_int(record.has_key() ? static_cast<std::int64_t>(record.key().size()) : -1);
        break;
      case Field::kValueSize:
        out.append_int(static_cast<std::int64_t>(record.value().size()));
        break;
      case Field::kHeaders: {
        bool first = true;
        (void)record.for_each_header([&](const HeaderView& h) {
          if (!first) out.append(',');
          first = false;
          out.append(h.key);
          if (h.value) {
            out.append('=');
            out.append(*h.value);
          }
        });
        break;
      }
    }
  }
}

}  // namespace rill::cli
