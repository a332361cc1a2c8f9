// Boost.JSON's implementation for the harnesses (the project compiles it in base/asio_impl.cpp
// together with Asio and Beast, which the harnesses leave out).
#include <boost/json/src.hpp>
