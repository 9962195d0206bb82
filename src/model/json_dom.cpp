#include "model/json_dom.h"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

namespace kh::model::detail {

std::string serialize(dom::element v) {
  // simdjson writes numbers in its own spelling; a round trip through Boost.JSON gives the text
  // the Boost.JSON readers produce for the same value.
  boost::system::error_code ec;
  const boost::json::value parsed = boost::json::parse(simdjson::minify(v), ec);
  return ec ? simdjson::minify(v) : boost::json::serialize(parsed);
}

}  // namespace kh::model::detail
