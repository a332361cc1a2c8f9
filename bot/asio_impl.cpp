// The one translation unit that compiles Asio and Beast (BOOST_*_SEPARATE_COMPILATION):
// every other file includes only their declarations, which keeps builds fast on two cores.
#include <boost/asio/impl/src.hpp>
#include <boost/beast/src.hpp>
