#include "routing/auto_select.h"

#include <algorithm>
#include <cmath>
#include <cstdint>

#include <fmt/format.h>

#include "core/utf8.h"
#include "model/token_estimate.h"
#include "routing/model_catalog.h"

namespace kh::routing {

namespace {

// ---------------------------------------------------------------------------------------------
// UTF-8 and character classes

bool isAsciiLetter(char32_t c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool isAsciiDigit(char32_t c) {
  return c >= '0' && c <= '9';
}
bool isAsciiAlnum(char32_t c) {
  return isAsciiLetter(c) || isAsciiDigit(c);
}

// Latin letters beyond ASCII: Latin-1 letters (not × ÷) and Latin Extended-A/B.
bool isLatinExtended(char32_t c) {
  return (c >= 0xC0 && c <= 0x24F && c != 0xD7 && c != 0xF7);
}
bool isLatinLetter(char32_t c) {
  return isAsciiLetter(c) || isLatinExtended(c);
}

bool isKana(char32_t c) {
  return (c >= 0x3041 && c <= 0x30FF && c != 0x30FB) ||  // Hiragana, Katakana (not the middle dot)
         (c >= 0x31F0 && c <= 0x31FF) ||                 // Katakana phonetic extensions
         (c >= 0xFF66 && c <= 0xFF9D);                   // half-width Katakana
}
bool isHangul(char32_t c) {
  return (c >= 0xAC00 && c <= 0xD7AF) || (c >= 0x1100 && c <= 0x11FF) ||
         (c >= 0x3130 && c <= 0x318F);
}
bool isHan(char32_t c) {
  return (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x4E00 && c <= 0x9FFF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x20000 && c <= 0x2FA1F);
}
// Letters of other alphabets (Greek, Cyrillic, Armenian, Hebrew, Arabic, Indic, Thai…).
bool isOtherLetter(char32_t c) {
  return (c >= 0x370 && c <= 0x3FF && c != 0x3C0) || (c >= 0x400 && c <= 0x52F) ||
         (c >= 0x530 && c <= 0x58F) || (c >= 0x590 && c <= 0x6FF) || (c >= 0x900 && c <= 0xE7F);
}
bool isMathSymbol(char32_t c) {
  switch (c) {
    case 0x222B:  // ∫
    case 0x2211:  // ∑
    case 0x220F:  // ∏
    case 0x221A:  // √
    case 0x03C0:  // π
    case 0x2264:  // ≤
    case 0x2265:  // ≥
    case 0x2260:  // ≠
    case 0x221E:  // ∞
    case 0x2202:  // ∂
    case 0x00B1:  // ±
    case 0x00F7:  // ÷
    case 0x00B2:  // ²
    case 0x00B3:  // ³
    case 0x2208:  // ∈
    case 0x2200:  // ∀
    case 0x2203:  // ∃
      return true;
    default:
      return false;
  }
}

char lowerAscii(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

// The code point that ends just before byte `i` (walking back over continuation bytes).
char32_t previousCodePoint(std::string_view s, std::size_t i) {
  std::size_t start = i - 1;
  while (start > 0 && i - start < 4 && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80)
    --start;
  std::size_t j = start;
  return core::nextCodePoint(s, j);
}

// Whether a code point continues a word for keyword boundaries (ASCII alnum or a Latin letter;
// CJK never does, so "このコードをrefactorして" still finds "refactor").
bool continuesWord(char32_t c) {
  return isAsciiAlnum(c) || isLatinExtended(c);
}

// ---------------------------------------------------------------------------------------------
// Keywords

enum class Match : std::uint8_t {
  kAny,        // anywhere (CJK, symbols)
  kWordStart,  // at the start of a word: "price" finds "prices", "pricing", not "overpriced"
  kWord,       // a whole word: "product" does not find "production"
};

struct Keyword {
  std::string_view text;  // lower case where it is ASCII
  Match match = Match::kWordStart;
};

// ASCII case-insensitive search honouring the keyword's boundary.
bool contains(std::string_view hay, const Keyword& kw) {
  const std::string_view k = kw.text;
  if (k.empty() || hay.size() < k.size()) return false;
  const char first = k[0];
  for (std::size_t i = 0; i + k.size() <= hay.size(); ++i) {
    if (lowerAscii(hay[i]) != first) continue;
    std::size_t j = 1;
    while (j < k.size() && lowerAscii(hay[i + j]) == k[j]) ++j;
    if (j != k.size()) continue;
    if (kw.match == Match::kAny) return true;
    if (i > 0 && continuesWord(previousCodePoint(hay, i))) continue;
    if (kw.match == Match::kWord && i + k.size() < hay.size()) {
      std::size_t end = i + k.size();
      if (continuesWord(core::nextCodePoint(hay, end))) continue;
    }
    return true;
  }
  return false;
}

// Only the head and the tail of a very long turn are searched for keywords: the ask is almost
// always at one end, and this bounds the work on 100k-token pastes.
constexpr std::size_t kKeywordWindow = 8 * 1024;

bool windowContains(std::string_view text, const Keyword& kw) {
  if (text.size() <= 2 * kKeywordWindow) return contains(text, kw);
  return contains(text.substr(0, kKeywordWindow), kw) ||
         contains(text.substr(text.size() - kKeywordWindow), kw);
}

template <std::size_t N>
bool anyOf(std::string_view text, const Keyword (&list)[N]) {
  for (const auto& kw : list)
    if (windowContains(text, kw)) return true;
  return false;
}

constexpr Match kA = Match::kAny;
constexpr Match kS = Match::kWordStart;
constexpr Match kW = Match::kWord;

constexpr Keyword kTranslateWords[] = {
    {"translat", kS}, {"tradu", kS}, {"übersetz", kS}, {"Übersetz", kS},
    {"vertaal", kS},  {"翻訳", kA},  {"翻译", kA},     {"翻譯", kA},
    {"英訳", kA},     {"和訳", kA},  {"訳して", kA},   {"번역", kA},
};

// "in <language>": a translation only when it names another language than the prompt's.
struct LanguagePhrase {
  Keyword keyword;
  std::string_view language;
};
constexpr LanguagePhrase kLanguagePhrases[] = {
    {{"in english", kW}, "en"},    {{"into english", kW}, "en"},  {{"to english", kW}, "en"},
    {{"in japanese", kW}, "ja"},   {{"into japanese", kW}, "ja"}, {{"in chinese", kW}, "zh"},
    {{"into chinese", kW}, "zh"},  {{"in korean", kW}, "ko"},     {{"into korean", kW}, "ko"},
    {{"in spanish", kW}, "es"},    {{"into spanish", kW}, "es"},  {{"in french", kW}, "fr"},
    {{"into french", kW}, "fr"},   {{"in german", kW}, "de"},     {{"into german", kW}, "de"},
    {{"英語で", kA}, "en"},        {{"英語に", kA}, "en"},        {{"日本語で", kA}, "ja"},
    {{"日本語に", kA}, "ja"},      {{"中国語で", kA}, "zh"},      {{"中国語に", kA}, "zh"},
    {{"韓国語で", kA}, "ko"},      {{"韓国語に", kA}, "ko"},      {{"用英文", kA}, "en"},
    {{"用英语", kA}, "en"},        {{"成英文", kA}, "en"},        {{"用日语", kA}, "ja"},
    {{"成日文", kA}, "ja"},        {{"用中文", kA}, "zh"},        {{"영어로", kA}, "en"},
    {{"일본어로", kA}, "ja"},      {{"중국어로", kA}, "zh"},      {{"en anglais", kW}, "en"},
    {{"en français", kW}, "fr"},   {{"en inglés", kW}, "en"},     {{"al inglés", kW}, "en"},
    {{"en español", kW}, "es"},    {{"auf englisch", kW}, "en"},  {{"ins englische", kW}, "en"},
    {{"auf deutsch", kW}, "de"},   {{"in inglese", kW}, "en"},    {{"em inglês", kW}, "en"},
    {{"para o inglês", kW}, "en"}, {{"para inglés", kW}, "en"},
};

constexpr Keyword kSummaryWords[] = {
    {"summar", kS},   {"tl;dr", kA},  {"tldr", kW},         {"sum up", kW},       {"recap", kS},
    {"résum", kS},    {"Résum", kS},  {"zusammenfass", kS}, {"Zusammenfass", kS}, {"resumir", kS},
    {"resumen", kS},  {"resuma", kW}, {"riassum", kS},      {"sintetizza", kS},   {"要約", kA},
    {"まとめて", kA}, {"要点を", kA}, {"总结", kA},         {"總結", kA},         {"摘要", kA},
    {"概括", kA},     {"요약", kA},
};

constexpr Keyword kCodeWords[] = {
    {"code", kS},       {"coding", kW},      {"function", kS},   {"python", kS},
    {"javascript", kS}, {"typescript", kS},  {"java", kW},       {"c++", kA},
    {"c#", kW},         {"rust", kW},        {"golang", kW},     {"sql", kS},
    {"regex", kS},      {"bug", kS},         {"debug", kS},      {"compil", kS},
    {"refactor", kS},   {"stack trace", kW}, {"traceback", kW},  {"segfault", kS},
    {"exception", kS},  {"implement", kS},   {"unit test", kS},  {"#include", kA},
    {"std::", kA},      {"console.log", kA}, {"npm", kW},        {"git", kW},
    {"docker", kS},     {"kubernetes", kW},  {"html", kW},       {"css", kW},
    {"json", kW},       {"yaml", kW},        {"bash", kW},       {"script", kW},
    {"scripts", kW},    {"algorithm", kS},   {"program", kS},    {"api", kW},
    {"código", kS},     {"fonction", kS},    {"función", kS},    {"funzione", kS},
    {"função", kS},     {"funktion", kW},    {"funktionen", kW}, {"コード", kA},
    {"プログラム", kA}, {"関数", kA},        {"バグ", kA},       {"実装", kA},
    {"デバッグ", kA},   {"リファクタ", kA},  {"代码", kA},       {"函数", kA},
    {"程序", kA},       {"编程", kA},        {"程式碼", kA},     {"寫程式", kA},
    {"코드", kA},       {"함수", kA},        {"프로그램", kA},   {"버그", kA},
};

// LaTeX and display math: a math signal on their own.
constexpr Keyword kLatex[] = {
    {"\\frac", kA},  {"\\sum", kA},   {"\\int", kA},    {"\\sqrt", kA},    {"\\begin{", kA},
    {"\\alpha", kA}, {"\\beta", kA},  {"\\theta", kA},  {"\\pi", kA},      {"\\cdot", kA},
    {"\\times", kA}, {"\\infty", kA}, {"\\lim", kA},    {"\\partial", kA}, {"$$", kA},
    {"\\(", kA},     {"\\[", kA},     {"\\mathbb", kA},
};

constexpr Keyword kMathWords[] = {
    {"solve", kS},         {"equation", kS},    {"integral", kS},  {"derivative", kS},
    {"differentiate", kS}, {"prove", kW},       {"proof", kW},     {"theorem", kS},
    {"calcul", kS},        {"probability", kS}, {"matrix", kW},    {"matrices", kW},
    {"eigen", kS},         {"polynomial", kS},  {"factorial", kS}, {"logarithm", kS},
    {"math", kS},          {"algebra", kS},     {"geometry", kS},  {"arithmetic", kS},
    {"ecuación", kS},      {"équation", kS},    {"gleichung", kS}, {"equazione", kS},
    {"equação", kS},       {"berechne", kS},    {"ableitung", kS}, {"beweis", kS},
    {"dérivée", kS},       {"方程式", kA},      {"計算", kA},      {"積分", kA},
    {"微分", kA},          {"証明", kA},        {"数学", kA},      {"確率", kA},
    {"方程", kA},          {"计算", kA},        {"证明", kA},      {"概率", kA},
    {"矩阵", kA},          {"방정식", kA},      {"수학", kA},      {"미분", kA},
    {"적분", kA},          {"계산", kA},        {"증명", kA},
};

constexpr Keyword kShoppingWords[] = {
    {"buy", kS},        {"purchas", kS},   {"price", kS},    {"product", kW},  {"products", kW},
    {"shopping", kW},   {"shop", kW},      {"cheapest", kW}, {"discount", kS}, {"coupon", kS},
    {"in stock", kW},   {"recommend", kS}, {"amazon", kW},   {"rakuten", kW},  {"ebay", kW},
    {"e-commerce", kW}, {"ecommerce", kW}, {"cart", kW},     {"checkout", kW}, {"comprar", kS},
    {"precio", kS},     {"producto", kS},  {"acheter", kS},  {"prix", kW},     {"produit", kS},
    {"kaufen", kS},     {"preis", kS},     {"produkt", kS},  {"comprare", kS}, {"prezzo", kS},
    {"prodotto", kS},   {"preço", kS},     {"produto", kS},  {"おすすめ", kA}, {"オススメ", kA},
    {"お勧め", kA},     {"購入", kA},      {"商品", kA},     {"在庫", kA},     {"値段", kA},
    {"価格", kA},       {"買い", kA},      {"買う", kA},     {"買え", kA},     {"通販", kA},
    {"购买", kA},       {"价格", kA},      {"推荐", kA},     {"库存", kA},     {"买", kA},
    {"구매", kA},       {"가격", kA},      {"상품", kA},     {"추천", kA},     {"재고", kA},
};

constexpr Keyword kStepWords[] = {
    {"step by step", kW},
    {"step-by-step", kW},
    {"ステップ", kA},
    {"手順", kA},
    {"段階的", kA},
    {"順を追って", kA},
    {"一步一步", kA},
    {"逐步", kA},
    {"步骤", kA},
    {"단계", kA},
    {"paso a paso", kW},
    {"étape par étape", kW},
    {"schritt für schritt", kW},
    {"passo dopo passo", kW},
    {"passo a passo", kW},
};

// ---------------------------------------------------------------------------------------------
// Latin-script languages: a vote of common function words. A word may belong to several
// languages (bit set); distinctive words decide.

enum LatinLang : std::uint8_t { kEn, kEs, kFr, kDe, kPt, kIt, kLatinLangs };
constexpr std::string_view kLatinCodes[kLatinLangs] = {"en", "es", "fr", "de", "pt", "it"};
constexpr std::uint8_t bit(LatinLang l) {
  return static_cast<std::uint8_t>(1u << l);
}
constexpr std::uint8_t EN = bit(kEn), ES = bit(kEs), FR = bit(kFr), DE = bit(kDe), PT = bit(kPt),
                       IT = bit(kIt);

struct StopWord {
  std::string_view word;
  std::uint8_t langs;
};

// clang-format off
constexpr StopWord kStopWords[] = {
    // English
    {"the", EN}, {"and", EN}, {"is", EN}, {"are", EN}, {"was", EN | DE}, {"were", EN}, {"what", EN},
    {"how", EN}, {"why", EN}, {"which", EN}, {"this", EN}, {"that", EN}, {"with", EN}, {"you", EN},
    {"your", EN}, {"can", EN}, {"could", EN}, {"would", EN}, {"should", EN}, {"please", EN},
    {"it", EN}, {"my", EN}, {"for", EN}, {"of", EN}, {"to", EN}, {"be", EN}, {"have", EN},
    {"has", EN}, {"does", EN}, {"write", EN}, {"explain", EN}, {"hello", EN}, {"thanks", EN},
    {"an", EN | DE}, {"about", EN}, {"from", EN}, {"into", EN}, {"on", EN}, {"at", EN}, {"by", EN},
    {"not", EN}, {"all", EN}, {"will", EN}, {"if", EN}, {"or", EN}, {"but", EN}, {"we", EN},
    {"they", EN}, {"he", EN}, {"she", EN}, {"there", EN}, {"their", EN}, {"give", EN},
    {"make", EN}, {"tell", EN}, {"show", EN}, {"list", EN}, {"using", EN}, {"translate", EN},
    {"create", EN}, {"help", EN}, {"need", EN}, {"want", EN}, {"know", EN}, {"get", EN},
    {"when", EN}, {"where", EN}, {"who", EN}, {"good", EN}, {"in", EN | DE | IT}, {"me", EN | ES | FR | PT | IT},
    // Spanish
    {"el", ES}, {"los", ES}, {"las", ES}, {"del", ES | IT}, {"que", ES | FR | PT}, {"por", ES | PT},
    {"para", ES | PT}, {"una", ES | IT}, {"es", ES | DE}, {"está", ES}, {"están", ES},
    {"son", ES | IT}, {"cómo", ES}, {"qué", ES}, {"cuál", ES}, {"con", ES | IT}, {"pero", ES},
    {"muy", ES}, {"hola", ES}, {"gracias", ES}, {"y", ES}, {"lo", ES | IT},
    {"se", ES | FR | PT | IT}, {"su", ES}, {"al", ES | IT}, {"como", ES | PT}, {"este", ES | PT},
    {"esta", ES | PT}, {"esto", ES}, {"puedes", ES}, {"mi", ES | IT}, {"tengo", ES}, {"hay", ES},
    {"no", EN | ES | PT}, {"en", ES | FR}, {"la", ES | FR | IT}, {"quiero", ES}, {"necesito", ES},
    // French
    {"le", FR | IT}, {"les", FR}, {"des", FR}, {"du", FR | DE}, {"un", FR | IT}, {"une", FR},
    {"est", FR}, {"et", FR}, {"pas", FR}, {"qui", FR}, {"pour", FR}, {"dans", FR}, {"avec", FR},
    {"sur", FR}, {"ce", FR}, {"cette", FR}, {"je", FR}, {"tu", FR}, {"vous", FR}, {"nous", FR},
    {"il", FR | IT}, {"elle", FR}, {"bonjour", FR}, {"merci", FR}, {"comment", FR}, {"ne", FR},
    {"au", FR}, {"aux", FR}, {"sont", FR}, {"mais", FR}, {"ça", FR}, {"c", FR}, {"j", FR},
    {"l", FR | IT}, {"d", FR},
    // German
    {"der", DE}, {"die", DE}, {"das", DE}, {"und", DE}, {"ist", DE}, {"nicht", DE}, {"ein", DE},
    {"eine", DE}, {"einen", DE}, {"mit", DE}, {"für", DE}, {"auf", DE}, {"ich", DE}, {"sie", DE},
    {"wir", DE}, {"zu", DE}, {"den", DE}, {"dem", DE}, {"von", DE}, {"wie", DE}, {"bitte", DE},
    {"hallo", DE}, {"danke", DE}, {"sind", DE}, {"auch", DE}, {"oder", DE}, {"aber", DE},
    {"kann", DE}, {"können", DE}, {"mir", DE}, {"ihr", DE}, {"im", DE},
    // Portuguese
    {"o", PT}, {"os", PT}, {"da", PT}, {"dos", PT}, {"das", PT}, {"um", PT}, {"uma", PT},
    {"não", PT}, {"é", PT}, {"são", PT}, {"você", PT}, {"com", PT}, {"mas", PT}, {"em", PT},
    {"na", PT}, {"isso", PT}, {"obrigado", PT}, {"olá", PT}, {"também", PT}, {"e", PT | IT},
    {"eu", PT}, {"meu", PT}, {"preciso", PT},
    // Italian
    {"gli", IT}, {"di", IT}, {"che", IT}, {"è", IT}, {"non", EN | FR | IT}, {"per", EN | IT},
    {"sono", IT}, {"come", EN | IT}, {"questo", IT}, {"questa", IT}, {"ti", IT}, {"ciao", IT},
    {"grazie", IT}, {"della", IT}, {"nel", IT}, {"puoi", IT}, {"anche", IT}, {"ma", IT}, {"ho", IT},
    {"voglio", IT},
};
// clang-format on

// Letters that only some of the languages use.
std::uint8_t diacriticLangs(char32_t c) {
  switch (c) {
    case 0xF1:  // ñ
    case 0xBF:  // ¿
    case 0xA1:  // ¡
      return ES;
    case 0xE7:  // ç
      return FR | PT;
    case 0x153:  // œ
    case 0xEA:   // ê
    case 0xEE:   // î
    case 0xFB:   // û
      return FR;
    case 0xE8:  // è
      return FR | IT;
    case 0xDF:  // ß
    case 0xE4:  // ä
    case 0xF6:  // ö
    case 0xFC:  // ü
      return DE;
    case 0xE3:  // ã
    case 0xF5:  // õ
      return PT;
    case 0xEC:  // ì
    case 0xF2:  // ò
      return IT;
    default:
      return 0;
  }
}

bool equalsIgnoreAsciiCase(std::string_view word, std::string_view lower) {
  if (word.size() != lower.size()) return false;
  for (std::size_t i = 0; i < word.size(); ++i)
    if (lowerAscii(word[i]) != lower[i]) return false;
  return true;
}

constexpr int kMaxVotedWords = 4096;

// Per-turn counters of one pass over the text.
struct Scan {
  long long kana = 0, han = 0, hangul = 0, latin = 0, other = 0;
  int votes[kLatinLangs] = {};
  int words = 0;
  int numbered_lines = 0;
  bool has_code = false;
  bool has_math = false;
};

void vote(Scan& s, std::string_view word) {
  if (++s.words > kMaxVotedWords) return;
  for (const auto& sw : kStopWords) {
    if (!equalsIgnoreAsciiCase(word, sw.word)) continue;
    for (int l = 0; l < kLatinLangs; ++l)
      if (sw.langs & (1u << l)) ++s.votes[l];
    return;
  }
}

// One pass: script counts and stop-word votes outside code, code spans, numbered lines and
// equations ("2x + 3 = 7": a line with '=', a digit and an operator after an operand).
void scanText(std::string_view t, Scan& s) {
  bool fence = false, inline_code = false;
  bool line_start = true;
  bool eq = false, digit = false, op = false;
  char32_t prev = 0;  // previous non-space code point on the line
  std::size_t word_begin = std::string_view::npos;
  auto endLine = [&] {
    if (!fence && eq && digit && op) s.has_math = true;
    eq = digit = op = false;
    prev = 0;
  };
  for (std::size_t i = 0; i < t.size();) {
    if (t.compare(i, 3, "```") == 0) {
      if (word_begin != std::string_view::npos) vote(s, t.substr(word_begin, i - word_begin));
      word_begin = std::string_view::npos;
      fence = !fence;
      inline_code = false;
      s.has_code = true;
      i += 3;
      continue;
    }
    const std::size_t at = i;
    const char32_t c = core::nextCodePoint(t, i);
    const bool letter = !fence && !inline_code && isLatinLetter(c);
    if (letter && word_begin == std::string_view::npos) word_begin = at;
    if (!letter && word_begin != std::string_view::npos) {
      vote(s, t.substr(word_begin, at - word_begin));
      word_begin = std::string_view::npos;
    }
    if (c == '\n') {
      endLine();
      inline_code = false;  // an unclosed ` is a stray backtick, not code
      line_start = true;
      continue;
    }
    if (fence) continue;
    if (c == '`') {
      if (inline_code) s.has_code = true;
      inline_code = !inline_code;
      continue;
    }
    if (inline_code) continue;
    if (line_start && c != ' ' && c != '\t') {
      line_start = false;
      // "1. ", "2) ", "10. " at the start of a line.
      std::size_t j = at;
      while (j < t.size() && j - at < 3 && isAsciiDigit(static_cast<unsigned char>(t[j]))) ++j;
      if (j > at && j + 1 < t.size() && (t[j] == '.' || t[j] == ')') && t[j + 1] == ' ')
        ++s.numbered_lines;
    }
    if (isLatinLetter(c)) {
      ++s.latin;
      if (auto langs = diacriticLangs(c))
        for (int l = 0; l < kLatinLangs; ++l)
          if (langs & (1u << l)) ++s.votes[l];
    } else if (isKana(c)) {
      ++s.kana;
    } else if (isHan(c)) {
      ++s.han;
    } else if (isHangul(c)) {
      ++s.hangul;
    } else if (isOtherLetter(c)) {
      ++s.other;
    } else if (auto langs = diacriticLangs(c)) {  // ¿ ¡
      for (int l = 0; l < kLatinLangs; ++l)
        if (langs & (1u << l)) ++s.votes[l];
    }
    if (isMathSymbol(c)) s.has_math = true;
    if (isAsciiDigit(c)) digit = true;
    if (c == '=') eq = true;
    if ((c == '+' || c == '-' || c == '*' || c == '^' || c == 0xD7) && isAsciiAlnum(prev))
      op = true;
    if (c == '^' && isAsciiAlnum(prev) && i < t.size() && isAsciiDigit(t[i])) s.has_math = true;
    if (c != ' ' && c != '\t') prev = c;
  }
  if (word_begin != std::string_view::npos) vote(s, t.substr(word_begin));
  endLine();
}

std::string_view decideLanguage(const Scan& s) {
  const long long cjk = s.kana + s.han + s.hangul;
  // One CJK character carries about as much as three Latin letters.
  const long long cjk_weight = cjk * 3;
  if (cjk == 0 && s.latin == 0 && s.other == 0) return "other";
  if (cjk > 0 && cjk_weight >= s.latin && cjk_weight >= s.other) {
    if (s.hangul >= s.kana + s.han) return "ko";
    if (s.kana > 0 && s.kana * 10 >= s.han) return "ja";  // Kanji with kana is Japanese
    return "zh";
  }
  if (s.other > s.latin) return "other";
  const int en = s.votes[kEn];
  int best = kEs, best_votes = -1, ties = 0;
  for (int l = kEs; l < kLatinLangs; ++l) {
    if (s.votes[l] > best_votes) {
      best = l;
      best_votes = s.votes[l];
      ties = 0;
    } else if (s.votes[l] == best_votes) {
      ++ties;
    }
  }
  // Another language needs a clear lead over English: two votes, or the only vote of a one- to
  // three-word greeting ("Hola", "Danke schön").
  if (best_votes > en && ties == 0 && (best_votes >= 2 || (en == 0 && s.words <= 3)))
    return kLatinCodes[best];
  if (en > 0 && en >= best_votes) return "en";
  if (best_votes > 0) return "other";  // European, but not clearly which
  return s.words >= 4 ? "other" : "en";
}

const model::Message* lastUserTurn(const model::ChatRequest& request) {
  for (auto it = request.messages.rbegin(); it != request.messages.rend(); ++it)
    if (it->role == model::Role::kUser) return &*it;
  return request.messages.empty() ? nullptr : &request.messages.back();
}

// ---------------------------------------------------------------------------------------------
// Quality ranking

struct Rank {
  std::string_view pattern;  // found at the start of the name or after a non-alphanumeric
  int score;
};

// First match wins, so sizes and small variants come before the families they belong to.
// clang-format off
constexpr Rank kRanks[] = {
    {"0.5b", 20}, {"1b", 25}, {"1.5b", 25}, {"2b", 28}, {"3b", 30}, {"4b", 35}, {"7b", 40},
    {"8b", 42}, {"9b", 45}, {"12b", 50}, {"13b", 50}, {"14b", 55}, {"20b", 60}, {"27b", 62},
    {"30b", 65}, {"32b", 68}, {"70b", 75}, {"72b", 76}, {"120b", 80}, {"235b", 82}, {"405b", 85},
    {"nano", 45}, {"flash-lite", 55}, {"lite", 55}, {"mini", 62}, {"haiku", 62}, {"small", 55},
    {"flash", 72}, {"opus", 100}, {"gpt-5", 98}, {"gemini-3", 97}, {"o3", 95},
    {"gemini-2.5-pro", 95}, {"sonnet", 92}, {"claude-sonnet", 92}, {"o1", 90}, {"gpt-4.1", 90},
    {"grok", 88}, {"gpt-4o", 88}, {"deepseek-r1", 88}, {"claude", 85}, {"gpt-4", 85},
    {"gemini-1.5-pro", 85}, {"mistral-large", 84}, {"deepseek", 84}, {"qwen3", 82},
    {"command-r-plus", 78}, {"qwen", 75}, {"gemini", 75}, {"command-r", 70}, {"llama", 50},
    {"mistral", 55}, {"gpt-3.5", 50}, {"gemma", 50}, {"phi", 45},
};
// clang-format on

bool findAtBoundary(std::string_view name, std::string_view pattern) {
  for (std::size_t i = 0; i + pattern.size() <= name.size(); ++i) {
    if (i > 0 && isAsciiAlnum(static_cast<unsigned char>(name[i - 1]))) continue;
    bool same = true;
    for (std::size_t j = 0; j < pattern.size() && same; ++j)
      same = lowerAscii(name[i + j]) == pattern[j];
    if (!same) continue;
    // A size must end there ("7b" not "7bit"); families may continue ("gpt-4o-2024").
    const std::size_t end = i + pattern.size();
    if (isAsciiDigit(pattern[0]) && end < name.size() &&
        isAsciiAlnum(static_cast<unsigned char>(name[end])))
      continue;
    return true;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// Default rules

bool isChatModel(std::string_view name) {
  constexpr std::string_view kNotChat[] = {"embed",  "whisper",    "tts",    "dall-e", "moderation",
                                           "rerank", "transcribe", "imagen", "audio"};
  for (auto k : kNotChat)
    if (contains(name, {k, kA})) return false;
  return true;
}

bool nameHasAny(std::string_view name, std::initializer_list<std::string_view> parts) {
  for (auto p : parts)
    if (contains(name, {p, kA})) return true;
  return false;
}

// The model of the first family (in preference order) that is configured; within a family the
// highest ranked, config order breaking ties.
bool isCodeModel(std::string_view name) {
  return nameHasAny(name, {"coder", "codestral", "devstral", "codex", "code"});
}

// The model of the first family (in preference order) that is configured; within a family the
// highest ranked, config order breaking ties. Code models and known-small models (ranked under
// 60) are passed over: a language pick is for general conversation.
const AvailableModel* firstOfFamilies(std::span<const AvailableModel* const> models,
                                      std::initializer_list<std::string_view> families) {
  for (auto family : families) {
    const AvailableModel* best = nullptr;
    for (const auto* m : models) {
      const int rank = qualityRank(m->model);
      if (!contains(m->model, {family, kA}) || isCodeModel(m->model) || (rank > 0 && rank < 60))
        continue;
      if (!best || rank > qualityRank(best->model)) best = m;
    }
    if (best) return best;
  }
  return nullptr;
}

config::AutoWhen whenTask(std::string task) {
  config::AutoWhen w;
  w.task = std::move(task);
  return w;
}
config::AutoWhen whenLanguage(std::string language) {
  config::AutoWhen w;
  w.language = std::move(language);
  return w;
}
config::AutoWhen whenMaxTokens(long long max_tokens) {
  config::AutoWhen w;
  w.max_tokens = max_tokens;
  return w;
}

constexpr long long kSmallPromptTokens = 256;
constexpr std::size_t kMaxDefaultAlternatives = 64;

}  // namespace

std::string_view toString(Task task) {
  switch (task) {
    case Task::kCode:
      return "code";
    case Task::kMath:
      return "math";
    case Task::kTranslation:
      return "translation";
    case Task::kShopping:
      return "shopping";
    case Task::kSummarisation:
      return "summarisation";
    case Task::kChat:
      break;
  }
  return "chat";
}

PromptFeatures detectFeatures(const model::ChatRequest& request) {
  PromptFeatures f;
  f.prompt_tokens = model::estimateTokens(request);
  f.max_output_tokens = request.max_tokens;
  const model::Message* turn = lastUserTurn(request);
  if (!turn) {
    f.language = "other";
    return f;
  }
  Scan scan;
  for (const auto& part : turn->content)
    if (part.kind == model::ContentPart::Kind::kText) scanText(part.text, scan);
  f.language = decideLanguage(scan);
  f.has_code = scan.has_code;
  f.has_math = scan.has_math;
  f.multi_step = scan.numbered_lines >= 2;

  bool translate = false, summary = false, code = false, math = false, shopping = false;
  for (const auto& part : turn->content) {
    if (part.kind != model::ContentPart::Kind::kText) continue;
    const std::string_view t = part.text;
    translate = translate || anyOf(t, kTranslateWords);
    if (!translate)
      for (const auto& phrase : kLanguagePhrases)
        if (phrase.language != f.language && windowContains(t, phrase.keyword)) {
          translate = true;
          break;
        }
    summary = summary || anyOf(t, kSummaryWords);
    code = code || anyOf(t, kCodeWords);
    f.has_math = f.has_math || anyOf(t, kLatex);
    math = math || anyOf(t, kMathWords);
    shopping = shopping || anyOf(t, kShoppingWords);
    f.multi_step = f.multi_step || anyOf(t, kStepWords);
  }
  // Asked-for operations (translate, summarise) outrank what the text is about.
  if (translate)
    f.task = Task::kTranslation;
  else if (summary)
    f.task = Task::kSummarisation;
  else if (code || f.has_code)
    f.task = Task::kCode;
  else if (math || f.has_math)
    f.task = Task::kMath;
  else if (shopping)
    f.task = Task::kShopping;
  return f;
}

core::Result<UserPreferences> parseUserPreferences(const boost::json::object& body) {
  UserPreferences p;
  const auto* v = body.if_contains("user_preferences");
  if (!v || v->is_null()) return p;
  const auto* obj = v->if_object();
  if (!obj)
    return core::Error::invalidField("user_preferences", "'user_preferences' must be an object");
  for (const auto& [key, value] : *obj) {
    const std::string param = fmt::format("user_preferences.{}", std::string_view(key));
    if (key == "prefer_quality" || key == "prefer_local") {
      if (value.is_null()) continue;
      if (!value.is_bool())
        return core::Error::invalidField(param, fmt::format("'{}' must be a boolean", param));
      (key == "prefer_quality" ? p.prefer_quality : p.prefer_local) = value.get_bool();
    } else if (key == "max_cost") {
      if (value.is_null()) continue;
      double cost = 0;
      if (value.is_double())
        cost = value.get_double();
      else if (value.is_int64())
        cost = static_cast<double>(value.get_int64());
      else if (value.is_uint64())
        cost = static_cast<double>(value.get_uint64());
      else
        return core::Error::invalidField(param, fmt::format("'{}' must be a number (USD)", param));
      if (!std::isfinite(cost) || cost < 0)
        return core::Error::invalidField(param, fmt::format("'{}' must not be negative", param));
      p.max_cost = cost;
    } else {
      return core::Error::invalidField(
          param, fmt::format("unknown field '{}' (user_preferences takes prefer_quality, "
                             "prefer_local, max_cost)",
                             param));
    }
  }
  return p;
}

const Candidate& CandidateInfo::find(std::string_view target) const {
  static const Candidate kUnknown;
  auto it = targets.find(target);
  return it == targets.end() ? kUnknown : it->second;
}

int qualityRank(std::string_view name) {
  for (const auto& r : kRanks)
    if (findAtBoundary(name, r.pattern)) return r.score;
  return 0;
}

namespace {

struct Pick {
  std::string_view target;
  std::string_view rule;  // "" for the default
  const Candidate* info = nullptr;
  std::optional<double> cost;
  bool excluded = false;
  int quality = 0;
};

bool matches(const config::AutoWhen& w, const PromptFeatures& f) {
  if (!w.language.empty() && w.language != f.language) return false;
  if (!w.task.empty() && w.task != toString(f.task)) return false;
  if (w.min_tokens && f.prompt_tokens < *w.min_tokens) return false;
  if (w.max_tokens && f.prompt_tokens > *w.max_tokens) return false;
  return true;
}

std::string fmtUsd(double v) {
  return fmt::format("${:.6g}", v);
}

}  // namespace

AutoChoice chooseAuto(const PromptFeatures& features, const config::AutoConfig& config,
                      const UserPreferences& preferences, const CandidateInfo& candidates) {
  std::vector<Pick> picks;
  auto add = [&](std::string_view target, std::string_view rule) {
    if (target.empty()) return;
    for (const auto& p : picks)
      if (p.target == target) return;  // the first occurrence keeps its place
    Pick& p = picks.emplace_back();
    p.target = target;
    p.rule = rule;
  };
  for (const auto& rule : config.rules) {
    if (!matches(rule.when, features)) continue;
    add(rule.target, rule.name);
    for (const auto& alt : rule.alternatives) add(alt, rule.name);
  }
  add(config.default_target, "");
  for (const auto& alt : config.default_alternatives) add(alt, "");

  AutoChoice choice;
  if (picks.empty()) {
    choice.reason = "none";
    choice.detail = "model 'auto': no auto rule matched this prompt and no default is configured";
    return choice;
  }

  const long long out_tokens =
      features.max_output_tokens.value_or(candidates.assumed_output_tokens);
  for (auto& p : picks) {
    p.info = &candidates.find(p.target);
    p.quality = p.info->quality >= 0 ? p.info->quality : qualityRank(p.target);
    if (p.info->input_per_1m && p.info->output_per_1m)
      p.cost = (static_cast<double>(features.prompt_tokens) * *p.info->input_per_1m +
                static_cast<double>(out_tokens) * *p.info->output_per_1m) /
               1e6;
    else if (p.info->local)
      p.cost = 0.0;
    if (preferences.max_cost) p.excluded = !p.cost || *p.cost > *preferences.max_cost;
  }

  const Pick* chosen = nullptr;
  auto consider = [&](bool need_local) {
    const Pick* best = nullptr;
    for (const auto& p : picks) {
      if (p.excluded || (need_local && !p.info->local)) continue;
      if (!preferences.prefer_quality) return &p;  // the first in order
      if (!best || p.quality > best->quality) best = &p;
    }
    return best;
  };
  if (preferences.prefer_local) chosen = consider(true);
  const bool by_local = chosen != nullptr;
  if (!chosen) chosen = consider(false);

  if (!chosen) {
    const Pick* cheapest = nullptr;
    for (const auto& p : picks)
      if (p.cost && (!cheapest || *p.cost < *cheapest->cost)) cheapest = &p;
    choice.reason = "cost:all_excluded";
    choice.detail = fmt::format(
        "model 'auto': every candidate is estimated above user_preferences.max_cost {}{}",
        fmtUsd(*preferences.max_cost),
        cheapest ? fmt::format(" (cheapest: '{}' at {})", cheapest->target, fmtUsd(*cheapest->cost))
                 : std::string(" (no candidate has a known price)"));
    return choice;
  }

  choice.target = std::string(chosen->target);
  choice.rule = std::string(chosen->rule);
  choice.estimated_cost_usd = chosen->cost;
  const Pick& usual = picks.front();
  if (chosen == &usual)
    choice.reason = usual.rule.empty() ? "default" : fmt::format("rule:{}", usual.rule);
  else if (by_local)
    choice.reason = "pref:local";
  else if (preferences.prefer_quality && chosen->quality > usual.quality)
    choice.reason = "pref:quality";
  else if (usual.excluded)
    choice.reason = "cost:excluded";
  else
    choice.reason = "pref:quality";
  return choice;
}

bool isLocalProvider(const config::ProviderConfig& provider) {
  constexpr std::string_view kLocalTypes[] = {"ollama", "llamacpp", "lmstudio", "vscode-lm"};
  for (auto t : kLocalTypes)
    if (provider.type == t) return true;
  std::string_view url = provider.base_url;
  const auto scheme = url.find("://");
  if (scheme == std::string_view::npos) return false;
  url.remove_prefix(scheme + 3);
  if (auto at = url.find('@'); at != std::string_view::npos && at < url.find('/'))
    url.remove_prefix(at + 1);
  std::string_view host;
  if (!url.empty() && url.front() == '[') {
    host = url.substr(0, url.find(']') + 1);
  } else {
    host = url.substr(0, std::min(url.find(':'), url.find('/')));
  }
  return equalsIgnoreAsciiCase(host, "localhost") || host.starts_with("127.") || host == "[::1]" ||
         host == "0.0.0.0";
}

std::vector<AvailableModel> availableModels(
    const config::Config& config,
    const std::map<std::string, std::vector<std::string>, std::less<>>& discovered) {
  std::vector<AvailableModel> out;
  for (const auto& p : config.providers) {
    const std::vector<std::string>* models = &p.models;
    if (!p.models_configured) {
      auto it = discovered.find(p.name);
      if (it == discovered.end()) continue;
      models = &it->second;
    }
    const bool local = isLocalProvider(p);
    for (const auto& m : *models) out.push_back({fmt::format("{}:{}", p.name, m), m, local});
  }
  return out;
}

// Built-in rules, from the models in config order (chat models only: names with embed, whisper,
// tts, dall-e, moderation, rerank, transcribe, imagen or audio are skipped):
//   default        the first chat model; every other chat model (up to 64) is an alternative, so
//                  prefer_local / prefer_quality / max_cost have something to choose from
//   builtin-code   task code: of the first model named for code (coder, codestral, devstral,
//                  codex, code) and the highest ranked model if it ranks 85 or more (strong
//                  reasoning), the better ranked one, the other as its alternative
//   builtin-math   task math: the highest ranked model if it ranks 85 or more
//   builtin-ja/zh/ko  language: the first configured family of a per-language preference list
//                  (Japanese-tuned, Chinese-tuned, Korean-tuned families first, then the broadly
//                  multilingual frontier families), highest ranked within the family; code
//                  models and small ones (ranked under 60) are passed over
//   builtin-small  prompts up to 256 tokens: the first model named as small or fast (mini, nano,
//                  flash, haiku, lite, small) or sized 8B or less
// A rule whose target would be the default anyway is left out. Order: code, math, ja, zh, ko,
// small — so a short Japanese question goes to the Japanese pick, not the cheap one.
config::AutoConfig defaultAutoConfig(std::span<const AvailableModel> models) {
  config::AutoConfig a;
  std::vector<const AvailableModel*> chat;
  for (const auto& m : models)
    if (isChatModel(m.model)) chat.push_back(&m);
  if (chat.empty()) return a;
  a.default_target = chat.front()->target;
  for (std::size_t i = 1;
       i < chat.size() && a.default_alternatives.size() < kMaxDefaultAlternatives; ++i)
    a.default_alternatives.push_back(chat[i]->target);

  const AvailableModel* strongest = nullptr;
  for (const auto* m : chat)
    if (!strongest || qualityRank(m->model) > qualityRank(strongest->model)) strongest = m;
  if (qualityRank(strongest->model) < 85) strongest = nullptr;

  auto addRule = [&](std::string name, config::AutoWhen when, const AvailableModel* m,
                     const AvailableModel* alternative = nullptr) {
    if (!m || m->target == a.default_target) return;
    config::AutoRule rule;
    rule.name = std::move(name);
    rule.when = std::move(when);
    rule.target = m->target;
    if (alternative && alternative != m) rule.alternatives.push_back(alternative->target);
    rule.origin = "built-in";
    a.rules.push_back(std::move(rule));
  };

  // Code: the better ranked of the first code model and the strongest model, the other one as
  // the alternative (so prefer_local can still reach a local coder).
  const AvailableModel* coder = nullptr;
  for (const auto* m : chat)
    if (isCodeModel(m->model)) {
      coder = m;
      break;
    }
  if (coder && strongest && qualityRank(strongest->model) > qualityRank(coder->model))
    addRule("builtin-code", whenTask("code"), strongest, coder);
  else
    addRule("builtin-code", whenTask("code"), coder ? coder : strongest, strongest);
  addRule("builtin-math", whenTask("math"), strongest);
  addRule("builtin-ja", whenLanguage("ja"),
          firstOfFamilies(chat, {"plamo", "swallow", "elyza", "llm-jp", "sarashina", "claude",
                                 "gemini", "gpt-5", "gpt-4.1", "gpt-4o", "qwen"}));
  addRule("builtin-zh", whenLanguage("zh"),
          firstOfFamilies(chat, {"qwen", "glm", "deepseek", "yi-", "baichuan", "claude", "gemini",
                                 "gpt-5", "gpt-4.1", "gpt-4o"}));
  addRule("builtin-ko", whenLanguage("ko"),
          firstOfFamilies(chat, {"exaone", "hyperclova", "claude", "gemini", "gpt-5", "gpt-4.1",
                                 "gpt-4o", "qwen"}));
  const AvailableModel* small = nullptr;
  for (const auto* m : chat) {
    const int rank = qualityRank(m->model);
    const bool sized_small = rank > 0 && rank <= 42;  // 8B or less
    if (nameHasAny(m->model, {"mini", "nano", "flash", "haiku", "lite", "small"}) || sized_small) {
      small = m;
      break;
    }
  }
  addRule("builtin-small", whenMaxTokens(kSmallPromptTokens), small);
  return a;
}

config::AutoConfig effectiveAutoConfig(const std::optional<config::AutoConfig>& configured,
                                       std::span<const AvailableModel> models) {
  if (!configured) return defaultAutoConfig(models);
  config::AutoConfig a = *configured;
  if (a.default_target.empty()) {
    config::AutoConfig builtin = defaultAutoConfig(models);
    a.default_target = std::move(builtin.default_target);
    a.default_alternatives = std::move(builtin.default_alternatives);
  }
  return a;
}

CandidateInfo candidatesFor(const config::AutoConfig& config, const ModelCatalog& catalog) {
  CandidateInfo info;
  auto describe = [&](const std::string& target) {
    if (target.empty() || info.targets.count(target)) return;
    auto route = catalog.resolve(target);
    if (!route || route->targets.empty()) return;
    Candidate c;
    c.local = true;
    double in = 0, out = 0;
    bool priced = true;
    for (const auto& t : route->targets) {
      const config::ProviderConfig& pc = t.provider->config();
      const bool local = isLocalProvider(pc);
      c.local = c.local && local;
      auto price = pc.pricing.find(t.model);
      if (price != pc.pricing.end()) {
        in = std::max(in, price->second.input);
        out = std::max(out, price->second.output);
      } else if (!local) {
        priced = false;
      }
    }
    if (priced) {
      c.input_per_1m = in;
      c.output_per_1m = out;
    }
    info.targets.emplace(target, c);
  };
  for (const auto& rule : config.rules) {
    describe(rule.target);
    for (const auto& alt : rule.alternatives) describe(alt);
  }
  describe(config.default_target);
  for (const auto& alt : config.default_alternatives) describe(alt);
  return info;
}

}  // namespace kh::routing
