#include "cc/greeting.h"

std::string Greeting(const std::string& linkage) {
  return "hello from a cc_library, linked " + linkage;
}
