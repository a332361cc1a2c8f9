// The one translation unit that compiles Asio, Asio's SSL, Beast (BOOST_*_SEPARATE_COMPILATION)
// and Boost.JSON (header-only otherwise): every other file includes only their declarations,
// which keeps builds fast on two cores.
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
#include <boost/beast/src.hpp>
#include <boost/json/src.hpp>
