#include "expr.hpp"

#include <cctype>
#include <charconv>
#include <cmath>
#include <vector>

namespace playbook::expr {
namespace {

using ir::invalid;
using ir::Result;

struct Token {
  enum class Kind { end, op, lparen, rparen, comma, string, number, word };
  Kind kind = Kind::end;
  std::string text;
  double number = 0;
};

bool word_start(char c) {
  return std::isalpha(static_cast<unsigned char>(c)) != 0 || c == '_';
}

bool parse_number(std::string_view text, double& out) {
  if (text.empty()) return false;
  const auto* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, out);
  return ec == std::errc() && ptr == end;
}

class Lexer {
 public:
  Lexer(std::string_view text, Dialect dialect) : text_(text), dialect_(dialect) {}

  Result<std::vector<Token>> run() {
    std::vector<Token> tokens;
    while (true) {
      while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_])) != 0) ++pos_;
      if (pos_ == text_.size()) break;
      auto token = next(tokens.empty() ? Token::Kind::end : tokens.back().kind);
      if (!token) return token.error();
      tokens.push_back(std::move(*token));
    }
    tokens.push_back({});
    return tokens;
  }

 private:
  // Characters a bare word may hold: values substituted into `when` are
  // often names, versions or dates (`INC-2026-11-26-001`, `0.1.0`).
  [[nodiscard]] bool word_char(char c) const {
    if (std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '.') return true;
    if (dialect_ == Dialect::expr_lang) return false;
    return c == '-' || (dialect_ == Dialect::govaluate && (c == '/' || c == ':'));
  }

  Result<Token> next(Token::Kind previous) {
    const char c = text_[pos_];
    const std::string_view rest = text_.substr(pos_);
    for (std::string_view op : {"&&", "||", "==", "!=", "<=", ">=", "=~", "!~", "??", "**"}) {
      if (rest.starts_with(op)) {
        pos_ += 2;
        if (op == "=~" || op == "!~" || op == "??" || op == "**") return unsupported(op);
        return Token{Token::Kind::op, std::string(op)};
      }
    }
    if (c == '(' || c == ')' || c == ',') {
      ++pos_;
      return Token{c == '('   ? Token::Kind::lparen
                   : c == ')' ? Token::Kind::rparen
                              : Token::Kind::comma,
                   std::string(1, c)};
    }
    if (c == '!' || c == '<' || c == '>') {
      ++pos_;
      return Token{Token::Kind::op, std::string(1, c)};
    }
    if (c == '\'' || c == '"') return quoted(c);
    const bool operand_expected = previous == Token::Kind::end || previous == Token::Kind::op ||
                                  previous == Token::Kind::lparen || previous == Token::Kind::comma;
    const bool negative = c == '-' && operand_expected && pos_ + 1 < text_.size() &&
                          std::isdigit(static_cast<unsigned char>(text_[pos_ + 1])) != 0;
    if (std::isdigit(static_cast<unsigned char>(c)) != 0 || negative) {
      const std::size_t start = pos_;
      ++pos_;
      while (pos_ < text_.size() && word_char(text_[pos_])) ++pos_;
      const std::string_view literal = text_.substr(start, pos_ - start);
      Token token{Token::Kind::number, std::string(literal)};
      if (parse_number(literal, token.number)) return token;
      // 0.1.0 or 2026-11-26 in a `when`: a bare word, not a number.
      if (dialect_ == Dialect::govaluate) return Token{Token::Kind::string, std::string(literal)};
      return invalid("'" + std::string(literal) + "' is not a number");
    }
    if (word_start(c)) {
      const std::size_t start = pos_;
      while (pos_ < text_.size() && word_char(text_[pos_])) ++pos_;
      return Token{Token::Kind::word, std::string(text_.substr(start, pos_ - start))};
    }
    return unsupported(std::string_view(&text_[pos_], 1));
  }

  Result<Token> quoted(char quote) {
    std::string value;
    ++pos_;
    while (pos_ < text_.size() && text_[pos_] != quote) {
      if (text_[pos_] == '\\' && pos_ + 1 < text_.size()) ++pos_;
      value += text_[pos_++];
    }
    if (pos_ == text_.size()) return invalid("unterminated string");
    ++pos_;
    return Token{Token::Kind::string, std::move(value)};
  }

  Result<Token> unsupported(std::string_view what) const {
    return invalid("'" + std::string(what) + "' is not supported by the local playbook runner");
  }

  std::string_view text_;
  Dialect dialect_;
  std::size_t pos_ = 0;
};

std::string show(const Value& v) {
  if (const auto* b = std::get_if<bool>(&v)) return *b ? "true" : "false";
  if (const auto* d = std::get_if<double>(&v)) {
    if (std::floor(*d) == *d && std::abs(*d) < 1e15) return std::to_string(static_cast<long long>(*d));
    return std::to_string(*d);
  }
  return "'" + std::get<std::string>(v) + "'";
}

// Recursive descent: or := and ('||' and)*; and := cmp ('&&' cmp)*;
// cmp := unary (op unary)?; unary := '!' unary | primary.
class Parser {
 public:
  Parser(std::vector<Token> tokens, Dialect dialect, const Resolver& resolve, bool lenient)
      : tokens_(std::move(tokens)), dialect_(dialect), resolve_(resolve), lenient_(lenient) {}

  Result<bool> run() {
    auto value = disjunction();
    if (!value) return value.error();
    if (peek().kind != Token::Kind::end) return invalid("unexpected '" + peek().text + "'");
    return as_bool(*value);
  }

 private:
  Result<bool> as_bool(const Value& v) const {
    if (const auto* b = std::get_if<bool>(&v)) return *b;
    if (lenient_) return false;
    return invalid(show(v) + " is not true or false");
  }

  const Token& peek() const { return tokens_[pos_]; }
  bool accept_op(std::string_view op) {
    const auto& t = peek();
    const bool keyword =
        dialect_ == Dialect::expr_lang && t.kind == Token::Kind::word &&
        ((op == "||" && t.text == "or") || (op == "&&" && t.text == "and") || (op == "!" && t.text == "not"));
    if ((t.kind == Token::Kind::op && t.text == op) || keyword) {
      ++pos_;
      return true;
    }
    return false;
  }

  Result<Value> disjunction() {
    auto left = conjunction();
    if (!left) return left;
    while (accept_op("||")) {
      auto right = conjunction();
      if (!right) return right;
      auto a = as_bool(*left);
      auto b = as_bool(*right);
      if (!a) return a.error();
      if (!b) return b.error();
      left = Value(*a || *b);
    }
    return left;
  }

  Result<Value> conjunction() {
    auto left = comparison();
    if (!left) return left;
    while (accept_op("&&")) {
      auto right = comparison();
      if (!right) return right;
      auto a = as_bool(*left);
      auto b = as_bool(*right);
      if (!a) return a.error();
      if (!b) return b.error();
      left = Value(*a && *b);
    }
    return left;
  }

  Result<Value> comparison() {
    auto left = unary();
    if (!left) return left;
    for (std::string_view op : {"==", "!=", "<=", ">=", "<", ">"}) {
      if (!accept_op(op)) continue;
      if (dialect_ == Dialect::depends) return invalid("'" + std::string(op) + "' is not allowed in depends");
      auto right = unary();
      if (!right) return right;
      return compare(op, *left, *right);
    }
    return left;
  }

  Result<Value> compare(std::string_view op, const Value& a, const Value& b) const {
    // Values of different types are never equal, as in govaluate and expr.
    if (op == "==") return Value(a == b);
    if (op == "!=") return Value(a != b);
    if (a.index() != b.index() || std::holds_alternative<bool>(a)) {
      if (lenient_) return Value(false);
      return invalid("cannot order " + show(a) + " and " + show(b));
    }
    const int order = a < b ? -1 : (b < a ? 1 : 0);
    if (op == "<") return Value(order < 0);
    if (op == ">") return Value(order > 0);
    if (op == "<=") return Value(order <= 0);
    return Value(order >= 0);
  }

  Result<Value> unary() {
    if (accept_op("!")) {
      auto operand = unary();
      if (!operand) return operand;
      auto b = as_bool(*operand);
      if (!b) return b.error();
      return Value(!*b);
    }
    return primary();
  }

  Result<Value> primary() {
    const Token token = peek();
    ++pos_;
    switch (token.kind) {
      case Token::Kind::lparen: {
        auto inner = disjunction();
        if (!inner) return inner;
        if (peek().kind != Token::Kind::rparen) return invalid("missing ')'");
        ++pos_;
        return inner;
      }
      case Token::Kind::string:
        if (dialect_ == Dialect::depends) return invalid("strings are not allowed in depends");
        return Value(token.text);
      case Token::Kind::number:
        if (dialect_ == Dialect::depends) return invalid("numbers are not allowed in depends");
        return Value(token.number);
      case Token::Kind::word:
        return word(token.text);
      case Token::Kind::end:
        return invalid("expression ends too early");
      default:
        return invalid("unexpected '" + token.text + "'");
    }
  }

  Result<Value> word(const std::string& text) {
    if (dialect_ != Dialect::depends && (text == "true" || text == "false")) return Value(text == "true");
    if (dialect_ == Dialect::govaluate) return Value(text);
    if (peek().kind == Token::Kind::lparen) {
      if (dialect_ != Dialect::expr_lang) return invalid("function calls are not allowed in depends");
      return call(text);
    }
    if (!resolve_) return invalid("unknown identifier " + text);
    return resolve_(text);
  }

  Result<Value> call(const std::string& function) {
    if (function != "asInt" && function != "asFloat") {
      return invalid("function " + function + "() is not supported by the local playbook runner");
    }
    ++pos_;  // '('
    auto argument = disjunction();
    if (!argument) return argument;
    if (peek().kind != Token::Kind::rparen) return invalid(function + "() takes one argument");
    ++pos_;
    double number = 0;
    if (const auto* d = std::get_if<double>(&*argument)) {
      number = *d;
    } else if (const auto* s = std::get_if<std::string>(&*argument);
               !lenient_ && (s == nullptr || !parse_number(*s, number))) {
      return invalid(function + "(" + show(*argument) + "): not a number");
    }
    if (lenient_) return Value(0.0);
    if (function == "asInt") {
      if (std::floor(number) != number) return invalid("asInt(" + show(*argument) + "): not an integer");
    }
    return Value(number);
  }

  std::vector<Token> tokens_;
  std::size_t pos_ = 0;
  Dialect dialect_;
  const Resolver& resolve_;
  bool lenient_;
};

}  // namespace

Result<bool> evaluate(std::string_view text, Dialect dialect, const Resolver& resolve) {
  auto tokens = Lexer(text, dialect).run();
  if (!tokens) return tokens.error().with("expression '" + std::string(text) + "'");
  auto result = Parser(std::move(*tokens), dialect, resolve, false).run();
  if (!result) return result.error().with("expression '" + std::string(text) + "'");
  return *result;
}

ir::Result<void> check(std::string_view text, Dialect dialect, const Resolver& resolve) {
  auto tokens = Lexer(text, dialect).run();
  if (!tokens) return tokens.error().with("expression '" + std::string(text) + "'");
  auto result = Parser(std::move(*tokens), dialect, resolve, true).run();
  if (!result) return result.error().with("expression '" + std::string(text) + "'");
  return {};
}

}  // namespace playbook::expr
