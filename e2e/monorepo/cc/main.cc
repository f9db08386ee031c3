#include <iostream>

#include "cc/greeting.h"

int main() {
  std::cout << "c++: " << Greeting(LINKAGE) << std::endl;
  return 0;
}
